"""Curating by window, without a scheduler: the window grid of a curator and one window's curation.

A curator works through time in windows ``[start, end)`` of its
``curation_interval``, anchored at its ``start_on``. :class:`WindowGrid` holds
that arithmetic (which windows have closed, the key naming each one);
:func:`curate_window` reads one window of the stream, selects, and commits the
selection as one dataset version. The Dagster assets run exactly this, so a
notebook can too::

    from curation_pipeline.location import resolve_location
    from curation_pipeline.store import DatasetStore
    from curation_pipeline.windows import WindowGrid, curate_window

    where = resolve_location(url)
    grid = WindowGrid.for_curator(curator)
    window = grid.last_closed_window(now)
    result = curate_window(curator, window, grid.key(window), DatasetStore.open(location=where), where)

A curator without ``start_on`` starts at the window in which it was first
deployed, recorded once in the store: :func:`resolve_start` (see
:mod:`curation_pipeline.windows.starts`).

Nothing here imports Dagster.
"""

from curation_pipeline.windows.checks import CHECK_DESCRIPTIONS, CheckOutcome, check_window, stored_window
from curation_pipeline.windows.curate import (
    WindowResult,
    commit_message,
    curate_window,
    data_path,
    definition_hash,
    parquet_bytes,
    schema_summary,
)
from curation_pipeline.windows.errors import (
    CuratorEditError,
    CuratorStartError,
    OverlappingWindowError,
    WindowChangedError,
    WindowGridError,
)
from curation_pipeline.windows.grid import (
    DAY_FORMAT,
    DEFAULT_START_ON,
    MINUTE_FORMAT,
    Window,
    WindowGrid,
    file_safe_key,
    grid_cron,
    window_grid,
)
from curation_pipeline.windows.history import CuratorGrid, known_grid, move_curator, resolve_grid
from curation_pipeline.windows.status import Progress, progress
from curation_pipeline.windows.starts import (
    FIRST_DEPLOYED,
    NOT_YET_DEPLOYED,
    START_ON,
    CuratorStart,
    first_window_start,
    known_start,
    resolve_start,
)

__all__ = [
    "CHECK_DESCRIPTIONS",
    "DAY_FORMAT",
    "DEFAULT_START_ON",
    "FIRST_DEPLOYED",
    "MINUTE_FORMAT",
    "Progress",
    "NOT_YET_DEPLOYED",
    "OverlappingWindowError",
    "WindowChangedError",
    "START_ON",
    "CheckOutcome",
    "CuratorEditError",
    "CuratorGrid",
    "CuratorStart",
    "CuratorStartError",
    "Window",
    "WindowGrid",
    "WindowGridError",
    "WindowResult",
    "check_window",
    "commit_message",
    "curate_window",
    "data_path",
    "definition_hash",
    "file_safe_key",
    "first_window_start",
    "grid_cron",
    "known_grid",
    "known_start",
    "move_curator",
    "parquet_bytes",
    "progress",
    "resolve_grid",
    "resolve_start",
    "schema_summary",
    "stored_window",
    "window_grid",
]
