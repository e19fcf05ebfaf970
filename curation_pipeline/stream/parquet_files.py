"""Parquet files of the stream: writing one atomically, listing folders, reading footers."""

from __future__ import annotations

import dataclasses
import itertools
import os
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curation_pipeline.parallel import ordered_map
from curation_pipeline.stream.errors import CorruptStreamFileError
from curation_pipeline.stream.filesystems import Store, storage_errors
from curation_pipeline.stream.group_statistics import GroupStatistics, group_statistics
from curation_pipeline.stream.layout import RECORD_ID, TIME

# Rows per row group, chosen with benchmarks/stream_rowgroup_bench.py (see
# docs/decisions.md): small enough that a one-hour read of a day skips most of the file,
# large enough that a full scan does not drown in per-group overhead.
ROW_GROUP_SIZE = 65_536
COMPRESSION = "zstd"
# Columns written without a dictionary: record_id is unique by contract and
# __time nearly so (microseconds), so a dictionary only overflows its page
# limit and falls back to plain values halfway through each row group. Plain,
# a demo day's file is 19% smaller and a little faster to decode
# (docs/performance.md).
PLAIN_COLUMNS = (RECORD_ID, TIME)
# Rows per data page, with a page index saying where each page starts and
# its min/max: readers that skip pages by it (DuckDB, polars) decode less of a
# row group (docs/decisions.md, "Page-wise reads").
PAGE_ROWS = 8192

# Listing folders and reading footers is latency-bound on S3; a few threads hide it.
_IO_THREADS = 16
# Local footers read a batch of this many files a task (see read_footers).
_LOCAL_FOOTER_BATCH = 64
# The format stream files are read with: Parquet with default options (the
# selection engine reads files of this format straight with pq.ParquetFile).
PARQUET_FORMAT = ds.ParquetFileFormat()
# Column chunks of parsed footers a window keeps for its readers (about 1 KB
# each): a 100M-row day of 1M-row files (100 files of 16 groups of 13 columns,
# 20,800 chunks) or 1,440 small files keep theirs and are never read again; a
# bigger window keeps none and its reader reads footers as it goes.
KEPT_FOOTER_CHUNKS = 32_768


def encode_parquet(
    table: pa.Table,
    row_group_size: int = ROW_GROUP_SIZE,
    compression: str = COMPRESSION,
    plain_columns: Sequence[str] = PLAIN_COLUMNS,
    page_rows: int = PAGE_ROWS,
) -> pa.Buffer:
    """``table`` (already sorted by ``__time``) as Parquet bytes, with statistics for pruning.

    Every column but ``plain_columns`` is dictionary-encoded where its values
    repeat; data pages hold at most ``page_rows`` rows, located by a page index.
    """
    sink = pa.BufferOutputStream()
    sorting = [pq.SortingColumn(table.column_names.index(TIME))] if TIME in table.column_names else None
    pq.write_table(
        table,
        sink,
        row_group_size=row_group_size,
        compression=compression,
        use_dictionary=[name for name in table.column_names if name not in plain_columns],
        max_rows_per_page=page_rows,
        write_page_index=True,
        write_statistics=True,
        sorting_columns=sorting,
    )
    return sink.getvalue()


def put_file(store: Store, path: str, data: pa.Buffer) -> None:
    """Write ``data`` at ``path`` so readers see either nothing or the whole file.

    Locally: a hidden temp file in the same folder, then a rename (atomic on
    one filesystem; readers skip dot-files). On S3 an object appears only when
    its upload completes, so the bytes go straight to their key.
    """
    folder, _, name = path.rpartition("/")
    with storage_errors(f"cannot write {store.uri(path)}"):
        if not store.is_local:
            with store.filesystem.open_output_stream(path) as out:
                out.write(data)
            return
        store.filesystem.create_dir(folder, recursive=True)
        temp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        try:
            with store.filesystem.open_output_stream(temp) as out:
                out.write(data)
            store.filesystem.move(temp, path)
        except BaseException:
            delete_quietly(store, [temp])
            raise


def delete_quietly(store: Store, paths: Iterable[str]) -> None:
    """Best-effort removal used to roll back a partly written batch."""
    for path in paths:
        try:
            store.filesystem.delete_file(path)
        except (OSError, pa.ArrowException):
            pass


