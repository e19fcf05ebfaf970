"""Safety of file paths inside a version.

A manifest path becomes a file name on someone's disk when a version is
pulled, so it is checked when a manifest is written and again when one is
read (:func:`check_path`): valid Unicode, relative, ``/``-separated, no empty,
``.`` or ``..`` segments, no backslash or NUL, and never inside the reserved
``.curation/`` state folder.

A commit, and a pull before it touches the folder, also check that every
supported filesystem (Linux ext4/xfs/btrfs, macOS APFS) can create the
version's files (:func:`check_creatable`, :func:`check_tree`):

- every segment is at most :data:`MAX_SEGMENT_BYTES` (255) bytes in UTF-8:
  the name limit of ext4, xfs and btrfs; APFS counts 255 UTF-8 characters,
  which is never fewer;
- no path is also a folder of another (``x`` and ``x/y``), since one name
  cannot be a file and a folder at once.

There is no limit on the whole path: a pull creates files one segment at a
time, relative to an open folder, so ``PATH_MAX`` never applies. Windows'
reserved names (``CON``, ``NUL``...) and case-only differences (``A`` and
``a``) are allowed: every supported filesystem can create them (APFS, which
folds case by default, is the exception for the second; see docs/store.md).
Stored manifests that break these two rules stay readable, so old versions
can still be listed, read and repaired by a commit that drops the offending
files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from curation_pipeline.store.errors import UnsafePathError

#: The working-copy state folder; no version may hold a file under it.
STATE_DIR = ".curation"
#: The longest file or folder name (one path segment) a version may hold, in bytes of UTF-8.
MAX_SEGMENT_BYTES = 255


def check_path(path: object) -> str:
    """Return ``path`` if it is a safe relative file path, else raise :class:`UnsafePathError`."""
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"unsafe path {path!r}: must be a non-empty string")
    reason = _unsafe_reason(path)
    if reason:
        raise UnsafePathError(f"unsafe path {_shown(path)}: {reason}")
    return path


def _unsafe_reason(path: str) -> str | None:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate, e.g. an undecodable file name)"
    if "\x00" in path:
        return "contains NUL"
    if "\\" in path:
        return "contains a backslash (use '/')"
    if path.startswith("/"):
        return "is absolute"
    segments = path.split("/")
    if any(segment == "" for segment in segments):
        return "has an empty segment"
    if any(segment in (".", "..") for segment in segments):
        return "has a '.' or '..' segment"
    if len(segments[0]) == 2 and segments[0][1] == ":":
        return "starts with a drive letter"
    if segments[0] == STATE_DIR:
        return f"is inside the reserved {STATE_DIR}/ folder"
    return None


def check_creatable(path: object) -> str:
    """:func:`check_path`, and every segment fits in :data:`MAX_SEGMENT_BYTES` bytes of UTF-8.

    Raises:
        UnsafePathError: naming the path and the segment too long.
    """
    checked = check_path(path)
    for segment in checked.split("/"):
        size = len(segment.encode("utf-8"))
        if size > MAX_SEGMENT_BYTES:
            raise UnsafePathError(
                f"unsafe path {_shown(checked)}: segment {_shown(segment)} is {size} bytes in UTF-8; "
                f"no supported filesystem takes a name over {MAX_SEGMENT_BYTES} bytes"
            )
    return checked


def check_tree(paths: Iterable[str]) -> None:
    """Refuse a set of file paths in which one path is also a folder of another (``x`` and ``x/y``).

    Raises:
        UnsafePathError: naming both paths.
    """
    files = set(paths)
    for path in sorted(files):
        segments = path.split("/")
        for end in range(1, len(segments)):
            folder = "/".join(segments[:end])
            if folder in files:
                raise UnsafePathError(
                    f"unsafe paths {_shown(folder)} and {_shown(path)}: {_shown(folder)} would be "
                    "both a file and a folder, which no filesystem can hold"
                )


def _shown(text: str, limit: int = 80) -> str:
    """``repr`` of a path or segment, cut in the middle when long (a 10,000-byte name is not echoed)."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[: limit // 2] + "..." + text[-limit // 2 :]) + f" ({len(text)} characters)"


def resolve_inside(root: Path, path: str) -> Path:
    """Return ``root / path`` after checking it stays inside ``root``.

    Symbolic links already on disk are followed, so a link planted in the
    destination cannot redirect a write outside it.

    Raises:
        UnsafePathError: ``path`` is unsafe or resolves outside ``root``.
    """
    check_path(path)
    base = root.resolve()
    target = base.joinpath(*path.split("/"))
    resolved = Path(os.path.realpath(target))
    if resolved != target or not resolved.is_relative_to(base):
        raise UnsafePathError(f"unsafe path {path!r}: resolves outside {root}")
    return target
