"""A store in a local folder (the embedded default, ``./.curation``).

Every write goes to a temporary file in the destination's folder, is fsynced
and renamed into place, so readers see either the old or the new content and
a crash leaves at most a stray ``.tmp-*`` file. Write-once uses a hard link
(which fails if the name exists); refs are swapped with ``os.replace`` under
an exclusive ``fcntl.flock`` on ``<key>.lock``, held only around
read-compare-replace, which serialises committers across processes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from curation_pipeline.store.backends.base import Leftover, ObjectBackend, ObjectInfo, Ref, RefToken
from curation_pipeline.store.errors import (
    KeyNotFoundError,
    StoreAccessError,
    StoreError,
    WriteConflictError,
)

_TMP_PREFIX = ".tmp-"
_LOCK_SUFFIX = ".lock"
_CHUNK = 1 << 20


class LocalBackend(ObjectBackend):
    """Keys are files under ``root``; ``/`` in a key is a sub-folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        """Use the folder ``root`` (created on first write; resolved to an absolute path)."""
        self._root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalBackend({str(self._root)!r})"

    @property
    def root(self) -> Path:
        """The absolute root folder."""
        return self._root

    @property
    def url(self) -> str:
        return str(self._root)

    # -- reads -------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        with _translate(key):
            return self._path(key).read_bytes()

    def get_range(self, key: str, start: int, length: int) -> bytes:
        with _translate(key), open(self._path(key), "rb") as f:
            f.seek(start)
            return f.read(length)

    def get_file(self, key: str, dest: Path) -> None:
        with _translate(key):
            shutil.copyfile(self._path(key), dest)

    def get_fileobj(self, key: str, out: BinaryIO, *, size: int | None = None) -> None:
        with _translate(key), open(self._path(key), "rb") as src:
            while chunk := src.read(_CHUNK):
                out.write(chunk)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            with _translate(key):
                st = self._path(key).stat()
        except KeyNotFoundError:
            return None
        return _info(key, st)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        folder = prefix.rpartition("/")[0]
        base = self._path(folder) if folder else self._root
        for dirpath, _dirnames, filenames in os.walk(base):
            rel_dir = Path(dirpath).relative_to(self._root).as_posix()
            for filename in filenames:
                if filename.startswith(_TMP_PREFIX) or filename.endswith(_LOCK_SUFFIX):
                    continue
                key = filename if rel_dir == "." else f"{rel_dir}/{filename}"
                if key.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                        yield _info(key, os.stat(os.path.join(dirpath, filename)))

    def list_children(self, prefix: str) -> list[str]:
        try:
            with _translate(prefix):
                entries = list(os.scandir(self._path(prefix.rstrip("/"))))
        except KeyNotFoundError:
            return []
        return sorted(entry.name for entry in entries if entry.is_dir())

    # -- writes ------------------------------------------------------------

    @property
    def reads_are_cheap(self) -> bool:
        return True

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """The ``.tmp-*`` files interrupted writes left under ``prefix`` (a folder)."""
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self._root
        for dirpath, _dirnames, filenames in os.walk(base):
            rel_dir = Path(dirpath).relative_to(self._root).as_posix()
            for filename in filenames:
                if filename.startswith(_TMP_PREFIX):
                    key = f"{rel_dir}/{filename}"
                    with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
                        info = _info(key, os.stat(os.path.join(dirpath, filename)))
                        yield Leftover(key, key, info.modified, info.size)

    def remove_leftover(self, leftover: Leftover) -> None:
        with _translate(leftover.key), contextlib.suppress(FileNotFoundError):
            self._path(leftover.key).unlink()

    def put_bytes(self, key: str, data: bytes) -> None:
        with _translate(key):
            tmp = self._write_tmp(key, data)
            os.replace(tmp, self._path(key))
            _fsync_dir(tmp.parent)

    def put_file(self, key: str, src: Path) -> None:
        with _translate(key):
            tmp = self._tmp_path(key)
            try:
                shutil.copyfile(src, tmp)
                _fsync_file(tmp)
                os.replace(tmp, self._path(key))
            finally:
                _unlink_quietly(tmp)
            _fsync_dir(tmp.parent)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        with _translate(key):
            tmp = self._write_tmp(key, data)
            try:
                # link() refuses to replace an existing name: an atomic create-if-absent
                # that never exposes a half-written file.
                os.link(tmp, self._path(key))
            except FileExistsError:
                return False
            finally:
                _unlink_quietly(tmp)
            _fsync_dir(tmp.parent)
            return True

    def delete(self, key: str) -> None:
        with _translate(key), contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def remove_prefix(self, prefix: str) -> None:
        """Remove the whole folder ``prefix`` (lock and stray temporary files included)."""
        with _translate(prefix), contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._path(prefix.rstrip("/")))

    # -- refs --------------------------------------------------------------

    def read_ref(self, key: str) -> Ref | None:
        path = self._path(key)
        try:
            with _translate(key), open(path, "rb") as f:
                data = f.read()
                st = os.fstat(f.fileno())
        except KeyNotFoundError:
            return None
        return Ref(data, _token(data, st))

    def swap_ref(self, key: str, data: bytes, expected: RefToken | None) -> RefToken:
        with _translate(key), self._locked(key):
            current = self.read_ref(key)
            if (current.token if current else None) != expected:
                raise WriteConflictError(f"ref {key} changed since it was read")
            tmp = self._write_tmp(key, data)
            os.replace(tmp, self._path(key))
            _fsync_dir(tmp.parent)
            new = self.read_ref(key)
        assert new is not None
        return new.token

    # -- helpers -----------------------------------------------------------

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if key.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\\" in key:
            raise ValueError(f"invalid backend key {key!r}")
        return self._root.joinpath(*parts)

    def _tmp_path(self, key: str) -> Path:
        folder = self._path(key).parent
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{_TMP_PREFIX}{uuid.uuid4().hex}"

    def _write_tmp(self, key: str, data: bytes) -> Path:
        tmp = self._tmp_path(key)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        lock_path = self._path(key + _LOCK_SUFFIX)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def _translate(key: str) -> Iterator[None]:
    """Map OSError from the filesystem to the store's errors, naming the key."""
    try:
        yield
    except StoreError:
        raise
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise KeyNotFoundError(f"no such key: {key}") from exc
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        raise StoreAccessError(f"local store error on {key}: {reason}") from exc


def _info(key: str, st: os.stat_result) -> ObjectInfo:
    return ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, tz=timezone.utc))


def _token(data: bytes, st: os.stat_result) -> RefToken:
    # Content hash plus inode and mtime: a replace always yields a new inode/mtime,
    # so even an A -> B -> A sequence changes the token.
    digest = hashlib.sha256(data).hexdigest()[:16]
    return RefToken(f"{digest}:{st.st_ino}:{st.st_mtime_ns}")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Makes the rename durable; not every platform/filesystem allows it.
    with contextlib.suppress(OSError):
        _fsync_file(path)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
