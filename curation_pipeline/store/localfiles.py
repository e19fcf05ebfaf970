"""Local folders read and written without following links.

:func:`walk_files` is the one walk over a local folder: the working copy
scans its folder with it, and ``curation datasets push`` collects a folder's
files with it. It yields regular files only and refuses, naming the path,
anything a version cannot hold faithfully: a symbolic link (it would store
a file from outside the folder, or loop), a FIFO, socket or device (reading
one blocks or never ends), a name that is not valid Unicode.

:class:`LocalFolder` makes the writes a pull needs relative to an open
directory descriptor, one segment at a time with ``O_NOFOLLOW``: a symbolic
link planted anywhere below the folder is refused (or, for the state
folder's scratch entries, removed as a link) and never written through.
The folder itself may be reached through a link: that is the caller's
choice of destination.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any, Self

from curation_pipeline.store.errors import UnsafePathError
from curation_pipeline.store.paths import STATE_DIR, check_path

#: What the temporary files of :meth:`LocalFolder.write_json` have in their names.
TEMPORARY = ".tmp-"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def kind_of(mode: int) -> str:
    """What a file mode is, in words (``"a symbolic link"``, ``"a FIFO"``...)."""
    kinds = [
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    return next((word for test, word in kinds if test(mode)), "a special file")


def refuse(
    full: Path | str, mode: int, what: str = "folders pushed and working copies hold regular files only"
) -> UnsafePathError:
    """The error for a file that is not a regular file or folder, naming it and its kind."""
    return UnsafePathError(f"{full} is {kind_of(mode)}; {what}")


def walk_files(root: Path) -> list[tuple[str, Path]]:
    """``(path, full path)`` of every regular file below ``root``, sorted by path.

    ``path`` is ``/``-separated and relative to ``root``. Links are never
    followed below ``root`` (``root`` itself may be one). The ``.curation/``
    state folder at the top is left out (no version holds it). The whole folder
    is checked before the list is returned, so a caller reads no file of a
    folder that is then refused.

    Raises:
        UnsafePathError: an entry is a symbolic link, a FIFO, a socket or a
            device, or its relative path is unsafe (e.g. not valid Unicode);
            the message names it.
    """
    found: list[tuple[str, Path]] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        with os.scandir(root / folder if folder else root) as entries:
            for entry in entries:
                if not folder and entry.name == STATE_DIR:
                    continue
                path = f"{folder}/{entry.name}" if folder else entry.name
                mode = entry.stat(follow_symlinks=False).st_mode
                try:
                    check_path(path)
                except UnsafePathError as exc:
                    raise UnsafePathError(f"{exc} (in folder {str(root)!r})") from None
                if stat.S_ISDIR(mode):
                    pending.append(path)
                elif stat.S_ISREG(mode):
                    found.append((path, Path(entry.path)))
                else:
                    raise refuse(entry.path, mode)
    return sorted(found)


def regular_file(path: Path) -> Path:
    """Return ``path`` if it is (or links to) a regular file, else raise :class:`UnsafePathError`.

    For files named one by one: a link the caller names is the caller's
    choice and is followed, but a FIFO or device, reached directly or
    through a link, is refused (reading it would block or never end).
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise refuse(path, mode, "only regular files can be stored")
    return path


