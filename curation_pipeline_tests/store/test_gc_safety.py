"""gc next to commits in flight, whatever the grace period; crash leftovers; on both backends.

Each interleaving is pinned down with :class:`HookedBackend`: the commit runs
on it, and gc (grace period 0, its own store handle) runs at the chosen step.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from curation_pipeline.store import CommitConflictError, DatasetStore, MissingObjectError, RetryPolicy
from curation_pipeline.store import gc as gc_module
from curation_pipeline.store import head as head_module
from curation_pipeline.store.dataset import Dataset
from curation_pipeline.store.head import GcLock, format_head, read_head_state
from curation_pipeline_tests.store.hooked import HookedBackend, run_once_before
from curation_pipeline_tests.store.specs import StoreSpec

NOW = timedelta(0)


def _hooked(store: DatasetStore, name: str) -> tuple[Dataset, HookedBackend]:
    backend = HookedBackend(store.backend)
    return Dataset(backend, name), backend


def _readable(ds: Dataset) -> list[dict[str, bytes]]:
    """Every version's files, read in full (raises if anything is missing or damaged)."""
    return [{path: ds.read_file(path, v.version_id) for path in v.files} for v in ds.list_versions()]


def test_gc_between_manifest_write_and_head_swap_keeps_history(store_spec: StoreSpec) -> None:
    """The reported failure: gc --grace-period 0 deleted the manifest a commit then linked."""
    store = store_spec.open()
    store.create_dataset("race").commit({"a": b"1"}, "v1")
    ds, backend = _hooked(store, "race")
    reports = []
    backend.hook = run_once_before("swap_ref", "HEAD", lambda: reports.append(store_spec.open().gc("race", grace_period=NOW)))

    result = ds.commit({"b": b"2"}, "v2")

    assert reports and reports[0].manifests  # gc did delete the unlinked manifest (and object)
    assert result.created and result.attempts == 2  # the fenced swap failed once, then landed
    fresh = store_spec.open().get_dataset("race")
    assert fresh.head() == result.version_id
    assert _readable(fresh) == [{"a": b"1", "b": b"2"}, {"a": b"1"}]
    assert store_spec.open().gc("race", grace_period=NOW).manifests == ()  # history whole: gc runs on


