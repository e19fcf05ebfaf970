"""Safety of file paths inside a version.

A manifest path becomes a file name on someone's disk when a version is
pulled, so it is checked when a manifest is written and again when one is
read: relative, ``/``-separated, no empty, ``.`` or ``..`` segments, no
backslash or NUL, and never inside the reserved ``.curation/`` state folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from curation_pipeline.store.errors import UnsafePathError

#: The working-copy state folder; no version may hold a file under it.
STATE_DIR = ".curation"


def check_path(path: object) -> str:
    """Return ``path`` if it is a safe relative file path, else raise :class:`UnsafePathError`."""
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"unsafe path {path!r}: must be a non-empty string")
    reason = _unsafe_reason(path)
    if reason:
        raise UnsafePathError(f"unsafe path {path!r}: {reason}")
    return path


def _unsafe_reason(path: str) -> str | None:
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
