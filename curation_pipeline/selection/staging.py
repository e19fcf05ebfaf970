"""A remote window copied to local disk when a selection would read most of it anyway.

On a remote store every read is a request. A uniform or stratified rule
asking for at least as many records as its row groups puts winners in nearly
every group: it reads its filter's or its field's column group by group (a
request a column chunk) to count, then fetches every column of nearly every
group, which copies most files whole (``scan._from_copy``). Copying the
window's files first, a few large requests each, and selecting from the copies
as from a local window reads about the same bytes in far fewer requests, and
the local readers take over: polars' counts, DuckDB's fetches many small
files to a query.

The same rows come out: the copies are the files, byte for byte, in the same
order, under the same window (:meth:`ParquetSource.on_copies`). The copies
take disk, not memory: at most :data:`STAGED_BYTES`, and half the free space
of the temporary folder. Past that, for files too large to copy
(:meth:`ParquetSource.copyable`), or when a copy cannot be written, the
selection reads the remote files as it would otherwise. The copies are
removed when the selection ends, however it ends.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence

from curation_pipeline.curators.selectors import Selector, StratifiedSampler, UniformSampler
from curation_pipeline.parallel import ordered_map
from curation_pipeline.selection.filters import Predicate
from curation_pipeline.selection.late_fetch import LateFetchUnavailable
from curation_pipeline.selection.scan import COPY_READ_BYTES, ParquetSource, Source, trim_heap

# Most bytes of copies a selection makes (a 100M-row day of the stream's own
# layout is 1.4 GB; a 1B-row day, 13 GB, is read from the store).
STAGED_BYTES = 4 << 30
# Bytes the copies in flight hold at once (a request each, of at most a file
# or scan.COPY_READ_BYTES), and how many run at once at most.
_COPIES_BUFFERED = 64 << 20
_COPIES_IN_FLIGHT = 16


@contextlib.contextmanager
def staged(source: Source, chosen: Sequence[tuple[Selector, Predicate | None]]) -> Iterator[Source]:
    """``source``, or the same window over local copies of its files while the block runs (see the module docstring)."""
    if not isinstance(source, ParquetSource) or not source.remote or not _reads_most(source, chosen):
        yield source
        return
    paths = source.window_files()
    if not all(source.copyable(path) for path in paths) or not _fits(sum(source.file_bytes(path) for path in paths)):
        yield source
        return
    folder = _folder()
    if folder is None:
        yield source
        return
    try:
        copies = _copied(source, paths, folder)
        if copies is None:
            shutil.rmtree(folder, ignore_errors=True)  # what was copied, gone before the remote reads
        yield source if copies is None else source.on_copies(copies)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _reads_most(source: ParquetSource, chosen: Sequence[tuple[Selector, Predicate | None]]) -> bool:
    """Whether a uniform or stratified selector asks for at least as many records as it has row groups to read."""
    for selector, predicate in chosen:
        if not isinstance(selector.method, (UniformSampler, StratifiedSampler)):
            continue
        expression = None if predicate is None else predicate.expression()
        fields = () if predicate is None else predicate.fields
        pieces = source.pieces(expression, fields, predicate)
        if pieces and selector.limit >= len(pieces):
            return True
    return False


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
    request = min(COPY_READ_BYTES, max(source.file_bytes(path) for path in paths))
    workers = max(1, min(_COPIES_IN_FLIGHT, _COPIES_BUFFERED // max(1, request)))
    try:
        for _ in ordered_map(lambda path: source.copy_file(path, targets[path]), paths, max_workers=workers):
            pass
    except LateFetchUnavailable:
        return None
    finally:
        trim_heap()  # the store client's buffers churned the heap
    return targets
