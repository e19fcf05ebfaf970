"""Editing a deployed curator, row by row of docs/curators.md's table: no window twice, no record twice.

Each test deploys a curator, curates windows through Dagster, edits the
catalogue, reloads the definitions as the code location does, and curates
again; then the dataset's files are checked: their windows never overlap,
no record id appears twice, and the versions committed before the edit are
unchanged.
"""

from __future__ import annotations

import datetime as dt
import io

import dagster as dg
import pyarrow.parquet as pq
import pytest

from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.store import DatasetStore
from curation_pipeline.stream import log_records
from curation_pipeline.windows import CuratorEditError, known_grid
from curation_pipeline_tests.defs.conftest import records
from curation_pipeline_tests.lifecycle.conftest import UTC, Deployment

START = dt.datetime(2026, 1, 1, tzinfo=UTC)
KEY = dg.AssetKey(["curated", "daily"])
CURATOR = """
curators:
  - {{type: UniformCurator, name: daily, application_name: shop, limit: {limit}, start_on: 2026-01-01,
     curation_interval: {interval}, curation_delay: {delay}{extra}}}
"""


def at(days: float) -> dt.datetime:
    return START + dt.timedelta(days=days)


def catalogue(interval: str = "1d", limit: int = 5, delay: str = "0m", extra: str = "") -> str:
    return CURATOR.format(interval=interval, limit=limit, delay=delay, extra=extra)


@pytest.fixture
def deployed(deployment: Deployment) -> Deployment:
    """The ``daily`` curator deployed at Jan 4 01:00 over five days of stream, Jan 1-3 curated."""
    for day in range(5):
        log_records("shop", records(day, 40), store_url=deployment.store_url)
    deployment.write_catalogue(catalogue())
    curate(deployment, deployment.load(at(3 + 1 / 24)), "2026-01-01", "2026-01-03")
    return deployment


def curate(deployment: Deployment, defs: dg.Definitions, first: str, last: str | None = None) -> None:
    """One run curating the windows ``first`` to ``last``, as a backfill run does."""
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last or first}
    result = dg.materialize(
        [defs.get_assets_def(KEY)],
        instance=deployment.instance,
        resources={"store": CurationStore(store_url=deployment.store_url)},
        tags=tags,
        selection=[KEY],
    )
    assert result.success


def dataset(deployment: Deployment):
    return DatasetStore.open(deployment.store_url).get_dataset("daily")


def file_windows(deployment: Deployment) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """Each file of HEAD and the window of the version that wrote it last."""
    ds = dataset(deployment)
    files = set(ds.files())
    windows = {}
    for version in ds.list_versions():  # newest first
        path = f"data/{version.metadata['partition_key'].replace(':', '')}.parquet"
        if path in files and path not in windows:
            window = version.metadata["window"]
            windows[path] = (dt.datetime.fromisoformat(window["start"]), dt.datetime.fromisoformat(window["end"]))
    assert set(windows) == files
    return windows


def assert_no_overlap_and_no_duplicate(deployment: Deployment) -> None:
    spans = sorted(file_windows(deployment).values())
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start, f"overlapping windows: {spans}"
    ids = dataset(deployment).read(columns=["record_id"]).column("record_id").to_pylist()
    assert len(ids) == len(set(ids)), "a record appears twice"


def catch_up_keys(defs: dg.Definitions, deployment: Deployment) -> list[str]:
    context = dg.build_sensor_context(instance=deployment.instance, repository_def=defs.get_repository_def())
    data = defs.get_sensor_def("daily_catch_up").evaluate_tick(context)
    return sorted(k for r in data.run_requests for k in r.asset_graph_subset.get_partitions_subset(KEY).get_partition_keys())


