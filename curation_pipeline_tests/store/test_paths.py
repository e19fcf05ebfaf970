"""Path safety: what a manifest may name, and where a pull may write."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_pipeline.store import UnsafePathError
from curation_pipeline.store.paths import check_path, resolve_inside


@pytest.mark.parametrize("path", ["a", "data/2024-01-01.parquet", "a/b/c.txt", "sub/.curation/x", ".hidden"])
def test_safe_paths(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize(
    "path",
    ["", "/abs", "../up", "a/../b", "a/..", "./a", "a/./b", "a//b", "a/", "a\\b", "c:/x", "x\x00", ".curation", ".curation/s"],
)
def test_unsafe_paths(path: str) -> None:
    with pytest.raises(UnsafePathError) as info:
        check_path(path)
    assert isinstance(info.value, ValueError)


def test_not_a_string() -> None:
    with pytest.raises(UnsafePathError):
        check_path(None)


def test_resolve_inside_rejects_symlinked_parents(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    assert resolve_inside(root, "a/b") == root.resolve() / "a" / "b"
    with pytest.raises(UnsafePathError, match="outside"):
        resolve_inside(root, "link/x")
