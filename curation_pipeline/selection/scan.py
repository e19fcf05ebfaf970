"""Reading the data in pieces: pruned, projected, in a fixed order, in parallel.

A *source* wraps what the caller passed (a table, a Parquet dataset, any other
dataset) and splits it into *pieces*: one Parquet row group, one slice of a
table, or, for datasets the engine cannot split, the whole dataset. Pieces
come in the data's order. A row is named by ``(piece, row)``: its index among
the rows the piece holds (after the dataset's own filter, before any
selector's). Narrow scans evaluate the selector's filter as a projected
boolean column rather than dropping rows, so they know each match's row
index; the fetch of full records then reads a winner's row group without any
filter, with string columns kept dictionary-encoded until the few winning
rows are taken.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from curation_pipeline import parallel
from curation_pipeline.fields import RECORD_ID, TIME
from curation_pipeline.heap import trim_heap
from curation_pipeline.selection import group_stats, late_fetch, value_scan
from curation_pipeline.selection.errors import SelectionError
from curation_pipeline.selection.filters import Comparison, Predicate
from curation_pipeline.selection.keyed import KeepAll, KeyedOnce, LeastRecentlyUsed
from curation_pipeline.selection.kept import Budget, RowSet, RowsSeen
from curation_pipeline.selection.window import FilteredParquet, TimeRange, time_range

# A window's reader of its remote files' bytes: ``(path, chunk_bytes)`` -> the bytes in order (see FilteredParquet).
FileChunks = Callable[[str, int], Iterable[bytes]]

# Rows per batch of a scan: a Parquet row group of the stream in one batch.
BATCH_ROWS = 1 << 17
# Rows per piece when the data is an in-memory table.
TABLE_PIECE_ROWS = 1 << 18
# Row groups larger than this (a foreign writer's 128 MB groups of millions of
# rows) are read in batches of BATCH_ROWS rather than decoded whole, for
# narrow scans and fetches alike: memory then follows the batch, not the
# group, with up to 2 * workers() groups in flight. Smaller groups (the
# stream's own, 65,536 rows) keep the single whole-group read, which is faster.
_WHOLE_GROUP_ROWS = BATCH_ROWS
# Row groups of at most _UNIT_GROUP_ROWS rows (a file a minute) are scanned
# many to a unit of at most _UNIT_ROWS rows (see unit_matches). Larger groups
# cost more in rows than in handling: the stream's own 65,536-row groups took
# 1.25 s scanned in units against 0.95 s one by one (100M rows, bounded range).
# Units of 1M rows kept more in the pool threads' allocator heaps: top
# confidence k=10,000 over 1,440 files peaked at 373-390 MB, against 322-341
# with units of 262,144 rows and 320-332 MB one by one.
_UNIT_GROUP_ROWS = 1 << 15
_UNIT_ROWS = 1 << 18
# A fetch whose last winner lies before this share of its row group reads it
# in batches of _FETCH_BATCH_ROWS and stops after that winner; past it, the
# batches' own cost outweighs the rows left unread.
_EARLY_STOP = 0.75
_FETCH_BATCH_ROWS = 8192
# Winners fetched through DuckDB (late_fetch) when they are at most one row in
# this many of their row groups' rows; denser, pyarrow's whole-group read is
# as cheap (the newest 10,000 rows of a day: one or two row groups).
_LATE_SHARE = 16
# ... and when their row groups in that file hold at least this many rows: a
# DuckDB query costs about 3 ms before it reads anything, while pyarrow reads a
# whole 7,000-row group (a file a minute) in 1.6 ms (measured on the benchmark's
# 10M-row day in 1,440 files).
_LATE_MIN_ROWS = 1 << 15
# Winners of local files under a selector's filter polars can evaluate, at least
# one in this many of their file's rows (one in two 8,192-row pages), are
# fetched by polars (_fetch_valued): equality k=10,000 at 100M rows has one in
# 10,000 (3.9-4.2 s against DuckDB's 4.6-4.9 s), k=100 at 10M one in 65,536,
# where polars would decode the filter's column of every group for 10 rows a file.
_VALUED_FETCH_SHARE = 1 << 14
# ... files of this many rows a query.
_VALUED_FETCH_ROWS = 1 << 22
# Uniform selection's count under a filter polars evaluates: 2^22 rows a query.
_POLARS_COUNT_ROWS = 1 << 22
# Rows of small files (under _LATE_MIN_ROWS with winners) fetched by one
# DuckDB query over them all: a query per file costs about what pyarrow's
# whole read does, one per ~150 files of a file a minute repays it and
# still leaves a query for each thread.
_FILES_QUERY_ROWS = 1 << 20
# The projected column holding a selector's filter, row by row.
_MATCH = "__selection_match"
# Compressed bytes of a remote file's winning row groups fetched in one read
# (see _fetch_together), which pre-buffers them whole and holds about three
# times as much while decoding (42 MB for a 13 MB file of 16 groups). At 100M
# rows on S3, top confidence k=10,000: 32 MB runs (a file a read) held 522 MB
# at peak, 8 MB runs (two reads a file) 462 MB, 4 MB 411 MB but 200 more
# requests and 23% slower.
_TOGETHER_BYTES = 8 << 20
# Remote files at most this large (their column chunks' compressed bytes) may
# be copied whole to a temporary local file for DuckDB to fetch sparse
# winners from (_from_copy): as many copies as fetches run at once are on disk.
_COPIED_FILE_BYTES = 32 << 20
# ... copied this many bytes a request (a request held at a time), as
# _TOGETHER_BYTES reads a file's groups.
COPY_READ_BYTES = 8 << 20
# Compressed bytes of a large row group's column chunks that one pass of its
# fetch reads (see RowGroupPiece._fetch_large). A foreign writer's 115 MB
# group, fetched whole, held 173 MB of Arrow memory at peak; in four passes
# (its record ids, its times, four inputs, the rest: 26-32 MB each) 51-53 MB,
# and peak RSS went 461-487 -> 346-365 MB (100M rows on S3, equality
# k=10,000, fetches one at a time).
_PASS_BYTES = 32 << 20
# Filesystems (pyarrow's type names) whose files cost a request to open.
_REMOTE_FILESYSTEMS = frozenset({"s3", "gcs", "abfs", "hdfs"})
# Column chunks whose decoded footers a Parquet source holds at once, about
# 1 KB each (a 1M-row file of 16 row groups and 13 columns: 208 chunks, 200 KB;
# a day of 1,000 such files would hold 200 MB). Pieces reach files in data
# order, at most 2 * workers() at a time, so a few dozen files serve a scan;
# this budget (about 32 MB) keeps a 100M-row day of our layout (100 files) or
# a day of 1,440 small files whole, each footer read once.
FOOTER_CACHE_CHUNKS = 32_768

T = TypeVar("T")
R = TypeVar("R")
Matches = tuple[pa.RecordBatch, np.ndarray]


@functools.cache
def workers() -> int:
    """Threads scanning pieces at once; pyarrow releases the GIL while decoding."""
    return max(2, min(8, os.cpu_count() or 2))


# One pool for every selection: starting threads per scan costs more than a narrow read.
_POOL = parallel.Pool(workers(), "selection")
# On a remote store (S3) a piece mostly waits for its requests (tens of
# milliseconds each) rather than decoding: more pieces at once hide that
# latency. How many is bounded by the uncompressed bytes of the columns a scan
# reads, so memory stays flat: a narrow scan (one column of the benchmark's
# 3.6 MB groups, about 0.5 MB) runs 16 pieces at once, a fetch of every column
# four; never fewer than on a local disk. Each runs on a thread of its own.
_REMOTE_POOL = parallel.Pool(16, "selection-remote")
_REMOTE_BYTES_IN_FLIGHT = 16 << 20
# ... and by the compressed bytes of those columns, which a read pre-buffers
# whole before decoding: a foreign writer's row group of every column is about
# 115 MB, and fetches of four at once held 1.06-1.15 GB. So few pieces run at
# once that this many compressed bytes are buffered, one at the least. Such a
# group is fetched a pass of columns at a time (_PASS_BYTES), its largest pass
# 31.6 MB: two at once (100M rows on S3, equality k=10,000, peak RSS) took
# 18.6-19.6 s and held 375-401 MB, three 17.4-19.0 s and 440-445 MB (and 472
# MB on stratified balanced k=100), four 18.1-21.9 s and 477-500 MB.
_REMOTE_BUFFERED_IN_FLIGHT = 64 << 20
# Files whose row groups are sampled for their size (the footers are parsed already).
_SAMPLED_FILES = 8
# The remote source whose selection runs (None: local, the default).
_REMOTE_SOURCE: contextvars.ContextVar[ParquetSource | None] = contextvars.ContextVar(
    "selection_remote_source", default=None
)
# The columns the running selector's filter reads, besides those a scan names.
_FILTER_FIELDS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("selection_filter_fields", default=())


def ordered_map(fn: Callable[[T], R], items: Sequence[T], *, reads: Sequence[str] | None = None) -> Iterator[R]:
    """``map(fn, items)`` on the selection's pool: results in order, at most ``2 * workers()`` in flight.

    Bounding what is in flight bounds memory, however many pieces the data
    has; a call from inside a scan runs inline (see :mod:`curation_pipeline.parallel`).
    Inside :func:`reading` a remote source, on the remote pool, as many in
    flight as the bytes of the columns each task reads allow: those ``reads``
    names plus the selector's filter's (:func:`filtering`); None: every
    column, as a fetch reads.
    """
    source = _REMOTE_SOURCE.get()
    if source is None:
        return parallel.ordered_map(fn, items, pool=_POOL)
    in_flight = source.remote_in_flight(None if reads is None else [*reads, *_FILTER_FIELDS.get()])
    return parallel.ordered_map(_releasing(fn), items, pool=_REMOTE_POOL, in_flight=in_flight)


def _releasing(fn: Callable[[T], R]) -> Callable[[T], R]:
    """``fn``, then the memory pool asked to return what it no longer uses.

    pyarrow's allocator (mimalloc) keeps freed memory per thread: with the
    remote pool's 16 threads it held 583-594 MB of RSS against 327-386 MB when
    released after each piece (a 10M-row day on S3, bounded and stratified
    k=100); a release costs well under a millisecond.
    """

    def run(item: T) -> R:
        try:
            return fn(item)
        finally:
            pa.default_memory_pool().release_unused()

    return run


@contextlib.contextmanager
def filtering(fields: Sequence[str]) -> Iterator[None]:
    """Within the block, scans also read ``fields`` (a selector's filter's columns): see :func:`ordered_map`."""
    token = _FILTER_FIELDS.set(tuple(fields))
    try:
        yield
    finally:
        _FILTER_FIELDS.reset(token)


@contextlib.contextmanager
def reading(source: Source) -> Iterator[None]:
    """Run the scans of the block (:func:`ordered_map`) as wide as ``source``'s store calls for."""
    remote = isinstance(source, ParquetSource) and source.remote
    token = _REMOTE_SOURCE.set(source if remote else None)
    try:
        yield
    finally:
        _REMOTE_SOURCE.reset(token)


class Piece(Protocol):
    """A part of the data with a selector's filter bound to it."""

    # The file holding the piece (None: in memory). Pieces of one file share its
    # footer, read once while they are read together (see ParquetSource.footer).
    file: str | None

    def matches(self, columns: Sequence[str], *, dictionary: bool = False) -> Iterator[Matches]:
        """Batches of the rows passing the filter (``columns`` only), with their row indices.

        ``dictionary=True`` lets string columns arrive dictionary-encoded (cheaper to
        decode); callers that ask for it handle both layouts.
        """

    def count(self, keep: Budget | None = None) -> int:
        """How many rows pass the filter.

        With ``keep``, a piece that reads the filter's column to count keeps
        which rows matched (within ``keep``'s bytes), for :meth:`rows_of`.
        """

    def rows_of(self, ordinals: np.ndarray) -> np.ndarray:
        """Row indices of the matches numbered ``ordinals`` (sorted, counted from 0).

        Uses (and drops) what :meth:`count` kept, else reads the filter's column again.
        """

    def fetch(self, rows: np.ndarray) -> pa.Table:
        """Every column of the rows at sorted ``rows``, in the data's schema."""

    def take(self, rows: np.ndarray, columns: list[str]) -> pa.Table:
        """``columns`` of the rows at sorted ``rows`` (plain layout)."""

    def value_range(self, field: str) -> tuple[Any, Any] | None:
        """``(min, max)`` of the non-null values of ``field`` before filtering, if known."""