class LocalFolder:
    """An open folder whose descendants are reached one segment at a time, never through a link.

    Use as a context manager; ``path`` arguments are ``/``-separated and
    relative to the folder. Every method raises :class:`UnsafePathError`,
    naming the entry, when a link or a non-folder stands where a folder is
    needed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        # The root is opened as given (following a link there is the caller's choice of destination).
        self._fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)

    # -- reading -------------------------------------------------------------------

    def lstat(self, path: str) -> os.stat_result | None:
        """The entry at ``path`` (a link is reported as a link), or None if absent."""
        parent, name = self._split(path)
        fd = self._open_parent(parent, create=False)
        if fd is None:
            return None
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            self._close(fd)

    def read_json(self, path: str) -> Any:
        """The JSON value of the regular file at ``path``, or None if it is absent.

        Raises:
            UnsafePathError: it, or a folder on the way, is a link or not what it should be.
            ValueError / OSError: unreadable or not JSON.
        """
        parent, name = self._split(path)
        fd = self._open_parent(parent, create=False)
        if fd is None:
            return None
        try:
            try:
                file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise self._refusal(fd, name, path, exc) from None
            with os.fdopen(file_fd, "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                if not stat.S_ISREG(mode):
                    raise refuse(self.root / path, mode, "expected a regular file")
                return json.loads(f.read().decode("utf-8"))
        finally:
            self._close(fd)

    # -- writing -------------------------------------------------------------------

    def make_folder(self, path: str) -> None:
        """Create the folder ``path`` and its parents as needed (real folders, never through links)."""
        self._close(self._open_dir(path, create=True))

    def write_json(self, path: str, value: Any) -> None:
        """Write ``value`` to ``path`` atomically (temporary file, fsync, rename, fsync of the folder)."""
        parent, name = self._split(path)
        fd = self._open_dir(parent, create=True)
        tmp = f"{name}{TEMPORARY}{uuid.uuid4().hex}"
        try:
            file_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
            try:
                with os.fdopen(file_fd, "w", encoding="utf-8") as f:
                    json.dump(value, f, sort_keys=True, indent=1)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)  # replaces a link at ``name``, never its target
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=fd)
                raise
            os.fsync(fd)
        finally:
            self._close(fd)

    def sync_folder(self, path: str) -> None:
        """fsync the folder ``path`` (if it exists), so the names moved into it survive a power loss."""
        try:
            fd = self._open_dir(path, create=False)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            self._close(fd)

    def remove_temporaries(self, path: str) -> None:
        """Remove what :meth:`write_json` left in folder ``path`` when its process was killed."""
        try:
            fd = self._open_dir(path, create=False)
        except FileNotFoundError:
            return
        try:
            for name in os.listdir(fd):
                if TEMPORARY in name:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(name, dir_fd=fd)
        finally:
            self._close(fd)

    def move_in(self, source: Path, path: str) -> None:
        """Rename the file ``source`` (in a real folder) to ``path``; an empty folder there is removed first."""
        parent, name = self._split(path)
        fd = self._open_dir(parent, create=True)
        try:
            existing = _lstat_at(fd, name)
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                _remove_empty_tree(fd, name, self.root / path)
            os.replace(source, name, dst_dir_fd=fd)
        finally:
            self._close(fd)

    def remove_file(self, path: str, *, replaced_ok: bool = False) -> bool:
        """Unlink the regular file at ``path`` and prune the folders it leaves empty; False if absent.

        With ``replaced_ok``, also False when a folder stands at ``path`` or a
        regular file stands where one of its folders was: what a pull being
        finished moved in there before it was interrupted.

        Raises:
            UnsafePathError: ``path`` is a folder or special file, or a folder on the way is a link.
        """
        parent, name = self._split(path)
        try:
            fd = self._open_parent(parent, create=False)
        except UnsafePathError:
            if replaced_ok and self._file_on_the_way(parent):
                return False
            raise
        if fd is None:
            return False
        try:
            existing = _lstat_at(fd, name)
            if existing is None or (replaced_ok and stat.S_ISDIR(existing.st_mode)):
                return False
            if not stat.S_ISREG(existing.st_mode):
                raise refuse(self.root / path, existing.st_mode, "expected a regular file to delete")
            os.unlink(name, dir_fd=fd)
        finally:
            self._close(fd)
        self._prune(parent)
        return True

    def _file_on_the_way(self, folder: str) -> bool:
        """Whether a regular file (not a link) stands at ``folder`` or one of its ancestors."""
        parts = folder.split("/")
        for end in range(1, len(parts) + 1):
            found = self.lstat("/".join(parts[:end]))
            if found is None or not stat.S_ISDIR(found.st_mode):
                return found is not None and stat.S_ISREG(found.st_mode)
        return False

    def remove_entry(self, path: str) -> None:
        """Remove whatever is at ``path``: a link or file is unlinked (never its target), a folder
        removed with everything in it, without following any link inside."""
        parent, name = self._split(path)
        fd = self._open_parent(parent, create=False)
        if fd is None:
            return
        try:
            existing = _lstat_at(fd, name)
            if existing is None:
                return
            if stat.S_ISDIR(existing.st_mode):
                shutil.rmtree(name, dir_fd=fd)  # fd-based: links inside are unlinked, not followed
            else:
                os.unlink(name, dir_fd=fd)
        finally:
            self._close(fd)

    def fresh_folder(self, path: str) -> Path:
        """Make ``path`` a new, empty, real folder (removing what was there) and return its full path."""
        self.remove_entry(path)
        self.make_folder(path)
        return self.root.joinpath(*path.split("/"))

    # -- internals -----------------------------------------------------------------

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        parent, _, name = path.rpartition("/")
        return parent, name

    def _close(self, fd: int) -> None:
        if fd != self._fd:
            os.close(fd)

    def _open_parent(self, parent: str, *, create: bool) -> int | None:
        """``_open_dir``, or None when a folder on the way does not exist (and ``create`` is False)."""
        try:
            return self._open_dir(parent, create=create)
        except FileNotFoundError:
            return None

    def _open_dir(self, path: str, *, create: bool) -> int:
        """A descriptor of the folder ``path``, opened segment by segment with ``O_NOFOLLOW``."""
        fd = self._fd
        walked = []
        for segment in path.split("/") if path else []:
            walked.append(segment)
            try:
                try:
                    child = os.open(segment, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):  # made meanwhile: opened with O_NOFOLLOW next
                        os.mkdir(segment, dir_fd=fd)
                    child = os.open(segment, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise self._refusal(fd, segment, "/".join(walked), exc) from None
            finally:
                self._close(fd)
            fd = child
        return fd

    def _refusal(self, fd: int, name: str, path: str, exc: OSError) -> Exception:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK, errno.ENXIO):
            return exc
        found = _lstat_at(fd, name)
        mode = found.st_mode if found is not None else 0
        return refuse(self.root / path, mode, "expected a folder there (links are never followed)")

    def _prune(self, parent: str) -> None:
        """Remove ``parent`` and its ancestors below the root while they are empty."""
        parts = parent.split("/") if parent else []
        while parts:
            holder, name = self._split("/".join(parts))
            fd = self._open_parent(holder, create=False)
            if fd is None:
                return
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                return
            finally:
                self._close(fd)
            parts.pop()


def _lstat_at(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove_empty_tree(fd: int, name: str, full: Path) -> None:
    """Remove the folder ``name`` if it holds nothing but empty folders; refuse otherwise."""
    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
    try:
        for entry in os.listdir(child):
            mode = os.stat(entry, dir_fd=child, follow_symlinks=False).st_mode
            if not stat.S_ISDIR(mode):
                raise UnsafePathError(f"{full} is a folder that still holds {full / entry}; expected a file there")
            _remove_empty_tree(child, entry, full / entry)
    finally:
        os.close(child)
    os.rmdir(name, dir_fd=fd)
