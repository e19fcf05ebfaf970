"""Late data through Dagster: a curated window whose stream day grew is stale, and only it; re-curating it keeps its picks."""

from __future__ import annotations

import datetime as dt
import io

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from curation_pipeline.curators import (
    BalancedStratificationCurator,
    DescendedSortCurator,
    EqualityCurator,
    UniformCurator,
)
from curation_pipeline.defs.assets import curated_asset_key
from curation_pipeline.defs.factory import build_application_defs, build_curator_defs
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.defs.switch import schedule_name
from curation_pipeline.store import DatasetStore
from curation_pipeline.stream import log_records
from curation_pipeline_tests.defs.conftest import APP, START, records

NOW = START + dt.timedelta(days=3, hours=1)  # 2026-01-04 01:00: windows of Jan 1-3 are due
DAY = dt.timedelta(days=1)


def curator_of(kind: str, **overrides):
    common = {"name": f"late-{kind}", "application_name": APP, "start_on": START, **overrides}
    if kind == "uniform":
        return UniformCurator(limit=8, **common)
    if kind == "equality":
        return EqualityCurator(limit=6, field="outputs.label", equals="pos", **common)
    if kind == "ordered":
        return DescendedSortCurator(limit=6, sort_field="inputs.amount", **common)
    return BalancedStratificationCurator(limit=6, stratify_field="outputs.label", **common)


def definitions(curator, store_url, now=NOW):
    return dg.Definitions.merge(
        build_curator_defs(curator, stream_start=START.date(), clock=lambda: now),
        build_application_defs(APP, start=START.date(), clock=lambda: now),
        dg.Definitions(resources={"store": CurationStore(store_url=store_url)}),
    )


def curate(defs, curator, instance, key):
    job = defs.resolve_job_def(f"{curator.name.replace('-', '_')}_job")
    assert job.execute_in_process(partition_key=key, instance=instance).success


def sensor_context(defs, instance, store_url, cursor=None):
    return dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        repository_def=defs.get_repository_def(),
        resources={"store": CurationStore(store_url=store_url)},
    )


def observe(defs, instance, store_url, cursor=None):
    """One tick of the stream observer, its observations stored as the daemon would."""
    sensor = defs.get_sensor_def(f"{APP}_stream_observer")
    context = sensor_context(defs, instance, store_url, cursor)
    result = sensor.evaluate_tick(context)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result.cursor


def stale(defs, instance, curator, keys):
    resolver = CachingStaleStatusResolver(
        instance, defs.get_repository_def().asset_graph, LoadingContextForTest(instance)
    )
    key = curated_asset_key(curator.dataset_name)
    return {k: resolver.get_status(key, k) for k in keys}


def latest_metadata(instance, curator, key):
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=curated_asset_key(curator.dataset_name), asset_partitions=[key]), limit=1
    ).records[0]
    return {name: value.value for name, value in record.asset_materialization.metadata.items()}


def held_ids(store_url, curator, key):
    dataset = DatasetStore.open(store_url).get_dataset(curator.dataset_name)
    return set(pq.read_table(io.BytesIO(dataset.read_file(f"data/{key}.parquet"))).column("record_id").to_pylist())


def log_late(store_url, day: int, count: int, prefix: str = "late"):
    log_records(APP, records(day, count, prefix=prefix), store_url=store_url)


@pytest.mark.parametrize("kind", ["uniform", "equality", "ordered", "stratified"])
def test_a_late_batch_makes_its_window_stale_and_recuration_keeps_the_picks(store_url, instance, kind):
    curator = curator_of(kind)
    defs = definitions(curator, store_url)
    cursor = observe(defs, instance, store_url)
    for key in ("2026-01-01", "2026-01-02", "2026-01-03"):
        curate(defs, curator, instance, key)
    keys = ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert set(stale(defs, instance, curator, keys).values()) == {StaleStatus.FRESH}
    before = held_ids(store_url, curator, "2026-01-02")

    log_late(store_url, 1, 30)  # 30 records land in Jan 2 after it was curated
    observe(defs, instance, store_url, cursor)
    assert stale(defs, instance, curator, keys) == {
        "2026-01-01": StaleStatus.FRESH,
        "2026-01-02": StaleStatus.STALE,
        "2026-01-03": StaleStatus.FRESH,
    }

    curate(defs, curator, instance, "2026-01-02")
    meta = latest_metadata(instance, curator, "2026-01-02")
    after = held_ids(store_url, curator, "2026-01-02")
    assert meta["late_rows"] == 30 and meta["late_files"] == 1
    assert meta["kept"] == len(before & after)
    assert meta["added"] == len(after - before)
    assert meta["dropped"] == len(before - after)
    assert meta["kept"] + meta["added"] == len(after) == meta["rows_selected"]
    assert meta["candidate_rows"] == 70
    assert stale(defs, instance, curator, keys)["2026-01-02"] == StaleStatus.FRESH
    if kind == "ordered":  # the late amounts (0-29) all rank below the six held (34-39): nothing moves
        assert (meta["kept"], meta["added"], meta["dropped"]) == (6, 0, 0) and after == before
    elif kind in ("uniform", "equality"):  # a pick leaves only for a late record that displaces it
        assert all(record.startswith("late") for record in after - before)
        assert meta["added"] == meta["dropped"]


