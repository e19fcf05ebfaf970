"""``curation datasets push --delete``, ``remove`` and the ``--json`` of transfers, on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curation_pipeline.store import Dataset, DatasetStore
from curation_pipeline_tests.cli.helpers import fail, read_tree, run, version_ids, write

#: ``ab/c`` and ``a.txt`` share a first letter with folder ``a`` but are not in it.
BASE = {
    "a/x.txt": b"x",
    "a/sub/y.txt": b"y",
    "a/keep.txt": b"old keep",
    "ab/c.txt": b"c",
    "a.txt": b"a-file",
    "top.txt": b"top",
}


@pytest.fixture
def synced(store_url: str, store: DatasetStore, tmp_path: Path) -> Dataset:
    """Dataset ``sync`` with one version holding :data:`BASE`."""
    run(store_url, "create", "sync")
    run(store_url, "push", "sync", str(write(tmp_path / "base", BASE)), "-m", "base")
    return store.get_dataset("sync")


def _files(dataset: Dataset) -> dict[str, bytes]:
    """HEAD's files and contents, read through the library."""
    return {path: dataset.read_file(path) for path in dataset.files()}


def _json(store_url: str, *args: str) -> Any:
    """Run a command with ``--json``; stdout must be exactly one JSON object."""
    return json.loads(run(store_url, *args, "--json").stdout)


# -- push --delete ------------------------------------------------------------------------


def test_push_delete_mirrors_the_prefix_only(store_url: str, synced: Dataset, tmp_path: Path) -> None:
    base = synced.head()
    new = write(tmp_path / "new", {"keep.txt": b"new keep", "n.txt": b"n"})
    out = run(store_url, "push", "sync", str(new), "--to-path", "a", "--delete", "-m", "mirror a").stdout
    assert out.startswith("Committed sync ") and "(2 files: " in out and ", 2 removed)" in out

    expected = {
        "a/keep.txt": b"new keep",
        "a/n.txt": b"n",
        "ab/c.txt": b"c",  # not under a/: kept
        "a.txt": b"a-file",
        "top.txt": b"top",
    }
    assert _files(synced) == expected
    assert synced.get_version().parent == base


def test_push_delete_without_prefix_mirrors_the_dataset(store_url: str, synced: Dataset, tmp_path: Path) -> None:
    new = write(tmp_path / "new", {"top.txt": b"top", "ab/c.txt": b"C"})
    out = run(store_url, "push", "sync", str(new), "--delete", "-m", "only two").stdout
    assert ", 4 removed)" in out
    assert _files(synced) == {"top.txt": b"top", "ab/c.txt": b"C"}


def test_push_without_delete_keeps_the_other_files(store_url: str, synced: Dataset, tmp_path: Path) -> None:
    new = write(tmp_path / "new", {"n.txt": b"n"})
    out = run(store_url, "push", "sync", str(new), "--to-path", "a", "-m", "add").stdout
    assert "removed" not in out
    assert _files(synced) == {**BASE, "a/n.txt": b"n"}


def test_push_delete_of_the_same_files_is_no_change(store_url: str, synced: Dataset, tmp_path: Path) -> None:
    head = synced.head()
    same = run(store_url, "push", "sync", str(tmp_path / "base"), "--delete", "-m", "same").stdout
    assert same.startswith(f"No change: sync {head[:12]} already holds these files")
    a_only = write(tmp_path / "a_only", {k[2:]: v for k, v in BASE.items() if k.startswith("a/")})
    summary = _json(store_url, "push", "sync", str(a_only), "--to-path", "a", "--delete", "-m", "same a")
    assert (summary["created"], summary["version_id"], summary["removed"]) == (False, head, [])
    assert version_ids(store_url, "sync") == [head]


def test_push_delete_with_a_stale_parent_exits_4_and_changes_nothing(
    store_url: str, synced: Dataset, tmp_path: Path
) -> None:
    first = synced.head()
    run(store_url, "push", "sync", str(write(tmp_path / "v2", {"z.txt": b"z"})), "-m", "second")
    second = synced.head()
    new = write(tmp_path / "new", {"x.txt": b"x"})
    args = ("push", "sync", str(new), "--to-path", "a", "--delete", "-m", "m")
    error = fail(store_url, *args, "--parent", first[:8], code=4)
    assert f"parent version {first} is no longer HEAD" in error
    assert synced.head() == second
    assert _files(synced) == {**BASE, "z.txt": b"z"}

    # Pinned to the real HEAD, the same push lands and removes from that version.
    out = run(store_url, *args, "--parent", second[:8]).stdout
    assert ", 2 removed)" in out
    assert set(synced.files()) == {"a/x.txt", "ab/c.txt", "a.txt", "top.txt", "z.txt"}


