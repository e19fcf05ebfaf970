"""A curator's asset materialized through Dagster: one dataset version per window, metadata per partition."""

from __future__ import annotations

import datetime as dt
import threading

import dagster as dg
import pyarrow as pa
from dagster._core.execution.api import create_execution_plan

import curation_pipeline.windows.curate as curation
from curation_pipeline.defs.assets import curated_asset_key, curator_pool
from curation_pipeline.defs.factory import build_curator_defs
from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.defs.conftest import APP, prod_curator, uniform_curator

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
CHECKS = {"row_count_within_limit", "records_inside_window", "filters_hold", "unique_record_ids", "schema_matches_stream"}


def run(curator, store, instance, *, partition_key=None, first=None, last=None, raise_on_error=True):
    assets = build_curator_defs(curator).assets
    tags = {RANGE_START: first, RANGE_END: last} if first else None
    return dg.materialize(
        assets,
        instance=instance,
        resources={"store": store},
        partition_key=partition_key,
        tags=tags,
        raise_on_error=raise_on_error,
    )


def latest(instance, curator, partition_key):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=curated_asset_key(curator.dataset_name), asset_partitions=[partition_key]),
        limit=1,
    ).records
    return records[0].asset_materialization if records else None


def check_results(instance, curator, partition_key):
    results = {}
    for name in CHECKS:
        key = dg.AssetCheckKey(curated_asset_key(curator.dataset_name), name)
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
        mine = [r for r in history if r.partition == partition_key and r.event is not None]
        results[name] = mine[0].event.dagster_event.event_specific_data.passed if mine else None
    return results


def test_one_window_commits_one_version_with_its_metadata(store_url, store, instance):
    curator = prod_curator()
    result = run(curator, store, instance, partition_key="2026-01-02")
    assert result.success

    dataset = DatasetStore.open(store_url).get_dataset("prod-sample")
    versions = dataset.list_versions()
    assert len(versions) == 1
    table = dataset.read()
    assert table.num_rows == 5
    assert set(table["tags.env"].to_pylist()) == {"prod"}
    assert list(dataset.files()) == ["data/2026-01-02.parquet"]

    event = latest(instance, curator, "2026-01-02")
    meta = {k: v.value for k, v in event.metadata.items()}
    head = dataset.head()
    assert meta["dataset"] == "prod-sample"
    assert meta["version_id"] == head
    assert meta["parent_version"] == ""
    assert meta["new_version"] is True
    assert meta["rows_selected"] == 5 and meta["dagster/row_count"] == 5
    assert meta["candidate_rows"] == 40
    assert meta["limit"] == 5 and meta["limit_hit"] is True
    assert meta["window_start"] == dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc).timestamp()
    assert meta["window_end"] == dt.datetime(2026, 1, 3, tzinfo=dt.timezone.utc).timestamp()
    assert meta["seed"] == str(curation.derive_seed("prod-sample", "2026-01-02"))
    assert meta["version_uri"].endswith(f"datasets/prod-sample/versions/{head}.json")
    assert "| record_id |" in meta["preview"]
    assert {c.name for c in meta["dagster/column_schema"].columns} == set(table.column_names)
    assert event.tags["dagster/data_version"] == head
    assert event.description.startswith("prod-sample: 2026-01-02T00:00:00+00:00 to 2026-01-03T00:00:00+00:00 - 5")

    manifest = dataset.get_version(head)
    assert manifest.message == "prod-sample: 2026-01-02T00:00:00+00:00 to 2026-01-03T00:00:00+00:00 - 5 records added from interval of size 40"
    assert manifest.metadata["partition_key"] == "2026-01-02"
    assert manifest.metadata["selected_rows"] == 5 and manifest.metadata["candidate_rows"] == 40
    assert manifest.metadata["window"] == {"start": "2026-01-02T00:00:00+00:00", "end": "2026-01-03T00:00:00+00:00"}
    assert [c["name"] for c in manifest.metadata["schema"]] == table.column_names

    assert check_results(instance, curator, "2026-01-02") == {name: True for name in CHECKS}


