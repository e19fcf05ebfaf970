"""A curator's intervals as Dagster partitions: one partition per window ``[start, end)`` in UTC.

Windows lie on a grid anchored at the curator's ``start_on`` (truncated to the
minute; :data:`DEFAULT_START_ON` when the curator gives none), one every
``curation_interval``.

* Intervals that fit a cron grid -- minutes dividing an hour, hours dividing a
  day, one day, one week -- use :class:`dagster.TimeWindowPartitionsDefinition`
  with Dagster's own key formats: ``2026-01-02`` for daily and weekly windows,
  ``2026-01-02-13:00`` for shorter ones.
* Any other interval (90 minutes, 3 days...) uses a
  :class:`dagster.DynamicPartitionsDefinition` whose keys are window starts
  written the same way (``2026-01-02-13:30``, or ``2026-01-02`` when every
  window starts at midnight); a sensor registers each window once it closes.

Either way :meth:`CuratorPartitions.window` turns a key back into its window.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import cached_property

import dagster as dg

UTC = dt.timezone.utc
#: The anchor of a curator without ``start_on``: fixed, so partitions do not move between loads.
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
class CuratorPartitions:
    """The window grid of one curator and the Dagster partitions that name it.

    Args:
        anchor: start of the first window (UTC, whole minutes).
        interval: length of a window (whole minutes, positive).
        dynamic_name: name of the dynamic partitions set, used when the grid fits no cron.
    """

    anchor: dt.datetime
    interval: dt.timedelta
    dynamic_name: str

    @property
    def cron(self) -> str | None:
        """The cron of the window starts when the grid fits one, else None (dynamic partitions)."""
        return _grid_cron(self.anchor, self.interval)

    @property
    def is_dynamic(self) -> bool:
        """True when windows are registered as dynamic partitions."""
        return self.cron is None

    @property
    def key_format(self) -> str:
        """``strftime`` format of partition keys."""
        if self.interval % _DAY == dt.timedelta(0) and self.anchor.time() == dt.time(0):
            return DAY_FORMAT
        if self.interval in (_DAY, _WEEK):  # Dagster writes daily/weekly keys as dates, offsets or not
            return DAY_FORMAT
        return MINUTE_FORMAT

    @cached_property
    def partitions_def(self) -> dg.PartitionsDefinition:
        """The Dagster partitions of this grid (built once per instance)."""
        cron = self.cron
        if cron is None:
            return dg.DynamicPartitionsDefinition(name=self.dynamic_name)
        return dg.TimeWindowPartitionsDefinition(
            start=self.anchor, fmt=self.key_format, cron_schedule=cron, timezone="UTC"
        )

    def key(self, window: Window) -> str:
        """The partition key of ``window``."""
        return window.start.strftime(self.key_format)

    def window(self, key: str) -> Window:
        """The window a partition key names.

        Raises:
            ValueError: ``key`` is not a window of this grid.
        """
        try:
            start = dt.datetime.strptime(key, self.key_format).replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"not a partition key of this curator: {key!r} (expected {self.key_format})") from None
        if self.key_format == DAY_FORMAT:  # a date names the window starting that day (at the anchor's time)
            start += self.anchor - self.anchor.replace(hour=0, minute=0)
        window = self.window_containing(start)
        if window is None or window.start != start:
            raise ValueError(f"{key!r} is not the start of a window (every {self.interval} from {self.anchor})")
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


def curator_partitions(*, start_on: dt.datetime | None, interval: dt.timedelta, name: str) -> CuratorPartitions:
    """The window grid of a curator.

    Args:
        start_on: the curator's ``start_on``; None means :data:`DEFAULT_START_ON`.
            Seconds are dropped: windows start on whole minutes.
        interval: the curator's ``curation_interval`` (whole minutes).
        name: the curator's name, used to name dynamic partitions.

    Raises:
        ValueError: ``interval`` is not a positive whole number of minutes.
    """
    if interval < _MINUTE or interval % _MINUTE:
        raise ValueError(f"a curation interval must be a positive whole number of minutes, got {interval}")
    anchor = (start_on or DEFAULT_START_ON).astimezone(UTC).replace(second=0, microsecond=0)
    return CuratorPartitions(anchor=anchor, interval=interval, dynamic_name=f"{python_name(name)}_windows")


def python_name(name: str) -> str:
    """``name`` as a Dagster job/op/group name (``-`` is not allowed there)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def file_safe_key(partition_key: str) -> str:
    """A partition key usable in file names on every system (``13:30`` -> ``1330``)."""
    return partition_key.replace(":", "")


def _grid_cron(anchor: dt.datetime, interval: dt.timedelta) -> str | None:
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