def list_dir(store: Store, folder: str) -> list[pafs.FileInfo]:
    """Entries directly inside ``folder``; a missing folder is empty, not an error."""
    selector = pafs.FileSelector(folder, allow_not_found=True)
    with storage_errors(f"cannot list {store.uri(folder)}"):
        try:
            return store.filesystem.get_file_info(selector)
        except FileNotFoundError:
            # pyarrow's local listing fails, then checks whether the folder exists: a
            # writer creating it in between (a batch landing) makes that an error. The
            # folder exists now: list it again.
            return store.filesystem.get_file_info(selector)


@dataclass(frozen=True)
class Footer:
    """What a file's Parquet footer tells without reading data."""

    path: str
    schema: pa.Schema
    rows: int
    max_time: datetime | None  # from __time statistics; None when absent
    # (min, max) __time of each row group holding rows, in microseconds since the epoch; None without statistics.
    time_spans: tuple[tuple[int, int], ...] | None = None
    # The file as a dataset fragment holding the parsed footer (kept only when
    # asked, see read_footer): a window built on it never reads the footer again.
    fragment: ds.ParquetFileFragment | None = field(default=None, compare=False, repr=False)
    # Column chunks (row groups times columns) of the parsed footer, what holding it costs.
    chunks: int = field(default=0, compare=False, repr=False)
    # Each row group's rows and some columns' statistics, taken from the parsed footer when
    # the window could not keep it (see without_fragment): a reader need not parse it again.
    groups: GroupStatistics | None = field(default=None, compare=False, repr=False)

    def may_hold(self, start: datetime, end: datetime) -> bool:
        """Whether the file may hold records with ``start <= __time < end`` (True when its statistics cannot tell)."""
        if self.time_spans is None:
            return True
        low, high = _micros(start), _micros(end)
        return any(first < high and last >= low for first, last in self.time_spans)


def read_footer(store: Store, path: str, size: int | None = None, *, keep_fragment: bool = False) -> Footer:
    """Read the footer of ``path``; an unreadable file raises CorruptStreamFileError.

    ``size`` (the file's bytes, from a listing) spares the request asking for
    it: on S3 the footer then costs one ranged GET. ``keep_fragment`` keeps the
    file as a dataset fragment holding the parsed footer (:attr:`Footer.fragment`),
    for readers of the file's rows (see :func:`footers_dataset`).
    """
    with storage_errors(f"cannot read {store.uri(path)}", CorruptStreamFileError):
        fragment = PARQUET_FORMAT.make_fragment(path, store.filesystem, file_size=size)
        fragment.ensure_complete_metadata()
        schema, metadata = fragment.physical_schema, fragment.metadata
    spans = _time_spans(schema, metadata)
    chunks = max(1, metadata.num_row_groups * metadata.num_columns)
    return Footer(path, schema, metadata.num_rows, _max_time(spans), spans, fragment if keep_fragment else None, chunks)


def read_footers(
    store: Store,
    paths: Sequence[str],
    sizes: Mapping[str, int] | None = None,
    *,
    keep_fragments: bool = False,
    statistics_of: Collection[str] = (),
) -> list[Footer]:
    """The footers of ``paths``, in order, several read at once (``sizes``: known file sizes by path).

    ``keep_fragments``: keep each file's parsed footer, within
    :data:`KEPT_FOOTER_CHUNKS` (see :func:`keep_within_budget`; ``statistics_of``
    as there).
    """
    known = sizes or {}

    def read(batch: Sequence[str]) -> list[Footer]:
        return [read_footer(store, path, known.get(path), keep_fragment=keep_fragments) for path in batch]

    if store.is_local:
        # From the page cache a footer is CPU work (pyarrow builds the schema and metadata: 0.2 ms for
        # a 13-column file), so a thread a core, a batch of files a task: opening a window of 1,440
        # small files took 0.55-0.57 s a file a task on 16 threads, 0.39-0.46 s in batches on 2 cores.
        batch, workers = _LOCAL_FOOTER_BATCH, os.cpu_count() or 1
    else:
        batch, workers = 1, _IO_THREADS  # a request each: as many in flight as the store serves well
    batches = [paths[start : start + batch] for start in range(0, len(paths), batch)]
    footers = []
    held = 0
    for footer in itertools.chain.from_iterable(ordered_map(read, batches, max_workers=workers, name="stream")):
        held += fragment_chunks(footer)
        if held > KEPT_FOOTER_CHUNKS:
            footer = without_fragment(footer, store, statistics_of)  # past the budget: keep none (see below)
        footers.append(footer)
    return keep_within_budget(footers, store, statistics_of)