def test_recurating_without_late_records_changes_nothing(store_url, instance):
    curator = curator_of("uniform")
    defs = definitions(curator, store_url)
    curate(defs, curator, instance, "2026-01-02")
    versions = len(DatasetStore.open(store_url).get_dataset(curator.dataset_name).list_versions())
    curate(defs, curator, instance, "2026-01-02")
    meta = latest_metadata(instance, curator, "2026-01-02")
    assert meta["new_version"] is False and meta["late_rows"] == 0
    assert meta["kept"] == 8 and meta["added"] == 0 and meta["dropped"] == 0
    assert len(DatasetStore.open(store_url).get_dataset(curator.dataset_name).list_versions()) == versions


def test_recuration_is_incremental_over_several_late_batches(store_url, instance):
    curator = curator_of("uniform")
    defs = definitions(curator, store_url)
    curate(defs, curator, instance, "2026-01-02")
    log_late(store_url, 1, 20, prefix="late1-")
    curate(defs, curator, instance, "2026-01-02")
    first = held_ids(store_url, curator, "2026-01-02")
    log_late(store_url, 1, 20, prefix="late2-")
    curate(defs, curator, instance, "2026-01-02")
    meta = latest_metadata(instance, curator, "2026-01-02")
    second = held_ids(store_url, curator, "2026-01-02")
    assert meta["late_rows"] == 20  # only the second batch is late for the second re-curation
    assert meta["kept"] == len(first & second) and meta["kept"] + meta["dropped"] == len(first)
    assert all(not i.startswith("late1-") for i in second - first)  # added records come from the newest batch


def late_sensor_tick(defs, curator, instance, store_url):
    sensor = defs.get_sensor_def(f"{curator.name.replace('-', '_')}_late_data")
    return sensor.evaluate_tick(sensor_context(defs, instance, store_url))


def test_automation_recurates_late_windows_within_the_horizon_only(store_url, sqlite_instance):
    curator = curator_of("uniform", recurate_late_within=dt.timedelta(days=2))
    defs = definitions(curator, store_url)
    for key in ("2026-01-01", "2026-01-02", "2026-01-03"):
        curate(defs, curator, sqlite_instance, key)
    assert not late_sensor_tick(defs, curator, sqlite_instance, store_url).run_requests

    log_late(store_url, 0, 10)  # Jan 1 ended more than 2 days before now: beyond the horizon
    log_late(store_url, 1, 10)  # Jan 2: within it
    requests = late_sensor_tick(defs, curator, sqlite_instance, store_url).run_requests
    assert [r.partition_key for r in requests] == ["2026-01-02"]
    assert requests[0].tags["curation/trigger"] == "late-data"

    curate(defs, curator, sqlite_instance, "2026-01-02")
    assert not late_sensor_tick(defs, curator, sqlite_instance, store_url).run_requests


def test_automation_follows_the_curators_switch(store_url, sqlite_instance):
    curator = curator_of("uniform", recurate_late_within=dt.timedelta(days=2))
    defs = definitions(curator, store_url)
    curate(defs, curator, sqlite_instance, "2026-01-02")
    log_late(store_url, 1, 10)
    assert late_sensor_tick(defs, curator, sqlite_instance, store_url).run_requests

    # Off (its schedule stopped): the late windows wait, whatever the sensor's own status.
    disabled = definitions(curator_of("uniform", recurate_late_within=dt.timedelta(days=2), enabled=False), store_url)
    skipped = late_sensor_tick(disabled, curator, sqlite_instance, store_url)
    assert not skipped.run_requests
    assert f"{schedule_name(curator.name)} is stopped" in skipped.skip_message


def test_without_the_option_there_is_no_late_data_sensor(store_url):
    defs = definitions(curator_of("uniform"), store_url)
    assert not [s for s in defs.sensors if s.name.endswith("_late_data")]