class _ScannedPiece:
    """Shared logic: matches by a projected filter column over ``_scan(projection)``."""

    filter: ds.Expression | None
    # Which rows matched, kept by count() for rows_of() (see kept.py).
    _kept: RowSet | None = None

    @property
    def file(self) -> str | None:
        return None  # in memory

    def _scan(self, projection: dict[str, ds.Expression], dictionary: bool) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def _row_filter(self) -> ds.Expression | None:
        """The filter to evaluate row by row (a piece may know part of it holds everywhere)."""
        return self.filter

    def matches(self, columns: Sequence[str], *, dictionary: bool = False) -> Iterator[Matches]:
        row_filter = self._row_filter()
        projection = {name: pc.field(name) for name in columns}
        if row_filter is not None:
            projection[_MATCH] = row_filter
        start = 0
        for batch in self._scan(projection, dictionary):
            n = batch.num_rows
            if row_filter is None:
                yield batch, np.arange(start, start + n, dtype=np.int64)
            else:
                mask = batch.column(_MATCH).fill_null(False)
                rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
                if rows.size:
                    yield batch.select(list(columns)).filter(mask), rows + start
            start += n

    def take(self, rows: np.ndarray, columns: list[str]) -> pa.Table:
        return self.fetch(rows).select(columns)

    def rows_of(self, ordinals: np.ndarray) -> np.ndarray:
        if self._row_filter() is None:
            return ordinals
        kept, self._kept = self._kept, None  # used once: the memory goes with it
        found = self._match_rows() if kept is None else kept.rows()
        return found[ordinals]

    def _match_rows(self) -> np.ndarray:
        """Row indices of every match, read from the data."""
        return np.concatenate([rows for _, rows in self.matches([], dictionary=True)] or [np.empty(0, dtype=np.int64)])


class TablePiece(_ScannedPiece):
    """A slice of an in-memory table."""

    def __init__(self, table: pa.Table, filter: ds.Expression | None) -> None:
        self.table = table
        self.filter = filter

    def _scan(self, projection: dict[str, ds.Expression], dictionary: bool) -> Iterator[pa.RecordBatch]:
        yield from ds.dataset(self.table).to_batches(columns=projection, batch_size=BATCH_ROWS)

    def count(self, keep: Budget | None = None) -> int:
        if self.filter is None:
            return self.table.num_rows
        return ds.dataset(self.table).count_rows(filter=self.filter)

    def fetch(self, rows: np.ndarray) -> pa.Table:
        return self.table.take(pa.array(rows))

    def value_range(self, field: str) -> tuple[Any, Any] | None:
        return None


class DatasetPiece(_ScannedPiece):
    """A whole dataset the engine does not split (in-memory, union, non-Parquet).

    Row indices count the rows the dataset yields, after its own filter.
    """

    def __init__(self, dataset: ds.Dataset, filter: ds.Expression | None) -> None:
        self.dataset = dataset
        self.filter = filter

    def _scan(self, projection: dict[str, ds.Expression], dictionary: bool) -> Iterator[pa.RecordBatch]:
        yield from self.dataset.to_batches(columns=projection, batch_size=BATCH_ROWS, use_threads=True)

    def count(self, keep: Budget | None = None) -> int:
        return self.dataset.count_rows(filter=self.filter)

    def fetch(self, rows: np.ndarray) -> pa.Table:
        return _take_rows(self.dataset.to_batches(batch_size=BATCH_ROWS, use_threads=True), rows)

    def value_range(self, field: str) -> tuple[Any, Any] | None:
        return None


@dataclass(frozen=True)
class RowGroup:
    """What a piece keeps of its row group: a few numbers, not its file's footer.

    A decoded footer costs about 200 KB (a 1M-row file of 16 groups): a day of
    1,000 files would hold 200 MB if every piece kept its file's. Pieces keep
    these numbers and ask their source for the footer when they read (a
    bounded cache, :meth:`ParquetSource.footer`).
    """

    path: str
    id: int  # the row group's index in its file
    rows: int
    start: int  # the file row number of its first row
    # Whether the footer's statistics show the source's own filter keeps every row.
    whole: bool


class RowGroupPiece(_ScannedPiece):
    """One row group of one Parquet file; the dataset's own filter is part of ``filter``."""

    def __init__(
        self,
        group: RowGroup,
        source: ParquetSource,
        selector_filter: ds.Expression | None,
        fields: Sequence[str] = (),
        predicate: Predicate | None = None,
    ) -> None:
        self.group = group
        self.fields = list(dict.fromkeys(fields))
        self.source = source
        self.selector_filter = selector_filter
        self.predicate = predicate
        self.filter = _and(source.data_filter, selector_filter)
        self._count: int | None = None

    def _row_filter(self) -> ds.Expression | None:
        # Most row groups of a window lie wholly inside it: the footer's
        # statistics say so, and the window's comparisons need not run per row
        # (nor its column be read).
        return self.selector_filter if self.group.whole else self.filter

    def _scanner(self, dictionary: bool, **options: Any) -> ds.Scanner:
        # One thread per piece: pieces already run in parallel, and a row
        # group's scan is too short to repay pyarrow's own fan-out.
        options.update(batch_size=BATCH_ROWS, use_threads=False)
        if dictionary:
            try:
                return self.source.fragment(self.group, True).scanner(schema=self.source.read_schema, **options)
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                pass  # a filter kernel without a dictionary variant (e.g. substring): read plain strings
        return self.source.fragment(self.group, False).scanner(schema=self.source.schema, **options)

    def _scan(self, projection: dict[str, ds.Expression], dictionary: bool) -> Iterator[pa.RecordBatch]:
        if self.source.direct(self.group):
            # The Parquet reader itself, without the dataset scanner's per-scan set-up.
            if _MATCH not in projection:
                yield from self._batches(list(projection), dictionary)
                return
            if self.fields and self._row_filter() is self.selector_filter:
                # The filter reads the selector's fields alone: read them, evaluate in memory.
                names = list(dict.fromkeys([name for name in projection if name != _MATCH] + self.fields))
                for layout in (True, False) if dictionary else (False,):
                    try:
                        batches = self._evaluated(names, layout, projection)
                        first = next(batches, None)  # a kernel fails on the first batch if at all
                    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                        continue  # e.g. a kernel without a dictionary variant: plain strings, then the scanner
                    if first is not None:
                        yield first
                        yield from batches
                    return
        yield from self._scanner(dictionary, columns=projection).to_batches()

    def _evaluated(
        self, names: list[str], dictionary: bool, projection: dict[str, ds.Expression]
    ) -> Iterator[pa.RecordBatch]:
        """``projection`` evaluated in memory over this group's ``names`` columns, batch by batch (its filter by :meth:`_evaluate`)."""
        columns = [name for name in projection if name != _MATCH]
        for batch in self._batches(names, dictionary):
            found = self._evaluate(projection[_MATCH], pa.Table.from_batches([batch]))
            yield pa.RecordBatch.from_arrays([batch.column(name) for name in columns] + [found], names=[*columns, _MATCH])

    def mask(self, batch: pa.RecordBatch | pa.Table) -> np.ndarray | None:
        """Which rows of ``batch`` (rows of this group, or of groups filtered alike) match its filter; None: every row.

        ``batch`` holds the columns the filter reads. For :func:`whole_matches`,
        which reads whole groups, and :func:`unit_matches`: the same rows
        :meth:`matches` yields. String columns may be dictionaries; a kernel
        without a dictionary variant gets them decoded.
        """
        row_filter = self._row_filter()
        if row_filter is None:
            return None
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        try:
            found = self._evaluate(row_filter, table)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
            found = self._evaluate(row_filter, plain(table))
        return found.fill_null(False).to_numpy(zero_copy_only=False)

    def copied_matches(self, copy: str, columns: list[str]) -> Iterator[Matches]:
        """:meth:`matches` of ``columns``, read from ``copy``, a local copy of this group's file (:meth:`ParquetSource.copied`).

        The columns the filter reads come too: the selector's fields, or
        every column in a group the window's own filter cuts (at its edges).
        """
        row_filter = self._row_filter()
        names: list[str] | None = list(columns)
        if row_filter is not None:
            use_fields = row_filter is self.selector_filter and self.fields
            names = list(dict.fromkeys([*columns, *self.fields])) if use_fields else None
        reader = pq.ParquetFile(copy, read_dictionary=self.source.strings)
        table = reader.read_row_group(self.group.id, columns=names, use_threads=False)
        if table.num_rows != self.group.rows:
            raise SelectionError("the data changed while it was read: a row group's rows differ from its footer's")
        start = 0
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            found = self.matched(batch.select(columns), self.mask(batch), start)
            if found is not None:
                yield found
            start += batch.num_rows

    @staticmethod
    def matched(batch: pa.RecordBatch, mask: np.ndarray | None, first: int) -> Matches | None:
        """The rows of ``batch`` that ``mask`` keeps (:meth:`mask`: None keeps all), with their row indices (``batch`` starts at row ``first``); None when none."""
        if mask is None:
            return batch, np.arange(first, first + batch.num_rows, dtype=np.int64)
        if not mask.any():
            return None
        return batch.filter(pa.array(mask)), np.flatnonzero(mask) + first

    def _evaluate(self, row_filter: ds.Expression, table: pa.Table) -> pa.Array:
        """``row_filter`` row by row over ``table`` (which holds the columns it reads)."""
        if self.predicate is not None and self.fields and row_filter is self.selector_filter:
            # The selector's predicate on the arrays themselves: the kernels alone,
            # and dictionary columns compared on their dictionaries.
            return self.predicate.mask(table)
        found = ds.dataset(table).to_table(columns={_MATCH: row_filter}, use_threads=False)
        return found.column(_MATCH).combine_chunks()

    def _batches(self, columns: list[str], dictionary: bool, threads: bool = False) -> Iterator[pa.RecordBatch]:
        """This row group's ``columns`` straight from its file, in batches (only when :meth:`ParquetSource.direct`).

        A group of at most ``_WHOLE_GROUP_ROWS`` rows is read whole (one call,
        the fastest); a larger one batch by batch, so memory stays bounded,
        its columns decoded on pyarrow's CPU pool if ``threads``.
        """
        group = self.group
        if group.rows <= _WHOLE_GROUP_ROWS:
            yield from self._read(columns, dictionary).to_batches(max_chunksize=BATCH_ROWS)
            return
        reader = self.source.reader(self.group, dictionary, self.source.pre_buffered(group.path, columns))
        try:
            yield from reader.iter_batches(
                batch_size=BATCH_ROWS, row_groups=[group.id], columns=columns, use_threads=threads
            )
        finally:
            trim_heap()  # a large group's batches churn the C heap (numpy's arrays of each batch)

    def _read(self, columns: list[str] | None, dictionary: bool) -> pa.Table:
        """This row group straight from its file (only when :meth:`ParquetSource.direct`)."""
        source = self.source
        pre_buffer = columns is None or source.pre_buffered(self.group.path, columns)
        return source.reader(self.group, dictionary, pre_buffer).read_row_group(
            self.group.id, columns=columns, use_threads=False
        )

    def count(self, keep: Budget | None = None) -> int:
        if self._count is None:
            self._count = self._count_rows(keep)
        return self._count

    def _count_rows(self, keep: Budget | None) -> int:
        row_filter = self._row_filter()
        if row_filter is None:
            return self.group.rows
        if self.fields and row_filter is self.selector_filter and self.source.direct(self.group):
            if keep is None or keep.full():
                # Nothing to keep: count batch by batch, holding no row indices.
                return sum(rows.size for _, rows in self.matches([], dictionary=True))
            seen = RowsSeen()
            for _, rows in self.matches([], dictionary=True):
                seen.add(rows)
            self._keep(seen, keep)
            return seen.size
        # Parquet answers from the footer when statistics show the filter keeps the whole group.
        return self._scanner(True, columns=[], filter=row_filter).count_rows()

    def counted(self, rows: np.ndarray, keep: Budget | None) -> int:
        """Take ``rows``, this group's matched rows found with other groups' (:func:`count_pieces`), as :meth:`count` would find them."""
        if self._count is None:
            seen = RowsSeen()
            seen.add(rows)
            if keep is not None and not keep.full():
                self._keep(seen, keep)
            self._count = seen.size
        return self._count

    def _keep(self, seen: RowsSeen, keep: Budget) -> None:
        """Keep the matched rows ``seen`` for :meth:`rows_of` if some rows do not match and ``keep`` has room."""
        if 0 < seen.size < self.group.rows:
            kept = seen.row_set()
            if keep.take(kept.nbytes):
                self._kept = kept

    def rows_of(self, ordinals: np.ndarray) -> np.ndarray:
        if self._row_filter() is not None and self.count() == self.group.rows:
            return ordinals  # the filter keeps every row
        return super().rows_of(ordinals)

    def fetch(self, rows: np.ndarray) -> pa.Table:
        # No filter here (rows are row indices); strings stay dictionaries until taken.
        if self.source.direct(self.group):
            group = self.group
            if rows.size and group.rows > _WHOLE_GROUP_ROWS:
                return self._fetch_large(rows)
            if rows.size and int(rows[-1]) < _EARLY_STOP * group.rows:
                # Winners only in the group's first rows: decode batch by batch
                # and stop after the last one (pyarrow cannot skip to a row).
                reader = self.source.reader(self.group, True)
                batches = reader.iter_batches(batch_size=_FETCH_BATCH_ROWS, row_groups=[group.id], use_threads=False)
                return _take_rows(batches, rows).cast(self.source.schema)
            table = self._read(None, True)
            if rows.size and int(rows[-1]) >= table.num_rows:
                raise SelectionError("the data changed while it was read: a picked row is gone")
            return table.take(pa.array(rows)).cast(self.source.schema)
        batches = self._scanner(True).to_batches()
        return _take_rows(batches, rows).cast(self.source.schema)

    def _fetch_large(self, rows: np.ndarray) -> pa.Table:
        """Rows ``rows`` of this large group: a few columns a pass, each pass batch by batch.

        A read pre-buffers the compressed chunks of the columns it reads: a
        pass reads columns whose chunks hold at most :data:`_PASS_BYTES` (one
        column at the least), so a foreign writer's 115 MB group is held a
        quarter at a time. Strings stay plain: a dictionary built across
        batches of a plain-encoded column would grow to the group's values.
        A pass decodes its columns on pyarrow's CPU pool: on a remote store
        few such groups are fetched at once (see _REMOTE_BUFFERED_IN_FLIGHT),
        which would leave cores idle (fetched whole one at a time: 30
        against 22 s at 100M rows on S3, measured).
        """
        passes = self.source.column_passes(self.group)
        parts = [_take_rows(self._batches(columns, False, threads=True), rows) for columns in passes]
        names = [name for part in parts for name in part.column_names]
        table = pa.Table.from_arrays([column for part in parts for column in part.columns], names=names)
        return table.select(self.source.schema.names).cast(self.source.schema)

    @property
    def file(self) -> str | None:
        return self.group.path

    def together_file(self) -> str | None:
        """This group's file path if its winners are fetched with the file's other winning groups in one read, else None.

        On a remote store a read is a request: one read of a file's winning
        groups lets pyarrow coalesce their column chunks into few ranged
        requests. Groups too large to read whole are fetched alone.
        """
        group = self.group
        if self.source.remote and group.rows <= _WHOLE_GROUP_ROWS and self.source.direct(group):
            return group.path
        return None

    def late_file(self) -> str | None:
        """This group's file path if its winners are fetched per file (:mod:`late_fetch`), else None."""
        return self.group.path if self.source.direct(self.group) and self.source.late(self.group) else None

    def file_rows(self, rows: np.ndarray) -> np.ndarray:
        """Row numbers within the file of this group's rows ``rows``."""
        return rows + self.group.start

    def take(self, rows: np.ndarray, columns: list[str]) -> pa.Table:
        if not self.source.direct(self.group):
            # Through the scanner, ``columns`` alone: a file of another schema.
            return _take_rows(self._scanner(False, columns=columns).to_batches(), rows)
        if rows.size and self.group.rows > _WHOLE_GROUP_ROWS:
            path = self.late_file()
            if path is not None:
                # DuckDB decodes the rows asked alone: record_id of 160 rows tied at a cut in a foreign
                # writer's 5M-row group took 0.06-0.07 s, pyarrow's batches up to the last 0.24-0.25 s.
                try:
                    return late_fetch.take_file(path, self.file_rows(rows), self.source.schema, prefetch=False, columns=columns)
                except late_fetch.LateFetchUnavailable:
                    pass  # pyarrow reads them
            return _take_rows(self._batches(columns, False), rows)
        table = self._read(columns, False)
        if rows.size and int(rows[-1]) >= table.num_rows:
            raise SelectionError("the data changed while it was read: a picked row is gone")
        return table.take(pa.array(rows))

    def value_range(self, field: str) -> tuple[Any, Any] | None:
        return self.source.value_range(self.group, field)