def test_gc_after_upload_before_manifest_makes_the_commit_upload_again(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    store.create_dataset("up").commit({"a": b"1"}, "v1")
    ds, backend = _hooked(store, "up")
    reports = []
    backend.hook = run_once_before("put_if_absent", "versions/", lambda: reports.append(store_spec.open().gc("up", grace_period=NOW)))

    result = ds.commit({"b": b"new bytes"}, "v2")

    assert reports[0].objects  # the freshly uploaded object was collected...
    assert _readable(store_spec.open().get_dataset("up"))[0] == {"a": b"1", "b": b"new bytes"}  # ...and stored again
    assert result.created


def test_rollback_whose_object_was_collected_fails_cleanly(store_spec: StoreSpec) -> None:
    """A rollback has no bytes to upload again: it refuses, and HEAD stays where it was."""
    store = store_spec.open()
    ds = store.create_dataset("rb")
    v1 = ds.commit({"a": b"old"}, "v1")
    v2 = ds.commit({"a": b"new"}, "v2")
    # v1 becomes an orphan reachable by id only (HEAD moved to a v3 whose parent skips it).
    store.backend.put_bytes("datasets/rb/HEAD", v2.version_id.encode())
    hooked, backend = _hooked(store, "rb")
    objects_key = "datasets/rb/objects/"

    def collect() -> None:
        for info in list(store.backend.list(objects_key)):
            if info.size == 3 and store.backend.get_bytes(info.key) == b"old":
                store.backend.delete(info.key)
        # gc's epoch moves (as a real run that deleted something would)
        head = read_head_state(store.backend, "rb")
        store.backend.swap_ref("datasets/rb/HEAD", format_head(head.version_id or "", head.epoch + 1), head.token)

    backend.hook = run_once_before("put_if_absent", "versions/", collect)
    hooked._check_intact = lambda *_args: None  # type: ignore[method-assign]  # reach the fence itself
    with pytest.raises(MissingObjectError, match="no longer stored"):
        hooked.rollback(v1.version_id)
    assert store.get_dataset("rb").head() == v2.version_id


def test_commit_waits_for_gc_lock_then_takes_a_stale_one_back(
    store_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_spec.open()
    ds = store.create_dataset("locked")
    v1 = ds.commit({"a": b"1"}, "v1")
    ref = store.backend.read_ref("datasets/locked/HEAD")
    assert ref is not None
    # A gc run that died holding HEAD, with a 1 s lease.
    store.backend.swap_ref("datasets/locked/HEAD", format_head(v1.version_id, 1, GcLock("ab" * 8, 1)), ref.token)
    started = time.monotonic()
    result = ds.commit({"b": b"2"}, "v2")
    waited = time.monotonic() - started
    assert 1.0 <= waited < 10
    head = read_head_state(store.backend, "locked")
    assert (head.version_id, head.epoch, head.lock) == (result.version_id, 1, None)
    assert _readable(ds)[0] == {"a": b"1", "b": b"2"}


def test_gc_that_loses_its_lock_stops_deleting(store_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lease of 0: a commit takes HEAD back during gc's first batch; gc's next renewal fails."""
    store = store_spec.open()
    ds = store.create_dataset("lease")
    ds.commit({"a": b"1"}, "v1")
    strays = [f"datasets/lease/objects/ff/{i:062x}" for i in range(3)]
    for key in strays:
        store.backend.put_bytes(key, b"stray")
    monkeypatch.setattr(gc_module, "_DELETE_BATCH", 1)
    gc_backend = HookedBackend(store.backend)
    landed = []
    gc_backend.hook = run_once_before("delete_many", "objects/", lambda: landed.append(ds.commit({"b": b"2"}, "v2")))

    with pytest.raises(CommitConflictError, match="writers took it back"):
        gc_module.collect_dataset(
            gc_backend, "lease", grace_period=NOW, now=datetime.now(timezone.utc), dry_run=False, lease_seconds=0
        )
    assert sum(store.backend.exists(key) for key in strays) == 2  # one batch deleted, then it stopped
    head = read_head_state(store.backend, "lease")
    assert (head.version_id, head.lock) == (landed[0].version_id, None)
    assert _readable(ds) == [{"a": b"1", "b": b"2"}, {"a": b"1"}]


def test_gc_lock_is_released_and_epoch_raised(store: DatasetStore) -> None:
    ds = store.create_dataset("epoch")
    v1 = ds.commit({"a": b"1"}, "v1")
    assert store.gc("epoch", grace_period=NOW).objects == ()  # nothing to delete: HEAD untouched
    assert read_head_state(store.backend, "epoch").epoch == 0
    ds.commit({"a": b"2"}, "v2")
    ds.rollback(v1.version_id)
    store.backend.put_bytes("datasets/epoch/objects/ff/" + "f" * 62, b"stray")
    assert store.gc("epoch", grace_period=NOW).objects
    head = read_head_state(store.backend, "epoch")
    assert (head.epoch, head.lock) == (1, None)
    assert ds.commit({"c": b"3"}, "v4").created
    assert read_head_state(store.backend, "epoch").epoch == 1  # commits carry the epoch forward


@pytest.mark.parametrize("seconds", [2.0])
def test_gc_with_zero_grace_next_to_a_commit_loop(concurrent_spec: StoreSpec, seconds: float) -> None:
    """The issue's scenario, with real threads: gc(0) in a loop while commits land; history stays whole."""
    store = concurrent_spec.open(retry=RetryPolicy(max_attempts=200, base_delay=0.002, max_delay=0.05))
    ds = store.create_dataset("loop")
    ds.commit({"base": b"base"}, "base")
    stop = threading.Event()
    errors: list[BaseException] = []
    gc_runs = [0]

    def collect() -> None:
        gc_store = concurrent_spec.open()
        while not stop.is_set():
            try:
                gc_store.gc("loop", grace_period=NOW)
                gc_runs[0] += 1
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    thread = threading.Thread(target=collect)
    thread.start()
    commits, started = 0, time.monotonic()

    def more() -> bool:
        # At least ``seconds``, and on a loaded machine until both loops went round a few times (30 s at most).
        elapsed = time.monotonic() - started
        return elapsed < 30 and (elapsed < seconds or commits < 5 or gc_runs[0] < 5)

    try:
        while more():
            ds.commit({f"f{commits}": f"content {commits}".encode()}, f"c{commits}", delete=[f"f{commits - 1}"])
            commits += 1
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert commits >= 5 and gc_runs[0] >= 5
    fresh = concurrent_spec.open().get_dataset("loop")
    versions = _readable(fresh)
    assert len(versions) == commits + 1
    assert versions[0] == {"base": b"base", f"f{commits - 1}": f"content {commits - 1}".encode()}


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_gc_collects_old_local_temporary_files(tmp_path: Path) -> None:
    store = DatasetStore.open(tmp_path / "store")
    store.create_dataset("tmp").commit({"a": b"1"}, "v1")
    folder = tmp_path / "store" / "datasets" / "tmp" / "objects" / "ab"
    folder.mkdir(parents=True)
    old, young = folder / ".tmp-old", folder / ".tmp-young"
    old.write_bytes(b"x" * 10)
    young.write_bytes(b"y")
    _age(old, 3 * 3600)
    _age(young, 5 * 60)

    dry = store.gc("tmp", dry_run=True, grace_period=NOW)
    assert dry.leftovers == ("datasets/tmp/objects/ab/.tmp-old",) and dry.bytes == 10 and old.exists()
    report = store.gc("tmp", grace_period=NOW)
    assert report.leftovers == dry.leftovers and report.to_dict()["leftovers"] == list(dry.leftovers)
    assert not old.exists() and young.exists()  # younger than 10 minutes: a write may be going on
    assert store.gc("tmp", grace_period=timedelta(hours=4)).leftovers == ()


def test_gc_aborts_stale_multipart_uploads(aws_env: object) -> None:
    from curation_pipeline_tests.conftest import MotoServer

    server: MotoServer = aws_env  # type: ignore[assignment]
    bucket = server.make_bucket("mp")
    later = datetime.now(timezone.utc) + timedelta(days=1)
    store = DatasetStore.open(f"s3://{bucket}/root", endpoint_url=server.endpoint_url, region_name=server.region)
    store.create_dataset("mp").commit({"a": b"1"}, "v1")
    client = server.client()
    mine = client.create_multipart_upload(Bucket=bucket, Key="root/datasets/mp/objects/ab/cdef")["UploadId"]
    other = client.create_multipart_upload(Bucket=bucket, Key="elsewhere/datasets/mp/objects/ab/cdef")["UploadId"]

    active_key = "root/datasets/mp/objects/cd/ef01"
    active = client.create_multipart_upload(Bucket=bucket, Key=active_key)["UploadId"]
    client.upload_part(Bucket=bucket, Key=active_key, UploadId=active, PartNumber=1, Body=b"part")

    # Now: the upload with a part written seconds ago is in progress and kept, even with grace 0.
    now_report = store.gc("mp", grace_period=NOW)
    assert all(active[:16] not in name for name in now_report.leftovers)
    clocked = DatasetStore(store.backend, clock=lambda: later)
    report = clocked.gc("mp", grace_period=NOW)
    assert set(now_report.leftovers) | set(report.leftovers) == {
        f"datasets/mp/objects/ab/cdef (upload {mine[:16]})",
        f"datasets/mp/objects/cd/ef01 (upload {active[:16]})",
    }
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [other]  # outside the store's prefix: not ours


def test_head_fence_round_trip_and_tampered_heads() -> None:
    vid = "a" * 64
    for epoch, lock in [(0, None), (3, None), (4, GcLock("0123456789abcdef", 120))]:
        assert head_module.parse_head(format_head(vid, epoch, lock), "d") == (vid, epoch, lock)
    assert head_module.parse_head(f"  {vid}\n".encode(), "d") == (vid, 0, None)
    for bad in [b"", b"\xff\xfe", b"../../x", vid[:63].encode(), (vid + "\n").encode() * 2, f"{vid}\ngc x".encode()]:
        with pytest.raises(head_module.CorruptHeadError):
            head_module.parse_head(bad, "d")