def test_rerun_of_a_window_creates_no_version_and_reports_the_existing_one(store_url, store, instance):
    curator = prod_curator()
    run(curator, store, instance, partition_key="2026-01-01")
    first = latest(instance, curator, "2026-01-01")
    run(curator, store, instance, partition_key="2026-01-01")
    second = latest(instance, curator, "2026-01-01")

    assert len(DatasetStore.open(store_url).get_dataset("prod-sample").list_versions()) == 1
    assert second.metadata["version_id"] == first.metadata["version_id"]
    assert second.metadata["new_version"].value is False
    assert second.tags["dagster/data_version"] == first.tags["dagster/data_version"]


def test_empty_window_commits_nothing_and_says_so(store_url, store, instance):
    curator = prod_curator()
    assert run(curator, store, instance, partition_key="2026-01-05").success
    event = latest(instance, curator, "2026-01-05")
    assert event.metadata["version_id"].value == ""
    assert event.metadata["rows_selected"].value == 0
    assert event.metadata["status"].value.startswith("empty window")
    assert "dagster/data_version" not in event.tags
    assert "prod-sample" not in DatasetStore.open(store_url).list_datasets()


def test_missing_field_fails_the_run_naming_the_field(store, instance):
    curator = prod_curator(
        name="by-color",
        selectors=[{"limit": 3, "filters": [{"type": "equals", "field": "inputs.color", "equals": "red"}]}],
    )
    result = run(curator, store, instance, partition_key="2026-01-01", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "inputs.color" in message and "by-color" in message
    assert latest(instance, curator, "2026-01-01") is None


def test_ranged_run_commits_one_version_per_window(store_url, store, instance):
    curator = uniform_curator()
    result = run(curator, store, instance, first="2026-01-01", last="2026-01-03")
    assert result.success

    dataset = DatasetStore.open(store_url).get_dataset("all-sample")
    versions = dataset.list_versions()
    assert len(versions) == 3
    assert sorted(dataset.files()) == [f"data/2026-01-0{d}.parquet" for d in (1, 2, 3)]
    events = [latest(instance, curator, f"2026-01-0{d}") for d in (1, 2, 3)]
    version_ids = [e.metadata["version_id"].value for e in events]
    assert len(set(version_ids)) == 3
    assert {v.version_id for v in versions} == set(version_ids)
    assert [e.tags["dagster/data_version"] for e in events] == version_ids
    assert [e.metadata["window_start"].value for e in events] == sorted(e.metadata["window_start"].value for e in events)
    # Each window's version has the previous window's as parent: one commit per window, in order.
    assert events[1].metadata["parent_version"].value == version_ids[0]
    assert events[2].metadata["parent_version"].value == version_ids[1]
    # Exactly one materialization per partition: nothing copied onto the range by Dagster.
    mats = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    assert sorted(m.partition for m in mats) == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert instance.get_materialized_partitions(curated_asset_key("all-sample")) == {"2026-01-01", "2026-01-02", "2026-01-03"}
    for day in (1, 2, 3):
        assert check_results(instance, curator, f"2026-01-0{day}") == {name: True for name in CHECKS}


def test_concurrent_ranged_runs_keep_every_version(store_url, store):
    from curation_pipeline.stream import log_records
    from curation_pipeline_tests.defs.conftest import records

    for day in range(3, 8):
        log_records(APP, records(day, 20), store_url=store_url)
    curator = uniform_curator(limit=4)
    ranges = [("2026-01-01", "2026-01-04"), ("2026-01-05", "2026-01-08")]
    outcomes = []

    def work(first, last):
        # Two runs as two run workers would do it: separate processes' instances, one store.
        outcomes.append(run(curator, store, dg.DagsterInstance.ephemeral(), first=first, last=last).success)

    threads = [threading.Thread(target=work, args=r) for r in ranges]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == [True, True]
    dataset = DatasetStore.open(store_url).get_dataset("all-sample")
    assert len(dataset.list_versions()) == 8
    assert sorted(dataset.files()) == [f"data/2026-01-0{d}.parquet" for d in range(1, 9)]
    assert dataset.read().num_rows == 8 * 4


def test_checks_fail_on_bad_records(monkeypatch, store, instance):
    real = curation.run_selection

    def broken_selection(data, selectors, *, seed):
        result = real(data, selectors, seed=seed)
        outside = result.table.set_column(
            result.table.schema.get_field_index("__time"),
            "__time",
            pa.array([dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)] * result.table.num_rows, result.table["__time"].type),
        )
        return type(result)(table=pa.concat_tables([result.table, outside]), candidate_rows=result.candidate_rows,
                            selectors=result.selectors)

    monkeypatch.setattr(curation, "run_selection", broken_selection)
    curator = prod_curator()
    assert run(curator, store, instance, partition_key="2026-01-01").success
    results = check_results(instance, curator, "2026-01-01")
    assert results["row_count_within_limit"] is False
    assert results["records_inside_window"] is False
    assert results["unique_record_ids"] is False
    assert results["filters_hold"] is True
    assert results["schema_matches_stream"] is True


