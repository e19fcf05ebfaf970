"""The window grid of a curator: one window ``[start, end)`` in UTC every ``curation_interval``.

Windows lie on a grid anchored at the curator's ``start_on`` (truncated to the
minute; :data:`DEFAULT_START_ON` when the curator gives none). Each window has
a key, its start written as text: ``2026-01-02`` when windows are whole days
or weeks (:data:`DAY_FORMAT`), ``2026-01-02-13:30`` otherwise
(:data:`MINUTE_FORMAT`). These are the formats Dagster uses for time-window
partitions, so a key is also the window's partition key.

Plain arithmetic, no scheduler: ``WindowGrid.for_curator(curator)`` in a
notebook gives the same windows and keys as the Dagster assets.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from curation_pipeline.windows.errors import WindowGridError

if TYPE_CHECKING:
    from curation_pipeline.curators import Curator

UTC = dt.timezone.utc
#: The origin of the default grid: a curator without ``start_on`` starts at the window of this
#: grid in which it was first deployed (see :mod:`curation_pipeline.windows.starts`); a grid
#: built with no start at all is anchored here.
DEFAULT_START_ON = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAY_FORMAT = "%Y-%m-%d"
MINUTE_FORMAT = "%Y-%m-%d-%H:%M"
_MINUTE = dt.timedelta(minutes=1)
_DAY = dt.timedelta(days=1)
_WEEK = dt.timedelta(weeks=1)


@dataclass(frozen=True)
class Window:
    """One interval ``[start, end)`` of a curator, in UTC."""

    start: dt.datetime
    end: dt.datetime

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class WindowGrid:
    """Windows of length ``interval`` one after the other from ``anchor``, and their keys.

    Build one with :func:`window_grid` (or :meth:`for_curator`), which applies
    the default anchor and drops seconds.

    Args:
        anchor: start of the first window (UTC, whole minutes).
        interval: length of a window (whole minutes, positive).

    Raises:
        WindowGridError: ``interval`` is not a positive whole number of minutes.
    """

    anchor: dt.datetime
    interval: dt.timedelta

    def __post_init__(self) -> None:
        if self.interval < _MINUTE or self.interval % _MINUTE:
            raise WindowGridError(
                f"a curation interval must be a positive whole number of minutes, got {self.interval}"
            )

    @classmethod
    def for_curator(cls, curator: Curator) -> WindowGrid:
        """The grid of ``curator``'s ``start_on`` and ``curation_interval``."""
        return window_grid(start_on=curator.start_on, interval=curator.curation_interval)

    @property
    def cron(self) -> str | None:
        """A cron firing at every window start, or None when no cron can express the grid (e.g. 90 minutes)."""
        return grid_cron(self.anchor, self.interval)

    @property
    def key_format(self) -> str:
        """``strftime`` format of window keys."""
        if self.interval % _DAY == dt.timedelta(0) and self.anchor.time() == dt.time(0):
            return DAY_FORMAT
        if self.interval in (_DAY, _WEEK):  # Dagster writes daily/weekly keys as dates, offsets or not
            return DAY_FORMAT
        return MINUTE_FORMAT

    def key(self, window: Window) -> str:
        """The key of ``window``."""
        return window.start.strftime(self.key_format)

    def window(self, key: str) -> Window:
        """The window a key names.

        Raises:
            WindowGridError: ``key`` is not a window of this grid.
        """
        try:
            start = dt.datetime.strptime(key, self.key_format).replace(tzinfo=UTC)
        except ValueError:
            raise WindowGridError(
                f"not a partition key of this curator: {key!r} (expected {self.key_format})"
            ) from None
        if self.key_format == DAY_FORMAT:  # a date names the window starting that day (at the anchor's time)
            start += self.anchor - self.anchor.replace(hour=0, minute=0)
        window = self.window_containing(start)
        if window is None or window.start != start:
            raise WindowGridError(f"{key!r} is not the start of a window (every {self.interval} from {self.anchor})")
        return window

    def window_containing(self, moment: dt.datetime) -> Window | None:
        """The window holding ``moment``, None before the first window."""
        if moment < self.anchor:
            return None
        index = (moment - self.anchor) // self.interval
        start = self.anchor + index * self.interval
        return Window(start, start + self.interval)

    def closed_windows(self, until: dt.datetime, *, since: dt.datetime | None = None) -> list[Window]:
        """Windows with ``end <= until`` (and ``start >= since`` when given), oldest first."""
        first = self.anchor if since is None or since <= self.anchor else self.anchor + math.ceil(
            (since - self.anchor) / self.interval
        ) * self.interval
        count = (until - first) // self.interval if until >= first else 0
        return [Window(first + i * self.interval, first + (i + 1) * self.interval) for i in range(max(count, 0))]

    def last_closed_window(self, until: dt.datetime) -> Window | None:
        """The newest window with ``end <= until``, None when none has closed."""
        if until < self.anchor + self.interval:
            return None
        count = (until - self.anchor) // self.interval
        return Window(self.anchor + (count - 1) * self.interval, self.anchor + count * self.interval)


def window_grid(*, start_on: dt.datetime | None, interval: dt.timedelta) -> WindowGrid:
    """The window grid of a curator.

    Args:
        start_on: the curator's ``start_on``; None means :data:`DEFAULT_START_ON`.
            Seconds are dropped: windows start on whole minutes.
        interval: the curator's ``curation_interval`` (whole minutes).

    Raises:
        WindowGridError: ``interval`` is not a positive whole number of minutes.
    """
    anchor = (start_on or DEFAULT_START_ON).astimezone(UTC).replace(second=0, microsecond=0)
    return WindowGrid(anchor=anchor, interval=interval)


def file_safe_key(key: str) -> str:
    """A window key usable in file names on every system (``13:30`` -> ``1330``)."""
    return key.replace(":", "")


def grid_cron(anchor: dt.datetime, interval: dt.timedelta) -> str | None:
    """The cron of the window starts ``anchor + k * interval``, None when no cron fires exactly there."""
    minutes = interval // _MINUTE
    if interval == _WEEK:
        return f"{anchor.minute} {anchor.hour} * * {(anchor.weekday() + 1) % 7}"
    if minutes == 1:
        return "* * * * *"
    if minutes < 60 and 60 % minutes == 0:
        return f"{anchor.minute % minutes}-59/{minutes} * * * *"
    if minutes % 60 or 1440 % minutes:
        return None
    hours = minutes // 60
    if hours == 1:
        return f"{anchor.minute} * * * *"
    if hours == 24:
        return f"{anchor.minute} {anchor.hour} * * *"
    return f"{anchor.minute} {anchor.hour % hours}-23/{hours} * * *"
