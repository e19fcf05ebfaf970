"""Curator start records (``curators/<curator>/start.json``): written once, read back by everyone."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import threading

import pytest

from curation_pipeline.names import InvalidNameError
from curation_pipeline.store import CuratorStartRecord, DatasetStore, InvalidManifestError
from curation_pipeline_tests.store.specs import StoreSpec

UTC = dt.timezone.utc
DAY = dt.datetime(2026, 11, 27, tzinfo=UTC)
KEY = "curators/reviews/start.json"


def test_no_record_until_one_is_written(store: DatasetStore) -> None:
    assert store.curator_start("reviews") is None
    assert not store.backend.exists(KEY)


def test_the_first_record_holds(store_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATION_AUTHOR", "ci")
    store = DatasetStore(store_spec.open().backend, clock=lambda: DAY + dt.timedelta(hours=12, minutes=3))
    first = store.record_curator_start("reviews", DAY)
    assert first == CuratorStartRecord("reviews", DAY, DAY + dt.timedelta(hours=12, minutes=3), "ci")
    assert json.loads(store.backend.get_bytes(KEY)) == {
        "author": "ci",
        "curator": "reviews",
        "format": 1,
        "recorded_at": "2026-11-27T12:03:00.000000Z",
        "start": "2026-11-27T00:00:00.000000Z",
    }
    # A later attempt (another load, a restart) gets the first record back, unchanged.
    assert store.record_curator_start("reviews", DAY + dt.timedelta(days=3)) == first
    # So does a new handle on the same location (another machine).
    assert store_spec.open().curator_start("reviews") == first
    assert store_spec.open().record_curator_start("reviews", DAY + dt.timedelta(days=9)) == first


def test_records_are_per_curator_and_apart_from_datasets(store: DatasetStore) -> None:
    store.record_curator_start("reviews", DAY)
    store.record_curator_start("other", DAY + dt.timedelta(days=1))
    assert store.curator_start("other").start == DAY + dt.timedelta(days=1)
    assert store.list_datasets() == []
    store.create_dataset("reviews")
    store.delete_dataset("reviews")
    store.purge_dataset("reviews")
    assert store.curator_start("reviews").start == DAY


def test_bad_names_and_records(store: DatasetStore) -> None:
    with pytest.raises(InvalidNameError):
        store.record_curator_start("Bad/Name", DAY)
    with pytest.raises(InvalidNameError):
        store.curator_start("../x")
    with pytest.raises(InvalidManifestError):
        store.record_curator_start("reviews", DAY.replace(tzinfo=None))
    store.backend.put_bytes(KEY, b"{not json")
    with pytest.raises(InvalidManifestError, match="curators/reviews/start.json is not a curator start record"):
        store.curator_start("reviews")


def test_concurrent_first_records_agree(concurrent_spec: StoreSpec) -> None:
    """8 threads, each with its own handle and its own start: one start wins and all of them return it."""
    writers = 8
    barrier = threading.Barrier(writers)
    results: list[CuratorStartRecord | None] = [None] * writers

    def record(i: int) -> None:
        handle = concurrent_spec.open()
        barrier.wait()
        results[i] = handle.record_curator_start("reviews", DAY + dt.timedelta(days=i))

    threads = [threading.Thread(target=record, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(set(results)) == 1
    assert results[0] == concurrent_spec.open().curator_start("reviews")
    assert results[0].start in {DAY + dt.timedelta(days=i) for i in range(writers)}


def record_in_process(spec: StoreSpec, index: int, barrier, queue) -> None:
    """Child process: record a start of its own once every process is ready; report the start that holds."""
    handle = spec.open()
    barrier.wait()
    queue.put(handle.record_curator_start("reviews", DAY + dt.timedelta(days=index)).start.isoformat())


def test_concurrent_first_records_across_processes_agree(concurrent_spec: StoreSpec) -> None:
    processes = 4
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    queue = context.Queue()
    workers = [
        context.Process(target=record_in_process, args=(concurrent_spec, i, barrier, queue)) for i in range(processes)
    ]
    for process in workers:
        process.start()
    starts = [queue.get(timeout=120) for _ in range(processes)]
    for process in workers:
        process.join(timeout=60)
    assert [p.exitcode for p in workers] == [0] * processes
    assert len(set(starts)) == 1
    assert starts[0] == concurrent_spec.open().curator_start("reviews").start.isoformat()