def _take_rows(batches: Iterator[pa.RecordBatch], rows: np.ndarray) -> pa.Table:
    """Rows at sorted indices ``rows`` of a stream of batches; stops reading after the last."""
    parts = []
    start = 0
    last = int(rows[-1])
    for batch in batches:
        end = start + batch.num_rows
        lo, hi = np.searchsorted(rows, [start, end])
        if hi > lo:
            parts.append(batch.take(pa.array(rows[lo:hi] - start)))
        start = end
        if start > last:
            break  # later batches hold no winner: stop reading
    if sum(part.num_rows for part in parts) != rows.size:
        raise SelectionError("the data changed while it was read: a picked row is gone")
    return pa.Table.from_batches(parts)


class Source(Protocol):
    """The data, as pieces."""

    schema: pa.Schema

    def pieces(
        self,
        selector_filter: ds.Expression | None,
        fields: Sequence[str] = (),
        predicate: Predicate | None = None,
        ranges: Sequence[str] = (),
    ) -> list[Piece]:
        """The pieces that may hold rows passing ``selector_filter``, in data order.

        ``fields`` names the columns ``selector_filter`` reads (a hint: pieces
        that know them can read those columns alone); ``predicate``, the same
        filter evaluated in memory (a hint: pieces that hold those columns
        evaluate it on them directly); ``ranges``, the fields whose value
        ranges the selector will ask of each piece (a hint: pieces found from
        statistics can note them at once).
        """

    def count_rows(self) -> int:
        """Rows in the data (after the dataset's own filter)."""


