"""Schedules: each window is curated once it has closed plus the curator's delay, and only that window."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from curation_pipeline.defs.factory import build_curator_defs
from curation_pipeline.defs.partitions import curator_partitions
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.defs.schedules import tick_cron, window_due_at
from curation_pipeline_tests.defs.conftest import START, prod_curator

UTC = dt.timezone.utc


def evaluate(curator, moment, instance):
    defs = dg.Definitions.merge(build_curator_defs(curator), dg.Definitions(resources={"store": CurationStore()}))
    schedule = defs.get_schedule_def(f"{curator.name.replace('-', '_')}_schedule")
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=moment, repository_def=defs.get_repository_def()
    )
    return schedule, schedule.evaluate_tick(context)


def at(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return START + dt.timedelta(days=day, hours=hour, minutes=minute)


@pytest.mark.parametrize(
    "delay, moment, expected",
    [
        (dt.timedelta(0), at(1), "2026-01-01"),
        (dt.timedelta(0), at(5), "2026-01-05"),
        (dt.timedelta(hours=2), at(3, 2), "2026-01-03"),
        (dt.timedelta(hours=2), at(3), None),  # the window closed but its delay has not passed
        (dt.timedelta(hours=2), at(3, 1), None),
        (dt.timedelta(days=1, hours=6), at(3, 6), "2026-01-02"),
        (dt.timedelta(0), at(0), None),  # before the first window closes
    ],
)
def test_daily_schedule_targets_the_window_due(instance, delay, moment, expected):
    schedule, data = evaluate(prod_curator(curation_delay=delay), moment, instance)
    if expected is None:
        assert not data.run_requests
        return
    (request,) = data.run_requests
    assert request.partition_key == expected
    assert request.run_key == expected
    assert request.tags["dagster/partition"] == expected


def test_daily_schedule_fires_at_the_delay(instance):
    schedule, _ = evaluate(prod_curator(curation_delay=dt.timedelta(hours=2, minutes=30)), at(3), instance)
    assert schedule.cron_schedule == "30 2 * * *"
    assert schedule.execution_timezone == "UTC"


def test_schedule_status_follows_enabled(instance):
    enabled, _ = evaluate(prod_curator(), at(1), instance)
    disabled, _ = evaluate(prod_curator(enabled=False), at(1), instance)
    assert enabled.default_status == dg.DefaultScheduleStatus.RUNNING
    assert disabled.default_status == dg.DefaultScheduleStatus.STOPPED


def test_90_minute_schedule_registers_and_targets_dynamic_windows(sqlite_instance):
    instance = sqlite_instance
    curator = prod_curator(curation_interval=dt.timedelta(minutes=90), curation_delay=dt.timedelta(minutes=10))
    schedule, data = evaluate(curator, at(0, 3, 10), instance)
    assert schedule.cron_schedule == "10-59/30 * * * *"
    (request,) = data.run_requests
    assert request.partition_key == "2026-01-01-01:30"
    assert instance.has_dynamic_partition("prod_sample_windows", "2026-01-01-01:30")
    # The cron also fires between window ends; those ticks launch nothing.
    _, skipped = evaluate(curator, at(0, 3, 40), instance)
    assert not skipped.run_requests


def test_hourly_schedule_with_offset_start(instance):
    curator = prod_curator(start_on=at(0, 0, 15), curation_interval=dt.timedelta(hours=1))
    schedule, data = evaluate(curator, at(0, 5, 15), instance)
    assert schedule.cron_schedule == "15 * * * *"
    assert [r.partition_key for r in data.run_requests] == ["2026-01-01-04:15"]


@pytest.mark.parametrize(
    "interval, delay, cron",
    [
        (dt.timedelta(days=1), dt.timedelta(0), "0 0 * * *"),
        (dt.timedelta(hours=1), dt.timedelta(minutes=5), "5 * * * *"),
        (dt.timedelta(minutes=15), dt.timedelta(0), "0-59/15 * * * *"),
        (dt.timedelta(hours=6), dt.timedelta(hours=1), "0 1-23/6 * * *"),
        (dt.timedelta(days=3), dt.timedelta(hours=1), "0 1 * * *"),
        (dt.timedelta(weeks=1), dt.timedelta(0), "0 0 * * 4"),  # 2026-01-01 is a Thursday
        (dt.timedelta(minutes=7), dt.timedelta(0), "* * * * *"),
        (dt.timedelta(days=1), dt.timedelta(seconds=30), "1 0 * * *"),
    ],
)
def test_tick_cron_hits_every_due_time(interval, delay, cron):
    grid = curator_partitions(start_on=START, interval=interval, name="c")
    assert tick_cron(grid, delay) == cron
    due = grid.closed_windows(START + 10 * interval)[-1].end + delay
    ceiled = due.replace(second=0, microsecond=0) + (dt.timedelta(minutes=1) if due.second else dt.timedelta(0))
    assert window_due_at(grid, delay, ceiled).end == due - delay
