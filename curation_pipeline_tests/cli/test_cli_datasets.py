"""``curation datasets ...`` end to end through click, on the local and the S3 backend."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation_pipeline.cli import datasets as datasets_cli
from curation_pipeline_tests.cli.helpers import fail, read_tree, run, run_json, version_ids, write

FILES = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(3000), "sub/deeper/c.txt": b"gamma"}


@pytest.fixture
def pushed(store_url: str, tmp_path: Path) -> dict[str, bytes]:
    """Dataset ``reviews`` with one version: a folder's files plus one file pushed by name."""
    folder = write(tmp_path / "src", FILES)
    single = write(tmp_path / "other", {"notes.md": b"# notes\n"}) / "notes.md"
    run(store_url, "create", "reviews")
    run(store_url, "push", "reviews", str(folder), str(single), "-m", "first")
    return {**FILES, "notes.md": b"# notes\n"}


def _parquet(rows: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"x": list(range(rows))}), sink)
    return sink.getvalue()


def test_create_push_list_versions_show(store_url: str, pushed: dict[str, bytes]) -> None:
    listing = run_json(store_url, "list")
    assert [d["name"] for d in listing["datasets"]] == ["reviews"]
    assert listing["datasets"][0]["files"] == 4
    assert listing["datasets"][0]["bytes"] == sum(len(c) for c in pushed.values())
    assert listing["store"] == store_url
    assert listing["datasets"][0]["head"] == run_json(store_url, "show", "reviews")["version_id"]
    assert "reviews" in run(store_url, "list").stdout

    versions = run_json(store_url, "versions", "reviews")["versions"]
    assert [(v["message"], v["author"], v["files"], v["parent"]) for v in versions] == [("first", "tester", 4, None)]
    table = run(store_url, "versions", "reviews").stdout
    assert versions[0]["version_id"][:12] in table and "first" in table

    shown = run_json(store_url, "show", "reviews", versions[0]["version_id"][:8])
    assert shown["version_id"] == versions[0]["version_id"]
    assert {p: f["size"] for p, f in shown["files"].items()} == {p: len(c) for p, c in pushed.items()}
    human = run(store_url, "show", "reviews").stdout
    assert "sub/deeper/c.txt" in human and "notes.md" in human and store_url in human


def test_push_same_content_makes_no_version(store_url: str, pushed: dict[str, bytes], tmp_path: Path) -> None:
    result = run(store_url, "push", "reviews", str(tmp_path / "src"), "-m", "again")
    assert result.stdout.startswith("No change:")
    assert len(version_ids(store_url, "reviews")) == 1


def test_push_under_a_prefix_keeps_the_other_files(store_url: str, pushed: dict[str, bytes], tmp_path: Path) -> None:
    extra = write(tmp_path / "extra", {"e.txt": b"e"}) / "e.txt"
    run(store_url, "push", "reviews", str(extra), "--to-path", "/more/stuff/", "-m", "extra")
    files = run_json(store_url, "show", "reviews")["files"]
    assert set(files) == {*pushed, "more/stuff/e.txt"}


def test_push_refuses_two_files_for_one_path(store_url: str, pushed: dict[str, bytes], tmp_path: Path) -> None:
    one = write(tmp_path / "one", {"x.txt": b"1"}) / "x.txt"
    two = write(tmp_path / "two", {"x.txt": b"2"}) / "x.txt"
    assert "'x.txt'" in run(store_url, "push", "reviews", str(one), str(two), "-m", "m", code=2).stderr


