"""Parallel transfers on both backends: failures stop cleanly, dedup and verification still hold."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import pytest

from curation_pipeline.store import CorruptObjectError, DatasetStore, StoreAccessError
from curation_pipeline_tests.store.specs import StoreSpec

COUNT = 20


def _store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("store")]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _files(folder: Path, tag: str, count: int = COUNT, salt: str = "") -> dict[str, Path]:
    """``count`` files ``data/<tag>-NN.bin`` of different sizes (the first empty), written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i in range(count):
        path = folder / f"{tag}-{i:02d}.bin"
        path.write_bytes(f"{tag}:{salt}:{i}:".encode() * (i * 97))
        files[f"data/{tag}-{i:02d}.bin"] = path
    return files


@pytest.fixture
def slow_store(store: DatasetStore) -> DatasetStore:
    """The ``store`` with four workers, so several transfers overlap in every test."""
    return DatasetStore(store.backend, max_workers=4)


def test_failed_upload_among_many_raises_it_and_lands_nothing(
    slow_store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = slow_store.create_dataset("upfail")
    v1 = ds.commit({"keep": b"kept"}, "v1")
    files = _files(tmp_path / "src", "f")
    doomed = ds.backend.put_file
    failing_sha = hashlib.sha256(files["data/f-07.bin"].read_bytes()).hexdigest()
    started: list[str] = []

    def put_file(key: str, src: Path) -> None:
        started.append(key)
        if key.endswith(failing_sha[2:]):
            raise StoreAccessError(f"S3 upload of {key} failed: 503 SlowDown")
        time.sleep(0.01)
        doomed(key, src)

    monkeypatch.setattr(ds.backend, "put_file", put_file)
    with pytest.raises(StoreAccessError, match="SlowDown"):
        ds.commit(files, "v2")
    assert ds.head() == v1.version_id
    assert not _store_threads()
    monkeypatch.undo()
    # A retry uploads only what the failed attempt did not store (the rest is fresh and reused).
    result = ds.commit(files, "v2")
    assert result.created and result.objects_uploaded + result.objects_skipped == COUNT
    assert result.objects_uploaded <= COUNT - len(started) + 1
    assert ds.read_file("data/f-07.bin") == files["data/f-07.bin"].read_bytes()


def test_failed_download_among_many_leaves_the_folder_untouched(
    slow_store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = slow_store.create_dataset("downfail")
    v1 = ds.commit(_files(tmp_path / "one", "f", salt="1"), "v1")
    v2 = ds.commit(_files(tmp_path / "two", "f", salt="2"), "v2")  # same paths, new content
    folder = tmp_path / "wc"
    ds.pull(v1.version_id, to=folder)
    before = _snapshot(folder)
    original = ds.backend.get_fileobj
    failing = ds.files(v2.version_id)["data/f-05.bin"].sha256

    def get_fileobj(key: str, out: BinaryIO, *, size: int | None = None) -> None:
        if key.endswith(failing[2:]):
            raise StoreAccessError(f"S3 download of {key} failed: 500 InternalError")
        time.sleep(0.01)
        original(key, out, size=size)

    monkeypatch.setattr(ds.backend, "get_fileobj", get_fileobj)
    with pytest.raises(StoreAccessError, match="InternalError"):
        ds.pull(to=folder)
    assert _snapshot(folder) == before  # nothing replaced, no temporary file, no staging left
    assert not (folder / ".curation" / "staging").exists()
    assert not _store_threads()
    monkeypatch.undo()
    assert ds.pull(to=folder).version_id == v2.version_id


def test_corrupt_object_among_many_is_caught_and_named(slow_store: DatasetStore, tmp_path: Path) -> None:
    ds = slow_store.create_dataset("corrupt")
    ds.commit(_files(tmp_path / "src", "f"), "v1")
    sha = ds.files()["data/f-11.bin"].sha256
    ds.backend.put_bytes(f"datasets/corrupt/objects/{sha[:2]}/{sha[2:]}", b"tampered")
    with pytest.raises(CorruptObjectError, match="data/f-11.bin"):
        ds.pull(to=tmp_path / "wc")
    assert not [p for p in (tmp_path / "wc").rglob("*") if p.is_file() and ".curation" not in p.parts]
    assert not (tmp_path / "wc" / ".curation" / "staging").exists()
    # Longer than the manifest says: refused as soon as the extra bytes arrive.
    ds.backend.put_bytes(f"datasets/corrupt/objects/{sha[:2]}/{sha[2:]}", b"x" * 100_000)
    with pytest.raises(CorruptObjectError, match="data/f-11.bin"):
        ds.pull(to=tmp_path / "wc")


def test_many_files_pulled_at_once_are_all_verified(slow_store: DatasetStore, tmp_path: Path) -> None:
    ds = slow_store.create_dataset("many")
    files = _files(tmp_path / "src", "f")
    files["copy-of-f-03.bin"] = files["data/f-03.bin"]  # same object under two paths
    pushed: list[tuple[int, int, threading.Thread]] = []
    ds.commit(files, "v1", progress=lambda d, t: pushed.append((d, t, threading.current_thread())))
    pulled: list[tuple[int, int, threading.Thread]] = []
    result = ds.pull(to=tmp_path / "wc", progress=lambda d, t: pulled.append((d, t, threading.current_thread())))
    assert result.downloaded == tuple(sorted(files))
    for path, source in files.items():
        assert (tmp_path / "wc" / path).read_bytes() == source.read_bytes()
    for calls, distinct in ((pushed, COUNT), (pulled, COUNT + 1)):
        done = [d for d, _, _ in calls]
        assert done == sorted(done) and done[0] == 0 and done[-1] == calls[0][1]
        assert len(calls) == distinct + 1
        assert {thread for _, _, thread in calls} == {threading.main_thread()}
    # Reported in path order, as a one-at-a-time pull would.
    sizes = [files[path].stat().st_size for path in sorted(files)]
    assert [d for d, _, _ in pulled] == [sum(sizes[:n]) for n in range(len(sizes) + 1)]
    # One worker or several: the same files.
    single = DatasetStore(ds.backend, max_workers=1).get_dataset("many")
    assert single.pull(to=tmp_path / "one").downloaded == result.downloaded
    assert _snapshot(tmp_path / "one" / "data") == _snapshot(tmp_path / "wc" / "data")


def _count_stats(store: DatasetStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every object key looked up with ``stat``."""
    calls: list[str] = []
    original = store.backend.stat

    def stat(key: str):  # type: ignore[no-untyped-def]
        if "/objects/" in key:
            calls.append(key)
        return original(key)

    monkeypatch.setattr(store.backend, "stat", stat)
    return calls


def test_existence_check_of_many_objects_dedups(
    store_spec: StoreSpec, slow_store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = slow_store.create_dataset("dedup")
    files = _files(tmp_path / "src", "f")
    first = ds.commit(files, "v1")
    assert first.objects_uploaded == COUNT
    ds.commit({}, "empty", delete=list(files))
    stats = _count_stats(slow_store, monkeypatch)
    new = {"new/a": b"one new object", "new/b": b"and another"}
    # Not in HEAD, but stored and fresh: reused without a byte sent.
    again = ds.commit({**files, **new}, "v3")
    assert (again.objects_uploaded, again.objects_skipped) == (2, COUNT)
    assert again.bytes_uploaded == sum(len(data) for data in new.values())
    if store_spec.kind == "s3":
        assert stats == []  # settled by one listing of the objects folder
    else:
        assert len(stats) == COUNT + 2
    assert ds.commit({**files, **new}, "same").bytes_uploaded == 0


def test_existence_check_of_many_stale_objects_rewrites_them(slow_store: DatasetStore, tmp_path: Path) -> None:
    ds = slow_store.create_dataset("stale")
    files = _files(tmp_path / "src", "f")
    ds.commit(files, "v1")
    ds.commit({}, "empty", delete=list(files))
    # With no grace period every stored object not in HEAD may be collected: write it again.
    eager = DatasetStore(slow_store.backend, gc_grace_period=timedelta(0)).get_dataset("stale")
    result = eager.commit(files, "v3")
    assert result.objects_uploaded == COUNT and result.objects_skipped == 0


def test_stat_many_agrees_with_stat(store: DatasetStore) -> None:
    backend = store.backend
    present = [f"d/objects/{i:02x}/x{i}" for i in range(0, 40, 2)]
    for key in present:
        backend.put_bytes(key, key.encode())
    asked = [f"d/objects/{i:02x}/x{i}" for i in range(40)]
    settled = backend.stat_many(asked)
    assert set(settled) <= set(asked)
    for key, info in settled.items():
        expected = backend.stat(key)
        assert (info is None) == (expected is None)
        if info is not None and expected is not None:
            assert info.size == expected.size == len(key)
    assert backend.stat_many(asked[:3]) == {}  # few keys: one stat each is cheaper


def test_max_workers_is_validated(tmp_path: Path) -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_workers"):
            DatasetStore.open(tmp_path / "s", max_workers=bad)  # type: ignore[arg-type]
    assert DatasetStore.open(tmp_path / "s", max_workers=2).create_dataset("x").max_workers == 2