class TableSource:
    """An in-memory table, in slices."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.schema = table.schema

    def pieces(
        self,
        selector_filter: ds.Expression | None,
        fields: Sequence[str] = (),
        predicate: Predicate | None = None,
        ranges: Sequence[str] = (),
    ) -> list[Piece]:
        starts = range(0, max(self.table.num_rows, 1), TABLE_PIECE_ROWS)
        return [TablePiece(self.table.slice(start, TABLE_PIECE_ROWS), selector_filter) for start in starts]

    def count_rows(self) -> int:
        return self.table.num_rows


class DatasetSource:
    """Any dataset, read as one piece."""

    def __init__(self, dataset: ds.Dataset) -> None:
        self.dataset = dataset
        self.schema = dataset.schema

    def pieces(
        self,
        selector_filter: ds.Expression | None,
        fields: Sequence[str] = (),
        predicate: Predicate | None = None,
        ranges: Sequence[str] = (),
    ) -> list[Piece]:
        return [DatasetPiece(self.dataset, selector_filter)]

    def count_rows(self) -> int:
        return self.dataset.count_rows()


class ParquetSource:
    """A Parquet file-system dataset, one piece per row group.

    ``data_filter`` is the rows' own filter (the window), handed over apart
    from the unfiltered dataset (see :class:`FilteredParquet`); ``window``,
    when given, says it as time bounds (:class:`TimeRange`).

    Footers are read file by file into a bounded cache (:data:`FOOTER_CACHE_CHUNKS`
    column chunks, least recently used out, read again when needed), so a day's footers
    are never all held. The dataset's own fragments only say where the files
    are: a fragment keeps a footer it reads for as long as the dataset lives.
    """

    def __init__(
        self,
        dataset: ds.FileSystemDataset,
        data_filter: ds.Expression | None,
        fragments: list,
        footers_held: bool = False,
        window: TimeRange | None = None,
        file_chunks: FileChunks | None = None,
        copied_from: Mapping[str, ds.ParquetFileFragment] | None = None,
        statistics: Mapping[str, group_stats.FileStats] | None = None,
    ) -> None:
        self.dataset = dataset
        self.schema = dataset.schema
        self.data_filter = data_filter
        self._time_range = window if data_filter is not None else None
        self.paths = [fragment.path for fragment in fragments]
        self._where = {fragment.path: (fragment.filesystem, fragment.partition_expression) for fragment in fragments}
        # Fragments that hold their parsed footer already (a stream window small
        # enough to keep them hands them over, see FilteredParquet): reading
        # from them costs no request, and the memory is the window's anyway.
        self._given: dict[str, Any] = {fragment.path: fragment for fragment in fragments} if footers_held else {}
        # Local copies of a remote window's files (see on_copies) whose footers the window holds parsed:
        # answered from those, not parsed and held a second time (1,440 small files: 59 MB).
        for fragment in fragments if copied_from else ():
            original = copied_from.get(fragment.path)  # type: ignore[union-attr]
            if original is not None:
                self._given[fragment.path] = _CopiedFragment(fragment, original)
        # Row groups' statistics handed over for files whose footers are not held (see group_stats):
        # the row groups are found from these, not from a second parse of every footer.
        self._stats = {path: found for path, found in (statistics or {}).items() if path not in self._given}
        self._opened = _OpenedFiles()
        self._file_chunks = file_chunks
        self._window: list[RowGroup] | None = None
        self._ranges: dict[tuple[str, str], list[tuple[Any, Any] | None]] = {}
        self._large: dict[str, bool] = {}  # whether a file has a row group too large to read whole
        self._file_bytes: dict[str, int] = {}  # each file's compressed column chunks, once asked
        self._partial: dict[str, frozenset[int]] = {}  # row groups the window's filter cuts, by file
        self._judged: dict[str, list[tuple[bool, bool]] | None] = {}  # by the window's time bounds, by file
        self._rows: int | None = None
        self._in_flight: dict[tuple[str, ...] | None, int] = {}
        # Full records are read with string columns as dictionaries (cheap to
        # decode, cheap to take from) and cast back once only winners remain.
        # record_id is unique per row: a dictionary would only cost.
        # The dictionary format joins once the string columns are known (below),
        # from the first file's schema: its handed-over statistics', else its footer,
        # read here through the cache and kept.
        formats = {False: dataset.format}
        # The cache's function holds no reference to the source: no cycle keeps footers alive past its use.
        read = functools.partial(_open_file, self._where, formats, self._opened)
        self._files = _FooterCache(read, FOOTER_CACHE_CHUNKS, self._given)
        stored = set(self._physical_schema(self.paths[0]).names) if self.paths else set()
        strings = [
            field.name
            for field in self.schema
            if field.name in stored and field.name != RECORD_ID and pa.types.is_string(field.type)
        ]
        self.strings = strings
        self._direct: dict[str, bool] = {}
        self._late: dict[str, bool] = {}
        self._leaves: dict[str, int] | None = None  # direct files share one schema, hence one layout
        self._pre_buffered: dict[tuple[str, ...], bool] = {}
        self._plain_schema = self.schema.remove_metadata()
        self.read_schema = pa.schema(
            [pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in strings else f for f in self.schema]
        )
        options = dataset.format.read_options
        self.dictionary_format = ds.ParquetFileFormat(
            read_options=ds.ParquetReadOptions(
                dictionary_columns=set(options.dictionary_columns) | set(strings),
                coerce_int96_timestamp_unit=options.coerce_int96_timestamp_unit,
            ),
            default_fragment_scan_options=dataset.format.default_fragment_scan_options,
        )
        self._plain_format = dataset.format.equals(ds.ParquetFileFormat())
        formats[True] = self.dictionary_format

    def footers_cached(self) -> int:
        """How many files' footers the cache holds now (their chunks within :data:`FOOTER_CACHE_CHUNKS`)."""
        return len(self._files)

    def footer(self, path: str) -> pq.FileMetaData:
        """The decoded footer of the file at ``path``: from the cache, else read."""
        return self._files(path, False).metadata

    def fragment(self, group: RowGroup, dictionary: bool) -> ds.ParquetFileFragment:
        """``group`` as a fragment sharing its file's cached footer (string columns as dictionaries if asked)."""
        return self._files(group.path, dictionary).subset(row_group_ids=[group.id])

    def direct(self, group: RowGroup) -> bool:
        """Whether ``group``'s file can be read with ``pq.ParquetFile``, bypassing the scanner.

        True when the file holds exactly the dataset's columns with the
        dataset's types (no schema unification, no partition columns) and the
        dataset's format has default read options.
        """
        return self._direct_file(group.path)

    def _direct_file(self, path: str, fragment: ds.ParquetFileFragment | None = None) -> bool:
        """:meth:`direct` for the file at ``path``; its footer read unless ``fragment`` holds it."""
        found = self._direct.get(path)
        if found is None:
            physical = fragment.physical_schema if fragment is not None else self._physical_schema(path)
            # equals() leaves metadata out by default: no copy of the schema without it.
            found = self._plain_format and physical.equals(self._plain_schema)
            self._direct[path] = found
        return found

    def row_count(self, path: str) -> int:
        """Rows of the file at ``path``, by its footer (or its handed-over statistics)."""
        return sum(self._group_rows(path))

    def _physical_schema(self, path: str) -> pa.Schema:
        """The file at ``path``'s own schema: from its handed-over statistics, else its footer."""
        stats = self._stats.get(path)
        return stats.schema if stats is not None else self._files(path, False).physical_schema

    def late(self, group: RowGroup) -> bool:
        """Whether ``group``'s file is read through DuckDB when fetching (local, plain types)."""
        found = self._late.get(group.path)
        if found is None:
            found = late_fetch.suitable(self._where[group.path][0], group.path, self.schema)
            self._late[group.path] = found
        return found

    def column_index(self, path: str, field: str, metadata: pq.FileMetaData | None = None) -> int:
        """Index of the Parquet leaf column of top-level column ``field`` in the file at ``path``, or -1.

        Its footer is read unless ``metadata`` is the footer.
        """
        return self._leaf_indices(path, metadata).get(field, -1)

    def _leaf_indices(self, path: str, metadata: pq.FileMetaData | None = None) -> dict[str, int]:
        """Each Parquet leaf column's index by its path, for every direct file (read from ``path``'s footer, or ``metadata``)."""
        if self._leaves is None:
            parquet_schema = (metadata or self.footer(path)).schema
            self._leaves = {parquet_schema.column(i).path: i for i in range(len(parquet_schema))}
        return self._leaves

    def pre_buffered(self, path: str, columns: Sequence[str]) -> bool:
        """Whether a direct read of ``columns`` of a row group of ``path`` pre-buffers them: only when two of its chunks lie side by side.

        Pre-buffering merges adjacent chunks into one request, but pyarrow
        reads them on its IO threads, whose allocator heaps keep what they
        allocated (mimalloc frees another thread's blocks only as its owner
        allocates again). Chunks apart cost a request each either way, read
        unbuffered on the scanning thread, whose pool is released after each
        piece. On 1,440 small files on S3 (100M rows, peak RSS) top
        confidence k=10,000 held 411-425 MB against 504 MB, bounded range
        k=10,000 428 against 495 MB, in the same time and requests.
        """
        key = tuple(columns)
        found = self._pre_buffered.get(key)
        if found is None:
            read = _leaves_within(list(self._leaf_indices(path)), columns)  # paths in leaf order
            found = any(b - a == 1 for a, b in zip(read, read[1:]))
            self._pre_buffered[key] = found
        return found

    def reader(self, group: RowGroup, dictionary: bool, pre_buffer: bool = True) -> pq.ParquetFile:
        """A reader of ``group``'s file; its footer comes from the cache, not parsed again when there.

        A new reader per call: one ``ParquetFile`` must not serve two threads
        at once. Its column chunks are pre-buffered unless ``pre_buffer`` is
        false (see :meth:`pre_buffered`): the chunks a read needs come in
        few coalesced ranged reads. Streaming a
        large group's chunks instead (``buffer_size``, 4 MB reads) held less
        (745 against 1,062 MB on S3 for a foreign writer's 128 MB groups) but
        took twice as long, and changed nothing on a local disk.
        """
        return pq.ParquetFile(
            self.opened(group.path),
            metadata=self.footer(group.path),
            read_dictionary=self.strings if dictionary else None,
            pre_buffer=pre_buffer,
        )

    def opened(self, path: str) -> pa.NativeFile:
        """The file at ``path`` opened for positional reads (a remote file once, shared; see :class:`_OpenedFiles`)."""
        return self._opened.get(self._where[path][0], path)

    @functools.cached_property
    def copies(self) -> bool:
        """Whether remote files of this source may be read from local copies (:meth:`copied`): remote, and DuckDB reads every column as pyarrow would (:func:`late_fetch.readable`)."""
        return self.remote and late_fetch.readable(self.schema)

    def copyable(self, path: str) -> bool:
        """Whether the file at ``path`` may be read from a local copy: :attr:`copies`, and it holds at most :data:`_COPIED_FILE_BYTES`."""
        return self.copies and self.file_bytes(path) <= _COPIED_FILE_BYTES

    @contextlib.contextmanager
    def copied(self, path: str) -> Iterator[str]:
        """The path of a temporary local copy of the remote file at ``path``, for the block (:func:`late_fetch.local_copy`).

        Raises :class:`late_fetch.LateFetchUnavailable` when it cannot be
        written. Afterwards the C heap is trimmed: the copy's reads churned
        it (the store client's buffers; uniform k=10,000 at 100M rows on S3
        held 519 MB without, 402 MB with it).
        """
        try:
            with late_fetch.local_copy(self._chunks(path)) as copy:
                yield copy
        finally:
            trim_heap()

    def copy_file(self, path: str, target: str) -> None:
        """Write a local copy of the remote file at ``path`` to ``target``, :data:`COPY_READ_BYTES` a request.

        Through the source's ``file_chunks`` when it has them (see
        :class:`FilteredParquet`): then no request asks the file's size first
        (pyarrow's open does). Raises :class:`late_fetch.LateFetchUnavailable` when ``target`` cannot be written.
        """
        late_fetch.write_copy(self._chunks(path), target)

    def _chunks(self, path: str) -> Iterable[pa.Buffer | bytes]:
        """The bytes of the remote file at ``path``, :data:`COPY_READ_BYTES` a request: through ``file_chunks`` if given, else pyarrow's open file."""
        if self._file_chunks is not None:
            return self._file_chunks(path, COPY_READ_BYTES)
        return _chunks_of(self.opened(path), COPY_READ_BYTES)

    def on_copies(self, copies: Mapping[str, str]) -> ParquetSource:
        """This source over local copies of its files (``copies``: the copy of each path), in the same order.

        The same rows in the same order, the same window: a selection picks
        from it what it picks from this source, as long as it reads none of
        the files left out (those without a copy).
        """
        paths = [path for path in self.paths if path in copies]
        dataset = ds.FileSystemDataset.from_paths(
            [copies[path] for path in paths],
            schema=self.schema,
            format=self.dataset.format,
            filesystem=pafs.LocalFileSystem(),
            partitions=[self._where[path][1] for path in paths],
        )
        # A copy's footer is its file's, byte for byte: one held by the window serves the copy too.
        held = {copies[path]: self._given[path] for path in paths if path in self._given}
        stats = {copies[path]: self._stats[path] for path in paths if path in self._stats}
        fragments = list(dataset.get_fragments())
        return ParquetSource(
            dataset, self.data_filter, fragments, window=self._time_range, copied_from=held, statistics=stats
        )

    def file_bytes(self, path: str, metadata: pq.FileMetaData | None = None) -> int:
        """The compressed bytes of every column chunk of the file at ``path``: about its size (remembered).

        Its footer is read unless ``metadata`` is the footer.
        """
        found = self._file_bytes.get(path)
        if found is None and metadata is None and path in self._stats:
            found = self._stats[path].compressed_bytes
            if found is not None:
                self._file_bytes[path] = found
        if found is None:
            metadata = metadata or self.footer(path)
            found = self._file_bytes[path] = sum(_chunk_bytes(metadata.row_group(i)) for i in range(metadata.num_row_groups))
        return found

    def compressed_bytes(self, group: RowGroup) -> int:
        """The compressed bytes of ``group``'s column chunks: what a read of all its columns buffers."""
        return _chunk_bytes(self.footer(group.path).row_group(group.id))

    def column_passes(self, group: RowGroup) -> list[list[str]]:
        """The schema's columns in order, cut into the passes of a large ``group``'s fetch (see :func:`_column_passes`)."""
        return [columns for columns, _ in _column_passes(self.footer(group.path), group.id, self.schema.names)]

    def large_groups(self, path: str) -> bool:
        """Whether the file at ``path`` has a row group too large to read whole (see ``_WHOLE_GROUP_ROWS``)."""
        found = self._large.get(path)
        if found is None:
            found = self._note_large(path, self._group_rows(path))
        return found

    def _note_large(self, path: str, sizes: Sequence[int]) -> bool:
        """Remember and return whether the file at ``path`` (its row groups' rows ``sizes``) has a group too large to read whole."""
        found = any(size > _WHOLE_GROUP_ROWS for size in sizes)
        self._large[path] = found
        return found

    def _group_rows(self, path: str, fragment: ds.ParquetFileFragment | None = None) -> list[int]:
        """Rows of each row group of the file at ``path``: from its handed-over statistics, else its footer (``fragment``'s if given)."""
        stats = self._stats.get(path) if fragment is None else None
        if stats is not None:
            return stats.rows.tolist()
        metadata = (fragment or self._files(path, False)).metadata
        return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]

    @functools.cached_property
    def remote(self) -> bool:
        """Whether the files are on a remote store (each read a request)."""
        return bool(self.paths) and self._where[self.paths[0]][0].type_name in _REMOTE_FILESYSTEMS

    def remote_in_flight(self, columns: Sequence[str] | None = None) -> int:
        """Pieces to read at once from a remote store when each reads ``columns`` (None: all); see :data:`_REMOTE_POOL`.

        A row group at the window's edge is also read for the window's
        filter: its time column counts as read too. Sizes are the columns'
        uncompressed Parquet bytes, which under-state a dictionary-encoded
        column decoded to plain values; the pool's size caps the width anyway.
        Then the width is narrowed, below a local disk's if need be, until
        the compressed bytes buffered at once fit :data:`_REMOTE_BUFFERED_IN_FLIGHT`.
        """
        if columns is not None and self.data_filter is not None and TIME in self.schema.names:
            columns = [*columns, TIME]
        key = None if columns is None else tuple(sorted(set(columns)))
        found = self._in_flight.get(key)
        if found is None:
            largest, buffered = self._largest_read(key)
            # Never narrower than a local disk's scan (up to 8 at once), nor wider than the pool...
            floor = min(2 * workers(), 8)
            found = max(floor, min(_REMOTE_POOL.max_workers, _REMOTE_BYTES_IN_FLIGHT // max(1, largest)))
            # ... unless the chunks buffered whole would not fit.
            found = min(found, max(1, _REMOTE_BUFFERED_IN_FLIGHT // max(1, buffered)))
            self._in_flight[key] = found
        return found

    def _largest_read(self, columns: tuple[str, ...] | None) -> tuple[int, int]:
        """The most uncompressed and compressed bytes ``columns`` (None: all) take in a row group of a sample of the files."""
        if columns == ():
            return 0, 0  # footers and counts alone
        step = max(1, len(self.paths) // _SAMPLED_FILES)
        largest = buffered = 0
        for path in self.paths[::step][:_SAMPLED_FILES]:
            metadata = self.footer(path)
            leaves: Sequence[int] = range(metadata.num_columns)
            if columns is not None:
                leaves = _leaves_within([metadata.schema.column(i).path for i in leaves], columns)
            for index in range(metadata.num_row_groups):
                group = metadata.row_group(index)
                chunks = [group.column(i) for i in leaves]
                if columns is not None:
                    read = sum(chunk.total_uncompressed_size for chunk in chunks)
                    held = sum(chunk.total_compressed_size for chunk in chunks)
                elif group.num_rows > _WHOLE_GROUP_ROWS:
                    # Fetched a pass at a time: a pass's chunks are what is buffered at once.
                    read = group.total_byte_size
                    held = max(size for _, size in _column_passes(metadata, index, self.schema.names))
                else:
                    read = group.total_byte_size
                    held = sum(chunk.total_compressed_size for chunk in chunks)
                largest = max(largest, read)
                buffered = max(buffered, held)
        return largest, buffered

    def value_range(self, group: RowGroup, field: str) -> tuple[Any, Any] | None:
        """``(min, max)`` of ``field``'s non-null values in ``group`` before filtering, if its footer tells.

        Found for every row group of the file at once and remembered: an
        ordered rule asks for every piece's, once per round, and the footer
        may have left the cache since.
        """
        return self._noted_ranges(group.path, field)[group.id]

    def _noted_ranges(
        self, path: str, field: str, fragment: ds.ParquetFileFragment | None = None
    ) -> list[tuple[Any, Any] | None]:
        """:meth:`_file_ranges` of the file at ``path``, remembered; its footer read unless ``fragment`` holds it."""
        key = (path, field)
        ranges = self._ranges.get(key)
        if ranges is None and fragment is None:
            ranges = self._handed_ranges(path, field)
        if ranges is None:
            ranges = self._file_ranges(path, fragment or self._files(path, False), field)
        self._ranges[key] = ranges
        return ranges

    def _handed_ranges(self, path: str, field: str) -> list[tuple[Any, Any] | None] | None:
        """:meth:`_file_ranges` from the file's handed-over statistics; None when they do not tell (its footer is read then)."""
        stats = self._stats.get(path)
        if stats is None:
            return None
        if field not in self.schema.names:
            return [None] * len(stats.rows)
        type_ = self.schema.field(field).type
        if not (_plain_statistics(type_) and self._direct_file(path)):
            return None  # the fragment's statistics tell, as pyarrow converts them
        return group_stats.value_ranges(stats, field, type_)

    def _file_ranges(self, path: str, fragment: ds.ParquetFileFragment, field: str) -> list[tuple[Any, Any] | None]:
        """:meth:`value_range` of every row group of the file at ``path`` (read as ``fragment``), by row-group id."""
        type_ = self.schema.field(field).type if field in self.schema.names else None
        plain = type_ is not None and _plain_statistics(type_)
        # From ``fragment``'s footer: another thread may have pushed it out of the cache meanwhile.
        direct = plain and self._direct_file(path, fragment)
        leaf = self.column_index(path, field, fragment.metadata) if direct else -1
        if leaf >= 0:
            # These need no conversion: read the one column chunk's statistics rather
            # than building every column's (``RowGroupInfo.statistics``): 0.16 against
            # 2.2 ms a 1M-row file for ``__time``, held on the GIL.
            metadata = fragment.metadata
            numbers = (metadata.row_group(i).column(leaf).statistics for i in range(metadata.num_row_groups))
            return [(stats.min, stats.max) if stats is not None and stats.has_min_max else None for stats in numbers]
        ranges: list[tuple[Any, Any] | None] = []
        for info in fragment.row_groups:
            found = (info.statistics or {}).get(field)
            ranges.append((found["min"], found["max"]) if found and "min" in found and "max" in found else None)
        return ranges

    def pieces(
        self,
        selector_filter: ds.Expression | None,
        fields: Sequence[str] = (),
        predicate: Predicate | None = None,
        ranges: Sequence[str] = (),
    ) -> list[Piece]:
        if selector_filter is None:
            groups = self._window_groups(ranges)
        elif predicate is not None and self._judged_by_ranges(predicate):
            groups = self._meeting(predicate, ranges)
        else:
            groups = self._groups(_and(self.data_filter, selector_filter), ranges)
        return [RowGroupPiece(group, self, selector_filter, fields, predicate) for group in groups]

    def _judged_by_ranges(self, predicate: Predicate) -> bool:
        """Whether the row groups ``predicate`` may keep can be told from its fields' value ranges (:meth:`_meeting`)."""
        return all(
            comparison.field in self.schema.names and comparison.judged_by_range(self.schema.field(comparison.field).type)
            for comparison in predicate.comparisons
        )

    def _meeting(self, predicate: Predicate, ranges: Sequence[str]) -> list[RowGroup]:
        """The window's row groups whose value ranges (:meth:`value_range`) do not rule ``predicate`` out.

        What ``split_by_row_group`` keeps for the window's filter and the
        selector's, without building every column's statistics as
        expressions for each row group: 0.08 s of a 10M-row window, 0.5 s of
        100M, on the GIL.
        """
        window = self._window_groups([*ranges, *predicate.fields])
        return [
            group
            for group in window
            if all(self._may_hold(group, comparison) for comparison in predicate.comparisons)
        ]

    def _may_hold(self, group: RowGroup, comparison: Comparison) -> bool:
        found = self.value_range(group, comparison.field)
        return found is None or comparison.may_hold(*found)

    def _window_groups(self, ranges: Sequence[str] = ()) -> list[RowGroup]:
        """The row groups the source's own filter may keep; read once, then remembered (numbers only)."""
        if self._window is None:
            self._window = self._groups(self.data_filter, ranges)
        return self._window

    def _groups(self, row_filter: ds.Expression | None, ranges: Sequence[str] = ()) -> list[RowGroup]:
        """The row groups ``row_filter``'s statistics do not rule out, in data order, read file by file.

        The ``ranges`` fields' row-group ranges (:meth:`value_range`) are
        found from the same footers: a window of more files than the footer
        cache holds would read every footer again to find them (1,000 files
        of 1M rows: 1,345 more footer reads for top confidence k=100).
        """
        find = functools.partial(self._file_groups, row_filter=row_filter, ranges=ranges)
        told = row_filter is self.data_filter and all(path in self._given or self._told(path) for path in self.paths)
        if told or all(path in self._given for path in self.paths):
            # Footers held, or the window's filter judged from statistics handed over: no read to
            # wait on, only statistics to compare, on the GIL; threads would only contend for it
            # (1,440 files: 0.19 s on one thread, 0.21-0.39 s on the pool).
            per_file: Iterable[list[RowGroup]] = map(find, self.paths)
        else:
            per_file = ordered_map(find, self.paths, reads=())
        return [group for groups in per_file for group in groups]

    def _told(self, path: str) -> bool:
        """Whether the handed-over statistics of the file at ``path`` tell which of its row groups the window keeps (no footer read)."""
        stats = self._stats.get(path)
        if stats is None:
            return False
        if self.data_filter is None:
            return True
        window = self._time_range
        return window is not None and window.field in stats.columns and self._direct_file(path)

    def _file_groups(self, path: str, row_filter: ds.Expression | None, ranges: Sequence[str]) -> list[RowGroup]:
        # With the file's statistics handed over, its footer is read only for what they do not tell.
        fragment = None if path in self._stats else self._files(path, False)
        sizes = self._group_rows(path, fragment)
        self._note_large(path, sizes)
        if self.remote:
            # Noted while the footer is at hand: planning a copy (staging) asks every file's, and on a
            # window of more files than the footer cache holds, it would read them all again.
            self.file_bytes(path, None if fragment is None else fragment.metadata)
        for field in ranges:
            self._noted_ranges(path, field, fragment)
        partial = self._partial_groups(path, fragment)
        judged = self._judged_by_time(path, fragment) if row_filter is self.data_filter and partial else None
        if row_filter is self.data_filter and not partial:
            kept = list(range(len(sizes)))  # the window's filter keeps every group whole (a file inside it)
        elif judged is not None:
            kept = [index for index, (some, _) in enumerate(judged) if some]
        else:
            # split_by_row_group drops row groups whose statistics rule the filter out.
            found = (fragment or self._files(path, False)).split_by_row_group(row_filter, schema=self.schema)
            kept = [group.row_groups[0].id for group in found]
        starts = list(itertools.accumulate(sizes, initial=0))  # one or a few groups a file: numpy would cost more
        return [RowGroup(path, i, sizes[i], starts[i], i not in partial) for i in kept]

    def _partial_groups(self, path: str, fragment: ds.ParquetFileFragment | None) -> frozenset[int]:
        """Ids of the row groups of the file at ``path`` (read as ``fragment``; None: from its statistics, else read) the source's own filter may cut, remembered.

        A group the negated filter's statistics rule out is one they show
        wholly kept. Remembered: the window's groups and a selector's are
        found apart (the count of the window's rows, then the pieces).
        """
        found = self._partial.get(path)
        if found is None:
            found = frozenset()
            judged = self._judged_by_time(path, fragment)
            if judged is not None:
                found = frozenset(index for index, (_, whole) in enumerate(judged) if not whole)
            elif self.data_filter is not None:
                # A row the filter finds null is not kept either. pyarrow's statistics do not always tell it
                # from ``~filter`` alone: a group of one time and a null passed as wholly kept.
                failing = ~self.data_filter | self.data_filter.is_null()
                negated = (fragment or self._files(path, False)).split_by_row_group(failing, schema=self.schema)
                found = frozenset(group.row_groups[0].id for group in negated)
            self._partial[path] = found
        return found

    def _judged_by_time(self, path: str, fragment: ds.ParquetFileFragment | None) -> list[tuple[bool, bool]] | None:
        """``(kept, whole)`` of each row group of the file at ``path`` by the window's time bounds (:meth:`TimeRange.judge`).

        From the time column chunk's raw min/max: 0.16 ms a 1M-row file,
        where ``split_by_row_group`` builds every column's statistics as
        expressions (half the cost of finding a 10M-row window's pieces).
        None without bounds, or for a file whose time column is stored
        otherwise than the dataset's (another unit: the filter casts it).
        Remembered: the window's groups and a file's cut ones ask it apart.
        """
        if path not in self._judged:
            self._judged[path] = self._judge_by_time(path, fragment)
        return self._judged[path]

    def _judge_by_time(self, path: str, fragment: ds.ParquetFileFragment | None) -> list[tuple[bool, bool]] | None:
        window = self._time_range
        if window is None or not self._direct_file(path, fragment):
            return None
        stats = self._stats.get(path) if fragment is None else None
        judged = None if stats is None else group_stats.time_judged(stats, window)
        if judged is not None:
            return judged
        metadata = (fragment or self._files(path, False)).metadata
        leaf = self.column_index(path, window.field, metadata)
        if leaf < 0:
            return None
        groups = (_time_statistics(metadata.row_group(index), leaf) for index in range(metadata.num_row_groups))
        return group_stats.judge_groups(window, groups)

    def count_rows(self) -> int:
        if self._rows is None:
            groups = self._window_groups()
            # The window's filter reads the time column alone (counted by remote_in_flight).
            counted = ordered_map(self._count_kept, [group for group in groups if not group.whole], reads=())
            self._rows = sum(group.rows for group in groups if group.whole) + sum(counted)
        return self._rows

    def _count_kept(self, group: RowGroup) -> int:
        """Rows of ``group`` the source's own filter keeps (Parquet answers from statistics where it can)."""
        options = {"filter": self.data_filter, "columns": [], "use_threads": False}
        return self.fragment(group, False).scanner(schema=self.schema, **options).count_rows()


class _CopiedFragment:
    """A local copy of a file as a fragment whose footer is the original's, parsed already.

    Its footer, schema and statistics are the original fragment's (the copy
    is the file byte for byte); a read is made through a fragment of the copy
    itself, which parses the footer from local disk and is not held. Reads of
    the stream's own files go through :meth:`ParquetSource.reader`, given the
    parsed footer; a scanner's read (a group cut by the window's edges, a
    file of another schema) parses the copy's footer each time, a local read
    of a few KB.
    """

    def __init__(self, copy: ds.ParquetFileFragment, original: ds.ParquetFileFragment) -> None:
        self._copy = copy
        self._original = original
        self.path = copy.path

    @property
    def metadata(self) -> pq.FileMetaData:
        return self._original.metadata

    @property
    def physical_schema(self) -> pa.Schema:
        return self._original.physical_schema

    @property
    def row_groups(self) -> list:
        return self._original.row_groups

    def split_by_row_group(self, filter: ds.Expression | None = None, schema: pa.Schema | None = None) -> list:
        """The copy's row groups ``filter``'s statistics may keep: the original's, by the same ids."""
        return self._original.split_by_row_group(filter, schema=schema)

    def subset(self, row_group_ids: Sequence[int]) -> ds.ParquetFileFragment:
        """The copy's row groups ``row_group_ids``, to read (a new fragment: the copy's own would keep the footer it parses)."""
        copy = self._copy
        return copy.format.make_fragment(
            copy.path, copy.filesystem, partition_expression=copy.partition_expression, row_groups=row_group_ids
        )


class _FooterCache:
    """Files with their footers read, by ``(path, dictionary)``; least recently used out past ``budget`` chunks.

    Weighed by column chunks (row groups times columns), what a decoded footer's
    size follows, so that many small files are held as cheaply as a few big
    ones. Safe across threads; threads missing the same file wait for one read
    of it, while other files are read in parallel (:class:`~.keyed.KeyedOnce`).
    ``given`` holds fragments whose footer is read already (the window's, by
    path): they are handed back as they are, outside the budget, since the
    window holds them anyway, and without the cache's lock (a window of
    1,440 files asks each several times).
    """

    def __init__(
        self,
        read: Callable[[str, bool], ds.ParquetFileFragment],
        budget: int,
        given: Mapping[str, ds.ParquetFileFragment],
    ) -> None:
        self._read = read
        self._given = given
        self._entries: LeastRecentlyUsed[tuple[str, bool], ds.ParquetFileFragment] = LeastRecentlyUsed(budget, _chunks)
        self._once = KeyedOnce(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __call__(self, path: str, dictionary: bool) -> ds.ParquetFileFragment:
        if not dictionary:
            found = self._given.get(path)
            if found is not None:
                return found
        # One read per file: the row groups of a file are scanned at the same time.
        return self._once.get((path, dictionary), lambda: self._read(path, dictionary))


def _chunks(fragment: ds.ParquetFileFragment) -> int:
    """Column chunks in ``fragment``'s footer (row groups times columns)."""
    metadata = fragment.metadata
    return metadata.num_row_groups * metadata.num_columns


class _OpenedFiles:
    """Files opened for reading: a remote file once, shared; a local one anew at each call.

    Opening a file on S3 costs a request (its size), a local open nearly
    nothing. Readers share a remote file: its positional reads are
    thread-safe. Local files are opened per call so a window of thousands of
    files does not hold thousands of descriptors.
    """

    def __init__(self) -> None:
        self._remote: KeyedOnce[str, pa.NativeFile] = KeyedOnce(KeepAll())

    def get(self, filesystem: Any, path: str) -> pa.NativeFile:
        if filesystem.type_name not in _REMOTE_FILESYSTEMS:
            return filesystem.open_input_file(path)
        # One open per file, while other files open in parallel.
        return self._remote.get(path, lambda: filesystem.open_input_file(path))


def _chunks_of(opened: pa.NativeFile, chunk_bytes: int) -> Iterator[pa.Buffer]:
    """The bytes of the opened file ``opened``, in order, ``chunk_bytes`` a read (as :func:`late_fetch.write_copy` takes them)."""
    size = opened.size()
    for offset in range(0, size, chunk_bytes):
        yield opened.read_at(min(chunk_bytes, size - offset), offset)


def _time_statistics(group: pq.RowGroupMetaData, leaf: int) -> tuple[int, int, bool, int, int]:
    """``(low, high, known, nulls, rows)`` of row group ``group``'s time column (leaf ``leaf``), as :func:`group_stats.judge_groups` takes them."""
    stats = group.column(leaf).statistics
    if stats is None:
        return 0, 0, False, -1, group.num_rows
    nulls = stats.null_count if stats.has_null_count else -1
    if not stats.has_min_max:
        return 0, 0, False, nulls, group.num_rows
    return stats.min_raw, stats.max_raw, True, nulls, group.num_rows


def _plain_statistics(type_: pa.DataType) -> bool:
    """Whether a column of ``type_``, stored as such, has Parquet statistics that are its values as pyarrow gives them."""
    return (
        pa.types.is_floating(type_)
        or pa.types.is_integer(type_)
        or pa.types.is_string(type_)
        # Parquet's statistics give these as the datetimes pyarrow's would (not so nanoseconds).
        or (pa.types.is_timestamp(type_) and type_.unit != "ns")
    )


def _chunk_bytes(group: pq.RowGroupMetaData) -> int:
    """The compressed bytes of row group metadata ``group``'s column chunks."""
    return sum(group.column(i).total_compressed_size for i in range(group.num_columns))


def _column_passes(metadata: pq.FileMetaData, index: int, names: Sequence[str]) -> list[tuple[list[str], int]]:
    """Columns ``names`` in order, cut into passes whose compressed chunks in row group ``index`` hold at most :data:`_PASS_BYTES` (one column at the least), with each pass's bytes."""
    chunks = metadata.row_group(index)
    sizes = dict.fromkeys(names, 0)
    for i in range(chunks.num_columns):
        leaf = metadata.schema.column(i).path
        column = next((name for name in sizes if _within(leaf, name)), None)
        if column is not None:
            sizes[column] += chunks.column(i).total_compressed_size
    passes: list[tuple[list[str], int]] = []
    for column, size in sizes.items():
        if passes and passes[-1][1] + size <= _PASS_BYTES:
            passes[-1] = (passes[-1][0] + [column], passes[-1][1] + size)
        else:
            passes.append(([column], size))
    return passes


def _leaves_within(paths: Sequence[str], columns: Sequence[str]) -> list[int]:
    """Indices, in order, of the Parquet leaves at ``paths`` that belong to one of ``columns``.

    A nested column's leaves are named by its path ("outputs.label" under "outputs").
    """
    return [i for i, path in enumerate(paths) if any(_within(path, column) for column in columns)]


def _within(leaf: str, column: str) -> bool:
    """Whether the Parquet leaf at path ``leaf`` belongs to the column named ``column``."""
    return leaf == column or leaf.startswith(column + ".")


def _open_file(
    where: dict[str, tuple[Any, ds.Expression]],
    formats: dict[bool, ds.ParquetFileFormat],
    opened: _OpenedFiles,
    path: str,
    dictionary: bool,
) -> ds.ParquetFileFragment:
    """The whole file at ``path`` as a fragment with its footer read.

    ``where`` maps paths to their filesystem and partition expression;
    ``formats[dictionary]`` reads it (string columns as dictionaries or not).
    pyarrow takes no parsed footer for a fragment of another format, so a dictionary read
    parses the footer once more; a remote file through its shared opened file
    (no second request for its size).
    """
    filesystem, partition = where[path]
    if filesystem.type_name in _REMOTE_FILESYSTEMS:
        fragment = formats[dictionary].make_fragment(opened.get(filesystem, path), partition_expression=partition)
    else:
        fragment = formats[dictionary].make_fragment(path, filesystem=filesystem, partition_expression=partition)
    fragment.ensure_complete_metadata()
    return fragment


def open_source(data: pa.Table | ds.Dataset | FilteredParquet) -> Source:
    """The source for ``data``: a table, a dataset, or a dataset with its filter handed over apart.

    Parquet file-system datasets are read row group by row group when the
    engine can list their files: an unfiltered dataset, or a
    :class:`FilteredParquet` (such as the stream's window). A dataset from
    ``Dataset.filter`` hides its files and filter from pyarrow's public API,
    so it is read as one piece, in order (correct, but slower on big data).
    """
    if isinstance(data, pa.Table):
        return TableSource(data)
    if isinstance(data, FilteredParquet):
        return _filtered_source(data)
    if not isinstance(data, ds.Dataset):
        raise SelectionError(
            f"data must be a pyarrow Table, a pyarrow Dataset or a dataset with its filter, got {type(data).__name__}"
        )
    if isinstance(data, ds.FileSystemDataset) and isinstance(data.format, ds.ParquetFileFormat):
        try:
            fragments = list(data.get_fragments())
        except ValueError:
            # pyarrow refuses to list the fragments of a filtered or projected dataset.
            return DatasetSource(data)
        return ParquetSource(data, None, fragments)
    return DatasetSource(data)


def _filtered_source(data: FilteredParquet) -> Source:
    dataset, row_filter = data.dataset, data.filter
    if not isinstance(dataset, ds.Dataset):
        raise SelectionError(f"the filtered data's dataset must be a pyarrow Dataset, got {type(dataset).__name__}")
    if row_filter is not None and not isinstance(row_filter, ds.Expression):
        raise SelectionError(f"the filtered data's filter must be a pyarrow Expression, got {type(row_filter).__name__}")
    if isinstance(dataset, ds.FileSystemDataset) and isinstance(dataset.format, ds.ParquetFileFormat):
        window = time_range(data, dataset.schema)  # a bad one is an error, not a reason to read slowly
        try:
            # A stream window says whether its fragments hold their footers (see FilteredParquet).
            held = getattr(data, "footers_held", False) is True
            chunks = getattr(data, "file_chunks", None)
            stats = group_stats.handed_over(data)
            fragments = list(dataset.get_fragments(row_filter))
            return ParquetSource(
                dataset, row_filter, fragments, held, window, chunks if callable(chunks) else None, statistics=stats
            )
        except ValueError:
            pass  # the dataset carries a filter of its own: read it as one piece
    return DatasetSource(dataset if row_filter is None else dataset.filter(row_filter))


def _and(a: ds.Expression | None, b: ds.Expression | None) -> ds.Expression | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def fetch(picks: Sequence[tuple[Piece, np.ndarray]], schema: pa.Schema) -> pa.Table:
    """Full rows at sorted row indices of each piece, concatenated in the order given.

    Row groups of local stream files are fetched one DuckDB query per file,
    small files many to a query (:mod:`curation_pipeline.selection.late_fetch`),
    or, where winners under a selector's filter fill most pages, by polars
    (:func:`_fetch_valued`);
    row groups of remote files from a local copy of the file through DuckDB
    where their winners are sparse (:func:`_from_copy`), else one read per file
    (:func:`_fetch_together`); other pieces one by one.
    """
    trim_heap()  # what the passes freed, back to the system before the largest reads
    late: dict[str, list[int]] = {}
    together: dict[str, list[int]] = {}
    alone: list[int] = []
    for index, (piece, _) in enumerate(picks):
        if isinstance(piece, RowGroupPiece) and (path := piece.late_file()) is not None:
            late.setdefault(path, []).append(index)
        elif isinstance(piece, RowGroupPiece) and (path := piece.together_file()) is not None:
            together.setdefault(path, []).append(index)
        else:
            alone.append(index)
    jobs: list[tuple[_Fetcher, list[int]]] = []
    small: list[tuple[str, list[int], int]] = []
    valued: list[tuple[list[int], int]] = []  # files for polars (_fetch_valued): their picks and rows
    for path, indices in late.items():
        picked = sum(picks[index][1].size for index in indices)
        held = sum(picks[index][0].group.rows for index in indices)  # type: ignore[attr-defined]
        if picked * _LATE_SHARE > held:
            alone.extend(indices)  # dense winners (the newest rows): a whole-group read is as cheap
        elif _dense_under_filter(picks[indices[0]][0], path, picked):
            valued.append((indices, picks[indices[0]][0].source.row_count(path)))  # type: ignore[attr-defined]
        elif held >= _LATE_MIN_ROWS:
            jobs.append((_fetch_late, indices))
        else:
            small.append((path, indices, held))
    batched, alone_small = _batched(small)
    jobs += [(_fetch_late, indices) for _, indices in batched]
    jobs += [(_fetch_valued, [index for indices in run for index in indices]) for run in runs_of_rows(valued, _VALUED_FETCH_ROWS)]
    alone += alone_small
    for indices in together.values():
        if _from_copy([picks[index] for index in indices]):
            jobs.append((_fetch_copied, indices))
        else:
            jobs += [(_fetch_together, run) for run in together_runs([piece for piece, _ in picks], indices)]
    jobs += [(_fetch_alone, [index]) for index in sorted(alone)]
    tables: list[pa.Table | None] = [None] * len(picks)

    def run(job: tuple[_Fetcher, list[int]]) -> list[pa.Table]:
        fetcher, indices = job
        return fetcher([picks[index] for index in indices])

    for (_, indices), fetched in zip(jobs, ordered_map(run, jobs)):
        for index, table in zip(indices, fetched):
            tables[index] = table
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


# How one fetch job reads its picks: a table per pick, in the order given.
_Fetcher = Callable[[list[tuple[Piece, np.ndarray]]], list[pa.Table]]


def _fetch_alone(picks: list[tuple[Piece, np.ndarray]]) -> list[pa.Table]:
    """The one pick's rows, read by its piece."""
    ((piece, rows),) = picks
    return [piece.fetch(rows)]


def together_runs(pieces: Sequence[Piece], indices: Sequence[int]) -> list[list[int]]:
    """``indices`` of row groups of one remote file (see :func:`together_rows`), in file order, split into runs read together.

    A read pre-buffers the compressed chunks of all its row groups: a run's
    groups hold at most :data:`_TOGETHER_BYTES` of them, one group at the least.
    """
    ordered = sorted(indices, key=lambda index: pieces[index].group.id)  # type: ignore[attr-defined]
    runs: list[list[int]] = []
    buffered = _TOGETHER_BYTES
    for index in ordered:
        piece: RowGroupPiece = pieces[index]  # type: ignore[assignment]
        size = piece.source.compressed_bytes(piece.group)
        if buffered + size > _TOGETHER_BYTES:
            runs.append([])
            buffered = 0
        runs[-1].append(index)
        buffered += size
    return runs


def together_rows(pieces: Sequence[Piece]) -> list[int] | None:
    """Each piece's rows when every piece is a row group of a remote file read with the file's others (:meth:`RowGroupPiece.together_file`); else None."""
    if not pieces or not all(isinstance(piece, RowGroupPiece) and piece.together_file() is not None for piece in pieces):
        return None
    return [piece.group.rows for piece in pieces]  # type: ignore[attr-defined]


def unit_scannable(piece: Piece) -> bool:
    """Whether ``piece`` may be scanned with others (:func:`unit_matches`).

    A small row group of a local file, read straight from it, which the
    window's filter keeps whole, whose selector filter (if any) is a
    predicate evaluated in memory: every such piece of one source then
    filters its rows alike, so many can be filtered at once. On a remote
    store each group's read is a request, made in parallel piece by piece.
    """
    if not isinstance(piece, RowGroupPiece) or piece.source.remote:
        return False
    group = piece.group
    if not 0 < group.rows <= _UNIT_GROUP_ROWS or not group.whole or not piece.source.direct(group):
        return False
    return piece.selector_filter is None or bool(piece.fields)


def scan_units(pieces: Sequence[Piece], indices: Sequence[int]) -> list[list[int]]:
    """``indices`` (pieces to scan) as units: :func:`unit_scannable` pieces together, in their order, every other piece alone.

    A unit holds at most :data:`_UNIT_ROWS` rows, and at most a share of the
    scannable pieces that leaves each of the pool's threads two units, so
    that a short list still spreads over the pool. Scannable pieces need not
    be neighbours: a file a minute past 65,536 rows ends in a small group
    after each large one.
    """
    alone = {index: not unit_scannable(pieces[index]) for index in indices}
    scannable = [index for index in indices if not alone[index]]
    units = [[index] for index in indices if alone[index]]
    share = max(1, -(-len(scannable) // (2 * workers())))
    rows = 0
    for position, index in enumerate(scannable):
        size = pieces[index].group.rows  # type: ignore[attr-defined]
        if position and len(units[-1]) < share and rows + size <= _UNIT_ROWS:
            units[-1].append(index)
            rows += size
        else:
            units.append([index])
            rows = size
    return units


def unit_matches(
    pieces: Sequence[Piece], columns: list[str], *, dictionary: bool = False
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The matched rows of :func:`unit_scannable` ``pieces`` of one selection: each group read, then all filtered at once.

    Returns their ``columns``, their row indices within their pieces, and
    their pieces' positions in ``pieces`` (ascending): the rows and values
    :meth:`Piece.matches` gives piece by piece, string columns as
    dictionaries if ``dictionary``. The pieces filter alike (whole groups,
    one selector), so the first one's :meth:`RowGroupPiece.mask` serves all.
    Small row groups (a file a minute) cost more in the filtering and
    handling of each than in reading it: 1,440 files of 7,000 rows took
    0.64 s piece by piece, where reading their column took 0.21 s.
    """
    first: RowGroupPiece = pieces[0]  # type: ignore[assignment]
    names = list(columns) if first.selector_filter is None else list(dict.fromkeys([*columns, *first.fields]))
    table, sizes = _unit_table(pieces, names, dictionary)
    owners = np.repeat(np.arange(len(pieces), dtype=np.int64), sizes)
    rows = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    mask = first.mask(table)
    if mask is None:
        return table.select(columns), rows, owners
    kept = np.flatnonzero(mask)
    return table.select(columns).filter(pa.array(mask)), rows[kept], owners[kept]


def _unit_table(pieces: Sequence[Piece], names: list[str], dictionary: bool) -> tuple[pa.Table, np.ndarray]:
    """``names`` of each of ``pieces``' row groups, read straight, as one table, and each group's rows."""
    tables = []
    for piece in pieces:
        batches = list(piece._batches(names, dictionary))  # type: ignore[attr-defined]
        if sum(batch.num_rows for batch in batches) != piece.group.rows:  # type: ignore[attr-defined]
            raise SelectionError("the data changed while it was read: a row group's rows differ from its footer's")
        tables.append(pa.Table.from_batches(batches))
    # Dictionaries differ from file to file: concatenated as chunks, unified where a kernel combines them.
    return pa.concat_tables(tables), np.array([table.num_rows for table in tables], np.int64)


def count_pieces(pieces: Sequence[Piece], keep: Budget | None = None) -> np.ndarray:
    """Each piece's matched rows (:meth:`Piece.count`), small row groups counted many at once (:func:`scan_units`).

    Row groups of large local files wholly inside the window, under a
    selector's filter polars evaluates exactly, are counted by polars
    (:func:`_count_by_polars`).
    """
    counts = np.zeros(len(pieces), np.int64)
    by_polars = _counted_by_polars(pieces)
    if by_polars:
        try:
            counts[by_polars] = _count_by_polars([pieces[index] for index in by_polars], keep)  # type: ignore[misc]
        except late_fetch.LateFetchUnavailable:
            by_polars = []  # pyarrow counts them
    rest = sorted(set(range(len(pieces))) - set(by_polars))
    counts[rest] = _count_by_pyarrow([pieces[index] for index in rest], keep)
    return counts


def _counted_by_polars(pieces: Sequence[Piece]) -> list[int]:
    """Indices of ``pieces`` :func:`_count_by_polars` counts: whole row groups of local files, under one condition polars evaluates exactly."""
    if not pieces or not isinstance(pieces[0], RowGroupPiece) or _prefilter(pieces[0]) is None:
        return []
    return [
        index
        for index, piece in enumerate(pieces)
        if isinstance(piece, RowGroupPiece)
        and piece.group.whole
        and piece.late_file() is not None
    ]


def _count_by_polars(pieces: list[RowGroupPiece], keep: Budget | None) -> list[int]:
    """Each piece's matched rows, found by polars (:func:`value_scan.matched_rows`) a run of files at a time and handed to the piece (:meth:`RowGroupPiece.counted`)."""
    where = _prefilter(pieces[0])
    by_file: dict[str, list[int]] = {}
    for position, piece in enumerate(pieces):
        by_file.setdefault(piece.group.path, []).append(position)
    counts = [0] * len(pieces)
    sizes = [(path, sum(pieces[position].group.rows for position in positions)) for path, positions in by_file.items()]
    for run in runs_of_rows(sizes, _POLARS_COUNT_ROWS):
        files = [(path, row_ranges([pieces[position].group for position in by_file[path]]), pieces[0].source.row_count(path)) for path in run]
        for path, numbers in zip(run, value_scan.matched_rows(files, where)):
            for position in by_file[path]:
                group = pieces[position].group
                low, high = np.searchsorted(numbers, [group.start, group.start + group.rows])
                counts[position] = pieces[position].counted(numbers[low:high] - group.start, keep)
    return counts


def runs_of_rows(items: Iterable[tuple[T, int]], rows: int) -> list[list[T]]:
    """``items`` (each with its rows) in order, in runs of about ``rows`` rows: a run ends before the item that would pass it."""
    runs: list[list[T]] = []
    held = 0
    for item, size in items:
        if not runs or (held and held + size > rows):
            runs.append([])
            held = 0
        runs[-1].append(item)
        held += size
    return runs


def row_ranges(groups: Iterable[RowGroup]) -> list[tuple[int, int]]:
    """The ``[start, end)`` file row numbers ``groups`` (of one file) cover, in file order, adjacent groups as one range."""
    ranges: list[tuple[int, int]] = []
    for group in sorted(groups, key=lambda group: group.start):
        if ranges and ranges[-1][1] == group.start:
            ranges[-1] = (ranges[-1][0], group.start + group.rows)
        else:
            ranges.append((group.start, group.start + group.rows))
    return ranges


def _count_by_pyarrow(pieces: Sequence[Piece], keep: Budget | None) -> np.ndarray:
    """:func:`count_pieces` by pyarrow: small row groups many at once (:func:`scan_units`)."""

    def count(unit: list[int]) -> list[int]:
        if len(unit) == 1 or pieces[unit[0]]._row_filter() is None:  # type: ignore[attr-defined]
            return [pieces[index].count(keep) for index in unit]  # alone, or nothing to read (the footer's rows)
        _, rows, owners = unit_matches([pieces[index] for index in unit], [], dictionary=True)
        bounds = np.searchsorted(owners, np.arange(len(unit) + 1))
        return [
            pieces[index].counted(rows[low:high], keep)  # type: ignore[attr-defined]
            for index, low, high in zip(unit, bounds[:-1].tolist(), bounds[1:].tolist())
        ]

    counts = np.zeros(len(pieces), np.int64)
    units = scan_units(pieces, range(len(pieces)))
    for unit, counted in zip(units, ordered_map(count, units, reads=())):
        counts[unit] = counted
    return counts


def whole_matches(pieces: Sequence[Piece]) -> Iterator[tuple[int, pa.RecordBatch, np.ndarray]]:
    """Every column of the matched rows of ``pieces``, a run of :func:`together_runs`, from one read.

    Yields ``(position in pieces, batch, the batch's row indices in that
    piece)`` in data order: the rows and values :meth:`Piece.matches` and
    :func:`fetch` give, string columns as dictionaries (:func:`plain`
    decodes them). One read pre-buffers the run's chunks, which lie side by
    side: a request for the run rather than one a group.
    """
    groups: list[RowGroup] = [piece.group for piece in pieces]  # type: ignore[attr-defined]
    source: ParquetSource = pieces[0].source  # type: ignore[attr-defined]
    # Where each group's rows start within the groups' concatenation, which iter_batches reads in order.
    starts = np.cumsum([0] + [group.rows for group in groups])
    reader = source.reader(groups[0], True)
    read = 0
    for batch in reader.iter_batches(batch_size=BATCH_ROWS, row_groups=[group.id for group in groups], use_threads=False):
        if read + batch.num_rows > starts[-1]:
            raise SelectionError("the data changed while it was read: a row group is longer than its footer says")
        done = 0
        while done < batch.num_rows:
            position = int(np.searchsorted(starts, read, side="right")) - 1
            size = min(batch.num_rows - done, int(starts[position + 1]) - read)
            part = batch.slice(done, size)
            first = read - int(starts[position])
            found = RowGroupPiece.matched(part, pieces[position].mask(part), first)  # type: ignore[attr-defined]
            if found is not None:
                yield position, *found
            done += size
            read += size
    if read != starts[-1]:
        raise SelectionError("the data changed while it was read: a row group is shorter than its footer says")


def plain(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary columns decoded to their values' type (and no schema metadata)."""
    if not any(pa.types.is_dictionary(field.type) for field in table.schema):
        return table.replace_schema_metadata(None)
    fields = [pa.field(f.name, f.type.value_type, f.nullable) if pa.types.is_dictionary(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields))


def _fetch_together(picks: list[tuple[Piece, np.ndarray]]) -> list[pa.Table]:
    """Each pick's rows from one read of their row groups, the picks being distinct groups of one file in file order.

    One reader over all the groups pre-buffers their chunks together, so
    adjacent groups come in one ranged request rather than one each: for
    10,000 winners of a 100M-row day on S3, 1,526 requests of a group became
    200 of half a file (3,386 -> 2,002 in all with the narrow scan's; top
    confidence 41.2 -> 25.7 s).
    """
    groups: list[RowGroup] = [piece.group for piece, _ in picks]  # type: ignore[attr-defined]
    ids = [group.id for group in groups]
    if len(set(ids)) != len(ids) or any(rows.size == 0 for _, rows in picks):
        return [piece.fetch(rows) for piece, rows in picks]
    source: ParquetSource = picks[0][0].source  # type: ignore[attr-defined]
    # Row numbers within the groups' concatenation, which iter_batches reads in order.
    starts = np.cumsum([0] + [group.rows for group in groups[:-1]])
    rows = np.concatenate([offsets + start for (_, offsets), start in zip(picks, starts)])
    # Groups read whole (not too large, see together_file): strings as dictionaries until taken.
    batches = source.reader(groups[0], True).iter_batches(batch_size=BATCH_ROWS, row_groups=ids, use_threads=False)
    return _sliced(_take_rows(batches, rows).cast(source.schema), [offsets.size for _, offsets in picks])


def _from_copy(picks: list[tuple[Piece, np.ndarray]]) -> bool:
    """Whether the winners of one remote file's groups (``picks``) are fetched from a local copy of it (:func:`_fetch_copied`).

    When DuckDB can read the data's types, the winners are sparse (as for a
    local file's: at most one row in :data:`_LATE_SHARE` of their groups',
    which hold at least :data:`_LATE_MIN_ROWS`), and their groups hold at
    least half of the file's compressed bytes, which is at most
    :data:`_COPIED_FILE_BYTES` (:meth:`ParquetSource.copyable`): copying the
    rest of the file costs little more than reading those groups.
    """
    source: ParquetSource = picks[0][0].source  # type: ignore[attr-defined]
    groups: list[RowGroup] = [piece.group for piece, _ in picks]  # type: ignore[attr-defined]
    picked = sum(rows.size for _, rows in picks)
    held = sum(group.rows for group in groups)
    if picked * _LATE_SHARE > held or held < _LATE_MIN_ROWS or not source.copyable(groups[0].path):
        return False
    winning = sum(source.compressed_bytes(group) for group in groups)
    return 2 * winning >= source.file_bytes(groups[0].path)


def _fetch_copied(picks: list[tuple[Piece, np.ndarray]]) -> list[pa.Table]:
    """Each pick's rows, the picks being row groups of one remote file, through DuckDB from a local copy of the file.

    The copy comes :data:`COPY_READ_BYTES` a request, about as many
    requests as :func:`_fetch_together`'s runs of the same groups make; DuckDB
    then decodes the winners' pages alone (:func:`late_fetch.take_copied`).
    Without DuckDB's read (a full temporary disk, a DuckDB error), the
    groups are read by pyarrow as :func:`_fetch_together` reads them.
    """
    source: ParquetSource = picks[0][0].source  # type: ignore[attr-defined]
    path = picks[0][0].group.path  # type: ignore[attr-defined]
    numbers = np.concatenate([piece.file_rows(rows) for piece, rows in picks])  # type: ignore[attr-defined]
    if np.unique(numbers).size == numbers.size:
        try:
            with source.copied(path) as copy:
                table = late_fetch.take_copied(copy, numbers, source.schema)
        except late_fetch.LateFetchUnavailable:
            pass
        else:
            return _sliced(table, [rows.size for _, rows in picks])
    pieces = [piece for piece, _ in picks]
    tables: list[pa.Table | None] = [None] * len(picks)
    for run in together_runs(pieces, range(len(picks))):
        for index, table in zip(run, _fetch_together([picks[index] for index in run])):
            tables[index] = table
    return tables  # type: ignore[return-value]


def _sliced(table: pa.Table, sizes: Sequence[int]) -> list[pa.Table]:
    """``table`` cut into consecutive slices of ``sizes`` rows."""
    starts = itertools.accumulate(sizes, initial=0)
    return [table.slice(start, size) for start, size in zip(starts, sizes)]


def _batched(small: list[tuple[str, list[int], int]]) -> tuple[list[tuple[list[str], list[int]]], list[int]]:
    """Small files' picks as queries over several files, and the picks left to pyarrow.

    ``small`` holds ``(path, pick indices, rows of their row groups)`` in
    data order. A query takes files until their rows reach
    :data:`_FILES_QUERY_ROWS`; a last query of fewer than
    :data:`_LATE_MIN_ROWS` rows would not repay its cost and joins the one
    before, or, alone, is read by pyarrow.
    """
    queries: list[tuple[list[str], list[int], int]] = []
    for path, indices, held in small:
        if not queries or queries[-1][2] >= _FILES_QUERY_ROWS:
            queries.append(([], [], 0))
        paths, picked, rows = queries[-1]
        queries[-1] = (paths + [path], picked + indices, rows + held)
    if queries and queries[-1][2] < _LATE_MIN_ROWS:
        paths, picked, rows = queries.pop()
        if queries:
            previous = queries.pop()
            queries.append((previous[0] + paths, previous[1] + picked, previous[2] + rows))
        else:
            return [], picked
    return [(paths, picked) for paths, picked, _ in queries], []


def _dense_under_filter(piece: Piece, path: str, picked: int) -> bool:
    """Whether ``picked`` winners of the file at ``path`` are fetched by polars (:func:`_fetch_valued`).

    At least one in :data:`_VALUED_FETCH_SHARE` of the file's rows (polars
    reads the filter's columns of the whole file), under a filter it
    evaluates, and no row group too large to read whole: polars holds a
    group's columns decoded (a foreign writer's 128 MB groups, equality
    k=10,000 at 10M rows: 469 MB at its peak, 295 MB through DuckDB).
    """
    source = piece.source  # type: ignore[attr-defined]
    rows = source.row_count(path)
    return picked * _VALUED_FETCH_SHARE >= rows and not source.large_groups(path) and _prefilter(piece) is not None


def _prefilter(piece: Piece) -> Any | None:
    """The polars condition a selector's matched rows of ``piece`` all meet (:func:`value_scan.prefilter`), or None."""
    predicate = getattr(piece, "predicate", None)
    if predicate is None or not predicate.comparisons:
        return None
    return value_scan.prefilter(piece.source.schema, predicate.comparisons)  # type: ignore[attr-defined]


def _fetch_valued(picks: list[tuple[Piece, np.ndarray]]) -> list[pa.Table]:
    """Each pick's rows through polars (:func:`value_scan.rows_at`): local files whose winners fill most pages, under a selector's filter.

    polars decodes the filter's columns, then the others only for the rows
    asked among those the filter keeps: equality k=10,000 at 10M rows took
    0.44-0.52 s where DuckDB's queries take 0.7 s (100M: 3.9-4.2 against
    4.6-4.9 s). Where polars cannot, DuckDB reads them (:func:`_fetch_late`).
    """
    by_path, asked = _asked_by_file(picks)
    where = _prefilter(picks[0][0])
    if not asked or where is None:
        return _fetch_late(picks)  # a row asked twice (one query returns it once), or no condition
    source: ParquetSource = picks[0][0].source  # type: ignore[attr-defined]
    try:
        fetched = value_scan.rows_at([(path, rows, source.row_count(path)) for path, rows in asked], source.schema, where)
    except late_fetch.LateFetchUnavailable:
        return _fetch_late(picks)
    return _placed(picks, by_path, fetched)


def _fetch_late(picks: list[tuple[Piece, np.ndarray]]) -> list[pa.Table]:
    """Each pick's rows through DuckDB (:mod:`late_fetch`), the picks being row groups of local files.

    One file: a query for its rows. Several (small files): one query over them all.
    """
    by_path, asked = _asked_by_file(picks)
    if not asked:
        return [piece.fetch(rows) for piece, rows in picks]  # a row asked twice: one query returns it once
    source = picks[0][0].source  # type: ignore[attr-defined]
    try:
        if len(asked) == 1:
            path, numbers = asked[0]
            # Groups too large to read whole are also too large to prefetch whole.
            fetched = [late_fetch.take_file(path, numbers, source.schema, prefetch=not source.large_groups(path))]
        else:
            fetched = late_fetch.take_files(asked, source.schema)
    except late_fetch.LateFetchUnavailable:
        return [piece.fetch(rows) for piece, rows in picks]  # pyarrow's read of the same rows
    return _placed(picks, by_path, fetched)


def _asked_by_file(picks: list[tuple[Piece, np.ndarray]]) -> tuple[dict[str, list[int]], list[tuple[str, np.ndarray]]]:
    """The picks' positions by file, and each file's row numbers asked; none asked where a row is asked twice."""
    by_path: dict[str, list[int]] = {}
    for position, (piece, _) in enumerate(picks):
        by_path.setdefault(piece.group.path, []).append(position)  # type: ignore[attr-defined]
    asked = []
    for path, positions in by_path.items():
        numbers = np.concatenate([picks[i][0].file_rows(picks[i][1]) for i in positions])  # type: ignore[attr-defined]
        if np.unique(numbers).size != numbers.size:
            return by_path, []
        asked.append((path, numbers))
    return by_path, asked


def _placed(picks: list[tuple[Piece, np.ndarray]], by_path: dict[str, list[int]], fetched: list[pa.Table]) -> list[pa.Table]:
    """Each pick's rows, cut from its file's fetched table (:func:`_asked_by_file`'s order)."""
    tables: list[pa.Table | None] = [None] * len(picks)
    for positions, table in zip(by_path.values(), fetched):
        for i, part in zip(positions, _sliced(table, [picks[i][1].size for i in positions])):
            tables[i] = part
    return tables  # type: ignore[return-value]
