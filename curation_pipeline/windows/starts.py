"""Where a curator's windows start: its ``start_on``, else the window in which it was first deployed.

Gantry starts a curator without ``start_on`` "now". Here "now" is pinned the
first time the curator's definitions are built: the start of the window
holding that moment is recorded in the store
(``curators/<curator>/start.json``, see :mod:`curation_pipeline.store.starts`)
and read back on every later load, on any machine, so the partitions never
move. Windows before it are only curated if a user backfills them.

The first window is the window of the default grid (windows of
``curation_interval`` counted from :data:`~curation_pipeline.windows.DEFAULT_START_ON`,
2026-01-01 00:00 UTC) that holds the first-deployment moment: for a daily
curator that day's midnight UTC, for an hourly one that hour.

Nothing here imports Dagster::

    start = resolve_start(curator, DatasetStore.open(url))
    grid = window_grid(start_on=start.start, interval=curator.curation_interval)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from curation_pipeline.clock import Clock, utc_now
from curation_pipeline.store import StoreError
from curation_pipeline.windows.errors import CuratorStartError
from curation_pipeline.windows.grid import DEFAULT_START_ON, UTC, window_grid

if TYPE_CHECKING:
    from curation_pipeline.curators import Curator
    from curation_pipeline.store import DatasetStore

#: Where a start comes from: the curator's own ``start_on``, or its recorded first deployment.
START_ON = "start_on"
FIRST_DEPLOYED = "first deployed"
#: Shown for a curator without ``start_on`` whose start is not recorded yet.
NOT_YET_DEPLOYED = "not yet deployed"



@dataclass(frozen=True)
class CuratorStart:
    """The start of a curator's first window and where it comes from.

    Attributes:
        start: the start of the first window (UTC, whole minutes).
        source: :data:`START_ON` or :data:`FIRST_DEPLOYED`.
    """

    start: dt.datetime
    source: str

    def label(self, interval: dt.timedelta) -> str:
        """``2026-11-27 (first deployed)``: the first window's key and the source."""
        grid = window_grid(start_on=self.start, interval=interval)
        return f"{grid.anchor.strftime(grid.key_format)} ({self.source})"


def first_window_start(moment: dt.datetime, interval: dt.timedelta) -> dt.datetime:
    """The start of the window of the default grid holding ``moment``.

    Windows of ``interval`` are counted from :data:`DEFAULT_START_ON`, so a
    daily window starts at midnight UTC and an hourly one on the hour.

    Raises:
        WindowGridError: ``interval`` is not a positive whole number of minutes.
    """
    grid = window_grid(start_on=DEFAULT_START_ON, interval=interval)
    # Floor division also aligns moments before the default anchor.
    return grid.anchor + ((moment.astimezone(UTC) - grid.anchor) // grid.interval) * grid.interval


def resolve_start(curator: Curator, store: DatasetStore, *, clock: Clock = utc_now) -> CuratorStart:
    """The start of ``curator``: its ``start_on``, else its recorded first deployment, recording one if none.

    With no ``start_on`` and no record, the start of the window holding
    ``clock()`` is recorded (create-if-absent: of two concurrent first loads,
    both get the one record that won).

    Args:
        curator: the curator.
        store: the store holding the curator's dataset (and its start record).
        clock: the current time (tests pin it).

    Raises:
        CuratorStartError: the store could not be read or written.
    """
    if curator.start_on is not None:
        return CuratorStart(curator.start_on, START_ON)
    try:
        record = store.curator_start(curator.name)
        if record is None:
            record = store.record_curator_start(
                curator.name, first_window_start(clock(), curator.curation_interval)
            )
    except StoreError as error:
        raise CuratorStartError(
            f"cannot resolve the start of curator {curator.name!r} in {store.url}: {type(error).__name__}: {error}"
        ) from error
    return CuratorStart(record.start, FIRST_DEPLOYED)


def known_start(curator: Curator, store: DatasetStore | None) -> CuratorStart | None:
    """The start of ``curator`` without recording anything: None when it has no ``start_on`` and no record.

    ``store`` may be None when it is not needed (every curator has ``start_on``).

    Raises:
        StoreError: the store could not be read.
    """
    if curator.start_on is not None:
        return CuratorStart(curator.start_on, START_ON)
    if store is None:
        return None
    record = store.curator_start(curator.name)
    return None if record is None else CuratorStart(record.start, FIRST_DEPLOYED)
