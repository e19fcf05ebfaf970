"""Values by key made once at a time: one make per key under contention, keys in parallel, failures retried.

Concurrency is shown with events and barriers, never with sleeps: a caller
is known to be waiting once it has looked the key up (the store counts
lookups), and two makes are known to overlap when both reach one barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from curation_pipeline.selection.keyed import KeepAll, KeyedOnce, LeastRecentlyUsed

CALLERS = 8
TIMEOUT = 10.0  # seconds: only a deadlock or a serialised make reaches it


class _CountedLookups(KeepAll[str, object]):
    """Everything kept; announces each lookup, so a test knows when callers have missed and wait."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.changed = threading.Condition()

    def find(self, key: str) -> object | None:
        with self.changed:
            self.lookups += 1
            self.changed.notify_all()
        return super().find(key)

    def await_lookups(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.lookups >= count, TIMEOUT), f"{self.lookups} lookups"


def _in_threads(calls: list[Callable[[], object]]) -> tuple[list[threading.Thread], list[object]]:
    """Start each call in a thread of its own; what each returns or raises lands in its slot of the list."""
    outcomes: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except Exception as error:  # the test inspects it
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    return threads, outcomes


def _joined(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "a caller never returned"


def test_callers_missing_one_key_together_share_one_make() -> None:
    held = _CountedLookups()
    once: KeyedOnce[str, object] = KeyedOnce(held)
    made: list[object] = []
    started, release = threading.Event(), threading.Event()

    def make() -> object:
        started.set()
        assert release.wait(TIMEOUT)
        made.append(object())
        return made[-1]

    threads, outcomes = _in_threads([lambda: once.get("file", make)] * CALLERS)
    assert started.wait(TIMEOUT)
    held.await_lookups(CALLERS)  # every caller has missed while the one make is still running
    release.set()
    _joined(threads)
    assert len(made) == 1
    assert all(outcome is made[0] for outcome in outcomes)
    assert once.get("file", make) is made[0] and len(made) == 1  # kept: no second make


def test_different_keys_are_made_at_the_same_time() -> None:
    once: KeyedOnce[str, str] = KeyedOnce(KeepAll())
    both = threading.Barrier(2, timeout=TIMEOUT)  # broken unless the two makes overlap

    def make(key: str) -> str:
        both.wait()
        return key.upper()

    calls = [lambda key=key: once.get(key, lambda: make(key)) for key in ("a", "b")]
    threads, outcomes = _in_threads(calls)
    _joined(threads)
    assert outcomes == ["A", "B"]


def test_a_failed_make_leaves_the_key_to_be_made_again() -> None:
    once: KeyedOnce[str, str] = KeyedOnce(KeepAll())
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("the store did not answer")
        return "opened"

    with pytest.raises(OSError, match="did not answer"):
        once.get("file", flaky)
    # In a thread: a key left poisoned would hang its next caller, not fail it.
    threads, outcomes = _in_threads([lambda: once.get("file", flaky)])
    _joined(threads)
    assert outcomes == ["opened"]
    assert once.get("file", flaky) == "opened" and len(attempts) == 2


def test_a_caller_waiting_on_a_failed_make_makes_the_key_itself() -> None:
    held = _CountedLookups()
    once: KeyedOnce[str, str] = KeyedOnce(held)
    started, release = threading.Event(), threading.Event()
    attempts: list[int] = []

    def make() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            started.set()
            assert release.wait(TIMEOUT)
            raise OSError("the store did not answer")
        return "opened"

    first, first_outcome = _in_threads([lambda: once.get("file", make)])
    assert started.wait(TIMEOUT)
    second, second_outcome = _in_threads([lambda: once.get("file", make)])
    held.await_lookups(2)  # the second caller has missed and waits on the first's make
    release.set()
    _joined(first + second)
    assert isinstance(first_outcome[0], OSError)
    assert second_outcome == ["opened"] and len(attempts) == 2


def test_least_recently_used_values_leave_past_the_budget() -> None:
    held: LeastRecentlyUsed[str, str] = LeastRecentlyUsed(10, weigh=len)
    once: KeyedOnce[str, str] = KeyedOnce(held)
    for key in ("a", "b"):
        once.get(key, lambda key=key: key * 4)  # weight 4 each: 8 of 10
    assert once.get("a", lambda: "remade") == "aaaa"  # "a" used last now
    once.get("c", lambda: "cccc")  # 12 > 10: the least recently used ("b") leaves
    assert (len(held), held.weight()) == (2, 8)
    assert held.find("b") is None and held.find("a") == "aaaa"
    once.get("d", lambda: "d" * 30)  # heavier than the budget alone: kept, everything else out
    assert (len(held), held.weight()) == (1, 30)
    assert once.get("d", lambda: "remade") == "d" * 30
    assert once.get("b", lambda: "bb") == "bb"  # made again once gone; the heavy one leaves
    assert (len(held), held.weight()) == (1, 2)
