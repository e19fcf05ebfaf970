"""The interface every storage backend implements.

Keys are ``/``-separated strings relative to the store root (for example
``datasets/reviews/HEAD``). Backends know nothing about datasets or
manifests: they move bytes and offer two conditional writes, which is all the
commit protocol needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, NewType

#: An opaque version stamp of a ref, returned by :meth:`ObjectBackend.read_ref`
#: and consumed by :meth:`ObjectBackend.swap_ref` (an ETag on S3).
RefToken = NewType("RefToken", str)


@dataclass(frozen=True)
class ObjectInfo:
    """One listed key: its key, size in bytes and last modification time (UTC)."""

    key: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class Leftover:
    """Debris of an interrupted write: a local temporary file or an unfinished S3 multipart upload.

    ``name`` identifies it for reports (a key, plus the upload id on S3);
    ``modified`` is when it was last written to; ``size`` its bytes so far.
    """

    name: str
    key: str
    modified: datetime
    size: int = 0
    upload_id: str | None = None


@dataclass(frozen=True)
class Ref:
    """The content of a small mutable key together with its version stamp."""

    data: bytes
    token: RefToken


class ObjectBackend(ABC):
    """Bytes by key, plus write-once and compare-and-swap writes.

    Implementations translate their own wire errors into the store's error
    hierarchy: a missing key raises
    :class:`~curation_pipeline.store.errors.KeyNotFoundError`, a lost
    conditional write raises
    :class:`~curation_pipeline.store.errors.WriteConflictError`, anything else
    raises :class:`~curation_pipeline.store.errors.StoreAccessError`.
    """

    @property
    @abstractmethod
    def url(self) -> str:
        """The store root as a URL that is safe to show (never holds credentials)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the content of ``key``; raise ``KeyNotFoundError`` if absent."""

    @abstractmethod
    def get_range(self, key: str, start: int, length: int) -> bytes:
        """Return ``length`` bytes of ``key`` from offset ``start``."""

    @abstractmethod
    def get_file(self, key: str, dest: Path) -> None:
        """Stream ``key`` into the file ``dest`` (created or truncated), memory bounded."""

    @abstractmethod
    def get_fileobj(self, key: str, out: BinaryIO, *, size: int | None = None) -> None:
        """Write the content of ``key`` to ``out``, in order, memory bounded.

        ``out`` needs only ``write`` (it may be unseekable, and may raise to
        abort the transfer; that error propagates as is). ``size`` is the
        expected size if the caller knows it, which may spare a look-up; the
        content written is whatever is stored, whatever ``size`` says.
        """

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` at ``key``, replacing any previous content atomically."""

    @abstractmethod
    def put_file(self, key: str, src: Path) -> None:
        """Upload the file ``src`` to ``key`` (multipart for large files)."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write ``data`` at ``key`` only if ``key`` does not exist.

        Returns True if this call wrote it, False if the key already existed.
        """

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Return the key's size and modification time, or None if absent."""

    def stat_many(self, keys: Collection[str]) -> dict[str, ObjectInfo | None]:
        """Look up many keys at once where the backend can do so cheaply.

        Returns the keys it settled: key -> info, or None for a key that
        does not exist. Keys left out were not settled; ask :meth:`stat`.
        The default settles none (one :meth:`stat` each is as cheap as it gets).
        """
        return {}

    def stored_crc32(self, key: str) -> int | None:
        """The CRC32 of the whole content that the storage keeps with ``key``, if it keeps one.

        None when it keeps none (or only a checksum of parts). Used to check an
        existing object cheaply before trusting it; the default knows none.
        """
        return None

    @property
    def reads_are_cheap(self) -> bool:
        """Whether reading an object back costs about as little as hashing a local file."""
        return False

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """Yield the debris of interrupted writes under ``prefix`` (the default knows none)."""
        return iter(())

    def remove_leftover(self, leftover: Leftover) -> None:
        """Remove one :class:`Leftover` (already gone is not an error)."""

    def exists(self, key: str) -> bool:
        """Return whether ``key`` exists."""
        return self.stat(key) is not None

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Yield every key starting with ``prefix`` (no particular order)."""

    @abstractmethod
    def list_children(self, prefix: str) -> list[str]:
        """Return the names of the immediate "folders" under ``prefix`` (ending in ``/``)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete ``key``; deleting an absent key is not an error."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete several keys (backends may batch)."""
        for key in keys:
            self.delete(key)

    def remove_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix``."""
        self.delete_many([info.key for info in self.list(prefix)])

    @abstractmethod
    def read_ref(self, key: str) -> Ref | None:
        """Return the ref at ``key`` with its token, or None if absent."""

    @abstractmethod
    def swap_ref(self, key: str, data: bytes, expected: RefToken | None) -> RefToken:
        """Replace the ref at ``key`` only if it is still as read.

        ``expected`` is the token from :meth:`read_ref`, or None to require
        that the key does not exist yet. Returns the new token; raises
        ``WriteConflictError`` if the ref changed (or appeared) meanwhile.
        """