def test_push_delete_keeps_files_committed_concurrently(
    store_url: str, synced: Dataset, store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --parent the base is HEAD when the push starts: a file another writer adds meanwhile stays.

    The other writer also removes a/x.txt, so the push's JSON lists only what it removed itself.
    """
    real_commit = Dataset.commit
    other = store.get_dataset("sync")

    def commit_after_another_writer(self: Dataset, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(Dataset, "commit", real_commit)  # the other writer commits normally
        other.commit({"a/late.txt": b"late"}, "concurrent", delete=["a/x.txt"])
        return real_commit(self, *args, **kwargs)

    monkeypatch.setattr(Dataset, "commit", commit_after_another_writer)
    new = write(tmp_path / "new", {"n.txt": b"n"})
    summary = _json(store_url, "push", "sync", str(new), "--to-path", "a", "--delete", "-m", "mirror")
    assert summary["removed"] == ["a/keep.txt", "a/sub/y.txt"]
    assert set(synced.files()) == {"a/n.txt", "a/late.txt", "ab/c.txt", "a.txt", "top.txt"}
    assert synced.get_version().message == "mirror"


# -- remove ------------------------------------------------------------------------------------


def test_remove_a_file(store_url: str, synced: Dataset) -> None:
    base = synced.head()
    out = run(store_url, "remove", "sync", "a/x.txt", "-m", "drop x").stdout
    assert out == f"Committed sync {synced.head()} (1 file removed)\n"
    assert _files(synced) == {k: v for k, v in BASE.items() if k != "a/x.txt"}
    assert (synced.get_version().parent, synced.get_version().message) == (base, "drop x")


@pytest.mark.parametrize("folder", ["a", "a/"])
def test_remove_a_folder_removes_what_is_under_it(store_url: str, synced: Dataset, folder: str) -> None:
    out = run(store_url, "remove", "sync", folder, "-m", "drop a").stdout
    assert "(3 files removed)" in out
    assert _files(synced) == {"ab/c.txt": b"c", "a.txt": b"a-file", "top.txt": b"top"}


def test_remove_of_a_missing_path_is_a_usage_error(store_url: str, synced: Dataset) -> None:
    head = synced.head()
    error = fail(store_url, "remove", "sync", "top.txt", "nope/x.txt", "-m", "m", code=2)
    assert error == f"Error: dataset 'sync' version {head} has no file or folder 'nope/x.txt'"
    fail(store_url, "remove", "sync", "a/x", "-m", "m", code=2)  # a prefix of a name is not a folder
    assert version_ids(store_url, "sync") == [head]


@pytest.mark.parametrize(("path", "reason"), [("../a.txt", "'..' segment"), ("/a.txt", "is absolute")])
def test_remove_of_an_unsafe_path_is_a_usage_error(store_url: str, synced: Dataset, path: str, reason: str) -> None:
    head = synced.head()
    error = fail(store_url, "remove", "sync", path, "-m", "m", code=2)
    assert error.startswith(f"Error: unsafe path {path!r}") and reason in error
    assert synced.head() == head


def test_remove_with_a_stale_parent_exits_4(store_url: str, synced: Dataset) -> None:
    first = synced.head()
    run(store_url, "remove", "sync", "top.txt", "-m", "second")
    second = synced.head()
    assert "is no longer HEAD" in fail(store_url, "remove", "sync", "a.txt", "--parent", first, "-m", "m", code=4)
    assert synced.head() == second
    run(store_url, "remove", "sync", "a.txt", "--parent", second[:8], "-m", "third")
    assert "a.txt" not in synced.files()


# -- --json ----------------------------------------------------------------------------------


def test_push_json_matches_the_store(store_url: str, synced: Dataset, tmp_path: Path) -> None:
    base = synced.head()
    new = write(tmp_path / "new", {"keep.txt": b"new keep", "x.txt": b"x", "n.txt": b"nn"})
    summary = _json(store_url, "push", "sync", str(new), "--to-path", "a", "--delete", "-m", "json push")
    head = synced.get_version()
    assert summary == {
        "dataset": "sync",
        "version_id": head.version_id,
        "parent_version_id": base,
        "created": True,
        "files": 3,
        "removed": ["a/sub/y.txt"],
        "objects_uploaded": 2,  # x.txt's content is stored already
        "objects_skipped": 1,
        "bytes_uploaded": len(b"new keep") + len(b"nn"),
    }
    assert head.message == "json push"


def test_remove_json_matches_the_store(store_url: str, synced: Dataset) -> None:
    base = synced.head()
    summary = _json(store_url, "remove", "sync", "a/sub", "top.txt", "-m", "json remove")
    assert summary == {
        "dataset": "sync",
        "version_id": synced.head(),
        "parent_version_id": base,
        "created": True,
        "files": 0,
        "removed": ["a/sub/y.txt", "top.txt"],
        "objects_uploaded": 0,
        "objects_skipped": 0,
        "bytes_uploaded": 0,
    }
    assert synced.head() != base and set(synced.files()) == set(BASE) - {"a/sub/y.txt", "top.txt"}


def test_pull_json_matches_the_store(store_url: str, synced: Dataset, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    first = _json(store_url, "pull", "sync", "--to", str(copy))
    assert first == {
        "dataset": "sync",
        "version_id": synced.head(),
        "folder": str(copy),
        "downloaded": sorted(BASE),
        "bytes_downloaded": sum(len(c) for c in BASE.values()),
        "unchanged": 0,
        "deleted": [],
    }
    assert read_tree(copy) == BASE

    run(store_url, "remove", "sync", "a/sub", "-m", "drop sub")
    run(store_url, "push", "sync", str(write(tmp_path / "v3", {"top.txt": b"TOP!"})), "-m", "top")
    second = _json(store_url, "pull", "sync", "--to", str(copy))
    assert (second["version_id"], second["downloaded"]) == (synced.head(), ["top.txt"])
    assert second["deleted"] == ["a/sub/y.txt"]
    assert (second["bytes_downloaded"], second["unchanged"]) == (4, len(BASE) - 2)
