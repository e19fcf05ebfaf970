"""An application's production stream as an external asset, one partition per UTC day, observed by a sensor.

The stream is written by the application, not by Dagster, so it is an
:class:`dagster.AssetSpec` (no materialization function) upstream of every
curator of the application: the UI draws the lineage. Its partitions are the
stream's days, and each day's data version is what the day holds (its files,
see :mod:`curation_pipeline.stream.lineage`). A curated window records the
versions of the days it read; when records land late in a day, that day's
version changes and Dagster shows every curated window reading it as stale
("upstream data changed"), and no other.

A sensor reports an :class:`dagster.AssetObservation` for each day of the
last :data:`OBSERVED_DAYS` (or the longest late-data horizon of the
application's curators) whose files changed, with its files, rows and the
rows added since the day's previous observation; the newest day's
observation carries ``dagster/last_updated_timestamp``, the stream's
freshness in the UI.

Why a sensor rather than ``@observable_source_asset``: observable sources are
observed on a schedule only by the legacy auto-observe of the asset daemon;
a sensor runs in the ordinary sensor daemon, can be turned off in the UI,
reports only when something changed (its cursor holds each day's version)
and is tested like any sensor.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

import dagster as dg

from curation_pipeline.clock import Clock, utc_now
from curation_pipeline.defs.partitions import python_name
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.names import name_key
from curation_pipeline.stream import StreamNotFoundError
from curation_pipeline.stream.lineage import DayFiles, observe_days, with_rows

#: Days observed by default, today included: late records older than this are not looked for.
OBSERVED_DAYS = 8
DATA_VERSION_TAG = "dagster/data_version"


def stream_asset_key(application: str) -> dg.AssetKey:
    """``stream/<application's key>`` (see :func:`~curation_pipeline.names.name_key`)."""
    return dg.AssetKey(["stream", name_key(application)])


def stream_partitions(start: dt.date) -> dg.DailyPartitionsDefinition:
    """One partition per UTC day from ``start`` to today included (records of today are logged today)."""
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC", end_offset=1)


def build_stream_spec(application: str, *, storage_kind: str, start: dt.date) -> dg.AssetSpec:
    """The external asset of ``application``'s stream, partitioned by day from ``start``."""
    return dg.AssetSpec(
        key=stream_asset_key(application),
        group_name=python_name(application),
        description=(
            f"Records logged by the {application!r} application (Parquet by UTC day). A day's data version "
            "is the list of its files: records arriving late change it, and the windows curated from that "
            "day show as stale."
        ),
        kinds={"parquet", storage_kind},
        tags={"curation/application": name_key(application), "curation/role": "stream"},
        partitions_def=stream_partitions(start),
    )


def day_observation(application: str, day: DayFiles, previous_rows: int | None = None) -> dg.AssetObservation:
    """The observation of one day (with its rows, when read)."""
    metadata: dict[str, object] = {
        "files": len(day.files),
        "bytes": sum(size for _, size in day.files),
    }
    if day.rows is not None:
        metadata["rows"] = day.rows
        metadata["dagster/row_count"] = day.rows
        if previous_rows is not None:
            metadata["rows_added"] = day.rows - previous_rows
    return dg.AssetObservation(
        asset_key=stream_asset_key(application),
        partition=day.day.isoformat(),
        metadata=metadata,
        tags={DATA_VERSION_TAG: day.version},
    )


def observed_days(today: dt.date, start: dt.date, days: int) -> list[dt.date]:
    """The ``days`` days up to ``today`` included, none before ``start``."""
    first = max(start, today - dt.timedelta(days=days - 1))
    return [first + dt.timedelta(days=i) for i in range((today - first).days + 1)]


