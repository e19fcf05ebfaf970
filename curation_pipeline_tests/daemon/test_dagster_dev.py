"""The curators served by a real ``dagster dev``: runs, backfills and schedule ticks through GraphQL.

Everything goes through the running instance the way the UI drives it; the
results are checked against the dataset store the runs committed to.
"""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from curation_devtools import PARTITION_TAG
from curation_devtools.waiting import wait_until
from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.daemon.conftest import (
    APPLICATION,
    NEWEST,
    NEWEST_KEY,
    ROWS_PER_DAY,
    STREAM_KEY,
    UNIFORM,
    UNIFORM_KEY,
    DagsterDevSession,
    daily_keys,
    utc_today,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_dev")]

UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)


def _midnight(key: str) -> dt.datetime:
    return dt.datetime.fromisoformat(key).replace(tzinfo=UTC)


def _versions_by_id(session: DagsterDevSession, dataset: str) -> dict:
    versions = DatasetStore.open(session.store_url).get_dataset(dataset).list_versions()
    return {version.version_id: version for version in versions}


def _check_window(metadata: dict, version, key: str) -> None:
    start = _midnight(key)
    assert metadata["window_start"] == start.timestamp()
    assert metadata["window_end"] == (start + DAY).timestamp()
    assert version.metadata["partition_key"] == key
    assert version.metadata["window"] == {"start": start.isoformat(), "end": (start + DAY).isoformat()}
    assert set(version.files) >= {f"data/{key}.parquet"}


def test_the_stream_and_both_curators_are_assets(dagster_dev: DagsterDevSession) -> None:
    keys = set(dagster_dev.client.asset_keys())

    assert {STREAM_KEY, UNIFORM_KEY, NEWEST_KEY} <= keys
    before = utc_today()
    node = dagster_dev.client.asset_node(UNIFORM_KEY)
    after = utc_today()
    assert node["isPartitioned"]
    served = tuple(node["partitionKeys"])
    assert served[: len(dagster_dev.partitions)] == dagster_dev.partitions
    # The server lists the days complete when it answers: one more than the fixture's
    # if a UTC midnight has passed since the fixture read the date.
    first = dt.date.fromisoformat(dagster_dev.partitions[0])
    assert served in {daily_keys(first, before), daily_keys(first, after)}


def test_a_single_partition_run_commits_one_version_with_its_metadata(dagster_dev: DagsterDevSession) -> None:
    client = dagster_dev.client
    key = dagster_dev.partitions[0]

    run = client.wait_run(client.launch_partition_run(UNIFORM_KEY, key), timeout=240)

    assert {"key": PARTITION_TAG, "value": key} in run["tags"]
    metadata = client.latest_metadata(UNIFORM_KEY, [key])[key]
    version = _versions_by_id(dagster_dev, UNIFORM["name"])[metadata["version_id"]]
    assert metadata["dataset"] == UNIFORM["name"]
    assert metadata["rows_selected"] == UNIFORM["limit"] == version.metadata["selected_rows"]
    assert metadata["candidate_rows"] == ROWS_PER_DAY == version.metadata["candidate_rows"]
    assert metadata["limit_hit"] is True
    _check_window(metadata, version, key)
    table = DatasetStore.open(dagster_dev.store_url).get_dataset(UNIFORM["name"]).read(version.version_id)
    assert table.num_rows >= UNIFORM["limit"]  # this window's file, plus any other window curated meanwhile


def test_a_backfill_launched_as_the_ui_does_commits_one_version_per_window(dagster_dev: DagsterDevSession) -> None:
    client = dagster_dev.client
    keys = list(dagster_dev.partitions)

    backfill = client.wait_backfill(client.launch_backfill([NEWEST_KEY], keys), timeout=420)

    assert sorted(backfill.partition_names) == keys
    assert 1 <= len(backfill.runs) < len(keys)  # batched: several windows per run
    versions = _versions_by_id(dagster_dev, NEWEST["name"])
    assert len(versions) == len(keys)
    assert sorted(v.metadata["partition_key"] for v in versions.values()) == keys
    metadata = client.latest_metadata(NEWEST_KEY, keys)
    assert sorted(metadata) == keys
    for key in keys:
        version = versions[metadata[key]["version_id"]]
        assert metadata[key]["rows_selected"] == NEWEST["limit"] == version.metadata["selected_rows"]
        assert metadata[key]["candidate_rows"] == ROWS_PER_DAY
        _check_window(metadata[key], version, key)
    # Each commit builds on the previous one: the history is one chain holding every window.
    head = DatasetStore.open(dagster_dev.store_url).get_dataset(NEWEST["name"]).get_version()
    assert set(head.files) == {f"data/{key}.parquet" for key in keys}


