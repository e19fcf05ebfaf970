"""The window grid: windows one after the other from the anchor, keys that name them, cron grids told apart."""

from __future__ import annotations

import datetime as dt

import pytest

from curation_pipeline.curators import UniformCurator
from curation_pipeline.errors import CurationError
from curation_pipeline.windows import (
    DEFAULT_START_ON,
    Window,
    WindowGrid,
    WindowGridError,
    file_safe_key,
    window_grid,
)

UTC = dt.timezone.utc
MIDNIGHT = dt.datetime(2026, 1, 1, tzinfo=UTC)
AFTERNOON = dt.datetime(2026, 1, 2, 13, 30, tzinfo=UTC)

CASES = [
    # start_on, interval, dynamic? (no cron fits), first key
    (MIDNIGHT, dt.timedelta(days=1), False, "2026-01-01"),
    (MIDNIGHT, dt.timedelta(hours=1), False, "2026-01-01-00:00"),
    (MIDNIGHT, dt.timedelta(minutes=15), False, "2026-01-01-00:00"),
    (AFTERNOON, dt.timedelta(minutes=15), False, "2026-01-02-13:30"),
    (AFTERNOON, dt.timedelta(minutes=20), False, "2026-01-02-13:30"),
    (AFTERNOON, dt.timedelta(hours=6), False, "2026-01-02-13:30"),
    (AFTERNOON, dt.timedelta(days=1), False, "2026-01-02"),
    (MIDNIGHT, dt.timedelta(weeks=1), False, "2026-01-01"),
    (MIDNIGHT, dt.timedelta(minutes=1), False, "2026-01-01-00:00"),
    (MIDNIGHT, dt.timedelta(minutes=90), True, "2026-01-01-00:00"),
    (AFTERNOON, dt.timedelta(minutes=90), True, "2026-01-02-13:30"),
    (MIDNIGHT, dt.timedelta(days=3), True, "2026-01-01"),
    (AFTERNOON, dt.timedelta(days=3), True, "2026-01-02-13:30"),
    (MIDNIGHT, dt.timedelta(minutes=7), True, "2026-01-01-00:00"),
    (MIDNIGHT, dt.timedelta(hours=5), True, "2026-01-01-00:00"),
    (MIDNIGHT, dt.timedelta(weeks=2), True, "2026-01-01"),
]


@pytest.mark.parametrize("start, interval, dynamic, first_key", CASES)
def test_grid_kind_keys_and_windows(start, interval, dynamic, first_key):
    grid = window_grid(start_on=start, interval=interval)
    assert (grid.cron is None) is dynamic
    windows = grid.closed_windows(start + 5 * interval + dt.timedelta(seconds=1))
    assert len(windows) == 5
    assert grid.key(windows[0]) == first_key
    for index, window in enumerate(windows):
        assert window == Window(start + index * interval, start + (index + 1) * interval)
        assert grid.window(grid.key(window)) == window  # keys name their window
    assert len({grid.key(w) for w in windows}) == 5


def test_dagster_key_formats_for_daily_and_hourly():
    assert window_grid(start_on=MIDNIGHT, interval=dt.timedelta(days=1)).key_format == "%Y-%m-%d"
    hourly = window_grid(start_on=MIDNIGHT, interval=dt.timedelta(hours=1))
    assert hourly.key(Window(AFTERNOON.replace(minute=0), AFTERNOON)) == "2026-01-02-13:00"


def test_default_start_is_fixed_and_seconds_are_dropped():
    assert window_grid(start_on=None, interval=dt.timedelta(days=1)).anchor == DEFAULT_START_ON
    grid = window_grid(start_on=AFTERNOON.replace(second=42), interval=dt.timedelta(hours=1))
    assert grid.anchor == AFTERNOON


def test_window_lookups():
    grid = window_grid(start_on=MIDNIGHT, interval=dt.timedelta(minutes=90))
    assert grid.window_containing(MIDNIGHT - dt.timedelta(seconds=1)) is None
    assert grid.window_containing(MIDNIGHT + dt.timedelta(minutes=100)).start == MIDNIGHT + dt.timedelta(minutes=90)
    assert grid.last_closed_window(MIDNIGHT + dt.timedelta(minutes=89)) is None
    assert grid.last_closed_window(MIDNIGHT + dt.timedelta(minutes=180)).end == MIDNIGHT + dt.timedelta(minutes=180)
    since = grid.closed_windows(MIDNIGHT + dt.timedelta(hours=9), since=MIDNIGHT + dt.timedelta(hours=3))
    assert [grid.key(w) for w in since] == ["2026-01-01-03:00", "2026-01-01-04:30", "2026-01-01-06:00", "2026-01-01-07:30"]
    with pytest.raises(ValueError, match="not the start of a window"):
        grid.window("2026-01-01-01:00")
    with pytest.raises(ValueError, match="not a partition key"):
        grid.window("yesterday")


@pytest.mark.parametrize("interval", [dt.timedelta(0), dt.timedelta(seconds=90), dt.timedelta(minutes=-5)])
def test_interval_must_be_whole_positive_minutes(interval):
    with pytest.raises(ValueError, match="whole number of minutes"):
        window_grid(start_on=MIDNIGHT, interval=interval)
    with pytest.raises(WindowGridError, match="whole number of minutes"):
        WindowGrid(anchor=MIDNIGHT, interval=interval)


def test_grid_errors_share_the_project_root():
    assert issubclass(WindowGridError, CurationError) and issubclass(WindowGridError, ValueError)


def test_a_curators_grid():
    curator = UniformCurator("c", "app", 10, start_on=AFTERNOON, curation_interval=dt.timedelta(hours=6))
    assert WindowGrid.for_curator(curator) == window_grid(start_on=AFTERNOON, interval=dt.timedelta(hours=6))


def test_names():
    assert file_safe_key("2026-01-02-13:30") == "2026-01-02-1330"
