"""Crash safety and garbage collection, on both backends."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.store.specs import StoreSpec
from curation_pipeline_tests.store.workers import CRASH_EXIT_CODE, crash_before_head_update

NOW = timedelta(0)


def _keys(store: DatasetStore, prefix: str) -> set[str]:
    return {info.key for info in store.backend.list(prefix)}


def test_writer_killed_before_head_update_leaves_everything_intact(store_spec: StoreSpec, tmp_path: Path) -> None:
    store = store_spec.open()
    ds = store.create_dataset("crash")
    v1 = ds.commit({"a.txt": b"a"}, "v1")
    manifests_before = _keys(store, "datasets/crash/versions/")

    child = multiprocessing.get_context("spawn").Process(target=crash_before_head_update, args=(store_spec, "crash"))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == CRASH_EXIT_CODE

    orphans = _keys(store, "datasets/crash/versions/") - manifests_before
    assert len(orphans) == 1  # the manifest was written, HEAD was not moved
    fresh = store_spec.open().get_dataset("crash")
    assert fresh.head() == v1.version_id
    assert [v.version_id for v in fresh.list_versions()] == [v1.version_id]
    assert fresh.pull(to=tmp_path / "wc").version_id == v1.version_id
    assert sorted(p.name for p in (tmp_path / "wc").iterdir()) == [".curation", "a.txt"]

    assert store.gc("crash").manifests == ()  # younger than the grace period: maybe in flight
    dry = store.gc("crash", dry_run=True, grace_period=NOW)
    assert set(dry.manifests) == orphans and len(dry.objects) == 1
    assert _keys(store, "datasets/crash/versions/") - manifests_before == orphans  # dry run removed nothing
    done = store.gc("crash", grace_period=NOW)
    assert (done.manifests, done.objects, done.bytes) == (dry.manifests, dry.objects, dry.bytes)
    assert _keys(store, "datasets/crash/versions/") == manifests_before
    assert fresh.read_file("a.txt") == b"a"


def test_gc_never_touches_heads_history(store: DatasetStore) -> None:
    ds = store.create_dataset("history")
    v1 = ds.commit({"a": b"1", "b": b"1"}, "v1")
    ds.commit({"a": b"2"}, "v2", delete=["b"])
    ds.rollback(v1.version_id)
    ds.commit({"c": b"3"}, "v4")
    stray = "datasets/history/objects/ff/" + "f" * 62
    store.backend.put_bytes(stray, b"stray bytes")

    dry = store.gc(dry_run=True, grace_period=NOW)
    assert dry.dry_run and dry.objects == (stray,) and dry.manifests == () and dry.bytes == 11
    assert store.backend.exists(stray)
    report = store.gc(grace_period=NOW)
    assert report.objects == (stray,) and not store.backend.exists(stray)
    assert report.to_dict()["bytes"] == 11
    for version in ds.list_versions():  # every version still reads in full
        for path in version.files:
            ds.read_file(path, version.version_id)
    assert store.gc(grace_period=NOW).objects == ()


def test_store_wide_gc_covers_every_dataset(store: DatasetStore) -> None:
    for name in ("one", "two"):
        store.create_dataset(name).commit({"a": b"1"}, "v1")
        store.backend.put_bytes(f"datasets/{name}/objects/00/" + "0" * 62, b"x")
    store.delete_dataset("two")
    report = store.gc(grace_period=NOW)
    assert report.datasets == ("one", "two") and len(report.objects) == 2
