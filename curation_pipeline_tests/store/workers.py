"""Code run in child processes (spawned, so it must be importable)."""

from __future__ import annotations

import os
from typing import Any

from curation_pipeline.store import RetryPolicy
from curation_pipeline.store.capabilities import ensure_conditional_writes

CRASH_EXIT_CODE = 17


def commit_many(spec: Any, dataset: str, worker: int, commits: int, barrier: Any) -> None:
    """Commit ``commits`` versions, each adding one file of this worker's own."""
    # More attempts than the default: 8 processes on a busy 2-core machine fight hard for HEAD.
    store = spec.open(retry=RetryPolicy(max_attempts=100, base_delay=0.005, max_delay=0.25))
    ds = store.get_dataset(dataset)
    barrier.wait()
    for i in range(commits):
        ds.commit({f"w{worker}/c{i}.txt": f"{worker}:{i}".encode()}, f"worker {worker} commit {i}")


def crash_before_head_update(spec: Any, dataset: str) -> None:
    """Upload and write the manifest, then die (os._exit) instead of moving HEAD."""
    store = spec.open()
    ds = store.get_dataset(dataset)
    # The first commit of a process probes the server's conditional writes (with swap_ref): done
    # here, so the process dies at the commit's own HEAD update and not at the probe.
    ensure_conditional_writes(store.backend)

    def die(*_args: Any, **_kwargs: Any) -> None:
        os._exit(CRASH_EXIT_CODE)

    store.backend.swap_ref = die  # type: ignore[method-assign]
    ds.commit({"orphan.txt": b"never visible"}, "dies before HEAD moves")
