"""Sensors of one curator.

* ``<curator>_windows`` (only for grids that fit no cron, i.e. dynamic
  partitions): registers every window as a partition once it has closed.
* ``<curator>_late_data`` (only with ``recurate_late_within``): launches a run
  for each window that ended within the horizon and whose stream days changed
  since it was curated (late records), so it is curated again keeping its picks.
* ``<curator>_catch_up``: launches one asset backfill of every window that is
  due and was never materialized, so past intervals, and the windows that
  closed while the curator was off, are curated without anyone clicking. The
  backfill runs in batches per the asset's ``BackfillPolicy``. Its floor is
  the curator's first window with ``curate_past_intervals``, else the window
  of its first deployment (history before it is curated only by a user's
  backfill). Its cursor is the newest window it has handled; windows after it
  are the schedule's, which the sensor only picks up if they are still
  missing (the curator was off, the daemon was down) once due.

All are declared RUNNING and skip every tick while the curator's schedule is
stopped: the schedule is the curator's one switch (:mod:`curation_pipeline.defs.switch`).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

from curation_pipeline.clock import Clock, utc_now
from curation_pipeline.curators.intervals import format_interval
from curation_pipeline.defs.partitions import CuratorPartitions
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.defs.switch import curator_switched_on, schedule_name, switched_off_reason
from curation_pipeline.names import name_key
from curation_pipeline.stream.lineage import window_versions
from curation_pipeline.windows.grid import Window

#: A window becomes the catch-up sensor's only this long after it is due: the schedule goes first.
SCHEDULE_GRACE = dt.timedelta(minutes=2)
_ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _default_status(enabled: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if enabled else dg.DefaultSensorStatus.STOPPED


def build_windows_sensor(
    *, name: str, partitions: CuratorPartitions, enabled: bool, curator_name: str, clock: Clock = utc_now
) -> dg.SensorDefinition:
    """Register each closed window of a dynamic grid as a partition, while the curator is on.

    ``enabled`` is the curator's initial state (its schedule's ``default_status``).
    """

    @dg.sensor(
        name=name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Registers each closed window of this curator as a partition. Follows {schedule_name(curator_name)}: "
            "turn the curator on or off there."
        ),
    )
    def _register_windows(context: dg.SensorEvaluationContext):
        if not curator_switched_on(context, curator_name, default_running=enabled):
            return switched_off_reason(curator_name)
        known = set(context.instance.get_dynamic_partitions(partitions.dynamic_name))
        new = [key for key in map(partitions.key, partitions.closed_windows(clock())) if key not in known]
        if not new:
            return dg.SkipReason("every closed window is registered")
        return dg.SensorResult(dynamic_partitions_requests=[partitions.partitions_def.build_add_request(new)])

    return _register_windows


def missing_windows(
    *,
    partitions: CuratorPartitions,
    delay: dt.timedelta,
    now: dt.datetime,
    after_key: str | None,
    done_keys: set[str],
    floor: dt.datetime | None = None,
) -> tuple[list[Window], str | None]:
    """Windows due by ``now`` (after ``after_key``, from ``floor``) whose key is not in ``done_keys``, and the new cursor."""
    since = floor
    if after_key:
        try:
            since = max(partitions.window(after_key).end, floor or partitions.anchor)
        except ValueError:  # the curator's grid changed since the cursor was written: start over
            since = floor
    due = partitions.closed_windows(now - delay - SCHEDULE_GRACE, since=since)
    cursor = partitions.key(due[-1]) if due else after_key
    return [w for w in due if partitions.key(w) not in done_keys], cursor


def build_catch_up_sensor(
    *,
    name: str,
    asset_key: dg.AssetKey,
    job_name: str,
    partitions: CuratorPartitions,
    delay: dt.timedelta,
    enabled: bool,
    curator_name: str,
    floor: dt.datetime | None = None,
    clock: Clock = utc_now,
) -> dg.SensorDefinition:
    """Launch a backfill of every due window of ``asset_key`` from ``floor`` that was never materialized.

    ``enabled`` is the curator's initial state (its schedule's ``default_status``);
    ``floor`` None means the first window of ``partitions``.
    """

    @dg.sensor(
        name=name,
        asset_selection=dg.AssetSelection.assets(asset_key),
        minimum_interval_seconds=120,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Backfills every due window of this curator that was never curated (also those missed while it was "
            f"off). Follows {schedule_name(curator_name)}: turn the curator on or off there."
        ),
    )
    def _catch_up(context: dg.SensorEvaluationContext):
        if not curator_switched_on(context, curator_name, default_running=enabled):
            return dg.SensorResult(skip_reason=switched_off_reason(curator_name), cursor=context.cursor)
        instance = context.instance
        done = set(instance.get_materialized_partitions(asset_key)) | _keys_in_flight(instance, job_name)
        windows, cursor = missing_windows(
            partitions=partitions, delay=delay, now=clock(), after_key=context.cursor, done_keys=done, floor=floor
        )
        if not windows:
            return dg.SensorResult(skip_reason=dg.SkipReason("no past window is missing"), cursor=cursor)
        keys = [partitions.key(w) for w in windows]
        context.log.info(f"backfilling {len(keys)} missing windows of {curator_name}: {keys[0]} to {keys[-1]}")
        subset = AssetGraphSubset(
            partitions_subsets_by_asset_key={asset_key: partitions.partitions_def.subset_with_partition_keys(keys)}
        )
        registering = []
        if partitions.is_dynamic:
            registering = [partitions.partitions_def.build_add_request(keys)]
        request = dg.RunRequest.for_asset_graph_subset(
            subset, tags={"curation/curator": name_key(curator_name), "curation/trigger": "catch-up"}
        )
        return dg.SensorResult(run_requests=[request], dynamic_partitions_requests=registering, cursor=cursor)

    return _catch_up


def _keys_in_flight(instance: dg.DagsterInstance, job_name: str) -> set[str]:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=_ACTIVE_STATUSES))
    return {run.tags["dagster/partition"] for run in runs if "dagster/partition" in run.tags}


def build_late_data_sensor(
    *,
    name: str,
    asset_key: dg.AssetKey,
    job_name: str,
    partitions: CuratorPartitions,
    delay: dt.timedelta,
    horizon: dt.timedelta,
    enabled: bool,
    curator_name: str,
    application: str,
    clock: Clock = utc_now,
) -> dg.SensorDefinition:
    """Re-curate each window that ended within ``horizon`` whose records grew after it was curated.

    A window's materialization records the version of the stream files that
    may hold its records (``window_version``: the files whose ``__time``
    statistics reach into it); the sensor computes it again from the stream
    (listings, and the footers of files it has not read before) and launches
    one run per window whose version differs, empty windows included. The run
    key is the window and the version it will read, so a change is curated
    once however many ticks see it (a failed run is not retried with the same
    version: launch it, or it is tried again when more records land).
    ``enabled`` is the curator's initial state (its schedule's
    ``default_status``): the sensor follows the curator's one switch.
    """
    span = format_interval(horizon)

    @dg.sensor(
        name=name,
        job_name=job_name,
        minimum_interval_seconds=120,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Curates again each window of the last {span} whose records grew after it was curated "
            f"(late data), keeping its picks. Follows {schedule_name(curator_name)}: turn the curator on or off there."
        ),
    )
    def _late_data(context: dg.SensorEvaluationContext, store: CurationStore):
        if not curator_switched_on(context, curator_name, default_running=enabled):
            return switched_off_reason(curator_name)
        now = clock()
        windows = {partitions.key(w): w for w in partitions.closed_windows(now - delay) if w.end > now - horizon}
        recorded = _recorded_window_versions(context.instance, asset_key, list(windows))
        if not recorded:
            return dg.SkipReason(f"no window curated within the last {span}")
        keys = sorted(recorded)
        current = window_versions(
            application, [(windows[k].start, windows[k].end) for k in keys], location=store.location()
        )
        in_flight = _keys_in_flight(context.instance, job_name)
        requests = [
            dg.RunRequest(
                run_key=f"{key}:{version}",
                partition_key=key,
                tags={"curation/curator": name_key(curator_name), "curation/trigger": "late-data"},
            )
            for key, version in zip(keys, current)
            if version != recorded[key] and key not in in_flight
        ]
        if not requests:
            return dg.SkipReason(f"no window of the last {span} has late records")
        context.log.info(f"re-curating {len(requests)} windows of {curator_name} with late records")
        return requests

    return _late_data


def _recorded_window_versions(instance: dg.DagsterInstance, asset_key: dg.AssetKey, keys: list[str]) -> dict[str, str]:
    """Partition key -> the ``window_version`` its latest materialization read (windows with one only)."""
    if not keys:
        return {}
    found: dict[str, str | None] = {}
    cursor = None
    while set(keys) - found.keys():
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=1000, cursor=cursor
        )
        for record in page.records:
            key = record.partition_key
            if key is None or key in found or record.asset_materialization is None:
                continue
            entry = record.asset_materialization.metadata.get("window_version")
            found[key] = entry.value if entry is not None and isinstance(entry.value, str) else None
        if not page.has_more:
            break
        cursor = page.cursor
    return {key: version for key, version in found.items() if version is not None}
