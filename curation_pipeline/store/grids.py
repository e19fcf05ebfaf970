"""Curator grid records: which dataset a deployed curator writes and the window grids it has used.

Editing a deployed curator's ``curation_interval`` must not make it curate
the same time twice, so the grids a curator has used are recorded beside its
start record::

    curators/<curator>/grid.json
    {"curator": "reviews", "dataset": "reviews", "first_deployed": "2026-11-27T00:00:00.000000Z",
     "format": 1, "segments": [{"anchor": "2026-11-20T00:00:00.000000Z", "interval_minutes": 1440,
                                "recorded_at": "..."}, ...]}

Each segment is a grid (``anchor``, ``interval_minutes``) in force from its
anchor until the next segment's anchor. ``first_deployed`` is the start of the
window in which the curator was first deployed (the boundary between
"history" and "windows missed while deployed"). ``dataset`` is the dataset the
curator is bound to; moving it is an explicit act.

The record is a ref written with compare-and-swap (:meth:`ObjectBackend.swap_ref`,
the discipline of a dataset's HEAD): two code servers appending a segment at
once cannot both win. Segments are only ever appended, never rewritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from curation_pipeline.store.errors import InvalidManifestError
from curation_pipeline.store.manifest import canonical_json, format_time, parse_time

GRID_RECORD_FORMAT = 1


@dataclass(frozen=True)
class GridSegment:
    """One window grid of a curator: windows of ``interval_minutes`` counted from ``anchor``."""

    anchor: datetime
    interval_minutes: int
    recorded_at: datetime

    def to_dict(self) -> dict[str, object]:
        """The segment as JSON-ready values."""
        return {
            "anchor": format_time(self.anchor),
            "interval_minutes": self.interval_minutes,
            "recorded_at": format_time(self.recorded_at),
        }


@dataclass(frozen=True)
class CuratorGridRecord:
    """The dataset and the grid history of one deployed curator.

    Attributes:
        curator: the curator's name.
        dataset: the dataset it is bound to.
        first_deployed: the start of the window holding its first deployment.
        segments: its grids, oldest first (anchors strictly increasing).
    """

    curator: str
    dataset: str
    first_deployed: datetime
    segments: tuple[GridSegment, ...]

    def to_json(self) -> bytes:
        """The record as canonical JSON."""
        return canonical_json(
            {
                "curator": self.curator,
                "dataset": self.dataset,
                "first_deployed": format_time(self.first_deployed),
                "format": GRID_RECORD_FORMAT,
                "segments": [s.to_dict() for s in self.segments],
            }
        )

    @classmethod
    def from_json(cls, data: bytes, *, key: str) -> CuratorGridRecord:
        """Parse a record read from ``key``.

        Raises:
            InvalidManifestError: the bytes are not a curator grid record.
        """
        try:
            value = json.loads(data.decode("utf-8"))
            segments = tuple(
                GridSegment(
                    anchor=parse_time(s["anchor"]),
                    interval_minutes=int(s["interval_minutes"]),
                    recorded_at=parse_time(s["recorded_at"]),
                )
                for s in value["segments"]
            )
            if not segments:
                raise ValueError("no segment")
            return cls(
                curator=str(value["curator"]),
                dataset=str(value["dataset"]),
                first_deployed=parse_time(value["first_deployed"]),
                segments=segments,
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise InvalidManifestError(f"{key} is not a curator grid record: {exc}") from None
