"""A curator's schedule: curate each window once it has closed plus ``curation_delay``.

The window of a tick at time ``t`` is the newest window with
``end + curation_delay <= t``; the cron fires at every such moment (and, for
grids no cron can express, at a finer step whose extra ticks are skipped).
Each run targets exactly one window, with the partition key as run key, so a
tick never launches a window twice.
"""

from __future__ import annotations

import datetime as dt
import math

import dagster as dg

from curation_pipeline.clock import utc_now
from curation_pipeline.defs.partitions import CuratorPartitions
from curation_pipeline.defs.switch import schedule_switched_on, switched_off_reason
from curation_pipeline.windows.grid import UTC, Window

_MINUTE = dt.timedelta(minutes=1)
_DAY_MINUTES = 24 * 60
_WEEK = dt.timedelta(weeks=1)


def tick_cron(partitions: CuratorPartitions, delay: dt.timedelta) -> str:
    """A cron that fires at every ``window.end + delay`` (rounded up to the minute), maybe more often."""
    first = _ceil_minute(partitions.anchor + delay)
    minutes = partitions.interval // _MINUTE
    if partitions.interval % _WEEK == dt.timedelta(0):
        return f"{first.minute} {first.hour} * * {(first.weekday() + 1) % 7}"
    step = math.gcd(minutes, _DAY_MINUTES)
    if step == _DAY_MINUTES:
        return f"{first.minute} {first.hour} * * *"
    if step % 60 == 0:
        hours = step // 60
        return f"{first.minute} * * * *" if hours == 1 else f"{first.minute} {first.hour % hours}-23/{hours} * * *"
    step = math.gcd(step, 60)
    return "* * * * *" if step == 1 else f"{first.minute % step}-59/{step} * * * *"


def window_due_at(partitions: CuratorPartitions, delay: dt.timedelta, moment: dt.datetime) -> Window | None:
    """The window a tick at ``moment`` curates, None when no window became due in the minute before it."""
    window = partitions.last_closed_window(moment - delay)
    if window is None or moment - (window.end + delay) >= _MINUTE:
        return None
    return window


def build_schedule(
    *,
    name: str,
    job: dg.UnresolvedAssetJobDefinition,
    partitions: CuratorPartitions,
    delay: dt.timedelta,
    enabled: bool,
    description: str,
    curator_name: str,
) -> dg.ScheduleDefinition:
    """The schedule of one curator's job; RUNNING by default when the curator is enabled.

    A tick evaluated while the schedule is stopped (by hand: the daemon does
    not tick it) skips, so every evaluation agrees with the switch.
    """

    def evaluate(context: dg.ScheduleEvaluationContext):
        if not schedule_switched_on(context, curator_name, default_running=enabled):
            return switched_off_reason(curator_name)
        moment = (context.scheduled_execution_time or utc_now()).astimezone(UTC)
        window = window_due_at(partitions, delay, moment)
        if window is None:
            return dg.SkipReason(f"no window became due at {moment.isoformat()}")
        key = partitions.key(window)
        if partitions.is_dynamic and not context.instance.has_dynamic_partition(partitions.dynamic_name, key):
            # Windows are registered by the curator's sensor; do it here too so a tick never waits on it.
            context.instance.add_dynamic_partitions(partitions.dynamic_name, [key])
        return dg.RunRequest(run_key=key, partition_key=key)

    return dg.ScheduleDefinition(
        name=name,
        cron_schedule=tick_cron(partitions, delay),
        job=job,
        execution_fn=evaluate,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED,
        description=description,
    )


def _ceil_minute(moment: dt.datetime) -> dt.datetime:
    floored = moment.replace(second=0, microsecond=0)
    return floored if floored == moment else floored + _MINUTE
