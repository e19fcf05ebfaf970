"""A curator's window grid as Dagster partitions: one partition per window, keyed by the window's key.

The grid itself (:class:`~curation_pipeline.windows.WindowGrid`) is plain
arithmetic; this module only says how Dagster sees it:

* grids that fit a cron (minutes dividing an hour, hours dividing a day, one
  day, one week) are a :class:`dagster.TimeWindowPartitionsDefinition`, whose
  keys Dagster writes in the grid's own key formats;
* any other grid (90 minutes, 3 days...) is a
  :class:`dagster.DynamicPartitionsDefinition` named ``<curator>_windows``; a
  sensor registers each window once it closes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property

import dagster as dg

from curation_pipeline.names import name_key
from curation_pipeline.windows import WindowGrid, window_grid


@dataclass(frozen=True)
class CuratorPartitions(WindowGrid):
    """The window grid of one curator and the Dagster partitions that name it.

    Args:
        dynamic_name: name of the dynamic partitions set, used when the grid fits no cron.
    """

    dynamic_name: str

    @property
    def is_dynamic(self) -> bool:
        """True when windows are registered as dynamic partitions."""
        return self.cron is None

    @cached_property
    def partitions_def(self) -> dg.PartitionsDefinition:
        """The Dagster partitions of this grid (built once per instance)."""
        cron = self.cron
        if cron is None:
            return dg.DynamicPartitionsDefinition(name=self.dynamic_name)
        return dg.TimeWindowPartitionsDefinition(
            start=self.anchor, fmt=self.key_format, cron_schedule=cron, timezone="UTC"
        )


def curator_partitions(*, start_on: dt.datetime | None, interval: dt.timedelta, name: str) -> CuratorPartitions:
    """The window grid of a curator (see :func:`~curation_pipeline.windows.window_grid`) as partitions.

    Args:
        name: the curator's name, used to name dynamic partitions.

    Raises:
        WindowGridError: ``interval`` is not a positive whole number of minutes.
    """
    grid = window_grid(start_on=start_on, interval=interval)
    return CuratorPartitions(anchor=grid.anchor, interval=grid.interval, dynamic_name=f"{python_name(name)}_windows")


def python_name(name: str) -> str:
    """``name``'s key (:func:`~curation_pipeline.names.name_key`) as a Dagster job/op/group name (no ``-`` there)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name_key(name))
