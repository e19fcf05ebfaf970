"""Spec -> Definitions: everything Dagster needs to run one curator, and one application's stream.

:func:`build_curator_defs` is the one factory a catalogue goes through; the
wiring point (``curation_pipeline/definitions.py``) merges its results over
every curator and adds the stream of each application once.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import dagster as dg

from curation_pipeline.clock import Clock, utc_now
from curation_pipeline.curators import Curator
from curation_pipeline.defs.assets import build_curator_asset, curated_asset_key
from curation_pipeline.defs.partitions import CuratorPartitions, curator_partitions, python_name
from curation_pipeline.defs.schedules import build_schedule
from curation_pipeline.defs.sensors import build_catch_up_sensor, build_late_data_sensor, build_windows_sensor
from curation_pipeline.defs.stream_assets import OBSERVED_DAYS, build_stream_sensor, build_stream_spec
from curation_pipeline.defs.switch import schedule_name
from curation_pipeline.names import name_key
from curation_pipeline.windows import DEFAULT_START_ON, START_ON, CuratorGrid, CuratorStart

#: Windows curated per run when past windows are backfilled.
DEFAULT_PARTITIONS_PER_RUN = 10


def build_curator_defs(
    curator: Curator,
    *,
    storage_kind: str = "local",
    max_partitions_per_run: int = DEFAULT_PARTITIONS_PER_RUN,
    clock: Clock = utc_now,
    start: CuratorStart | None = None,
    grid: CuratorGrid | None = None,
    stream_start: dt.date | None = None,
) -> dg.Definitions:
    """The asset (with its checks), job, schedule and sensors of one curator.

    The schedule is the curator's one switch; its sensors follow it
    (:mod:`curation_pipeline.defs.switch`).

    Args:
        curator: the curator spec.
        storage_kind: ``"s3"`` or ``"local"``, shown as a kind of the asset.
        max_partitions_per_run: windows per run of a backfill (``BackfillPolicy.multi_run``).
        clock: the current time, for the sensors (tests pin it).
        start: where the curator's windows start, from
            :func:`~curation_pipeline.windows.resolve_start` (which records a first
            deployment). None means the curator's ``start_on``, else the fixed
            :data:`~curation_pipeline.windows.DEFAULT_START_ON`.
        grid: the curator's recorded grid history, from
            :func:`~curation_pipeline.windows.resolve_grid`: the partitions are its
            current grid, and catching up starts at its floor. None means the
            grid of ``start`` and a catch-up over every window.
        stream_start: the first day of the application's stream asset
            (:func:`build_application_defs`); None when the definitions hold no
            stream asset, and then no window records which stream days it read.

    The store resource (key ``store``) is supplied by the caller.
    """
    if max_partitions_per_run < 1:
        raise ValueError(f"max_partitions_per_run must be at least 1, got {max_partitions_per_run}")
    name = python_name(curator.name)
    if start is None and curator.start_on is not None:
        start = CuratorStart(curator.start_on, START_ON)
    anchor = grid.current.anchor if grid else (start.start if start else None)
    partitions = curator_partitions(start_on=anchor, interval=curator.curation_interval, name=curator.name)
    asset = build_curator_asset(
        curator=curator,
        partitions=partitions,
        storage_kind=storage_kind,
        max_partitions_per_run=max_partitions_per_run,
        start=start,
        grid=grid,
        stream_start=stream_start,
    )
    job = dg.define_asset_job(
        name=f"{name}_job",
        selection=dg.AssetSelection.assets(curated_asset_key(curator.dataset_name)),
        executor_def=dg.in_process_executor,
        description=f"Curate windows of {curator.name!r}: {curator.description}.",
        tags={"curation/curator": name_key(curator.name)},
    )
    schedule = build_schedule(
        name=schedule_name(curator.name),
        job=job,
        partitions=partitions,
        delay=curator.curation_delay,
        enabled=curator.enabled,
        description=f"Curates each window of {curator.name!r} once it has closed plus {curator.curation_delay}.",
        curator_name=curator.name,
    )
    sensors = []
    if partitions.is_dynamic:
        sensors.append(
            build_windows_sensor(
                name=f"{name}_windows",
                partitions=partitions,
                enabled=curator.enabled,
                curator_name=curator.name,
                clock=clock,
            )
        )
    sensors.append(
        build_catch_up_sensor(
            name=f"{name}_catch_up",
            asset_key=curated_asset_key(curator.dataset_name),
            job_name=job.name,
            partitions=partitions,
            delay=curator.curation_delay,
            enabled=curator.enabled,
            curator_name=curator.name,
            floor=_catch_up_floor(curator, grid, partitions, clock),
            clock=clock,
        )
    )
    if curator.recurate_late_within is not None:
        sensors.append(
            build_late_data_sensor(
                name=f"{name}_late_data",
                asset_key=curated_asset_key(curator.dataset_name),
                job_name=job.name,
                partitions=partitions,
                delay=curator.curation_delay,
                horizon=curator.recurate_late_within,
                enabled=curator.enabled,
                curator_name=curator.name,
                application=curator.application_name,
                clock=clock,
            )
        )
    return dg.Definitions(assets=[asset], jobs=[job], schedules=[schedule], sensors=sensors)


def _catch_up_floor(
    curator: Curator, grid: CuratorGrid | None, partitions: CuratorPartitions, clock: Clock
) -> dt.datetime | None:
    """Where catching up starts: the first window, or the first deployment without ``curate_past_intervals``."""
    if grid is not None:
        return grid.catch_up_floor(curator.curate_past_intervals)
    if curator.curate_past_intervals:
        return None
    # No recorded deployment (definitions built for one curator, outside the code location): now stands for it.
    holding = partitions.window_containing(clock())
    return holding.start if holding is not None else partitions.anchor


def build_application_defs(
    application: str,
    *,
    storage_kind: str = "local",
    start: dt.date | None = None,
    observed_days: int = OBSERVED_DAYS,
    clock: Clock = utc_now,
) -> dg.Definitions:
    """The external stream asset of ``application`` (one partition per day from ``start``) and its observer.

    ``start`` defaults to the day of :data:`~curation_pipeline.windows.DEFAULT_START_ON`; the
    observer watches the last ``observed_days`` days.
    """
    start = start or DEFAULT_START_ON.date()
    return dg.Definitions(
        assets=[build_stream_spec(application, storage_kind=storage_kind, start=start)],
        sensors=[build_stream_sensor(application, start=start, days=observed_days, clock=clock)],
    )


def stream_start(starts: Sequence[dt.datetime]) -> dt.date:
    """The first day of a stream asset: the day of the earliest window of its curators."""
    return min(starts, default=DEFAULT_START_ON).date()


def days_to_observe(curators: Sequence[Curator]) -> int:
    """Days a stream's observer watches: :data:`OBSERVED_DAYS`, or more for a curator's longer late-data horizon."""
    # A window that ended within the horizon began up to its length (and was due up to its delay) before.
    reach = [
        c.recurate_late_within + c.curation_interval + c.curation_delay
        for c in curators
        if c.recurate_late_within is not None
    ]
    longest = max(reach, default=dt.timedelta(0))
    return max(OBSERVED_DAYS, math.ceil(longest / dt.timedelta(days=1)) + 1)