def fragment_chunks(footer: Footer) -> int:
    """Column chunks (row groups times columns) of the parsed footer ``footer`` keeps; 0 when it keeps none."""
    if footer.fragment is None:
        return 0
    if footer.chunks:
        return footer.chunks  # counted as it was read: asking the fragment costs a wrapper each time
    metadata = footer.fragment.metadata
    return max(1, metadata.num_row_groups * metadata.num_columns)


def keep_within_budget(footers: list[Footer], store: Store, statistics_of: Collection[str] = ()) -> list[Footer]:
    """``footers`` with their fragments if every one kept its fragment within :data:`KEPT_FOOTER_CHUNKS`, else none.

    All or none: a reader either reads no footer again or reads each through
    its own bounded cache (the selection engine's), so a window of a billion
    rows in a thousand files does not hold 200 MB of footers. A footer whose
    fragment is dropped keeps its row groups' statistics of ``__time``,
    ``record_id`` and ``statistics_of`` (:func:`without_fragment`).
    """
    kept = all(footer.fragment is not None for footer in footers)
    if kept and sum(fragment_chunks(footer) for footer in footers) <= KEPT_FOOTER_CHUNKS:
        return footers
    return [without_fragment(footer, store, statistics_of) for footer in footers]


def without_fragment(footer: Footer, store: Store, statistics_of: Collection[str] = ()) -> Footer:
    """``footer`` (of a file of ``store``) without its parsed footer, keeping what it says of each row group.

    That is each group's rows and the statistics of ``__time``, ``record_id``
    and ``statistics_of`` (:class:`GroupStatistics`); for a file on a remote
    store, also its column chunks' compressed bytes (a reader plans copies
    of remote files by them). A footer without its parsed footer is returned as it is.
    """
    if footer.fragment is None:
        return footer
    columns = {TIME, RECORD_ID, *statistics_of}
    groups = group_statistics(footer.fragment.metadata, footer.schema, columns, compressed=not store.is_local)
    return dataclasses.replace(footer, fragment=None, groups=groups)


def footers_dataset(store: Store, footers: Sequence[Footer], schema: pa.Schema) -> ds.FileSystemDataset:
    """The files of ``footers`` as one dataset of ``schema``, in their order.

    Files whose footer kept its fragment are read through it, so their footer
    is not read again (nor, on S3, their size asked for).
    """
    fragments = [
        footer.fragment if footer.fragment is not None else PARQUET_FORMAT.make_fragment(footer.path, store.filesystem)
        for footer in footers
    ]
    return ds.FileSystemDataset(fragments, schema, PARQUET_FORMAT, store.filesystem)


def _to_micros(value: int, unit: str) -> int:
    return value // 1_000 if unit == "ns" else value * {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _time_spans(schema: pa.Schema, metadata: pq.FileMetaData) -> tuple[tuple[int, int], ...] | None:
    """``(min, max)`` of ``__time`` per row group with rows, in microseconds; None when a group has no statistics."""
    index = schema.get_field_index(TIME)
    column = _leaf_index(metadata, TIME) if index >= 0 else None
    if column is None or not pa.types.is_timestamp(schema.field(index).type):
        return None
    unit = schema.field(index).type.unit
    spans = []
    for group in range(metadata.num_row_groups):
        if metadata.row_group(group).num_rows == 0:
            continue
        stats = metadata.row_group(group).column(column).statistics
        # Naive and zoned timestamps are both stored as UTC-based integers.
        if stats is None or not stats.has_min_max or stats.physical_type != "INT64":
            return None
        spans.append((_to_micros(stats.min_raw, unit), _to_micros(stats.max_raw, unit)))
    return tuple(spans)


def _max_time(spans: tuple[tuple[int, int], ...] | None) -> datetime | None:
    """The newest ``__time`` of a file from its row groups' spans (None without statistics or rows)."""
    if not spans:
        return None
    return _EPOCH + timedelta(microseconds=max(last for _, last in spans))


def _leaf_index(metadata: pq.FileMetaData, name: str) -> int | None:
    for i in range(metadata.num_columns):
        if metadata.schema.column(i).path == name:
            return i
    return None
