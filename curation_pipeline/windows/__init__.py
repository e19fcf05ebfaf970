"""Curating by window, without a scheduler: the window grid of a curator and one window's curation.

A curator works through time in windows ``[start, end)`` of its
``curation_interval``, anchored at its ``start_on``. :class:`WindowGrid` holds
that arithmetic (which windows have closed, the key naming each one);
:func:`curate_window` reads one window of the stream, selects, and commits the
selection as one dataset version. The Dagster assets run exactly this, so a
notebook can too::

    from curation_pipeline.windows import WindowGrid, curate_window

    grid = WindowGrid.for_curator(curator)
    window = grid.last_closed_window(now)
    result = curate_window(curator, window, grid.key(window), DatasetStore.open(url), url)

Nothing here imports Dagster.
"""

from curation_pipeline.windows.curate import (
    WindowResult,
    commit_message,
    curate_window,
    data_path,
    parquet_bytes,
    schema_summary,
)
from curation_pipeline.windows.errors import WindowGridError
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

__all__ = [
    "DAY_FORMAT",
    "DEFAULT_START_ON",
    "MINUTE_FORMAT",
    "Window",
    "WindowGrid",
    "WindowGridError",
    "WindowResult",
    "commit_message",
    "curate_window",
    "data_path",
    "file_safe_key",
    "grid_cron",
    "parquet_bytes",
    "schema_summary",
    "window_grid",
]
