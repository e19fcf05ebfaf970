"""Where a curator stands in time: last curated window, windows missing, next window due.

Plain arithmetic over its grid and the set of window keys already curated
(the Dagster instance knows those; the caller passes them in).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from curation_pipeline.windows.grid import WindowGrid


@dataclass(frozen=True)
class Progress:
    """A curator's progress at one moment.

    Attributes:
        last_curated: the key of the newest curated window of the current grid, None if none.
        missing: keys of the windows due (from ``floor``) never curated, oldest first.
        next_key: the key of the next window to become due.
        next_due: when it becomes due (its end plus the delay).
    """

    last_curated: str | None
    missing: tuple[str, ...]
    next_key: str
    next_due: dt.datetime


def progress(
    grid: WindowGrid, *, delay: dt.timedelta, floor: dt.datetime, curated: set[str], now: dt.datetime
) -> Progress:
    """The progress of a curator on ``grid`` whose curated window keys are ``curated``."""
    due = grid.closed_windows(now - delay)
    keys = [grid.key(w) for w in due]
    done = [k for k in keys if k in curated]
    missing = tuple(grid.key(w) for w in due if w.start >= floor and grid.key(w) not in curated)
    following = due[-1].end if due else grid.anchor
    nxt = grid.window_containing(following)
    assert nxt is not None  # following is at or after the anchor
    return Progress(
        last_curated=done[-1] if done else None,
        missing=missing,
        next_key=grid.key(nxt),
        next_due=nxt.end + delay,
    )
