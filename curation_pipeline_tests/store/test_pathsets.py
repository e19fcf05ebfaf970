"""Which files a new version drops: ``Dataset.mirror``, ``Dataset.remove`` and their path-set rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from curation_pipeline.store import (
    CommitResult,
    Dataset,
    DatasetHeadOutOfDateError,
    DatasetStore,
    UnmatchedPathError,
    UnsafePathError,
    VersionNotFoundError,
)
from curation_pipeline.store.pathsets import as_folder, is_under, matching, not_mirrored, removal_path

#: ``ab/c.txt`` and ``a.txt`` share a first letter with folder ``a`` but are not in it.
BASE = {
    "a/x.txt": b"x",
    "a/sub/y.txt": b"y",
    "a/keep.txt": b"old keep",
    "ab/c.txt": b"c",
    "a.txt": b"a-file",
    "top.txt": b"top",
}


@pytest.fixture
def dataset(store: DatasetStore) -> Dataset:
    """A dataset whose one version holds :data:`BASE`."""
    created = store.create_dataset("sync")
    created.commit(BASE, "base")
    return created


def _contents(dataset: Dataset) -> dict[str, bytes]:
    return {path: dataset.read_file(path) for path in dataset.files()}


# -- the rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "folder", "inside"),
    [("a/b", "a", True), ("a/b/c", "a/b", True), ("ab/c", "a", False), ("a", "a", False), ("x", "", True)],
)
def test_a_folder_holds_paths_by_whole_segments(path: str, folder: str, inside: bool) -> None:
    assert is_under(path, folder) is inside


@pytest.mark.parametrize(("text", "folder"), [("", ""), ("/", ""), ("a", "a"), ("/more//stuff/", "more/stuff")])
def test_a_folder_as_a_user_writes_it(text: str, folder: str) -> None:
    assert as_folder(text) == folder


def test_mirroring_drops_what_is_in_the_folder_and_not_kept() -> None:
    assert not_mirrored(BASE, "a", {"a/keep.txt", "a/n.txt"}) == ["a/sub/y.txt", "a/x.txt"]
    assert not_mirrored(BASE, "", {"top.txt"}) == sorted(set(BASE) - {"top.txt"})


def test_matching_paths_and_folders() -> None:
    assert matching(BASE, ["a/sub", "top.txt"]) == (["a/sub/y.txt", "top.txt"], [])
    assert matching(BASE, ["a", "nope", "a/x"]) == (["a/keep.txt", "a/sub/y.txt", "a/x.txt"], ["nope", "a/x"])


def test_a_removal_path_may_end_with_a_slash_and_must_be_safe() -> None:
    assert removal_path("a/") == "a"
    assert removal_path("a/x.txt") == "a/x.txt"
    for unsafe in ("../a.txt", "/a.txt", "a//b", ".curation/state"):
        with pytest.raises(UnsafePathError):
            removal_path(unsafe)


# -- Dataset.mirror ----------------------------------------------------------------------------


def test_mirror_a_folder(dataset: Dataset) -> None:
    base = dataset.head()
    result = dataset.mirror({"a/keep.txt": b"new keep", "a/n.txt": b"n"}, "mirror a", "a")
    assert result.created and result.parent == base
    assert result.removed == ("a/sub/y.txt", "a/x.txt")
    assert _contents(dataset) == {
        "a/keep.txt": b"new keep",
        "a/n.txt": b"n",
        "ab/c.txt": b"c",
        "a.txt": b"a-file",
        "top.txt": b"top",
    }


def test_mirror_the_whole_dataset_and_folders_written_loosely(dataset: Dataset, tmp_path: Path) -> None:
    (tmp_path / "top.txt").write_bytes(b"TOP")
    result = dataset.mirror({"top.txt": tmp_path / "top.txt"}, "only top")
    assert result.removed == tuple(sorted(set(BASE) - {"top.txt"}))
    assert _contents(dataset) == {"top.txt": b"TOP"}
    result = dataset.mirror({"d/e.txt": b"e"}, "loose", "/d//")
    assert result.removed == () and set(dataset.files()) == {"top.txt", "d/e.txt"}


def test_mirror_of_the_same_files_is_no_change(dataset: Dataset) -> None:
    head = dataset.head()
    result = dataset.mirror({k: v for k, v in BASE.items() if k.startswith("a/")}, "same", "a")
    assert (result.created, result.version_id, result.removed) == (False, head, ())


def test_mirror_into_an_empty_dataset(store: DatasetStore) -> None:
    empty = store.create_dataset("empty")
    result = empty.mirror({"a.txt": b"a"}, "first")
    assert result.created and result.parent is None and result.removed == ()


def test_mirror_with_a_stale_parent_changes_nothing(dataset: Dataset) -> None:
    first = dataset.head()
    dataset.commit({"z.txt": b"z"}, "second")
    with pytest.raises(DatasetHeadOutOfDateError):
        dataset.mirror({"a/x.txt": b"x"}, "m", "a", parent_version_id=first[:8])
    assert set(dataset.files()) == set(BASE) | {"z.txt"}
    result = dataset.mirror({"a/x.txt": b"x"}, "m", "a", parent_version_id=dataset.head()[:8])
    assert result.removed == ("a/keep.txt", "a/sub/y.txt")


def test_mirror_keeps_files_committed_concurrently(
    dataset: Dataset, store: DatasetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base is HEAD when the call starts; ``removed`` is read from where the commit landed."""
    real_commit = Dataset.commit
    other = store.get_dataset("sync")

    def commit_after_another_writer(self: Dataset, *args: Any, **kwargs: Any) -> CommitResult:
        monkeypatch.setattr(Dataset, "commit", real_commit)
        other.commit({"a/late.txt": b"late"}, "concurrent", delete=["a/x.txt"])
        return real_commit(self, *args, **kwargs)

    monkeypatch.setattr(Dataset, "commit", commit_after_another_writer)
    result = dataset.mirror({"a/n.txt": b"n"}, "mirror", "a")
    assert result.removed == ("a/keep.txt", "a/sub/y.txt")
    assert set(dataset.files()) == {"a/n.txt", "a/late.txt", "ab/c.txt", "a.txt", "top.txt"}


