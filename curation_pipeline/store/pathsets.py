"""Which files a new version drops: the path-set rules of mirroring and removing.

Dataset paths are ``/``-separated and relative. A folder holds a path by whole
segments: ``a/b`` lies in folder ``a``, ``ab/c`` does not; the folder ``""``
is the whole dataset. :meth:`Dataset.mirror` and :meth:`Dataset.remove` turn
these rules into the ``delete`` set of a commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from curation_pipeline.store.paths import check_path


def as_folder(text: str) -> str:
    """A folder as written by a user, as a dataset folder: ``/more//stuff/`` -> ``more/stuff``, ``""`` the top."""
    return "/".join(part for part in text.split("/") if part)


def is_under(path: str, folder: str) -> bool:
    """Whether dataset ``path`` lies inside ``folder`` (``""``: the whole dataset), by whole segments."""
    return not folder or path.startswith(folder + "/")


def not_mirrored(base: Iterable[str], folder: str, kept: Collection[str]) -> list[str]:
    """The paths of ``base`` inside ``folder`` that are not in ``kept``, sorted: what mirroring drops."""
    return sorted(path for path in base if is_under(path, folder) and path not in kept)


def removal_path(text: str) -> str:
    """A path given for removal, checked like a manifest path; a trailing ``/`` marks a folder.

    Raises:
        UnsafePathError: the path is absolute, has ``..`` segments, etc.
    """
    return check_path(text.rstrip("/") or text)


def matching(files: Iterable[str], given: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(matched, unmatched)``: the paths of ``files`` that are one of ``given`` or lie in
    a folder of ``given`` (sorted), and the paths of ``given`` that match none of ``files``
    (in their given order).
    """
    stored = list(files)
    matched = {path: [f for f in stored if f == path or is_under(f, path)] for path in given}
    unmatched = [path for path, found in matched.items() if not found]
    return sorted({f for found in matched.values() for f in found}), unmatched
