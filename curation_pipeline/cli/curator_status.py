"""``curation curators status``: each curator's live switch, start, grid and progress, and retired curators.

A row per curator of the catalogue, then one per *retired* curator: a
curator recorded in the store (``curators/<name>/``) that the catalogue no
longer names. Its dataset is intact and listed; nothing curates it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from curation_pipeline.curators import Curator, format_interval
from curation_pipeline.store import DatasetStore, StoreError
from curation_pipeline.windows import NOT_YET_DEPLOYED, CuratorGrid, known_grid, known_start, progress

UTC = dt.timezone.utc
COLUMNS = ("NAME", "ENABLED", "START", "INTERVAL", "DELAY", "LAST CURATED", "HEAD", "MISSING", "NEXT DUE")


@dataclass(frozen=True)
class CuratorStatus:
    """What ``status`` shows for one curator (``retired``: in the store, not in the catalogue)."""

    name: str
    dataset: str
    enabled: bool | None
    start: str
    interval: str
    delay: str
    last_curated: str | None
    head: str | None
    missing: list[str]
    next_window: str | None
    next_due: str | None
    retired: bool = False

    def row(self) -> tuple[str, ...]:
        """The table row."""
        enabled = "retired" if self.retired else ("yes" if self.enabled else "no")
        due = f"{self.next_window} at {self.next_due}" if self.next_window else "-"
        return (
            self.name, enabled, self.start, self.interval, self.delay, self.last_curated or "-",
            (self.head or "-")[:12], str(len(self.missing)), due,
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values."""
        return {
            "name": self.name, "dataset": self.dataset, "enabled": self.enabled, "retired": self.retired,
            "start": self.start, "interval": self.interval, "delay": self.delay, "last_curated": self.last_curated,
            "head": self.head, "missing": self.missing, "next_window": self.next_window, "next_due": self.next_due,
        }


def curator_status(
    curator: Curator, store: DatasetStore, *, enabled: bool, curated: set[str], now: dt.datetime
) -> CuratorStatus:
    """The status of a catalogue curator, from its records in ``store`` and its curated window keys."""
    start = known_start(curator, store)
    grid = known_grid(curator.name, store)
    common = {
        "name": curator.name, "dataset": curator.dataset_name, "enabled": enabled,
        "start": start.label(curator.curation_interval) if start else NOT_YET_DEPLOYED,
        "interval": format_interval(curator.curation_interval), "delay": format_interval(curator.curation_delay),
        "head": _head(store, curator.dataset_name),
    }
    if grid is None:  # never deployed: no partitions yet
        return CuratorStatus(**common, last_curated=None, missing=[], next_window=None, next_due=None)
    state = progress(
        grid.current, delay=curator.curation_delay, floor=grid.catch_up_floor(curator.curate_past_intervals),
        curated=curated, now=now,
    )
    return CuratorStatus(
        **common, last_curated=state.last_curated, missing=list(state.missing), next_window=state.next_key,
        next_due=state.next_due.isoformat(),
    )


def retired_status(name: str, store: DatasetStore) -> CuratorStatus:
    """The status of a curator recorded in ``store`` that the catalogue no longer names."""
    grid: CuratorGrid | None = known_grid(name, store)
    dataset = grid.dataset if grid else name
    return CuratorStatus(
        name=name, dataset=dataset, enabled=None, start=grid.segments[0].anchor.isoformat() if grid else "-",
        interval=format_interval(grid.current.interval) if grid else "-", delay="-", last_curated=None,
        head=_head(store, dataset), missing=[], next_window=None, next_due=None, retired=True,
    )


def _head(store: DatasetStore, dataset: str) -> str | None:
    try:
        return store.get_dataset(dataset).head()
    except StoreError:
        return None  # no dataset yet (nothing selected so far), or deleted
