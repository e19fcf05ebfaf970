"""The one parallel map: input order, bounded work in flight, cancellation, nested calls."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from curation_pipeline import parallel
from curation_pipeline.errors import CurationError
from curation_pipeline.parallel import Cancelled, CancelToken, Pool, ordered_map

NAME = "maptest"  # threads of pools per call: gone when their map is closed
SHARED = "sharedtest"  # threads of shared pools: kept while the pool lives


def _map_threads(name: str = NAME) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(name)]


def _finishes(fn, seconds: float = 10.0):  # type: ignore[no-untyped-def]
    """Run ``fn`` in a thread; its result, or a failure if it has not returned in ``seconds`` (a deadlock)."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the map did not return: deadlock"
    return box[0]


# -- moved from the store's tests (the store's transfers run on this map) ---------------------


def test_run_raises_the_first_error_and_stops_the_rest() -> None:
    finished: list[int] = []
    stopped: list[int] = []
    token = CancelToken()

    def task(i: int) -> int:
        if i == 3:
            raise KeyError(i)
        for _ in range(50):
            time.sleep(0.002)
            if token.cancelled:
                stopped.append(i)
                token.check()
        finished.append(i)
        return i

    with pytest.raises(KeyError), ordered_map(task, range(40), max_workers=4, token=token, name=NAME) as results:
        list(results)
    assert not _map_threads()
    assert len(finished) + len(stopped) < 40  # queued tasks were dropped


def test_run_leaving_early_waits_for_running_tasks() -> None:
    running = threading.Event()
    ended: list[int] = []

    def task(i: int) -> int:
        running.set()
        time.sleep(0.05)
        ended.append(i)
        return i

    def consume() -> Iterator[int]:
        with ordered_map(task, range(10), max_workers=3, name=NAME) as results:
            for i in results:
                yield i
                raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError):
        list(consume())
    assert running.is_set() and not _map_threads()
    assert len(ended) <= 6  # no task started after the consumer failed beyond those queued


# -- order ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [False, True])
def test_results_come_in_input_order_whatever_the_timing(shared: bool) -> None:
    delays = [random.Random(i).uniform(0, 0.01) for i in range(60)]

    def task(i: int) -> int:
        time.sleep(delays[i])
        return i * i

    where = {"pool": Pool(4, SHARED)} if shared else {"max_workers": 4, "name": NAME}
    assert list(ordered_map(task, range(60), **where)) == [i * i for i in range(60)]  # type: ignore[arg-type]


def test_one_item_or_one_worker_runs_inline() -> None:
    caller = threading.current_thread()
    assert list(ordered_map(lambda i: threading.current_thread(), [0], max_workers=4)) == [caller]
    assert set(ordered_map(lambda i: threading.current_thread(), range(5), max_workers=1)) == {caller}
    assert list(ordered_map(lambda i: i, [], max_workers=4)) == []


# -- bounded work in flight ---------------------------------------------------------------------


@pytest.mark.parametrize("shared", [False, True])
def test_work_in_flight_stays_bounded(shared: bool) -> None:
    workers = 3
    pulled = 0
    running = peak_running = 0
    lock = threading.Lock()

    def items() -> Iterator[int]:
        nonlocal pulled
        for i in range(200):
            pulled += 1
            yield i

    def task(i: int) -> int:
        nonlocal running, peak_running
        with lock:
            running += 1
            peak_running = max(peak_running, running)
        time.sleep(0.001)
        with lock:
            running -= 1
        return i

    where = {"pool": Pool(workers, SHARED)} if shared else {"max_workers": workers, "name": NAME}
    ahead = []
    for handed, result in enumerate(ordered_map(task, items(), **where), start=1):  # type: ignore[arg-type]
        assert result == handed - 1
        ahead.append(pulled - handed)  # items taken from the input and not yet handed back
        if handed % 10 == 0:
            time.sleep(0.01)  # a slow consumer: finished results must not pile up
    assert max(ahead) <= 2 * workers
    assert peak_running <= workers


def test_in_flight_can_be_set() -> None:
    pulled = 0

    def items() -> Iterator[int]:
        nonlocal pulled
        for i in range(50):
            pulled += 1
            yield i

    for handed, _ in enumerate(ordered_map(lambda i: i, items(), max_workers=4, in_flight=5), start=1):
        assert pulled - handed <= 5


def test_nothing_runs_before_the_first_result_is_asked_for() -> None:
    started: list[int] = []
    results = ordered_map(started.append, range(10), max_workers=2, name=NAME)
    time.sleep(0.02)
    assert started == []
    results.close()
    assert started == [] and not _map_threads()


# -- cancellation ---------------------------------------------------------------------------------


