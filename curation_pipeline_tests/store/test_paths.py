"""Path safety: what a manifest may name, and where a pull may write."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_pipeline.store import UnsafePathError
from curation_pipeline.store.paths import check_creatable, check_path, check_tree, resolve_inside


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


# -- what a commit and a pull also check: creatable on every supported filesystem ----------


@pytest.mark.parametrize(
    "path", ["a" * 255, "d/" + "é" * 127 + "a", "d/" + "日" * 85, "x/y", "CON", "nul.txt", "A", "a"]
)
def test_creatable_paths(path: str) -> None:
    assert check_creatable(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("a" * 256, "256 bytes in UTF-8"),
        ("d/" + "é" * 128, "256 bytes in UTF-8"),
        ("d/" + "日" * 86 + "/f", "258 bytes in UTF-8"),
        ("bad\udcff", "not valid Unicode"),
        ("\ud800/x", "not valid Unicode"),
    ],
)
def test_uncreatable_paths_are_refused_naming_the_segment(path: str, reason: str) -> None:
    with pytest.raises(UnsafePathError, match=reason):
        check_creatable(path)


def test_a_long_name_is_shortened_in_the_message() -> None:
    with pytest.raises(UnsafePathError) as info:
        check_creatable("x" * 10_000)
    assert len(str(info.value)) < 400 and "10000 characters" in str(info.value)


def test_invalid_unicode_is_refused_even_where_length_is_not_checked() -> None:
    with pytest.raises(UnsafePathError, match="not valid Unicode"):
        check_path("ok/\udcfe")


@pytest.mark.parametrize(
    ("paths", "named"),
    [(["x", "x/y"], "'x' and 'x/y'"), (["a/b/c", "a/b", "z"], "'a/b' and 'a/b/c'"), (["q", "q/r/s/t"], "'q'")],
)
def test_a_path_that_is_also_a_folder_is_refused(paths: list[str], named: str) -> None:
    with pytest.raises(UnsafePathError, match=named):
        check_tree(paths)


def test_siblings_sharing_a_prefix_are_not_a_clash() -> None:
    check_tree(["x", "xy/z", "x.d/y", "a/b", "a/c/d"])
