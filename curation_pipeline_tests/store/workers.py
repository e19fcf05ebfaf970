"""Code run in child processes (spawned, so it must be importable)."""

from __future__ import annotations

import itertools
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


#: The backend calls that change the store: a commit's steps are its calls of these, in order.
WRITES = ("put_bytes", "put_file", "put_if_absent", "swap_ref")


def commit_and_die_at_write(spec: Any, dataset: str, files: dict[str, bytes], step: int, after: bool) -> None:
    """Commit ``files``, dying (os._exit) at the ``step``-th store write: before it is sent, or just after it landed.

    Dying after a write lands is a lost acknowledgement seen from outside: the
    write is stored, its caller never learns so. With ``step`` past the last
    write the commit completes and the process exits 0.
    """
    store = spec.open()
    ds = store.get_dataset(dataset)
    ensure_conditional_writes(store.backend)  # the once-per-process probe is not a step of the commit
    counter = itertools.count(1)  # next() is atomic: objects are uploaded from several threads at once
    for name in WRITES:
        real = getattr(store.backend, name)

        def write(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            index = next(counter)
            if index == step and not after:
                os._exit(CRASH_EXIT_CODE)
            result = _real(*args, **kwargs)
            if index == step and after:
                os._exit(CRASH_EXIT_CODE)
            return result

        setattr(store.backend, name, write)
    ds.commit(files, "the commit that may die")