def test_pull_is_byte_identical_then_incremental(store_url: str, pushed: dict[str, bytes], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    first = run(store_url, "pull", "reviews", "--to", str(copy)).stdout
    assert "4 files downloaded" in first
    assert read_tree(copy) == pushed

    changed = write(tmp_path / "v2", {"a.txt": b"ALPHA\n"})
    run(store_url, "push", "reviews", str(changed), "-m", "second")
    second = run(store_url, "pull", "reviews", "--to", str(copy)).stdout
    assert "1 file downloaded (6 B), 3 unchanged" in second
    assert read_tree(copy) == {**pushed, "a.txt": b"ALPHA\n"}

    old = version_ids(store_url, "reviews")[1]
    run(store_url, "pull", "reviews", "--version", old[:10], "--to", str(copy))
    assert read_tree(copy) == pushed


def test_pull_defaults_to_a_folder_named_after_the_dataset(
    store_url: str, pushed: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run(store_url, "pull", "reviews")
    assert read_tree(tmp_path / "reviews") == pushed


def test_pull_refuses_local_changes_without_force(store_url: str, pushed: dict[str, bytes], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    run(store_url, "pull", "reviews", "--to", str(copy))
    (copy / "a.txt").write_bytes(b"edited")
    error = fail(store_url, "pull", "reviews", "--to", str(copy), code=6)
    assert "a.txt" in error and "--force" in error
    assert (copy / "a.txt").read_bytes() == b"edited"
    run(store_url, "pull", "reviews", "--to", str(copy), "--force")
    assert read_tree(copy) == pushed


def test_push_of_a_pulled_folder_ignores_its_state(store_url: str, pushed: dict[str, bytes], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    run(store_url, "pull", "reviews", "--to", str(copy))
    assert run(store_url, "push", "reviews", str(copy), "-m", "same").stdout.startswith("No change:")
    (copy / "a.txt").write_bytes(b"edited")
    run(store_url, "push", "reviews", str(copy), "-m", "edited")
    assert run_json(store_url, "show", "reviews")["files"]["a.txt"]["size"] == len(b"edited")


def test_diff_counts_parquet_rows(store_url: str, tmp_path: Path) -> None:
    run(store_url, "create", "rows")
    v1 = write(tmp_path / "v1", {"data/a.parquet": _parquet(3), "r.txt": b"1"})
    run(store_url, "push", "rows", str(v1), "-m", "1")
    v2 = write(tmp_path / "v2", {"data/a.parquet": _parquet(5), "data/b.parquet": _parquet(7), "r.txt": b"22"})
    run(store_url, "push", "rows", str(v2), "-m", "2")
    new, old = version_ids(store_url, "rows")

    diff = run_json(store_url, "diff", "rows", old[:8], new[:8])
    assert (diff["a"], diff["b"]) == (old, new)
    assert [(f["path"], f["new_rows"]) for f in diff["added"]] == [("data/b.parquet", 7)]
    changed = {f["path"]: (f["old_rows"], f["new_rows"]) for f in diff["changed"]}
    assert changed == {"data/a.parquet": (3, 5), "r.txt": (None, None)}
    assert (diff["rows_before"], diff["rows_after"]) == (3, 12)

    human = run(store_url, "diff", "rows", old[:8]).stdout  # B defaults to HEAD
    assert "A  data/b.parquet  7 rows" in human
    assert "M  data/a.parquet  3 -> 5 rows" in human
    assert "M  r.txt  1 B -> 2 B" in human
    assert "rows 3 -> 12" in human
    assert run_json(store_url, "diff", "rows", "HEAD", "HEAD")["changed"] == []


def test_rollback_writes_a_new_version(store_url: str, pushed: dict[str, bytes], tmp_path: Path) -> None:
    run(store_url, "push", "reviews", str(write(tmp_path / "v2", {"new.txt": b"n"})), "-m", "second")
    first = version_ids(store_url, "reviews")[-1]
    result = run(store_url, "rollback", "reviews", first[:8])
    assert "Rolled back reviews" in result.stdout
    ids = version_ids(store_url, "reviews")
    assert len(ids) == 3 and ids[-1] == first
    shown = run_json(store_url, "show", "reviews")
    assert set(shown["files"]) == set(pushed) and shown["metadata"] == {"rollback_of": first}
    assert run(store_url, "rollback", "reviews", first[:8]).stdout.startswith("No change:")


def test_delete_restore_purge(store_url: str, pushed: dict[str, bytes], tmp_path: Path) -> None:
    run(store_url, "delete", "reviews")
    assert run_json(store_url, "list")["datasets"] == []
    assert [(d["name"], d["deleted"]) for d in run_json(store_url, "list", "--all")["datasets"]] == [("reviews", True)]
    error = fail(store_url, "show", "reviews", code=3)
    assert "'reviews' is deleted" in error and "curation datasets restore reviews" in error
    fail(store_url, "push", "reviews", str(tmp_path / "src"), "-m", "m", code=3)

    run(store_url, "restore", "reviews")
    assert len(version_ids(store_url, "reviews")) == 1
    assert "curation datasets delete reviews" in fail(store_url, "purge", "reviews", "--yes", code=4)

    run(store_url, "delete", "reviews")
    aborted = run(store_url, "purge", "reviews", input="n\n", code=1)
    assert "Permanently remove dataset 'reviews'" in aborted.output
    assert run_json(store_url, "list", "--all")["datasets"][0]["name"] == "reviews"
    run(store_url, "purge", "reviews", input="y\n")
    assert run_json(store_url, "list", "--all")["datasets"] == []
    fail(store_url, "restore", "reviews", code=3)
    run(store_url, "create", "reviews")  # the name is free again


def test_gc_dry_run_then_gc(
    store_url: str, pushed: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = version_ids(store_url, "reviews")[0]
    run(store_url, "push", "reviews", str(write(tmp_path / "v2", {"two.txt": b"2"})), "-m", "second")
    # A commit pinned to a stale parent fails after uploading its object: an orphan for gc.
    orphan = write(tmp_path / "v3", {"orphan.txt": b"orphan content"})
    fail(store_url, "push", "reviews", str(orphan), "--parent", stale[:8], "-m", "late", code=4)

    kept = run_json(store_url, "gc", "reviews", "--dry-run")
    assert kept["objects"] == [] and kept["kept_recent"] == 1

    planned = run_json(store_url, "gc", "--dry-run", "--grace-period", "0")
    assert planned["dry_run"] and planned["datasets"] == ["reviews"]
    assert len(planned["objects"]) == 1 and planned["bytes"] == len(b"orphan content")
    human = run(store_url, "gc", "--dry-run", "--grace-period", "0").stdout
    assert human.startswith("Would remove 0 manifests and 1 object (14 B)")
    with monkeypatch.context() as patch:
        patch.setattr(datasets_cli, "GC_KEYS_SHOWN", 0)
        assert "... and 1 more (--json lists them all)" in run(store_url, "gc", "--dry-run", "--grace-period", "0").stdout

    removed = run(store_url, "gc", "reviews", "--grace-period", "0m").stdout
    assert removed.startswith("Removed 0 manifests and 1 object (14 B) from 1 dataset")
    assert planned["objects"][0] in removed
    assert run_json(store_url, "gc", "--grace-period", "0")["objects"] == []
    copy = tmp_path / "copy"
    run(store_url, "pull", "reviews", "--to", str(copy))
    assert read_tree(copy) == {**pushed, "two.txt": b"2"}


def test_empty_store_and_dataset(store_url: str) -> None:
    assert run(store_url, "list").stdout.startswith("No datasets in ")
    run(store_url, "create", "empty")
    assert run_json(store_url, "versions", "empty")["versions"] == []
    assert "no versions yet" in run(store_url, "versions", "empty").stdout
    assert "no versions yet" in fail(store_url, "show", "empty", code=3)
    listed = run_json(store_url, "list")["datasets"]
    expected = {"name": "empty", "deleted": False, "head": None, "updated_at": None, "files": None, "bytes": None}
    assert listed == [expected]
