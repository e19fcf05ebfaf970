"""The backend contract, on the local folder and on S3 (moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_pipeline.store import DatasetStore, KeyNotFoundError, WriteConflictError


def test_bytes_files_ranges_and_listing(store: DatasetStore, tmp_path: Path) -> None:
    backend = store.backend
    backend.put_bytes("d/x/1", b"one")
    backend.put_bytes("d/x/2", b"two!")
    backend.put_bytes("d/y/3", b"three")
    assert backend.get_bytes("d/x/1") == b"one"
    assert backend.get_range("d/y/3", 1, 3) == b"hre"
    assert sorted(i.key for i in backend.list("d/x/")) == ["d/x/1", "d/x/2"]
    assert sorted(i.key for i in backend.list("d/")) == ["d/x/1", "d/x/2", "d/y/3"]
    assert {i.key: i.size for i in backend.list("d/x/2")} == {"d/x/2": 4}
    assert list(backend.list("nothing/")) == []
    assert backend.list_children("d/") == ["x", "y"]
    assert backend.list_children("nothing/") == []
    info = backend.stat("d/x/2")
    assert info is not None and info.size == 4 and info.modified.tzinfo is not None
    assert backend.stat("d/missing") is None and not backend.exists("d/missing")

    src = tmp_path / "src.bin"
    src.write_bytes(b"file content" * 1000)
    backend.put_file("d/f", src)
    backend.get_file("d/f", tmp_path / "dst.bin")
    assert (tmp_path / "dst.bin").read_bytes() == src.read_bytes()

    backend.delete("d/x/1")
    backend.delete("d/x/1")  # absent: not an error
    backend.delete_many(["d/x/2", "d/y/3"])
    assert sorted(i.key for i in backend.list("d/")) == ["d/f"]
    with pytest.raises(KeyNotFoundError, match="d/x/1") as info_:
        backend.get_bytes("d/x/1")
    assert isinstance(info_.value, LookupError) and isinstance(info_.value, FileNotFoundError)
    with pytest.raises(KeyNotFoundError):
        backend.get_file("d/x/1", tmp_path / "never")


def test_put_if_absent_writes_once(store: DatasetStore) -> None:
    backend = store.backend
    assert backend.put_if_absent("once", b"first")
    assert not backend.put_if_absent("once", b"second")
    assert backend.get_bytes("once") == b"first"


def test_compare_and_swap(store: DatasetStore) -> None:
    backend = store.backend
    assert backend.read_ref("ref") is None
    t1 = backend.swap_ref("ref", b"a", None)
    with pytest.raises(WriteConflictError):
        backend.swap_ref("ref", b"b", None)  # must not exist yet
    ref = backend.read_ref("ref")
    assert ref is not None and ref.data == b"a" and ref.token == t1
    t2 = backend.swap_ref("ref", b"b", t1)
    with pytest.raises(WriteConflictError):
        backend.swap_ref("ref", b"c", t1)  # stale token
    assert backend.get_bytes("ref") == b"b"
    backend.delete("ref")
    with pytest.raises(WriteConflictError):
        backend.swap_ref("ref", b"d", t2)  # removed since read
