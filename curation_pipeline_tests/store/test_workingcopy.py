"""Working copies on both backends: pull, get_diff, push_version, stash/restore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO

import pytest

from curation_pipeline.store import (
    CorruptObjectError,
    DatasetHeadOutOfDateError,
    DatasetStore,
    LocalChangesError,
    UnsafePathError,
    WorkingCopyError,
)
from curation_pipeline.store.manifest import canonical_json


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _count_downloads(store: DatasetStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = store.backend.get_fileobj

    def counting(key: str, out: BinaryIO, *, size: int | None = None) -> None:
        calls.append(key)
        original(key, out, size=size)

    monkeypatch.setattr(store.backend, "get_fileobj", counting)
    return calls


def test_pull_writes_files_and_state(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("wc")
    v = ds.commit({"a.txt": b"a", "sub/b.txt": b"b"}, "v1")
    result = ds.pull(to=tmp_path / "wc")
    assert result.version_id == v.version_id and result.downloaded == ("a.txt", "sub/b.txt")
    assert (tmp_path / "wc/a.txt").read_bytes() == b"a"
    assert (tmp_path / "wc/sub/b.txt").read_bytes() == b"b"
    state = json.loads((tmp_path / "wc/.curation/state.json").read_text())
    assert state["dataset"] == "wc" and state["version_id"] == v.version_id
    assert state["store_url"] == store.url
    assert set(state["files"]) == {"a.txt", "sub/b.txt"}
    assert ds.get_diff(to=tmp_path / "wc").is_empty


def test_pull_is_incremental(store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = store.create_dataset("incr")
    v1 = ds.commit({"a": b"1", "b": b"1", "c": b"1"}, "v1")
    v2 = ds.commit({"b": b"2", "d": b"2"}, "v2", delete=["c"])
    downloads = _count_downloads(store, monkeypatch)
    folder = tmp_path / "wc"
    ds.pull(v1.version_id, to=folder)
    assert len(downloads) == 3
    result = ds.pull(v2.version_id, to=folder)
    assert len(downloads) == 5  # only b and d
    assert result.downloaded == ("b", "d") and result.deleted == ("c",) and result.unchanged == 1
    assert {k: v for k, v in _snapshot(folder).items() if not k.startswith(".curation")} == {
        "a": b"1",
        "b": b"2",
        "d": b"2",
    }
    assert ds.pull(to=folder).downloaded == () and len(downloads) == 5


def test_pull_refuses_to_overwrite_local_changes_unless_forced(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("changes")
    v1 = ds.commit({"a": b"1", "b": b"1"}, "v1")
    ds.commit({"a": b"2"}, "v2")
    folder = tmp_path / "wc"
    ds.pull(v1.version_id, to=folder)
    (folder / "a").write_bytes(b"local edit")
    (folder / "new").write_bytes(b"untracked")
    with pytest.raises(LocalChangesError) as info:
        ds.pull(to=folder)
    assert info.value.paths == ("a", "new")
    assert "a" in str(info.value) and "new" in str(info.value)
    assert (folder / "a").read_bytes() == b"local edit"

    ds.pull(to=folder, forced=True)
    assert (folder / "a").read_bytes() == b"2" and not (folder / "new").exists()
    assert ds.get_diff(to=folder).is_empty


def test_pull_keeps_local_changes_that_do_not_conflict(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("same")
    v1 = ds.commit({"a": b"1"}, "v1")
    ds.commit({"a": b"2"}, "v2")
    folder = tmp_path / "wc"
    ds.pull(v1.version_id, to=folder)
    (folder / "a").write_bytes(b"2")  # the same edit as upstream
    assert ds.pull(to=folder).downloaded == ()


def test_get_diff_push_version(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("edit")
    base = ds.commit({"keep": b"k", "change": b"c", "drop": b"d"}, "base")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    (folder / "change").write_bytes(b"C")
    (folder / "drop").unlink()
    (folder / "dir").mkdir()
    (folder / "dir/new").write_bytes(b"n")
    diff = ds.get_diff(to=folder)
    assert (diff.new, diff.modified, diff.deleted) == (("dir/new",), ("change",), ("drop",))

    result = ds.push_version("edit locally", to=folder)
    assert result.created and result.parent == base.version_id
    assert dict(ds.files()) == {
        "keep": ds.files(base.version_id)["keep"],
        "change": ds.files()["change"],
        "dir/new": ds.files()["dir/new"],
    }
    assert ds.read_file("change") == b"C"
    assert ds.get_diff(to=folder).is_empty
    assert not ds.push_version("nothing changed", to=folder).created


def test_push_version_fails_if_head_moved(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("moved")
    ds.commit({"a": b"1"}, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    ds.commit({"b": b"2"}, "someone else")
    (folder / "a").write_bytes(b"mine")
    with pytest.raises(DatasetHeadOutOfDateError):
        ds.push_version("stale", to=folder)
    assert (folder / "a").read_bytes() == b"mine"


def test_stash_and_restore(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("stash")
    ds.commit({"a": b"1", "b": b"1"}, "v1")
    folder = tmp_path / "wc"
    ds.pull(to=folder)
    (folder / "a").write_bytes(b"edited")
    (folder / "b").unlink()
    (folder / "c").write_bytes(b"new")
    stashed = ds.stash(to=folder)
    assert stashed.changes.paths == ("a", "b", "c")
    assert ds.get_diff(to=folder).is_empty
    assert (folder / "a").read_bytes() == b"1" and (folder / "b").exists() and not (folder / "c").exists()
    with pytest.raises(WorkingCopyError, match="already"):
        (folder / "a").write_bytes(b"again")
        ds.stash(to=folder)
    with pytest.raises(LocalChangesError):
        ds.restore(to=folder)
    (folder / "a").write_bytes(b"1")

    restored = ds.restore(to=folder)
    assert restored.changes == stashed.changes
    assert (folder / "a").read_bytes() == b"edited" and not (folder / "b").exists()
    assert (folder / "c").read_bytes() == b"new"
    assert ds.get_diff(to=folder).paths == ("a", "b", "c")
    with pytest.raises(WorkingCopyError, match="no stashed"):
        ds.restore(to=folder)


def test_working_copy_errors(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("one")
    other = store.create_dataset("two")
    ds.commit({"a": b"1"}, "v1")
    other.commit({"a": b"1"}, "v1")
    with pytest.raises(WorkingCopyError, match="pull"):
        ds.get_diff(to=tmp_path / "nothing")
    ds.pull(to=tmp_path / "wc")
    with pytest.raises(WorkingCopyError, match="'one'"):
        other.pull(to=tmp_path / "wc")


def _corrupt_object(store: DatasetStore, dataset: str, sha: str) -> None:
    store.backend.put_bytes(f"datasets/{dataset}/objects/{sha[:2]}/{sha[2:]}", b"tampered")


def test_corrupt_object_is_caught_on_pull_leaving_destination_untouched(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("corrupt")
    v1 = ds.commit({"a": b"1", "b": b"1"}, "v1")
    ds.commit({"a": b"2", "b": b"2", "c": b"3"}, "v2")
    folder = tmp_path / "wc"
    ds.pull(v1.version_id, to=folder)
    before = _snapshot(folder)
    _corrupt_object(store, "corrupt", ds.files()["c"].sha256)
    with pytest.raises(CorruptObjectError, match="'c'"):
        ds.pull(to=folder)
    assert _snapshot(folder) == before  # no file replaced, no temporary left
    with pytest.raises(CorruptObjectError):
        ds.read_file("c")
    with pytest.raises(CorruptObjectError):
        ds.pull(to=tmp_path / "fresh")
    assert not [p for p in (tmp_path / "fresh").rglob("*") if p.is_file() and ".curation" not in p.parts]


def test_corrupt_parquet_is_caught_on_read(store: DatasetStore) -> None:
    import pyarrow as pa

    ds = store.create_dataset("corruptread")
    ds.push_table(pa.table({"x": [1, 2]}), filename="data/a.parquet")
    _corrupt_object(store, "corruptread", ds.files()["data/a.parquet"].sha256)
    with pytest.raises(CorruptObjectError, match="data/a.parquet"):
        ds.read()


@pytest.mark.parametrize(
    "path", ["../outside", "/etc/passwd", "a/../../x", "a\\..\\x", "a//b", ".curation/state.json", "x\x00y"]
)
def test_unsafe_manifest_is_refused_on_pull(store: DatasetStore, tmp_path: Path, path: str) -> None:
    import hashlib

    ds = store.create_dataset("evil")
    good = ds.commit({"ok": b"ok"}, "v1")
    sha = hashlib.sha256(b"pwned").hexdigest()
    store.backend.put_bytes(f"datasets/evil/objects/{sha[:2]}/{sha[2:]}", b"pwned")
    value = json.loads(store.backend.get_bytes(f"datasets/evil/versions/{good.version_id}.json"))
    value["files"] = {path: {"sha256": sha, "size": 5}}
    value["parent"] = good.version_id
    raw = canonical_json(value)
    evil_id = hashlib.sha256(raw).hexdigest()
    store.backend.put_bytes(f"datasets/evil/versions/{evil_id}.json", raw)
    store.backend.put_bytes("datasets/evil/HEAD", evil_id.encode())
    with pytest.raises(UnsafePathError):
        ds.pull(to=tmp_path / "wc")
    assert not (tmp_path / "outside").exists()
    assert not (tmp_path / "wc").exists() or _snapshot(tmp_path / "wc") == {}


def test_pull_refuses_to_write_through_a_symlink(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("links")
    ds.commit({"sub/a": b"1"}, "v1")
    folder = tmp_path / "wc"
    folder.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "sub").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        ds.pull(to=folder, forced=True)
    assert list(outside.iterdir()) == []


def test_progress_callbacks_report_bytes(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("progress")
    pushed: list[tuple[int, int]] = []
    ds.commit({"a": b"12345", "b": b"123", "c": b"12345"}, "v1", progress=lambda d, t: pushed.append((d, t)))
    assert pushed[0] == (0, 8) and pushed[-1] == (8, 8)  # a and c share one object
    pulled: list[tuple[int, int]] = []
    ds.pull(to=tmp_path / "wc", progress=lambda d, t: pulled.append((d, t)))
    assert pulled[0] == (0, 13) and pulled[-1] == (13, 13) and len(pulled) == 4