def test_a_new_interval_starts_a_new_grid_where_the_old_one_stopped(deployed: Deployment):
    before = {p: dataset(deployed).read_file(p) for p in dataset(deployed).files()}
    deployed.write_catalogue(catalogue(interval="6h"))
    defs = deployed.load(at(3.5))  # Jan 4 12:00: the Jan 4 daily window was not due yet
    partitions = defs.get_assets_def(KEY).partitions_def
    assert partitions.get_first_partition_key() == "2026-01-04-00:00"
    # A day later the catch-up requests the new grid's windows only: the old grid is never re-curated.
    later = deployed.load(at(4 + 1 / 24))
    assert catch_up_keys(later, deployed) == [f"2026-01-04-{h:02d}:00" for h in (0, 6, 12, 18)]
    curate(deployed, later, "2026-01-04-00:00", "2026-01-04-18:00")
    assert_no_overlap_and_no_duplicate(deployed)
    assert sorted(dataset(deployed).files()) == [
        "data/2026-01-01.parquet", "data/2026-01-02.parquet", "data/2026-01-03.parquet",
        "data/2026-01-04-0000.parquet", "data/2026-01-04-0600.parquet", "data/2026-01-04-1200.parquet",
        "data/2026-01-04-1800.parquet",
    ]
    assert all(dataset(deployed).read_file(p) == data for p, data in before.items())  # past windows unchanged
    grid = known_grid("daily", DatasetStore.open(deployed.store_url))
    assert [g.interval for g in grid.segments] == [dt.timedelta(days=1), dt.timedelta(hours=6)]
    # Reloading again changes nothing: the record holds two segments.
    deployed.load(at(5))
    assert len(known_grid("daily", DatasetStore.open(deployed.store_url)).segments) == 2


def test_back_to_the_old_interval_starts_a_third_grid_not_the_old_one(deployed: Deployment):
    deployed.write_catalogue(catalogue(interval="6h"))
    curate(deployed, deployed.load(at(3.5)), "2026-01-04-00:00", "2026-01-04-06:00")
    deployed.write_catalogue(catalogue(interval="1d"))
    defs = deployed.load(at(3.5))  # Jan 4 12:00: the 06:00 window is due, the 12:00 one not
    assert defs.get_assets_def(KEY).partitions_def.get_first_partition_key() == "2026-01-04"
    # The new daily grid starts at Jan 4 12:00 (the first 6-hour window not yet due): one window closed by Jan 6 02:24.
    assert catch_up_keys(deployed.load(at(5.1)), deployed) == ["2026-01-04"]
    curate(deployed, deployed.load(at(5.1)), "2026-01-04")
    spans = file_windows(deployed)
    assert spans["data/2026-01-04.parquet"][0] == at(3.5)  # starts at noon, after the 6-hour windows
    assert_no_overlap_and_no_duplicate(deployed)


def test_new_selection_rules_show_per_version_and_a_backfill_replaces_the_window(deployed: Deployment):
    old_head = dataset(deployed).head()
    old_version = dataset(deployed).get_version(old_head)
    old_code = deployed.load(at(3.5)).get_assets_def(KEY).code_versions_by_key[KEY]
    deployed.write_catalogue(catalogue(limit=7))
    defs = deployed.load(at(3.5))
    new_code = defs.get_assets_def(KEY).code_versions_by_key[KEY]
    assert new_code != old_code and old_version.metadata["definition"] == old_code
    assert catch_up_keys(defs, deployed) == []  # an edit never re-curates history by itself
    curate(deployed, defs, "2026-01-02")  # the user's backfill of one window
    ds = dataset(deployed)
    assert ds.get_version(ds.head()).metadata["definition"] == new_code
    assert len(ds.files()) == 3  # replaced, not added
    assert pq.read_table(io.BytesIO(ds.read_file("data/2026-01-02.parquet"))).num_rows == 7
    assert ds.get_version(old_head).metadata["definition"] == old_code  # the past version is as it was
    assert_no_overlap_and_no_duplicate(deployed)


def test_a_new_delay_keeps_the_grid_and_moves_the_next_due_time(deployed: Deployment):
    deployed.write_catalogue(catalogue(delay="2h"))
    defs = deployed.load(at(3.5))
    grid = known_grid("daily", DatasetStore.open(deployed.store_url))
    assert len(grid.segments) == 1
    assert defs.get_schedule_def("daily_schedule").cron_schedule == "0 2 * * *"
    assert defs.get_assets_def(KEY).partitions_def.get_first_partition_key() == "2026-01-01"


def test_another_dataset_is_refused_unless_moved_explicitly(deployed: Deployment):
    deployed.write_catalogue(catalogue(extra=", curated_dataset_name: elsewhere"))
    with pytest.raises(CuratorEditError, match="curation curators move daily elsewhere"):
        deployed.load(at(3.5))
    from click.testing import CliRunner

    from curation_pipeline.cli import main

    result = CliRunner().invoke(main, ["curators", "move", "daily", "elsewhere"])
    assert result.exit_code == 0, result.output
    defs = deployed.load(at(3.5))
    assert defs.get_assets_def(dg.AssetKey(["curated", "elsewhere"])) is not None
    assert len(dataset(deployed).files()) == 3  # the old dataset keeps every version


