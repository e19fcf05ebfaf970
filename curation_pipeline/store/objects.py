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
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from curation_pipeline.store import layout
from curation_pipeline.store.backends.base import ObjectBackend
from curation_pipeline.store.errors import CorruptObjectError, KeyNotFoundError, MissingObjectError
from curation_pipeline.store.manifest import FileEntry

CHUNK = 1 << 20
#: Objects up to this size are read into memory; larger ones go through a temporary file.
SMALL_OBJECT = 8 << 20


def hash_bytes(data: bytes) -> FileEntry:
    """The :class:`FileEntry` (sha256, size) of ``data``."""
    return FileEntry(hashlib.sha256(data).hexdigest(), len(data))


def hash_file(path: Path) -> FileEntry:
    """The :class:`FileEntry` of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


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
    backend: ObjectBackend, dataset: str, entry: FileEntry, folder: Path, where: str
) -> Path:
    """Download the object into a new temporary file in ``folder`` and verify it.

    The file is fsynced before it is returned, ready to be renamed into
    place; on any error it is removed, so ``folder`` is left as it was.

    Raises:
        CorruptObjectError: the content does not match ``entry``.
        MissingObjectError: the object is absent.
    """
    tmp = folder / f".curation-tmp-{uuid.uuid4().hex}"
    try:
        try:
            backend.get_file(layout.object_key(dataset, entry.sha256), tmp)
        except KeyNotFoundError:
            raise MissingObjectError(f"missing object {entry.sha256} for {where}") from None
        with open(tmp, "rb") as f:
            _check(entry, _hash_stream(f), where)
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return tmp


def _hash_stream(f: BinaryIO) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


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


def upload(backend: ObjectBackend, dataset: str, entry: FileEntry, source: bytes | Path) -> None:
    """Store ``source`` (bytes or a file) as the object for ``entry``."""
    key = layout.object_key(dataset, entry.sha256)
    if isinstance(source, bytes):
        backend.put_bytes(key, source)
    else:
        backend.put_file(key, source)
