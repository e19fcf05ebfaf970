"""Window grids as Dagster partitions: cron grids as time windows, every other interval as dynamic windows."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from curation_pipeline.defs.partitions import curator_partitions, python_name
from curation_pipeline_tests.windows.test_grid import CASES, MIDNIGHT


@pytest.mark.parametrize("start, interval, dynamic, first_key", CASES)
def test_grid_kind(start, interval, dynamic, first_key):
    grid = curator_partitions(start_on=start, interval=interval, name="c")
    assert grid.is_dynamic is dynamic
    assert isinstance(grid.partitions_def, dg.DynamicPartitionsDefinition if dynamic else dg.TimeWindowPartitionsDefinition)


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


def test_dynamic_partitions_are_named_for_the_curator():
    grid = curator_partitions(start_on=MIDNIGHT, interval=dt.timedelta(minutes=90), name="my-curator")
    assert grid.partitions_def.name == "my_curator_windows"


@pytest.mark.parametrize("interval", [dt.timedelta(0), dt.timedelta(seconds=90), dt.timedelta(minutes=-5)])
def test_interval_must_be_whole_positive_minutes(interval):
    with pytest.raises(ValueError, match="whole number of minutes"):
        curator_partitions(start_on=MIDNIGHT, interval=interval, name="c")


def test_names():
    assert python_name("reviews-by-label") == "reviews_by_label"
