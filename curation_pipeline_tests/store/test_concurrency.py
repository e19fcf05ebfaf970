"""Concurrent writers, on the local folder and on S3.

The S3 flavour runs on ``serial_moto_server``: moto checks a conditional
write per request but does not make check-then-write atomic across
concurrent requests, so that server serialises conditional PUTs, which is
what S3 guarantees.
"""

from __future__ import annotations

import multiprocessing
import threading

from curation_pipeline.store import DatasetHeadOutOfDateError, RetryPolicy
from curation_pipeline_tests.store.specs import StoreSpec
from curation_pipeline_tests.store.workers import commit_many

PROCESSES = 8
COMMITS_EACH = 4


def test_eight_processes_commit_without_losing_any_version(concurrent_spec: StoreSpec) -> None:
    """8 spawned processes x 4 commits: 32 versions, linear history, every file in HEAD."""
    store = concurrent_spec.open()
    ds = store.create_dataset("busy")
    base = ds.commit({"base.txt": b"base"}, "base")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=commit_many, args=(concurrent_spec, "busy", w, COMMITS_EACH, barrier))
        for w in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * PROCESSES

    versions = ds.list_versions()
    assert len(versions) == PROCESSES * COMMITS_EACH + 1
    assert versions[-1].version_id == base.version_id
    for newer, older in zip(versions, versions[1:]):
        assert newer.parent == older.version_id
        assert len(newer.files) == len(older.files) + 1  # each commit added exactly one file
    expected = {"base.txt"} | {f"w{w}/c{i}.txt" for w in range(PROCESSES) for i in range(COMMITS_EACH)}
    assert set(ds.files()) == expected
    assert ds.read_file("w3/c2.txt") == b"3:2"


def test_concurrent_pushes_on_a_stale_parent_exactly_one_wins(concurrent_spec: StoreSpec) -> None:
    """Writers all pinned to the same parent: one lands, the rest get DatasetHeadOutOfDateError."""
    store = concurrent_spec.open(retry=RetryPolicy(max_attempts=5))
    ds = store.create_dataset("pinned")
    base = ds.commit({"base.txt": b"base"}, "base")
    writers = 6
    barrier = threading.Barrier(writers)
    outcomes: list[object] = [None] * writers

    def push(i: int) -> None:
        handle = concurrent_spec.open().get_dataset("pinned")
        barrier.wait()
        try:
            outcomes[i] = handle.commit({f"t{i}.txt": b"x"}, f"writer {i}", parent_version_id=base.version_id)
        except DatasetHeadOutOfDateError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=push, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winners = [o for o in outcomes if not isinstance(o, DatasetHeadOutOfDateError)]
    assert len(winners) == 1, outcomes
    assert winners[0].parent == base.version_id  # type: ignore[union-attr]
    assert ds.head() == winners[0].version_id  # type: ignore[union-attr]
    assert len(ds.list_versions()) == 2


THREADS = 16


def test_sixteen_writers_half_of_them_pinned_lose_no_commit(concurrent_spec: StoreSpec) -> None:
    """16 threads, each with its own store handle, 2 commits each; pinned writers re-read HEAD when beaten."""
    store = concurrent_spec.open()
    ds = store.create_dataset("sixteen")
    base = ds.commit({"base.txt": b"base"}, "base")
    barrier = threading.Barrier(THREADS)
    landed: list[tuple[int, str, str | None]] = []
    lock = threading.Lock()

    def write(worker: int) -> None:
        handle = concurrent_spec.open(retry=RetryPolicy(max_attempts=200, base_delay=0.005, max_delay=0.25))
        mine = handle.get_dataset("sixteen")
        barrier.wait()
        for i in range(2):
            while True:
                parent = mine.head() if worker % 2 == 0 else None
                try:
                    result = mine.commit({f"w{worker}/c{i}.txt": b"x"}, f"{worker}/{i}", parent_version_id=parent)
                    break
                except DatasetHeadOutOfDateError:
                    continue
            with lock:
                landed.append((worker, result.version_id, result.parent))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    history = ds.list_versions()
    assert len(landed) == THREADS * 2 and len(history) == THREADS * 2 + 1
    assert {v for _, v, _ in landed} | {base.version_id} == {v.version_id for v in history}
    parents = {v.version_id: v.parent for v in history}
    assert all(parents[v] == p for _, v, p in landed)
    assert set(ds.files()) == {"base.txt"} | {f"w{w}/c{i}.txt" for w in range(THREADS) for i in range(2)}
