"""One parallel map for the whole project: bounded, in input order, cancellable.

:func:`ordered_map` is ``map(fn, items)`` on threads. The selection engine
scans row groups with it, the dataset store hashes and transfers files with
it, the stream lists folders and reads footers with it: work that spends its
time in pyarrow, hashlib or the network, all of which release the GIL.

What every caller gets:

* **Input order.** Results come back in the order of ``items``, in the
  calling thread, one at a time, so what the caller does with them
  (progress reports, counters) needs no locking and does not depend on
  thread timing.
* **Bounded work in flight.** At most ``in_flight`` tasks (``2 *
  max_workers`` unless told) are submitted and not yet handed back, done or
  not: memory stays bounded however many items there are, and ``items`` is
  consumed lazily.
* **Cancellation.** When a task fails, the tasks not started are dropped,
  the :class:`CancelToken` is cancelled so that running tasks holding it
  stop at their next :meth:`CancelToken.check`, they are awaited, and the
  first error propagates. Stopping early (``break``, an error in the
  caller's loop, :meth:`OrderedMap.close`, leaving its ``with`` block) does
  the same; so does the caller cancelling the token, which then raises
  :class:`Cancelled`. When the map is closed, none of its tasks is running.
* **Nested calls.** A map called from inside a worker of any map runs
  inline, in that worker. A worker waiting on the pool it belongs to could
  deadlock once every worker waits; with per-call pools it would multiply
  threads (workers times workers) on a small machine.
* **Pools.** Either a pool per call (``max_workers=n``; its threads are
  gone when the map is closed) or a :class:`Pool` kept for the life of the
  process and shared by many maps, for callers whose maps are too short to
  repay starting threads each time (the selection engine's piece scans).

Why hand-written on :mod:`concurrent.futures` rather than a library:
joblib's threading backend (its ``pre_dispatch`` bounds the work in flight,
``return_as="generator"`` keeps order), pebble and bounded-pool-executor
were considered. None lets a task that is already running learn that its
batch is being abandoned (the store's downloads and hashes stop between
chunks through the token); bounded-pool-executor only bounds submission;
and joblib sets a backend up on every call, a cost the selection engine's
shortest maps (a footer count per row group) would feel, for what the
standard executor plus a short ordering window gives here without a new
dependency.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import Generic, TypeVar

from curation_pipeline.errors import CurationError

T = TypeVar("T")
R = TypeVar("R")

_WORKER = threading.local()


class Cancelled(CurationError):
    """Raised inside a task told to stop (another task failed, or the caller cancelled the map)."""


class CancelToken:
    """Lets running tasks notice that the map they belong to is being abandoned."""

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
        """Raise :class:`Cancelled` if the map is being abandoned."""
        if self._event.is_set():
            raise Cancelled("stopped because another task failed or the work was cancelled")


def check_max_workers(max_workers: int) -> int:
    """Validate a ``max_workers`` setting (an int >= 1) and return it."""
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ValueError(f"max_workers must be an integer >= 1, got {max_workers!r}")
    return max_workers


def in_worker() -> bool:
    """True in a worker thread of a map: a map called here runs inline."""
    return getattr(_WORKER, "active", False)


def _mark_worker() -> None:
    _WORKER.active = True


class Pool:
    """Threads kept for the life of the process and shared by every map given this pool.

    The threads start on first use. Maps sharing a pool each keep their own
    bound on work in flight; the pool bounds how many tasks run at once.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self.max_workers = check_max_workers(max_workers)
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ThreadPoolExecutor:
        """The pool's executor, started on first call."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_workers, thread_name_prefix=self.name, initializer=_mark_worker
                )
            return self._executor


class OrderedMap(Generic[R], Iterator[R]):
    """The results of :func:`ordered_map`: an iterator, and a context manager that closes it."""

    def __init__(self, results: Generator[R, None, None]) -> None:
        self._results = results

    def __iter__(self) -> OrderedMap[R]:
        return self

    def __next__(self) -> R:
        return next(self._results)

    def close(self) -> None:
        """Stop: drop tasks not started, cancel the token, wait for the running ones."""
        self._results.close()

    def __enter__(self) -> OrderedMap[R]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    max_workers: int | None = None,
    pool: Pool | None = None,
    in_flight: int | None = None,
    token: CancelToken | None = None,
    name: str = "parallel",
) -> OrderedMap[R]:
    """``map(fn, items)`` on threads: results in input order, a bounded number in flight.

    Args:
        fn: the task, called once per item in a worker thread.
        items: consumed lazily, at most ``in_flight`` ahead of the results handed back.
        max_workers: threads of a pool started for this call and gone when it
            is closed (give this or ``pool``).
        pool: a shared :class:`Pool` to run on instead.
        in_flight: tasks submitted and not yet handed back, at most
            (default ``2 * max_workers``, or twice the pool's size).
        token: cancelled when the map stops early; give it to the tasks
            (``fn`` closing over it) so running ones can stop between steps.
            Cancelling it yourself stops the map with :class:`Cancelled`.
            One token per map: once cancelled it stays so.
        name: thread name prefix of a per-call pool.

    One item, one worker, or a call from inside a worker of a map: the
    tasks run inline, in the calling thread. Use the result as an
    iterator, or as ``with ordered_map(...) as results:`` to be sure it is
    closed (no task running) when the block is left. Work starts at the
    first ``next``.
    """
    if pool is not None and max_workers is None:
        workers = pool.max_workers
    elif pool is None and max_workers is not None:
        workers = check_max_workers(max_workers)
    else:
        raise TypeError("give exactly one of max_workers and pool")
    if in_flight is None:
        in_flight = 2 * workers
    elif isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1:
        raise ValueError(f"in_flight must be an integer >= 1, got {in_flight!r}")
    return OrderedMap(_results(fn, iter(items), workers, pool, in_flight, token or CancelToken(), name))


def _results(
    fn: Callable[[T], R],
    items: Iterator[T],
    workers: int,
    pool: Pool | None,
    in_flight: int,
    token: CancelToken,
    name: str,
) -> Generator[R, None, None]:
    first = list(itertools.islice(items, 2))
    items = itertools.chain(first, items)
    if len(first) <= 1 or workers <= 1 or in_worker():
        # One item: threads would cost more than they save. In a worker: see "Nested calls" above.
        for item in items:
            token.check()
            yield fn(item)
        return
    executor = pool.executor() if pool is not None else None
    owned = executor is None
    if executor is None:
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name, initializer=_mark_worker)
    failures: list[BaseException] = []  # the first task error comes first (list.append is atomic)

    def task(item: T) -> R:
        if token.cancelled:
            raise Cancelled("dropped: the map is stopping")
        try:
            return fn(item)
        except BaseException as error:
            # Recorded before the token is cancelled, so that a task stopping with
            # Cancelled is never taken for the error that stopped it.
            failures.append(error)
            token.cancel()
            raise

    window: deque[Future[R]] = deque()
    try:
        for item in items:
            while len(window) >= in_flight:
                yield _oldest(window, failures, token)
            _stop_if_told(failures, token)
            window.append(executor.submit(task, item))
        while window:
            yield _oldest(window, failures, token)
    finally:
        if window:  # stopped early: drop what has not started, stop what runs, wait for it
            token.cancel()
            for future in window:
                future.cancel()
            wait(window)
        if owned:
            executor.shutdown(wait=True)


def _oldest(window: deque[Future[R]], failures: list[BaseException], token: CancelToken) -> R:
    """The oldest task's result, taken out of the window, unless the map must stop.

    Waiting for the oldest task alone is enough: a failing task cancels the
    token at once, so running tasks that check it stop, queued ones are
    dropped, and the oldest ends soon after.
    """
    head = window[0]
    error = head.exception()  # waits for it
    if error is not None:
        raise failures[0] if failures else error  # a Cancelled that stopped it is not the error
    _stop_if_told(failures, token)
    window.popleft()
    return head.result()


def _stop_if_told(failures: list[BaseException], token: CancelToken) -> None:
    """Raise the first task error if there was one, else :class:`Cancelled` if the token was cancelled."""
    if failures:
        raise failures[0]
    token.check()
