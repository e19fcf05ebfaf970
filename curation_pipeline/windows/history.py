"""A deployed curator's grid over time: edits that never curate the same time twice.

The first time a curator's definitions are built, its dataset and grid (the
anchor from :func:`~curation_pipeline.windows.resolve_start` and its
``curation_interval``) are recorded in the store
(:mod:`curation_pipeline.store.grids`), with the start of the window in which
it was first deployed. Later loads compare the curator with the record:

* same interval and anchor: nothing changes;
* a new ``curation_interval`` (or a ``start_on`` off the recorded grid): a new
  grid segment is anchored at the start of the first window of the old grid
  that was not due yet (``end + curation_delay`` after now), or at the new
  ``start_on`` if later. Windows before it stay on the old grid: their files
  are never re-curated on the new one, so no time is covered twice and none is
  skipped; the Dagster partitions are the new segment's windows;
* the same interval with an earlier ``start_on`` on the recorded grid extends
  it back (those windows are new ground, never curated); a later one changes
  nothing (the start is fixed once deployed); an earlier one off the grid is
  refused;
* another ``curated_dataset_name``: refused (:class:`CuratorEditError`)
  unless the move is explicit (:func:`move_curator`).

Nothing here imports Dagster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from curation_pipeline.clock import utc_now
from curation_pipeline.names import check_name
from curation_pipeline.store import CuratorGridRecord, StoreError, WriteConflictError
from curation_pipeline.store.grids import GridSegment
from curation_pipeline.windows.errors import CuratorEditError, CuratorStartError
from curation_pipeline.windows.grid import Window, WindowGrid, window_grid

if TYPE_CHECKING:
    from curation_pipeline.curators import Curator
    from curation_pipeline.store import DatasetStore
    from curation_pipeline.windows.starts import CuratorStart

_MINUTE = dt.timedelta(minutes=1)
_CAS_ATTEMPTS = 5
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class CuratorGrid:
    """The grids a deployed curator has used and what its automation may curate.

    Attributes:
        segments: the grids, oldest first; the last one is in force.
        first_deployed: the start of the window holding the first deployment.
        dataset: the dataset the curator writes.
    """

    segments: tuple[WindowGrid, ...]
    first_deployed: dt.datetime
    dataset: str

    @property
    def current(self) -> WindowGrid:
        """The grid in force: the Dagster partitions are its windows."""
        return self.segments[-1]

    def catch_up_floor(self, curate_past_intervals: bool) -> dt.datetime:
        """The earliest window start automation may curate.

        With ``curate_past_intervals`` the whole current segment; without it
        only windows from the first deployment on (the windows missed while
        the curator was off are after it, so they are still caught up).
        """
        anchor = self.current.anchor
        return anchor if curate_past_intervals else max(anchor, self.first_deployed)

    def old_grid_windows(
        self, *, delay: dt.timedelta, now: dt.datetime, curate_past_intervals: bool
    ) -> list[tuple[str, Window]]:
        """The due windows of the grids no longer in force, with their keys, oldest first.

        They have no Dagster partition (the partitions are the current grid's);
        ``curation curators backfill NAME --old-grid`` curates the missing ones.
        Without ``curate_past_intervals`` the windows before the first deployment are left out.
        """
        floor = self.segments[0].anchor if curate_past_intervals else self.first_deployed
        found = []
        for grid, following in zip(self.segments, self.segments[1:]):
            until = min(following.anchor, now - delay)
            found += [(grid.key(w), w) for w in grid.closed_windows(until, since=max(floor, grid.anchor))]
        return found

    def describe(self) -> list[dict[str, str]]:
        """Each segment as ``{"from": iso, "interval": "1 day, 0:00:00"}``, oldest first."""
        return [{"from": g.anchor.isoformat(), "interval": str(g.interval)} for g in self.segments]


def resolve_grid(
    curator: Curator, store: DatasetStore, start: CuratorStart, *, clock: Clock | None = None
) -> CuratorGrid:
    """The grid history of ``curator``, recording its first deployment or an interval change.

    Args:
        curator: the curator as defined now.
        store: the store holding its records.
        start: its start (``start_on`` or recorded first deployment).
        clock: the current time (tests pin it).

    Raises:
        CuratorEditError: the curator names another dataset than the one it is bound to,
            or a ``start_on`` the recorded history cannot take.
        CuratorStartError: the store could not be read or written.
    """
    now = (clock or utc_now)()
    try:
        for _ in range(_CAS_ATTEMPTS):
            held = store.curator_grid(curator.name)
            record = _first_record(curator, start, now) if held is None else _edited(curator, held[0], start, now)
            if held is not None and record == held[0]:
                return _grid(record)
            try:
                store.write_curator_grid(record, None if held is None else held[1])
            except WriteConflictError:
                continue  # another loader wrote first: judge the edit against its record
            return _grid(record)
    except StoreError as error:
        raise CuratorStartError(
            f"cannot read or record the grid of curator {curator.name!r} in {store.url}: {type(error).__name__}: {error}"
        ) from error
    raise CuratorStartError(f"the grid record of curator {curator.name!r} kept changing; try again")


def known_grid(curator_name: str, store: DatasetStore) -> CuratorGrid | None:
    """The recorded grid history of a curator, None when it was never deployed (records nothing).

    Raises:
        StoreError: the store could not be read.
    """
    held = store.curator_grid(curator_name)
    return None if held is None else _grid(held[0])


def move_curator(curator_name: str, dataset: str, store: DatasetStore) -> None:
    """Bind a deployed curator to another dataset (Gantry's ``create_new_dataset=True``).

    The old dataset keeps every version; the new one starts empty and its
    windows are curated as for a new asset (``curate_past_intervals``).

    Raises:
        InvalidNameError: ``dataset`` breaks the naming rule.
        CuratorEditError: the curator was never deployed.
        WriteConflictError: the record changed meanwhile (try again).
    """
    check_name(dataset, "dataset")
    held = store.curator_grid(curator_name)
    if held is None:
        raise CuratorEditError(f"curator {curator_name!r} has no record in {store.url}: nothing to move")
    store.write_curator_grid(replace(held[0], dataset=dataset), held[1])


def _first_record(curator: Curator, start: CuratorStart, now: dt.datetime) -> CuratorGridRecord:
    grid = window_grid(start_on=start.start, interval=curator.curation_interval)
    holding = grid.window_containing(now)
    deployed = holding.start if holding is not None else grid.anchor
    return CuratorGridRecord(
        curator=curator.name,
        dataset=curator.dataset_name,
        first_deployed=deployed,
        segments=(GridSegment(grid.anchor, grid.interval // _MINUTE, now),),
    )


def _edited(curator: Curator, record: CuratorGridRecord, start: CuratorStart, now: dt.datetime) -> CuratorGridRecord:
    if record.dataset != curator.dataset_name:
        raise CuratorEditError(
            f"curator {curator.name!r} writes dataset {record.dataset!r} (recorded in curators/{curator.name}/grid.json); "
            f"it now names {curator.dataset_name!r}. Put curated_dataset_name back to {record.dataset!r}, or move it "
            f"explicitly: `curation curators move {curator.name} {curator.dataset_name}` "
            f"(Gantry: curator.update(curated_dataset_name=..., create_new_dataset=True))"
        )
    last = _segment_grid(record.segments[-1])
    wanted = window_grid(start_on=start.start, interval=curator.curation_interval)
    if wanted.interval == last.interval:
        return _start_moved(record, wanted, curator)
    # A new grid: it starts where the old grid's automation stopped, so no time is curated twice or skipped.
    anchor = max(_first_not_due(last, curator.curation_delay, now), wanted.anchor)
    segment = GridSegment(anchor, wanted.interval // _MINUTE, now)
    return replace(record, segments=(*record.segments, segment))


def _start_moved(record: CuratorGridRecord, wanted: WindowGrid, curator: Curator) -> CuratorGridRecord:
    """The same interval: an earlier ``start_on`` on the grid extends it back; a later one changes nothing."""
    first = _segment_grid(record.segments[0])
    if wanted.anchor >= first.anchor or curator.start_on is None:
        return record  # the start is fixed at the first deployment: windows already curated stay
    if len(record.segments) > 1 or not _on_grid(wanted.anchor, first):
        raise CuratorEditError(
            f"curator {curator.name!r}: start_on {wanted.anchor.isoformat()} is before its recorded start "
            f"{first.anchor.isoformat()} and not on its window grid ({first.interval} from {first.anchor.isoformat()}"
            f"{', which later changed interval' if len(record.segments) > 1 else ''}); keep the recorded start_on, "
            "or give the curator a new name (a new curator and dataset)"
        )
    extended = replace(record.segments[0], anchor=wanted.anchor)
    return replace(record, segments=(extended, *record.segments[1:]))


def _first_not_due(grid: WindowGrid, delay: dt.timedelta, now: dt.datetime) -> dt.datetime:
    """The start of the oldest window of ``grid`` not yet due at ``now`` (its automation has not curated it)."""
    due = grid.last_closed_window(now - delay)
    return grid.anchor if due is None else due.end


def _on_grid(moment: dt.datetime, grid: WindowGrid) -> bool:
    return (moment - grid.anchor) % grid.interval == dt.timedelta(0)


def _segment_grid(segment: GridSegment) -> WindowGrid:
    return window_grid(start_on=segment.anchor, interval=segment.interval_minutes * _MINUTE)


def _grid(record: CuratorGridRecord) -> CuratorGrid:
    return CuratorGrid(
        segments=tuple(_segment_grid(s) for s in record.segments),
        first_deployed=record.first_deployed,
        dataset=record.dataset,
    )
