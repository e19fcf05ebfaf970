"""Sensors: catching up on past windows with a backfill, registering dynamic windows, observing streams."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from curation_pipeline.defs.assets import curated_asset_key
from curation_pipeline.defs.factory import build_application_defs, build_curator_defs
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.defs.stream_assets import stream_asset_key
from curation_pipeline_tests.defs.conftest import APP, START, prod_curator

NOW = START + dt.timedelta(days=3, hours=1)  # 2026-01-04 01:00: windows of Jan 1-3 are due


def curator_defs(curator, now, store):
    defs = build_curator_defs(curator, clock=lambda: now)
    return dg.Definitions.merge(defs, dg.Definitions(resources={"store": store}))


def tick(defs, name, instance, cursor=None, resources=None):
    sensor = defs.get_sensor_def(name)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=defs.get_repository_def(), resources=resources
    )
    return sensor.evaluate_tick(context)


def requested_keys(data, asset_key):
    keys = []
    for request in data.run_requests:
        keys += list(request.asset_graph_subset.get_partitions_subset(asset_key).get_partition_keys())
    return sorted(keys)


def test_catch_up_backfills_missing_past_windows_once(store, instance):
    curator = prod_curator()
    key = curated_asset_key(curator.dataset_name)
    defs = curator_defs(curator, NOW, store)
    dg.materialize(defs.assets, instance=instance, resources={"store": store}, partition_key="2026-01-02")

    first = tick(defs, "prod_sample_catch_up", instance)
    assert requested_keys(first, key) == ["2026-01-01", "2026-01-03"]
    (request,) = first.run_requests
    assert request.requires_backfill_daemon()
    assert request.tags["curation/curator"] == "prod-sample"
    assert first.cursor == "2026-01-03"

    again = tick(defs, "prod_sample_catch_up", instance, cursor=first.cursor)
    assert not again.run_requests  # already requested: never twice

    later = curator_defs(curator, NOW + dt.timedelta(days=2), store)
    missed = tick(later, "prod_sample_catch_up", instance, cursor=first.cursor)
    assert requested_keys(missed, key) == ["2026-01-04", "2026-01-05"]


def test_catch_up_waits_for_the_delay_and_the_schedule(store, instance):
    curator = prod_curator(curation_delay=dt.timedelta(hours=2))
    data = tick(curator_defs(curator, NOW, store), "prod_sample_catch_up", instance)
    # Jan 3 is due at Jan 4 02:00 only: its schedule tick comes first.
    assert requested_keys(data, curated_asset_key("prod-sample")) == ["2026-01-01", "2026-01-02"]


def test_catch_up_for_every_curator_and_it_follows_the_schedule(store, instance):
    # Without curate_past_intervals the sensor still exists: it catches up the windows missed while off.
    assert "prod_sample_catch_up" in {
        s.name for s in curator_defs(prod_curator(curate_past_intervals=False), NOW, store).sensors
    }
    # The schedule is the switch: the sensor is always declared RUNNING and skips while the schedule is stopped.
    disabled = curator_defs(prod_curator(enabled=False), NOW, store)
    assert disabled.get_sensor_def("prod_sample_catch_up").default_status == dg.DefaultSensorStatus.RUNNING
    skipped = tick(disabled, "prod_sample_catch_up", instance)
    assert not skipped.run_requests
    assert "prod_sample_schedule is stopped" in skipped.skip_message


def test_dynamic_windows_are_registered_and_backfilled(store, sqlite_instance):
    curator = prod_curator(curation_interval=dt.timedelta(minutes=90))
    now = START + dt.timedelta(hours=6, minutes=5)
    defs = curator_defs(curator, now, store)
    windows = ["2026-01-01-00:00", "2026-01-01-01:30", "2026-01-01-03:00", "2026-01-01-04:30"]

    registered = tick(defs, "prod_sample_windows", sqlite_instance)
    (add,) = registered.dynamic_partitions_requests
    assert list(add.partition_keys) == windows

    catch_up = tick(defs, "prod_sample_catch_up", sqlite_instance)
    assert requested_keys(catch_up, curated_asset_key("prod-sample")) == windows
    assert list(catch_up.dynamic_partitions_requests[0].partition_keys) == windows


def stream_defs(store_url, now):
    return dg.Definitions.merge(
        build_application_defs(APP, clock=lambda: now), dg.Definitions(resources={"store": CurationStore(store_url=store_url)})
    )


def test_stream_observer_reports_changes_only(store_url, instance):
    defs = stream_defs(store_url, NOW)
    first = tick(defs, "shop_stream_observer", instance, resources={"store": CurationStore(store_url=store_url)})
    days = {event.partition: event for event in first.asset_events}
    assert sorted(days) == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]  # from the stream's start to today
    assert {event.asset_key for event in first.asset_events} == {stream_asset_key(APP)}
    assert sum(event.metadata["rows"].value for event in days.values()) == 120
    assert sum(event.metadata["files"].value for event in days.values()) == 3
    assert days["2026-01-04"].metadata["rows"].value == 0
    newest = days["2026-01-03"]  # the newest day holding records carries the stream's freshness
    latest = newest.metadata["latest_record_time"].value
    assert dt.datetime.fromtimestamp(latest, dt.timezone.utc) < START + dt.timedelta(days=3)
    assert newest.metadata["dagster/last_updated_timestamp"].value == latest
    assert len({event.tags["dagster/data_version"] for event in days.values()}) == 4

    again = tick(defs, "shop_stream_observer", instance, cursor=first.cursor,
                 resources={"store": CurationStore(store_url=store_url)})
    assert not again.asset_events


def test_stream_observer_skips_with_the_reason_when_the_store_holds_no_stream(tmp_path, instance):
    store = CurationStore(store_url=str(tmp_path / "empty"))
    defs = dg.Definitions.merge(build_application_defs(APP, clock=lambda: NOW), dg.Definitions(resources={"store": store}))
    result = tick(defs, "shop_stream_observer", instance, resources={"store": store})
    assert not result.asset_events
    assert "no stream at" in str(result.skip_message)