def _read_cursor(cursor: str | None) -> dict[str, list]:
    """Day -> ``[version, rows]``; anything else (an older cursor) reads as nothing observed yet."""
    try:
        found = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def build_stream_sensor(
    application: str,
    *,
    start: dt.date,
    days: int = OBSERVED_DAYS,
    enabled: bool = True,
    clock: Clock = utc_now,
) -> dg.SensorDefinition:
    """A sensor observing the last ``days`` days of ``application``'s stream, reporting the days that changed."""

    @dg.sensor(
        name=f"{python_name(application)}_stream_observer",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING if enabled else dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Observes the last {days} days of the {application!r} stream: a data version per day (its files), "
            "rows, and rows added since the previous observation."
        ),
    )
    def _observe(context: dg.SensorEvaluationContext, store: CurationStore):
        now = clock()
        watched = observed_days(now.date(), start, days)
        location = store.location()
        try:
            observed = observe_days(application, watched, location=location)
        except StreamNotFoundError as error:
            # Nothing logged to this store yet (or a mistyped URL): say so on the tick.
            return dg.SensorResult(skip_reason=dg.SkipReason(str(error)))
        known = _read_cursor(context.cursor)
        changed = [d for d in observed if (known.get(d.day.isoformat()) or [None])[0] != d.version]
        if not changed:
            return dg.SensorResult(skip_reason=dg.SkipReason("no day of the stream has changed"), cursor=context.cursor)
        changed = with_rows(application, changed, location=location)
        events = [day_observation(application, d, _previous_rows(known, d.day)) for d in changed]
        holding = [i for i, d in enumerate(changed) if d.latest is not None]
        later_rows = [
            day for day, entry in known.items() if isinstance(entry, list) and len(entry) == 2 and entry[1]
        ]
        if holding and not any(day > changed[holding[-1]].day.isoformat() for day in later_rows):
            # The newest record time of the stream's newest day: its freshness in the UI (a late batch
            # in an older day does not move it back).
            events[holding[-1]] = _with_freshness(events[holding[-1]], changed[holding[-1]])
        cursor = {d.day.isoformat(): known.get(d.day.isoformat()) for d in observed if d.day.isoformat() in known}
        cursor.update({d.day.isoformat(): [d.version, d.rows] for d in changed})
        return dg.SensorResult(asset_events=events, cursor=json.dumps(cursor, sort_keys=True))

    return _observe


def _previous_rows(known: Mapping[str, list], day: dt.date) -> int | None:
    entry = known.get(day.isoformat())
    return entry[1] if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], int) else None


def _with_freshness(event: dg.AssetObservation, day: DayFiles) -> dg.AssetObservation:
    """``event`` with the newest record time of ``day``."""
    metadata = {
        **event.metadata,
        "latest_record_time": dg.MetadataValue.timestamp(day.latest),
        "dagster/last_updated_timestamp": dg.MetadataValue.timestamp(day.latest),
    }
    return dg.AssetObservation(asset_key=event.asset_key, partition=event.partition, metadata=metadata, tags=event.tags)


def input_versions_observed(
    instance: dg.DagsterInstance,
    application: str,
    versions: Mapping[str, str],
    start: dt.date | None,
    read_at: dt.datetime | None = None,
) -> int | None:
    """A pointer for a curated window's provenance: the storage id at which its stream days' versions held.

    A curated window's materialization names, as Dagster's provenance does,
    the storage id of an event at which the stream days it read had the
    versions it read: Dagster shows the window stale when a later observation
    of one of those days has another version. Where the instance's latest
    observation of a day has the version read, the pointer is at or after it.
    Where it has another version, the times say which is newer (files are
    only ever added): an observation older than the run's listing
    (``read_at``) is behind what the run read, and the run's version is
    observed now, outside any run; a newer one holds a file the run did not
    read, and the pointer is put just before it, so the window shows stale
    and is curated again. A run never reports a version over a newer one.
    ``start`` is the stream asset's first partition (a day before it is not
    observed; None: no partitioned stream).
    """
    if start is None:
        return None
    key = stream_asset_key(application)
    matching: list[int] = []
    differing: list[int] = []
    for day, version in sorted(versions.items()):
        if day < start.isoformat():
            continue
        latest = _latest_observation(instance, key, day)
        behind = latest is not None and read_at is not None and latest.timestamp <= read_at.timestamp()
        same = latest is not None and (latest.event_log_entry.tags or {}).get(DATA_VERSION_TAG) == version
        if latest is None or (behind and not same):
            instance.report_runless_asset_event(
                dg.AssetObservation(
                    asset_key=key, partition=day, metadata={"observed_by": "a curation run"}, tags={DATA_VERSION_TAG: version}
                )
            )
            latest = _latest_observation(instance, key, day)
        if (latest.event_log_entry.tags or {}).get(DATA_VERSION_TAG) == version:
            matching.append(latest.storage_id)
        else:
            differing.append(latest.storage_id)
    if differing:
        return min(differing) - 1
    return max(matching, default=None)


def _latest_observation(instance: dg.DagsterInstance, key: dg.AssetKey, day: str):
    records = instance.fetch_observations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1).records
    return records[0] if records else None
