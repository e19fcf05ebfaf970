"""The current time, in one place: every layer that asks "what time is it" takes a :data:`Clock`.

Tests and callers pin time by passing their own clock; the default reads the
system clock in UTC, at call time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: A function returning the current moment as a timezone-aware UTC datetime.
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The current time, in UTC."""
    return dt.datetime.now(dt.timezone.utc)