def test_a_schedule_tick_targets_the_window_due_at_its_time(dagster_dev: DagsterDevSession) -> None:
    client = dagster_dev.client
    (schedule,) = client.schedules_for_asset(UNIFORM_KEY)
    key, next_key = dagster_dev.partitions[2:4]
    due = _midnight(key) + DAY + dt.timedelta(hours=2)  # the window's end + its curation_delay

    def tick(moment: dt.datetime) -> list[tuple[str | None, str | None]]:
        # Evaluated at the first tick at or after ``moment``, as the UI's "Test schedule" does.
        return [(r.partition_key, r.run_key) for r in client.schedule_dry_run(schedule, moment.timestamp())]

    assert schedule["scheduleState"]["status"] == "RUNNING"
    assert schedule["cronSchedule"] == "0 2 * * *"
    assert tick(due) == [(key, key)]
    assert tick(due - dt.timedelta(hours=1)) == [(key, key)]  # before its delay is over: that same tick
    assert tick(due + dt.timedelta(minutes=1)) == [(next_key, next_key)]  # the next day's tick


def _held_ids(session: DagsterDevSession, key: str) -> set[str]:
    dataset = DatasetStore.open(session.store_url).get_dataset(UNIFORM["name"])
    table = pq.read_table(io.BytesIO(dataset.read_file(f"data/{key}.parquet")))
    return set(table.column("record_id").to_pylist())


def _curation(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "curation_pipeline.cli", *args], check=True, capture_output=True, text=True)


def test_a_late_batch_turns_its_window_stale_and_recurating_it_keeps_the_picks(
    dagster_dev: DagsterDevSession, tmp_path
) -> None:
    client = dagster_dev.client
    key, other = dagster_dev.partitions[1], dagster_dev.partitions[2]
    for window in (key, other):
        client.wait_run(client.launch_partition_run(UNIFORM_KEY, window), timeout=240)
    assert wait_until(lambda: client.stale_status(UNIFORM_KEY, [key, other]) == {key: "FRESH", other: "FRESH"}, 150, 3)
    before = _held_ids(dagster_dev, key)

    # As a user would: a file of late records of that day, logged with the CLI.
    batch = tmp_path / "late.jsonl"
    _curation("stream", "demo-batch", APPLICATION, str(batch), "--day", key, "--rows", "300")
    _curation("stream", "log", APPLICATION, str(batch), "--store", dagster_dev.store_url)

    # The stream observer (a sensor of the running daemon) sees the day change: that window alone turns stale.
    assert wait_until(lambda: client.stale_status(UNIFORM_KEY, [key, other]) == {key: "STALE", other: "FRESH"}, 180, 3)

    client.wait_run(client.launch_partition_run(UNIFORM_KEY, key), timeout=240)
    metadata = client.latest_metadata(UNIFORM_KEY, [key])[key]
    after = _held_ids(dagster_dev, key)
    assert metadata["late_rows"] == 300 and metadata["late_files"] == 1
    assert metadata["candidate_rows"] == ROWS_PER_DAY + 300
    assert metadata["kept"] == len(before & after) and metadata["added"] == len(after - before)
    assert metadata["kept"] + metadata["dropped"] == len(before) == UNIFORM["limit"]
    assert metadata["kept"] >= UNIFORM["limit"] // 2  # 300 late among 2,300: most picks stay
    assert all(i.startswith(f"{APPLICATION}-b1-") for i in after - before)  # the added records are late ones
    assert client.stale_status(UNIFORM_KEY, [key]) == {key: "FRESH"}
