"""Run independent transfers on a bounded pool of threads.

Objects move several at a time (uploads, downloads and local copies spend
most of their time waiting on the network or the disk, and sha256 releases
the GIL), but everything the caller sees stays sequential: results are
handed back in the calling thread, one at a time, so progress callbacks and
counters need no locking. When one task fails, the tasks not started yet are
dropped, the running ones are asked to stop (through :class:`Cancelled`
checks at their chunk boundaries) and awaited, and the first error is raised;
no thread outlives the call.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

#: Concurrent transfers unless the store is opened with another ``max_workers``:
#: enough to keep a network-bound S3 link busy, small enough for a two-core machine.
DEFAULT_MAX_WORKERS = 8

T = TypeVar("T")
R = TypeVar("R")


class Cancelled(Exception):
    """Raised inside a task that was told to stop because another task failed."""


class CancelToken:
    """Lets a running task notice that the batch it belongs to is being abandoned."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask every task holding this token to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the batch is being abandoned."""
        if self._event.is_set():
            raise Cancelled("stopped because another transfer failed")


def check_max_workers(max_workers: int) -> int:
    """Validate a ``max_workers`` setting (an int >= 1) and return it."""
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ValueError(f"max_workers must be an integer >= 1, got {max_workers!r}")
    return max_workers


@contextlib.contextmanager
def run(
    items: Iterable[T],
    task: Callable[[T, CancelToken], R],
    *,
    max_workers: int,
) -> Iterator[Iterator[tuple[T, R]]]:
    """Run ``task(item, token)`` for every item; yields an iterator of ``(item, result)``.

    Use as ``with run(items, task, max_workers=n) as results: for item, result in results: ...``.
    Results come in the order of ``items``, in the calling thread, as soon
    as they and every earlier one are done, so what the caller does with
    them (progress reports included) is the same whatever the timing. At
    most ``max_workers`` tasks run at once and as many more wait in the
    queue; with one worker, or one item, tasks run in the calling thread.
    If a task raises, the tasks not started are dropped, the running ones
    are cancelled through their token and awaited, and that error
    propagates. Leaving the ``with`` block early (an error in the caller's
    loop included) cancels and awaits the same way: when the block is left,
    no task is running.
    """
    results = _results(list(items), task, max_workers)
    try:
        yield results
    finally:
        results.close()


def _results(
    items: list[T], task: Callable[[T, CancelToken], R], max_workers: int
) -> Generator[tuple[T, R], None, None]:
    token = CancelToken()
    if max_workers <= 1 or len(items) <= 1:
        for item in items:
            yield item, task(item, token)
        return
    queue = iter(enumerate(items))
    running: dict[Future[R], int] = {}
    finished: dict[int, R] = {}
    next_out = 0

    with ThreadPoolExecutor(max_workers=min(max_workers, len(items)), thread_name_prefix="store") as pool:

        def top_up() -> None:
            for index, item in itertools.islice(queue, 2 * max_workers - len(running)):
                running[pool.submit(task, item, token)] = index

        try:
            top_up()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                # In item order, so that when several fail at once the error raised
                # does not depend on thread timing.
                for future in sorted(done, key=running.__getitem__):
                    finished[running.pop(future)] = future.result()  # raises the task's error
                top_up()
                while next_out in finished:
                    yield items[next_out], finished.pop(next_out)
                    next_out += 1
        except BaseException:
            token.cancel()
            for future in running:
                future.cancel()
            raise
        # Leaving the ``with`` waits for the tasks still running: no thread outlives the call.
