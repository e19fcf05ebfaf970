"""Curating one window without Dagster: read, select, commit one version named for the window."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pyarrow as pa
import pytest

from curation_pipeline.curators import UniformCurator
from curation_pipeline.location import resolve_location
from curation_pipeline.store import DatasetStore
from curation_pipeline.stream import log_records
from curation_pipeline.windows import (
    Window,
    WindowGrid,
    commit_message,
    curate_window,
    data_path,
    parquet_bytes,
    schema_summary,
)

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
APP = "shop"


@pytest.fixture
def store_url(tmp_path) -> str:
    """A local store holding two days of the ``shop`` stream (1 and 2 January 2026), 40 records a day."""
    url = str(tmp_path / "store")
    for day in range(2):
        base = START + dt.timedelta(days=day)
        records = [
            {"record_id": f"r{day}-{i}", "__time": base + i * dt.timedelta(minutes=30), "outputs.label": "x"}
            for i in range(40)
        ]
        log_records(APP, records, store_url=url)
    return url


@pytest.fixture
def curator() -> UniformCurator:
    return UniformCurator("all-sample", APP, 5, start_on=START)


def test_importing_the_window_core_loads_no_dagster():
    # A fresh interpreter: this test process has Dagster loaded already.
    code = (
        "import json, sys; import curation_pipeline.windows, curation_pipeline.demo; "
        "print(json.dumps(sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True)
    assert json.loads(done.stdout) == []


def test_one_window_becomes_one_version(store_url, curator):
    grid = WindowGrid.for_curator(curator)
    window = grid.window("2026-01-02")
    store = DatasetStore.open(store_url)

    result = curate_window(curator, window, grid.key(window), store, resolve_location(store_url))

    assert result.committed and result.created and result.parent is None
    assert (result.selected_rows, result.candidate_rows, result.limit, result.limit_hit) == (5, 40, 5, True)
    assert result.path == "data/2026-01-02.parquet"
    assert result.message == commit_message("all-sample", window, 5, 40)
    assert result.message.startswith("all-sample: 2026-01-02T00:00:00+00:00 to 2026-01-03T00:00:00+00:00 - 5 records")
    dataset = store.get_dataset("all-sample")
    assert dataset.head() == result.version_id
    assert list(dataset.files()) == ["data/2026-01-02.parquet"]
    times = dataset.read()["__time"].to_pylist()
    assert all(window.start <= t < window.end for t in times)
    assert result.manifest_metadata["window"] == {"start": window.start.isoformat(), "end": window.end.isoformat()}


def test_curating_a_window_again_reuses_its_version(store_url, curator):
    grid = WindowGrid.for_curator(curator)
    window = grid.window("2026-01-01")
    store = DatasetStore.open(store_url)
    first = curate_window(curator, window, grid.key(window), store, resolve_location(store_url))
    again = curate_window(curator, window, grid.key(window), store, resolve_location(store_url))
    assert again.committed and not again.created
    assert again.version_id == first.version_id and again.seed == first.seed


def test_an_empty_window_commits_nothing(store_url, curator):
    window = Window(START + dt.timedelta(days=5), START + dt.timedelta(days=6))
    result = curate_window(curator, window, "2026-01-06", DatasetStore.open(store_url), resolve_location(store_url))
    assert not result.committed and result.version_id is None
    assert (result.selected_rows, result.candidate_rows) == (0, 0)


def test_file_names_and_bytes_are_stable():
    assert data_path("2026-01-02-13:30") == "data/2026-01-02-1330.parquet"
    t = pa.array([START, START + dt.timedelta(hours=1)], pa.timestamp("us", tz="UTC"))
    table = pa.table({"record_id": ["b", "a"], "__time": t})
    assert parquet_bytes(table) == parquet_bytes(table.take([1, 0]))
    assert schema_summary(table.schema) == [
        {"name": "record_id", "type": "string"},
        {"name": "__time", "type": "timestamp[us, tz=UTC]"},
    ]


@pytest.mark.parametrize("make", ["newest", "uniform"])
def test_a_retried_batch_does_not_take_the_place_of_distinct_records(store_url, make):
    """A producer re-sends a whole day (at-least-once): the curator still gets its limit in distinct records."""
    from curation_pipeline.curators import NewestCurator

    day = START + dt.timedelta(days=1)
    retry = [{"record_id": f"r1-{i}", "__time": day + i * dt.timedelta(minutes=30), "outputs.label": "x"} for i in range(40)]
    log_records(APP, retry, store_url=store_url)
    curator = NewestCurator("newest-10", APP, 10, start_on=START) if make == "newest" else UniformCurator("u-30", APP, 30, start_on=START)
    grid = WindowGrid.for_curator(curator)
    window = grid.window("2026-01-02")
    store = DatasetStore.open(store_url)

    result = curate_window(curator, window, grid.key(window), store, resolve_location(store_url))

    ids = store.get_dataset(curator.dataset_name).read()["record_id"].to_pylist()
    assert len(ids) == len(set(ids)) == result.selected_rows == curator.selectors[0].limit
    assert result.candidate_rows == 80  # the deliveries, copies included


def test_an_overlapping_window_is_refused_even_under_versions_without_the_windows_record(store_url, curator):
    from curation_pipeline.windows import OverlappingWindowError

    store = DatasetStore.open(store_url)
    grid = WindowGrid.for_curator(curator)
    curate_window(curator, grid.window("2026-01-01"), "2026-01-01", store, resolve_location(store_url))
    dataset = store.get_dataset("all-sample")
    dataset.commit({"notes.txt": b"by hand"}, "a push: no windows record")  # HEAD no longer says the windows
    head = dataset.head()
    hourly = UniformCurator("all-sample-6h", APP, 5, start_on=START, curation_interval="6h", curated_dataset_name="all-sample")
    window = Window(START + dt.timedelta(hours=18), START + dt.timedelta(hours=24))
    with pytest.raises(OverlappingWindowError, match=r"overlaps window 2026-01-01T00:00:00\+00:00 to 2026-01-02"):
        curate_window(hourly, window, "2026-01-01-18:00", store, resolve_location(store_url))
    assert dataset.head() == head
    # Touching the window's end is no overlap.
    after = Window(START + dt.timedelta(hours=24), START + dt.timedelta(hours=30))
    assert curate_window(hourly, after, "2026-01-02-00:00", store, resolve_location(store_url)).created


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_windows_committed_at_once_all_land_and_head_records_each_window(request, tmp_path, backend):
    """Commits are pinned to the HEAD they checked: a lost race re-checks on the new HEAD and lands."""
    from concurrent.futures import ThreadPoolExecutor

    if backend == "s3":
        server = request.getfixturevalue("aws_env")
        url = f"s3://{server.make_bucket()}/store"
    else:
        url = str(tmp_path / "store")
    day_records = [
        {"record_id": f"r{d}-{i}", "__time": START + dt.timedelta(days=d, minutes=30 * i), "outputs.label": "x"}
        for d in range(4) for i in range(40)
    ]
    log_records(APP, day_records, store_url=url)
    curator = UniformCurator("busy", APP, 5, start_on=START)
    grid = WindowGrid.for_curator(curator)
    store = DatasetStore.open(url)
    curate_window(curator, grid.window("2026-01-01"), "2026-01-01", store, resolve_location(url))  # a first HEAD to pin

    def one(key: str):
        return curate_window(curator, grid.window(key), key, DatasetStore.open(url), resolve_location(url))

    keys = ["2026-01-02", "2026-01-03", "2026-01-04"]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, keys))
    assert all(r.created for r in results)
    head = store.get_dataset("busy").get_version()
    assert sorted(head.files) == [f"data/{k}.parquet" for k in ["2026-01-01", *keys]]
    assert sorted(head.metadata["windows"]) == sorted(head.files)
    assert len(store.get_dataset("busy").list_versions()) == 4


def test_the_window_reaches_the_engine_with_its_files_and_filter(store_url, curator, monkeypatch):
    """The stream's files are read row group by row group, not as one opaque filtered dataset."""
    from curation_pipeline.selection import engine
    from curation_pipeline.selection.scan import ParquetSource, RowGroupPiece

    opened = []

    def recording(data):
        source = engine_open_source(data)
        opened.append(source)
        return source

    engine_open_source = engine.open_source
    monkeypatch.setattr(engine, "open_source", recording)
    window = WindowGrid.for_curator(curator).window("2026-01-02")
    result = curate_window(curator, window, "2026-01-02", DatasetStore.open(store_url), resolve_location(store_url))
    assert result.candidate_rows == 40 and result.selected_rows == 5
    assert [type(source) for source in opened] == [ParquetSource]
    pieces = opened[0].pieces(None)
    # Two days of files: only the window's day has a row group in it.
    assert len(pieces) == 1 and isinstance(pieces[0], RowGroupPiece)