def test_first_error_stops_slow_earlier_tasks_and_drops_the_queued_ones() -> None:
    token = CancelToken()
    started: list[int] = []
    stopped: list[int] = []

    def task(i: int) -> int:
        started.append(i)
        if i == 2:
            raise ValueError("boom")
        for _ in range(1000):  # ten seconds unless told to stop
            if token.cancelled:
                stopped.append(i)
                token.check()
            time.sleep(0.01)
        return i

    begun = time.monotonic()
    with pytest.raises(ValueError, match="boom"):
        list(ordered_map(task, range(100), max_workers=4, token=token, name=NAME))
    assert time.monotonic() - begun < 5  # item 0 was still running: told to stop, it did not run on
    assert token.cancelled and 0 in stopped
    assert len(started) <= 8  # never more than the window was submitted
    assert not _map_threads()


def test_a_task_stopping_with_cancelled_never_hides_the_error_that_stopped_it() -> None:
    token = CancelToken()
    failing = threading.Event()

    def task(i: int) -> int:
        if i == 5:
            failing.set()
            raise KeyError("the real error")
        failing.wait(5)
        time.sleep(0.01)
        token.check()  # every other task stops with Cancelled
        return i

    with pytest.raises(KeyError, match="the real error"):
        list(ordered_map(task, range(8), max_workers=8, token=token, name=NAME))


def test_a_task_error_keeps_its_cause() -> None:
    def task(i: int) -> int:
        if i == 4:
            try:
                raise OSError("connection reset")
            except OSError as error:
                raise LookupError("cannot read part 4") from error
        return i

    with pytest.raises(LookupError) as raised:
        list(ordered_map(task, range(10), max_workers=3, name=NAME))
    assert isinstance(raised.value.__cause__, OSError)


def test_the_caller_can_cancel() -> None:
    token = CancelToken()
    started: list[int] = []

    def task(i: int) -> int:
        started.append(i)
        return i

    seen = []
    with pytest.raises(Cancelled):
        for result in ordered_map(task, range(100), max_workers=2, token=token, name=NAME):
            seen.append(result)
            if result == 3:
                token.cancel()
    assert seen == [0, 1, 2, 3]
    assert len(started) <= 4 + 2 * 2
    assert not _map_threads()


def test_a_shared_pool_waits_for_its_running_tasks_on_error() -> None:
    pool = Pool(3, SHARED)
    running: set[int] = set()
    lock = threading.Lock()

    def task(i: int) -> int:
        with lock:
            running.add(i)
        try:
            if i == 1:
                raise OSError("disk")
            time.sleep(0.05)
            return i
        finally:
            with lock:
                running.discard(i)

    with pytest.raises(OSError):
        list(ordered_map(task, range(20), pool=pool))
    assert running == set()  # none of the map's tasks outlives it
    assert list(ordered_map(lambda i: i + 1, range(5), pool=pool)) == [1, 2, 3, 4, 5]  # the pool still works


# -- nested calls ---------------------------------------------------------------------------------


def test_nested_maps_on_a_shared_pool_do_not_deadlock() -> None:
    pool = Pool(2, SHARED)

    def inner(i: int) -> int:
        # From a worker: runs inline, in that worker (waiting on the pool here could take every worker).
        assert parallel.in_worker()
        return sum(ordered_map(lambda j: j * i, range(10), pool=pool))

    def outer() -> list[int]:
        return list(ordered_map(inner, range(8), pool=pool))

    assert _finishes(outer) == [45 * i for i in range(8)]


def test_nested_maps_with_pools_per_call_do_not_deadlock() -> None:
    def inner(i: int) -> list[str]:
        return list(ordered_map(lambda j: threading.current_thread().name, range(4), max_workers=4, name="inner"))

    def outer() -> list[list[str]]:
        return list(ordered_map(inner, range(6), max_workers=2, name=NAME))

    names = _finishes(outer)
    assert len(names) == 6 and all(len(group) == 4 for group in names)
    assert all(len(set(group)) == 1 and group[0].startswith(NAME) for group in names)  # inline in the worker
    assert not _map_threads() and not _map_threads("inner")


# -- settings -------------------------------------------------------------------------------------


def test_settings_are_checked() -> None:
    with pytest.raises(TypeError):
        ordered_map(str, [1, 2])
    with pytest.raises(TypeError):
        ordered_map(str, [1, 2], max_workers=2, pool=Pool(2, SHARED))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_workers"):
            ordered_map(str, [1, 2], max_workers=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_workers"):
            Pool(bad, SHARED)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="in_flight"):
        ordered_map(str, [1, 2], max_workers=2, in_flight=0)
    assert parallel.check_max_workers(3) == 3
    assert issubclass(Cancelled, CurationError)


def test_the_map_is_a_bottom_layer() -> None:
    code = (
        "import sys, curation_pipeline.parallel\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('curation_pipeline.'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(result.stdout.strip().split(",")) <= {"curation_pipeline.errors", "curation_pipeline.parallel"}
