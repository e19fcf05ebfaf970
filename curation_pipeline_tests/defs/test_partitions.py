"""Curation intervals as partitions: cron grids as time windows, every other interval as dynamic windows."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from curation_pipeline.defs.partitions import (
    DEFAULT_START_ON,
    Window,
    curator_partitions,
    file_safe_key,
    python_name,
)

UTC = dt.timezone.utc
MIDNIGHT = dt.datetime(2026, 1, 1, tzinfo=UTC)
AFTERNOON = dt.datetime(2026, 1, 2, 13, 30, tzinfo=UTC)

CASES = [
    # start_on, interval, dynamic?, first key
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
    grid = curator_partitions(start_on=start, interval=interval, name="c")
    assert grid.is_dynamic is dynamic
    assert isinstance(grid.partitions_def, dg.DynamicPartitionsDefinition if dynamic else dg.TimeWindowPartitionsDefinition)
    windows = grid.closed_windows(start + 5 * interval + dt.timedelta(seconds=1))
    assert len(windows) == 5
    assert grid.key(windows[0]) == first_key
    for index, window in enumerate(windows):
        assert window == Window(start + index * interval, start + (index + 1) * interval)
        assert grid.window(grid.key(window)) == window  # keys name their window
    assert len({grid.key(w) for w in windows}) == 5


@pytest.mark.parametrize("start, interval, dynamic, first_key", [c for c in CASES if not c[2]])
def test_cron_grids_agree_with_dagster(start, interval, dynamic, first_key):
    grid = curator_partitions(start_on=start, interval=interval, name="c")
    now = start + 4 * interval + dt.timedelta(seconds=1)
    keys = grid.partitions_def.get_partition_keys(current_time=now)
    ours = grid.closed_windows(now)
    assert keys == [grid.key(w) for w in ours]  # only closed windows, same keys
    for key, window in zip(keys, ours):
        dagster_window = grid.partitions_def.time_window_for_partition_key(key)
        assert (dagster_window.start, dagster_window.end) == (window.start, window.end)


def test_dagster_key_formats_for_daily_and_hourly():
    assert curator_partitions(start_on=MIDNIGHT, interval=dt.timedelta(days=1), name="c").key_format == "%Y-%m-%d"
    hourly = curator_partitions(start_on=MIDNIGHT, interval=dt.timedelta(hours=1), name="c")
    assert hourly.key(Window(AFTERNOON.replace(minute=0), AFTERNOON)) == "2026-01-02-13:00"


def test_default_start_is_fixed_and_seconds_are_dropped():
    assert curator_partitions(start_on=None, interval=dt.timedelta(days=1), name="c").anchor == DEFAULT_START_ON
    grid = curator_partitions(start_on=AFTERNOON.replace(second=42), interval=dt.timedelta(hours=1), name="c")
    assert grid.anchor == AFTERNOON


def test_window_lookups():
    grid = curator_partitions(start_on=MIDNIGHT, interval=dt.timedelta(minutes=90), name="my-curator")
    assert grid.partitions_def.name == "my_curator_windows"
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
        curator_partitions(start_on=MIDNIGHT, interval=interval, name="c")


def test_names():
    assert file_safe_key("2026-01-02-13:30") == "2026-01-02-1330"
    assert python_name("reviews-by-label") == "reviews_by_label"
