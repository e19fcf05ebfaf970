"""A remote window's files copied to local disk when a selection would read most of them anyway.

On a remote store every read is a request. A uniform or stratified rule
asking for at least as many records as its row groups puts winners in nearly
every group: it reads its filter's or its field's column group by group (a
request a column chunk) to count, then fetches every column of nearly every
group, which copies most files whole (``scan._from_copy``). A dense ordered
rule reads most groups whole too (``ordered._read_whole``). Copying the files
first, a few large requests each, and selecting from the copies as from a
local window reads about the same bytes in far fewer requests, and the local
readers take over: polars' counts and one-pass scans, DuckDB's many small
files to a query. A rule reading a column of every group (a filter's, the
strata's) makes a request a group, 16 a file of the stream's own layout:
a copy makes 2, for 5-11 times the column's bytes (at 100M rows: 1,370 MB
copied against 257 MB of bounded range's column and 120 MB of equality's;
polars reads the 1,384 MB for the same queries), and is made when its
requests save more than its bytes cost.

The files copied are those the selection's selectors read (the row groups
they find), when those of the selectors reading most of theirs hold at least
half of their bytes. The same rows come out: the copies are the files, byte
for byte, in the same order, under the same window
(:meth:`ParquetSource.on_copies`). The copies
take the temporary folder's disk (``TMPDIR``; memory, where that folder is a
tmpfs): at most :data:`STAGED_BYTES`, and half its free space, as each
selection sees it. Past that, for files too large to copy
(:meth:`ParquetSource.copyable`), or when a copy cannot be written, the
selection reads the remote files as it would otherwise. The copies are
removed when the selection ends, however it ends.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence

from curation_pipeline.curators.selectors import OrderedSampler, Selector, StratifiedSampler, UniformSampler
from curation_pipeline.heap import trim_heap
from curation_pipeline.parallel import ordered_map
from curation_pipeline.selection import scan
from curation_pipeline.selection.filters import Predicate
from curation_pipeline.selection.late_fetch import LateFetchUnavailable
from curation_pipeline.selection.ordered import groups_to_read
from curation_pipeline.selection.scan import ParquetSource, Piece, Source, reading, together_rows
from curation_pipeline.selection.selector_pieces import selector_pieces

# Most bytes of copies a selection makes (a 100M-row day of the stream's own
# layout is 1.4 GB; a 1B-row day, 13 GB, is read from the store).
STAGED_BYTES = 4 << 30
# What a connection to S3 carries in about a request's round trip (1-2 MB at
# tens of MB/s, against tens of milliseconds): a request costs about as much
# as reading this many bytes more. A file of at most this is small.
ROUND_TRIP_BYTES = 2 << 20
SMALL_FILE_BYTES = ROUND_TRIP_BYTES
# Bytes the copies in flight hold at once (a request each, of at most a file
# or scan.COPY_READ_BYTES), and how many run at once at most.
_COPIES_BUFFERED = 64 << 20
_COPIES_IN_FLIGHT = 16


@contextlib.contextmanager
def staged(source: Source, chosen: Sequence[tuple[Selector, Predicate | None]]) -> Iterator[Source]:
    """``source``, or the same window over local copies of the files its selectors read, while the block runs."""
    paths = None
    if isinstance(source, ParquetSource) and source.remote:
        with reading(source):  # footers read as wide as the store calls for
            paths = _to_copy(source, chosen)
    folder = _folder() if paths else None
    if folder is None:
        yield source
        return
    assert isinstance(source, ParquetSource) and paths
    try:
        copies = _copied(source, paths, folder)
        if copies is None:
            # Not copied after all: what was, gone now rather than after the selection.
            shutil.rmtree(folder, ignore_errors=True)
        yield source if copies is None else source.on_copies(copies)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _to_copy(source: ParquetSource, chosen: Sequence[tuple[Selector, Predicate | None]]) -> list[str] | None:
    """The files to copy, in data order: those any selector reads, when the selectors reading most of theirs hold half their bytes.

    None when no selector reads most of its row groups, when a file is too
    large to copy, or when the copies would not fit (:func:`_fits`).
    """
    read: set[str] = set()
    dense: set[str] = set()
    for selector, predicate in chosen:
        pieces = selector_pieces(source, selector, predicate)
        files = {piece.file for piece in pieces if piece.file is not None}
        read |= files
        if _reads_most(source, pieces, files, selector, predicate):
            dense |= files
    if not dense or not all(source.copyable(path) for path in read):
        return None
    size = sum(source.file_bytes(path) for path in read)
    if 2 * sum(source.file_bytes(path) for path in dense) < size or not _fits(size):
        return None
    return [path for path in source.paths if path in read]


def _reads_most(
    source: ParquetSource, pieces: list[Piece], files: set[str], selector: Selector, predicate: Predicate | None
) -> bool:
    """Whether ``selector`` will read most of ``pieces`` (of ``files``): with a winner in each, on average, or a column of each, copied for less.

    Dense: a uniform or stratified rule asking for at least as many records
    as it has row groups; an ordered rule whose groups to read, as their
    statistics tell (:func:`ordered.groups_to_read`), are at most its limit
    and at least half of its groups (not so the newest records: a few groups).
    A filter is not known to keep many rows before it is counted: a rule
    with one is judged by its limit, and at worst (a filter keeping few)
    its files are copied whole, what polars and DuckDB read of them for the
    same query.

    A rule reading a column of every group it finds (a filter's to count its
    matches, or the strata's) makes a request a group (the column chunks of
    a file's groups lie apart). It reads copies when the files are small
    (:data:`SMALL_FILE_BYTES`: a request each either way, and the winners'
    records are then read from local files), or when copying costs less
    (:func:`_copy_costs_less`). Not an ordered rule without a filter short of dense: it
    reads the groups best first and sets most aside by their statistics
    (top confidence k=100 on 1,440 small files: 1,976 requests read in
    place, 4,325 copied).
    """
    if not pieces:
        return False
    method = selector.method
    if isinstance(method, (UniformSampler, StratifiedSampler)) and selector.limit >= len(pieces):
        return True
    if isinstance(method, OrderedSampler):
        rows = together_rows(pieces)
        if rows is None:
            return False
        needed = groups_to_read(pieces, rows, method.field, method.sort == "descending", selector.limit)
        if needed is not None and needed <= selector.limit and 2 * needed >= len(pieces):
            return True
    reads_every_group = predicate is not None or isinstance(method, StratifiedSampler)
    return reads_every_group and (_small(source, files) or _copy_costs_less(source, pieces, files))


def _small(source: ParquetSource, files: set[str]) -> bool:
    """Whether every file of ``files`` holds at most :data:`SMALL_FILE_BYTES`."""
    return all(source.file_bytes(path) <= SMALL_FILE_BYTES for path in files)


def _copy_costs_less(source: ParquetSource, pieces: list[Piece], files: set[str]) -> bool:
    """Whether copying ``files`` whole costs less than a request for each of ``pieces`` (a column chunk each).

    A request is counted as :data:`ROUND_TRIP_BYTES` of reading, and the
    column chunks as nothing: a copy must save requests worth more than all
    of the bytes it reads. A file of the stream's own layout (1M rows in 16
    groups, 14 MB) is copied in 2 requests (8 and 6 MB) rather than read
    in 16: 18 against 32 MB-worth. A foreign writer's file of one 128 MB group is
    not (it is not copied at all, :meth:`ParquetSource.copyable`).
    """
    sizes = [source.file_bytes(path) for path in files]
    copied = sum(-(-size // scan.COPY_READ_BYTES) * ROUND_TRIP_BYTES + size for size in sizes)
    return copied < len(pieces) * ROUND_TRIP_BYTES


def _fits(size: int) -> bool:
    """Whether copies of ``size`` bytes fit :data:`STAGED_BYTES` and half the temporary folder's free space."""
    try:
        free = shutil.disk_usage(tempfile.gettempdir()).free
    except OSError:
        return False
    return size <= min(STAGED_BYTES, free // 2)


def _folder() -> str | None:
    """A new temporary folder for the copies, or None when none can be made."""
    try:
        return tempfile.mkdtemp(prefix="curation-staged-")
    except OSError:
        return None


def _copied(source: ParquetSource, paths: list[str], folder: str) -> dict[str, str] | None:
    """Each path's copy under ``folder``, or None when one could not be written (a full disk)."""
    targets = {path: f"{folder}/{index:06d}.parquet" for index, path in enumerate(paths)}
    request = min(scan.COPY_READ_BYTES, max(source.file_bytes(path) for path in paths))
    workers = max(1, min(_COPIES_IN_FLIGHT, _COPIES_BUFFERED // max(1, request)))
    try:
        for _ in ordered_map(lambda path: source.copy_file(path, targets[path]), paths, max_workers=workers):
            pass
    except LateFetchUnavailable:
        return None
    finally:
        trim_heap()  # the store client's buffers churned the heap
    return targets