def hourly_records(hour: int, minute: int, prefix: str, count: int = 1) -> list[dict]:
    moment = START + dt.timedelta(days=1, hours=hour, minutes=minute)
    return [
        {"record_id": f"{prefix}-{i}", "__time": moment, "inputs.amount": 1.0, "outputs.label": "pos", "tags.env": "prod"}
        for i in range(count)
    ]


def test_an_hourly_window_only_sees_late_records_of_its_own_hour(store_url, sqlite_instance):
    curator = curator_of("uniform", curation_interval=dt.timedelta(hours=1), recurate_late_within=dt.timedelta(days=3))
    defs = definitions(curator, store_url)
    for key in ("2026-01-02-00:00", "2026-01-02-02:00"):
        curate(defs, curator, sqlite_instance, key)
    versions = len(DatasetStore.open(store_url).get_dataset(curator.dataset_name).list_versions())

    log_records(APP, hourly_records(2, 30, "late-hour", 3), store_url=store_url)  # lands in 02:00 only
    requests = late_sensor_tick(defs, curator, sqlite_instance, store_url).run_requests
    assert [r.partition_key for r in requests] == ["2026-01-02-02:00"]

    # The day's version changed, so the UI marks the day's hours stale; curating 00:00 again commits nothing.
    curate(defs, curator, sqlite_instance, "2026-01-02-00:00")
    meta = latest_metadata(sqlite_instance, curator, "2026-01-02-00:00")
    assert meta["new_version"] is False and meta["late_rows"] == 0 and meta["late_files"] == 1
    assert len(DatasetStore.open(store_url).get_dataset(curator.dataset_name).list_versions()) == versions
    assert stale(defs, sqlite_instance, curator, ["2026-01-02-00:00"]) == {"2026-01-02-00:00": StaleStatus.FRESH}
    curate(defs, curator, sqlite_instance, "2026-01-02-02:00")
    assert latest_metadata(sqlite_instance, curator, "2026-01-02-02:00")["late_rows"] == 3


def test_a_window_empty_when_curated_turns_stale_when_its_records_arrive(store_url, sqlite_instance):
    curator = curator_of("uniform", recurate_late_within=dt.timedelta(days=5))
    now = START + dt.timedelta(days=6, hours=1)
    defs = definitions(curator, store_url, now=now)
    cursor = observe(defs, sqlite_instance, store_url)
    curate(defs, curator, sqlite_instance, "2026-01-05")  # nothing logged for Jan 5 yet
    assert latest_metadata(sqlite_instance, curator, "2026-01-05")["rows_selected"] == 0
    assert stale(defs, sqlite_instance, curator, ["2026-01-05"]) == {"2026-01-05": StaleStatus.FRESH}

    log_late(store_url, 4, 30, prefix="upload")  # a batch upload fills Jan 5 in
    observe(defs, sqlite_instance, store_url, cursor)
    assert stale(defs, sqlite_instance, curator, ["2026-01-05"]) == {"2026-01-05": StaleStatus.STALE}
    assert [r.partition_key for r in late_sensor_tick(defs, curator, sqlite_instance, store_url).run_requests] == [
        "2026-01-05"
    ]
    curate(defs, curator, sqlite_instance, "2026-01-05")
    assert latest_metadata(sqlite_instance, curator, "2026-01-05")["rows_selected"] == 8


def test_a_run_that_read_an_older_version_never_reports_it_over_the_newer_one(store_url, instance):
    from curation_pipeline.defs.stream_assets import input_versions_observed
    from curation_pipeline.stream.lineage import observe_days

    curator = curator_of("uniform")
    defs = definitions(curator, store_url)
    cursor = observe(defs, instance, store_url)
    curate(defs, curator, instance, "2026-01-02")
    read_at = dt.datetime.now(dt.timezone.utc)
    (read,) = observe_days(APP, [dt.date(2026, 1, 2)], store_url)  # what a run read ...
    log_late(store_url, 1, 5)  # ... before a file landed and the observer saw it
    observe(defs, instance, store_url, cursor)
    records = instance.fetch_observations(dg.AssetRecordsFilter(asset_key=dg.AssetKey(["stream", APP])), limit=100)
    pointer = input_versions_observed(instance, APP, {"2026-01-02": read.version}, START.date(), read_at)
    after = instance.fetch_observations(dg.AssetRecordsFilter(asset_key=dg.AssetKey(["stream", APP])), limit=100)
    assert len(after.records) == len(records.records)  # nothing reported over the newer version
    newest = max(r.storage_id for r in after.records if r.partition_key == "2026-01-02")
    assert pointer == newest - 1  # before it: a window with this provenance shows stale