def test_checks_alone_evaluate_the_stored_version(store, instance):
    curator = prod_curator()
    run(curator, store, instance, partition_key="2026-01-01")
    defs = dg.Definitions(assets=build_curator_defs(curator).assets, resources={"store": store})
    job = defs.get_implicit_global_asset_job_def()
    key = curated_asset_key(curator.dataset_name)
    result = job.get_subset(asset_check_selection={dg.AssetCheckKey(key, n) for n in CHECKS}, asset_selection=set()).execute_in_process(
        instance=instance, partition_key="2026-01-01"
    )
    assert result.success
    assert not [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    evaluations = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(evaluations) == len(CHECKS)
    assert all(e.event_specific_data.passed for e in evaluations)


def test_the_curator_job_curates_a_window_and_runs_its_checks(store, instance):
    curator = prod_curator()
    defs = dg.Definitions.merge(build_curator_defs(curator), dg.Definitions(resources={"store": store}))
    job = defs.resolve_job_def("prod_sample_job")
    assert job.executor_def.name == "in_process"
    result = job.execute_in_process(partition_key="2026-01-03", instance=instance)
    assert result.success
    assert latest(instance, curator, "2026-01-03").metadata["rows_selected"].value == 5
    assert check_results(instance, curator, "2026-01-03") == {name: True for name in CHECKS}


def test_every_job_materializing_the_asset_runs_it_in_the_curators_pool(store):
    # The run queue holds a run back by the pools of its steps: the curator's own job (schedule,
    # catch-up sensor) and Dagster's asset job (Materialize, backfills from the UI) must both name it.
    curator = prod_curator(name="Prod Sample")
    defs = dg.Definitions.merge(build_curator_defs(curator), dg.Definitions(resources={"store": store}))
    jobs = [defs.resolve_job_def("prod_sample_job"), defs.resolve_implicit_global_asset_job_def()]

    pools = {job.name: {step.pool for step in create_execution_plan(job).get_all_steps_in_topo_order()} for job in jobs}

    assert curator_pool("Prod Sample") == "curator/prod-sample"  # the curator's key, as in its job name
    assert pools == {"prod_sample_job": {"curator/prod-sample"}, "__ASSET_JOB": {"curator/prod-sample"}}


# -- the Dagster boundary: one `except CurationError` -------------------------------------


def _raising(error: Exception):
    def action():
        raise error

    return action


def test_every_library_error_becomes_one_failure_naming_curator_window_and_class():
    import pytest

    from curation_pipeline.curators import CuratorConfigError
    from curation_pipeline.defs.assets import _at_boundary
    from curation_pipeline.names import InvalidNameError
    from curation_pipeline.selection import FieldTypeError
    from curation_pipeline.store import DatasetDeletedError
    from curation_pipeline.stream import StreamStorageError

    curator = uniform_curator()
    errors = [
        DatasetDeletedError("gone"),
        StreamStorageError("unreachable"),
        FieldTypeError("wrong type"),
        CuratorConfigError("bad spec"),
        InvalidNameError("bad name"),
    ]
    for error in errors:
        with pytest.raises(dg.Failure) as raised:
            _at_boundary(curator, "2026-01-01", _raising(error))
        name = type(error).__name__
        assert raised.value.description == f"curator {curator.name!r}, window 2026-01-01: {name}: {error}"
        assert {k: v.value for k, v in raised.value.metadata.items()} == {
            "curator": curator.name, "partition": "2026-01-01", "error": name,
        }
        assert raised.value.__cause__ is error
    with pytest.raises(RuntimeError):  # not a library error: a bug keeps its own traceback
        _at_boundary(curator, None, _raising(RuntimeError("bug")))