def test_an_earlier_start_on_extends_the_grid_back_and_a_later_one_changes_nothing(deployed: Deployment):
    deployed.write_catalogue(catalogue().replace("start_on: 2026-01-01", "start_on: 2025-12-30"))
    assert deployed.load(at(3.5)).get_assets_def(KEY).partitions_def.get_first_partition_key() == "2025-12-30"
    deployed.write_catalogue(catalogue().replace("start_on: 2026-01-01", "start_on: 2026-01-02"))
    assert deployed.load(at(3.5)).get_assets_def(KEY).partitions_def.get_first_partition_key() == "2025-12-30"
    assert_no_overlap_and_no_duplicate(deployed)


def test_an_overlapping_window_is_refused_by_the_store_guard_and_nothing_is_committed(deployed: Deployment):
    # Renaming a curator gives it a new grid record: the grid history cannot see the old curator's files.
    deployed.write_catalogue(catalogue(interval="6h", extra=", curated_dataset_name: daily").replace("name: daily,", "name: daily-6h,", 1))
    defs = deployed.load(at(3.5))
    head, files = dataset(deployed).head(), dict(dataset(deployed).files())
    result = dg.materialize(
        [defs.get_assets_def(KEY)],
        instance=deployed.instance,
        resources={"store": CurationStore(store_url=deployed.store_url)},
        partition_key="2026-01-02-06:00",  # a backfill of one 6-hour window inside the daily file of Jan 2
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "OverlappingWindowError" in message
    assert "2026-01-02T06:00:00+00:00 to 2026-01-02T12:00:00+00:00 (data/2026-01-02-0600.parquet)" in message
    assert "2026-01-02T00:00:00+00:00 to 2026-01-03T00:00:00+00:00 (data/2026-01-02.parquet)" in message
    assert dataset(deployed).head() == head and dict(dataset(deployed).files()) == files  # nothing committed
    # A window after every daily file is new ground: it lands, and its version records every file's window.
    assert dg.materialize(
        [defs.get_assets_def(KEY)], instance=deployed.instance,
        resources={"store": CurationStore(store_url=deployed.store_url)}, partition_key="2026-01-04-00:00",
    ).success
    recorded = dataset(deployed).get_version().metadata["windows"]
    assert sorted(recorded) == sorted(dataset(deployed).files())
    assert_no_overlap_and_no_duplicate(deployed)


def test_old_grid_windows_missing_at_an_interval_change_are_curated_by_backfill_old_grid(deployment: Deployment):
    from click.testing import CliRunner

    from curation_pipeline.cli import main

    for day in range(5):
        log_records("shop", records(day, 40), store_url=deployment.store_url)
    deployment.write_catalogue(catalogue())
    curate(deployment, deployment.load(at(3 + 1 / 24)), "2026-01-01")  # Jan 2 and 3 missed: the curator was off
    deployment.write_catalogue(catalogue(interval="6h"))
    defs = deployment.load(at(3.5))
    assert defs.get_assets_def(KEY).partitions_def.get_first_partition_key() == "2026-01-04-00:00"  # no partition for them
    curate(deployment, deployment.load(at(4 + 1 / 24)), "2026-01-04-00:00", "2026-01-04-18:00")

    listed = CliRunner().invoke(main, ["curators", "backfill", "daily", "--old-grid", "--dry-run"])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[0] for line in listed.output.splitlines()] == ["2026-01-02", "2026-01-03"]
    done = CliRunner().invoke(main, ["curators", "backfill", "daily", "--old-grid"])
    assert done.exit_code == 0, done.output
    assert [line.split()[:3] for line in done.output.splitlines()] == [["2026-01-02", "5", "records"], ["2026-01-03", "5", "records"]]
    spans = file_windows(deployment)
    assert spans["data/2026-01-02.parquet"] == (at(1), at(2)) and spans["data/2026-01-03.parquet"] == (at(2), at(3))
    assert_no_overlap_and_no_duplicate(deployment)
    again = CliRunner().invoke(main, ["curators", "backfill", "daily", "--old-grid"])
    assert again.output == "daily: no window of an old grid is missing\n"
    refused = CliRunner().invoke(main, ["curators", "backfill", "daily"])
    assert refused.exit_code == 1 and "pass --old-grid" in refused.output
