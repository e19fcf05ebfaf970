"""The stream's view of a store location, and storage failures as StreamStorageError.

Where the store is (URL, endpoint, region, credentials) is decided by
:mod:`curation_pipeline.location`; this module only opens the pyarrow
filesystem of a :class:`~curation_pipeline.location.Location`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs

from curation_pipeline.errors import safe_cause
from curation_pipeline.location import Location, location_of
from curation_pipeline.stream.errors import StreamError, StreamNotFoundError, StreamStorageError
from curation_pipeline.stream.object_reads import ObjectReads


@dataclass(frozen=True)
class Store:
    """An opened store: the filesystem, the root path inside it, and the URL it came from.

    ``reads`` reads an S3 store's files without asking their size first (see
    :mod:`~curation_pipeline.stream.object_reads`); None on a local one.
    """

    filesystem: pafs.FileSystem
    root: str
    url: str
    reads: ObjectReads | None = field(default=None, compare=False, repr=False)

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def uri(self, path: str) -> str:
        """A human-readable address for ``path`` (for messages and results)."""
        return path if self.is_local else f"s3://{path}"


def open_store(store_url: str | os.PathLike[str] | None = None, *, location: Location | None = None) -> Store:
    """The :class:`Store` at ``location``, else at ``store_url`` (see :func:`~curation_pipeline.location.resolve_location`)."""
    where = location_of(store_url, location)
    with storage_errors(f"cannot open the store at {where.url}"):
        return Store(where.filesystem(), where.root, where.url, ObjectReads(where) if where.is_s3 else None)


@contextmanager
def storage_errors(action: str, error: type[StreamStorageError] = StreamStorageError) -> Iterator[None]:
    """Re-raise I/O and Arrow failures inside the block as ``error("<action>: <cause>")``."""
    try:
        yield
    except StreamError:
        raise
    except (OSError, pa.ArrowException) as exc:
        # The message is redacted (CurationError); the raw cause is kept only if it holds no secret.
        raise error(f"{action}: {exc}") from safe_cause(exc)


def require_stream_root(store: Store) -> None:
    """Raise StreamNotFoundError unless the store's bucket and its ``streams/`` folder exist.

    One request when the stream exists; a second, only on failure, tells a
    missing bucket from a missing prefix.
    """
    root = f"{store.root}/streams"
    with storage_errors(f"cannot read {store.uri(root)}"):
        if store.filesystem.get_file_info(root).type == pafs.FileType.Directory:
            return
        bucket = store.root.split("/", 1)[0]
        if not store.is_local and store.filesystem.get_file_info(bucket).type == pafs.FileType.NotFound:
            raise StreamNotFoundError(f"no stream at {store.url}: bucket {bucket!r} does not exist")
    raise StreamNotFoundError(f"no stream at {store.url}: {store.uri(root)} does not exist (nothing was logged there)")
