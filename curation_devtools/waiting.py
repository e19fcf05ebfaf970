"""Polling with a deadline: the one way the tools wait for a server, a run or a process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from curation_devtools.errors import DagsterDevError

T = TypeVar("T")


def wait_until(condition: Callable[[], bool], timeout: float, interval: float) -> bool:
    """Call ``condition`` every ``interval`` seconds until it holds; False once ``timeout`` has passed.

    ``condition`` is always called at least once, and once more after the deadline
    has passed, so a slow call near the deadline still counts.
    """
    deadline = time.monotonic() + timeout
    while True:
        past_deadline = time.monotonic() > deadline
        if condition():
            return True
        if past_deadline:
            return False
        time.sleep(interval)


def poll(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    interval: float,
    describe_timeout: Callable[[T], str],
) -> T:
    """Fetch a value every ``interval`` seconds until ``done(value)``; return that value.

    Raises:
        DagsterDevError: ``timeout`` seconds passed first; the message is
            ``describe_timeout`` of the last value fetched.
    """
    last: list[T] = []

    def finished() -> bool:
        last[:] = [fetch()]
        return done(last[0])

    if not wait_until(finished, timeout, interval):
        raise DagsterDevError(describe_timeout(last[0]))
    return last[0]
