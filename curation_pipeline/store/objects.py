"""Content-addressed objects: hashing, uploading once, reading verified.

An object's key is derived from the sha256 of its content, so an object that
exists is never uploaded again (dedup), and every read re-hashes what it got
and rejects a mismatch (:class:`CorruptObjectError`) before anyone sees it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from curation_pipeline.parallel import CancelToken
from curation_pipeline.store import layout
from curation_pipeline.store.backends.base import ObjectBackend
from curation_pipeline.store.errors import CorruptObjectError, KeyNotFoundError, MissingObjectError
from curation_pipeline.store.localfiles import refuse
from curation_pipeline.store.manifest import FileEntry

CHUNK = 1 << 20
#: Objects up to this size are read into memory; larger ones go through a temporary file.
SMALL_OBJECT = 8 << 20


def hash_bytes(data: bytes) -> FileEntry:
    """The :class:`FileEntry` (sha256, size) of ``data``."""
    return FileEntry(hashlib.sha256(data).hexdigest(), len(data))


def hash_file(path: Path, token: CancelToken | None = None) -> FileEntry:
    """The :class:`FileEntry` of the file at ``path``, read in chunks.

    ``token`` lets a parallel batch stop the hashing between chunks.
    """
    digest = hashlib.sha256()
    size = 0
    with _open_regular(path) as f:
        while chunk := f.read(CHUNK):
            if token is not None:
                token.check()
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


def _open_regular(path: Path) -> BinaryIO:
    """Open ``path`` to read, refusing anything but a regular file (reached directly or by a link).

    ``O_NONBLOCK`` makes opening a FIFO return at once instead of waiting for
    a writer, so the check runs and a FIFO or device (``/dev/zero`` never
    ends) is refused instead of hanging the commit or the scan.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise refuse(path, mode, "only regular files can be stored")
    return os.fdopen(fd, "rb")


def _check(entry: FileEntry, actual: FileEntry, where: str) -> None:
    if actual != entry:
        raise CorruptObjectError(
            f"corrupt object for {where}: expected sha256 {entry.sha256} ({entry.size} bytes), "
            f"got {actual.sha256} ({actual.size} bytes)"
        )


def read_bytes(backend: ObjectBackend, dataset: str, entry: FileEntry, where: str) -> bytes:
    """Return the object's bytes after checking their hash.

    ``where`` names the file for error messages (dataset, version, path).

    Raises:
        CorruptObjectError: the bytes do not match ``entry``.
        MissingObjectError: the object is absent.
    """
    try:
        data = backend.get_bytes(layout.object_key(dataset, entry.sha256))
    except KeyNotFoundError:
        raise MissingObjectError(f"missing object {entry.sha256} for {where}") from None
    _check(entry, hash_bytes(data), where)
    return data


def download_verified(
    backend: ObjectBackend,
    dataset: str,
    entry: FileEntry,
    folder: Path,
    where: str,
    token: CancelToken | None = None,
) -> Path:
    """Download the object into a new temporary file in ``folder`` and verify it.

    The content is hashed as it is written (no second read), and the file is
    fsynced before it is returned, ready to be renamed into place; on any
    error it is removed, so ``folder`` is left as it was. ``token`` lets a
    parallel batch stop this download early (between chunks) when another
    one failed.

    Raises:
        CorruptObjectError: the content does not match ``entry``.
        MissingObjectError: the object is absent.
    """
    tmp = folder / f".curation-tmp-{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as f:
            writer = _HashingWriter(f, entry, where, token)
            try:
                backend.get_fileobj(layout.object_key(dataset, entry.sha256), writer, size=entry.size)
            except KeyNotFoundError:
                raise MissingObjectError(f"missing object {entry.sha256} for {where}") from None
            _check(entry, writer.result(), where)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return tmp


class _HashingWriter:
    """A write-only, non-seekable file that hashes what it passes on to ``f``.

    Backends write the object to it in order; it refuses content longer
    than expected as soon as it sees it, and stops when its batch is cancelled.
    """

    def __init__(self, f: BinaryIO, entry: FileEntry, where: str, token: CancelToken | None) -> None:
        self._f = f
        self._entry = entry
        self._where = where
        self._token = token
        self._digest = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> int:
        if self._token is not None:
            self._token.check()
        self._size += len(data)
        if self._size > self._entry.size:
            raise CorruptObjectError(
                f"corrupt object for {self._where}: expected sha256 {self._entry.sha256} "
                f"({self._entry.size} bytes), got more than {self._entry.size} bytes"
            )
        self._digest.update(data)
        return self._f.write(data)

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def result(self) -> FileEntry:
        """The sha256 and size of everything written so far."""
        return FileEntry(self._digest.hexdigest(), self._size)


@contextlib.contextmanager
def open_verified(backend: ObjectBackend, dataset: str, entry: FileEntry, where: str) -> Iterator[BinaryIO]:
    """Yield a readable binary file with the object's verified content.

    Small objects are held in memory; larger ones are spooled to a
    temporary file that is removed afterwards, so memory stays bounded.
    """
    if entry.size <= SMALL_OBJECT:
        yield io.BytesIO(read_bytes(backend, dataset, entry, where))
        return
    with tempfile.TemporaryDirectory(prefix="curation-") as folder:
        path = download_verified(backend, dataset, entry, Path(folder), where)
        with open(path, "rb") as f:
            yield f


def crc32_of(content: bytes | Path, token: CancelToken | None = None) -> int:
    """The CRC32 of bytes or of a file's content, read in chunks."""
    if isinstance(content, bytes):
        return zlib.crc32(content)
    crc = 0
    with open(content, "rb") as f:
        while chunk := f.read(CHUNK):
            if token is not None:
                token.check()
            crc = zlib.crc32(chunk, crc)
    return crc


def stored_intact(
    backend: ObjectBackend, dataset: str, entry: FileEntry, content: bytes | Path, token: CancelToken | None = None
) -> bool:
    """Whether the stored object for ``entry`` can be trusted to hold ``content`` (its size already matches).

    The cheapest proof available: the CRC32 the storage keeps of the whole
    object against that of ``content`` (on S3, a ``HEAD``; CRC32 catches
    accidental damage, not forgery), else a full re-hash of the stored
    object where reading it back is cheap (the local folder), else none:
    False, and the caller uploads ``content`` over it.
    """
    key = layout.object_key(dataset, entry.sha256)
    try:
        stored = backend.stored_crc32(key)
    except KeyNotFoundError:
        return False
    if stored is not None:
        return stored == crc32_of(content, token)
    return backend.reads_are_cheap and rehash_matches(backend, dataset, entry, token)


def rehash_matches(backend: ObjectBackend, dataset: str, entry: FileEntry, token: CancelToken | None = None) -> bool:
    """Full verification: read the stored object and compare its sha256 and size with ``entry``."""
    sink = _HashingWriter(_Discard(), entry, "", token)
    try:
        backend.get_fileobj(layout.object_key(dataset, entry.sha256), sink, size=entry.size)
    except (KeyNotFoundError, CorruptObjectError):  # absent, or longer than expected
        return False
    return sink.result() == entry


class _Discard:
    """A write-only sink for content that is only hashed."""

    def write(self, data: bytes) -> int:
        return len(data)


def upload(backend: ObjectBackend, dataset: str, entry: FileEntry, source: bytes | Path) -> None:
    """Store ``source`` (bytes or a file) as the object for ``entry``."""
    key = layout.object_key(dataset, entry.sha256)
    if isinstance(source, bytes):
        backend.put_bytes(key, source)
    else:
        backend.put_file(key, source)
