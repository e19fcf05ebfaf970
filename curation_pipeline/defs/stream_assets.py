"""An application's production stream as an external asset, observed by a sensor.

The stream is written by the application, not by Dagster, so it is an
:class:`dagster.AssetSpec` (no materialization function) upstream of every
curator of the application: the UI draws the lineage. A sensor reports an
:class:`dagster.AssetObservation` whenever the stream changes (files, rows,
newest record time) with ``dagster/last_updated_timestamp`` set to the newest
record, which is what the UI shows as the stream's freshness.

Why a sensor rather than ``@observable_source_asset``: observable sources are
observed on a schedule only by the legacy auto-observe of the asset daemon;
a sensor runs in the ordinary sensor daemon, can be turned off in the UI,
reports only when something changed (its cursor is the stream's data version)
and is tested like any sensor.
"""

import hashlib

import dagster as dg

from curation_pipeline.defs.partitions import python_name
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.names import name_key


def stream_asset_key(application: str) -> dg.AssetKey:
    """``stream/<application's key>`` (see :func:`~curation_pipeline.names.name_key`)."""
    return dg.AssetKey(["stream", name_key(application)])


def build_stream_spec(application: str, *, storage_kind: str) -> dg.AssetSpec:
    """The external asset of ``application``'s stream."""
    return dg.AssetSpec(
        key=stream_asset_key(application),
        group_name=python_name(application),
        description=f"Records logged by the {application!r} application (Parquet by UTC day).",
        kinds={"parquet", storage_kind},
        tags={"curation/application": name_key(application), "curation/role": "stream"},
    )


def stream_observation(application: str, store: CurationStore) -> dg.AssetObservation:
    """An observation of the stream's current files, rows and newest record time."""
    from curation_pipeline.stream import stream_stats

    stats = stream_stats(application, location=store.location())
    latest = stats.latest_time
    metadata: dict[str, object] = {
        "files": stats.files,
        "rows": stats.rows,
        "dagster/row_count": stats.rows,
        "first_date": str(stats.first_date) if stats.first_date else "",
        "last_date": str(stats.last_date) if stats.last_date else "",
    }
    if latest is not None:
        metadata["latest_record_time"] = dg.MetadataValue.timestamp(latest)
        metadata["dagster/last_updated_timestamp"] = dg.MetadataValue.timestamp(latest)
    fingerprint = f"{stats.files}:{stats.rows}:{latest.isoformat() if latest else ''}"
    version = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return dg.AssetObservation(
        asset_key=stream_asset_key(application), metadata=metadata, tags={"dagster/data_version": version}
    )


def build_stream_sensor(application: str, *, enabled: bool = True) -> dg.SensorDefinition:
    """A sensor observing ``application``'s stream, reporting only changes."""

    @dg.sensor(
        name=f"{python_name(application)}_stream_observer",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING if enabled else dg.DefaultSensorStatus.STOPPED,
        description=f"Observes the {application!r} stream: files, rows and newest record time.",
    )
    def _observe(context: dg.SensorEvaluationContext, store: CurationStore):
        from curation_pipeline.stream import StreamNotFoundError

        try:
            observation = stream_observation(application, store)
        except StreamNotFoundError as error:
            # Nothing logged to this store yet (or a mistyped URL): say so on the tick.
            return dg.SensorResult(skip_reason=dg.SkipReason(str(error)))
        version = observation.tags["dagster/data_version"]
        if context.cursor == version:
            return dg.SensorResult(skip_reason=dg.SkipReason("the stream has not changed"), cursor=version)
        return dg.SensorResult(asset_events=[observation], cursor=version)

    return _observe