# -- Dataset.remove -----------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["a", "a/"])
def test_remove_files_and_folders(dataset: Dataset, folder: str) -> None:
    base = dataset.head()
    result = dataset.remove([folder, "top.txt"], "drop", metadata={"why": "test"})
    assert result.created and result.parent == base
    assert result.removed == ("a/keep.txt", "a/sub/y.txt", "a/x.txt", "top.txt")
    assert set(dataset.files()) == {"ab/c.txt", "a.txt"}
    assert dataset.get_version().metadata == {"why": "test"}


def test_remove_of_unmatched_paths_writes_nothing_and_names_them(dataset: Dataset) -> None:
    head = dataset.head()
    with pytest.raises(UnmatchedPathError) as raised:
        dataset.remove(["top.txt", "nope/x.txt", "a/x"], "m")  # a prefix of a name is not a folder
    assert str(raised.value) == f"dataset 'sync' version {head} has no file or folder 'nope/x.txt', 'a/x'"
    assert raised.value.paths == ("nope/x.txt", "a/x")
    assert isinstance(raised.value, ValueError)
    assert dataset.head() == head


def test_remove_checks_paths_and_refuses_a_string(dataset: Dataset) -> None:
    with pytest.raises(UnsafePathError, match="'..' segment"):
        dataset.remove(["../a.txt"], "m")
    with pytest.raises(TypeError):
        dataset.remove("top.txt", "m")


def test_remove_from_a_pinned_parent(dataset: Dataset) -> None:
    first = dataset.head()
    dataset.remove(["top.txt"], "second")
    with pytest.raises(DatasetHeadOutOfDateError):
        dataset.remove(["a.txt"], "m", parent_version_id=first)
    with pytest.raises(UnmatchedPathError):
        dataset.remove(["top.txt"], "m", parent_version_id=dataset.head()[:8])  # gone in that version
    assert dataset.remove(["a.txt"], "third", parent_version_id=dataset.head()[:8]).removed == ("a.txt",)


def test_remove_needs_a_version(store: DatasetStore) -> None:
    with pytest.raises(VersionNotFoundError):
        store.create_dataset("empty").remove(["a.txt"], "m")


# -- CommitResult.removed -------------------------------------------------------------------------


def test_every_commit_reports_what_it_removed(dataset: Dataset) -> None:
    first = dataset.head()
    result = dataset.commit({"n.txt": b"n"}, "m", delete=["top.txt", "absent.txt"])
    assert result.removed == ("top.txt",)
    assert CommitResult.from_dict(result.to_dict()) == result
    rollback = dataset.rollback(first)
    assert rollback.removed == ("n.txt",)
    assert dataset.commit({}, "nothing", delete=["absent.txt"]).removed == ()
