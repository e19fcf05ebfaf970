"""The stream's view of a store location, and storage failures as StreamStorageError.

Where the store is (URL, endpoint, region, credentials) is decided by
:mod:`curation_pipeline.location`; this module only opens the pyarrow
filesystem of a :class:`~curation_pipeline.location.Location`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from curation_pipeline.location import Location, location_of
from curation_pipeline.stream.errors import StreamError, StreamStorageError


@dataclass(frozen=True)
class Store:
    """An opened store: the filesystem, the root path inside it, and the URL it came from."""

    filesystem: pafs.FileSystem
    root: str
    url: str

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
        return Store(where.filesystem(), where.root, where.url)


@contextmanager
def storage_errors(action: str, error: type[StreamStorageError] = StreamStorageError) -> Iterator[None]:
    """Re-raise I/O and Arrow failures inside the block as ``error("<action>: <cause>")``."""
    try:
        yield
    except StreamError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise error(f"{action}: {exc}") from exc
