"""Curating a window again after late records: what its file records, and when the picks are kept."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow.parquet as pq
import pytest

from curation_pipeline.curators import UniformCurator
from curation_pipeline.location import resolve_location
from curation_pipeline.store import DatasetStore
from curation_pipeline.stream import log_records
from curation_pipeline.windows import WindowGrid, curate_window
from curation_pipeline.windows.late import WINDOW_RECORD_KEY, previous_window

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
APP = "shop"
KEY = "2026-01-01"


def log(url: str, prefix: str, count: int) -> None:
    records = [
        {"record_id": f"{prefix}-{i}", "__time": START + i * dt.timedelta(minutes=10), "outputs.label": "x"}
        for i in range(count)
    ]
    log_records(APP, records, store_url=url)


@pytest.fixture(params=["local", "s3"])
def store_url(request, tmp_path) -> str:
    if request.param == "local":
        url = str(tmp_path / "store")
    else:
        url = f"s3://{request.getfixturevalue('aws_env').make_bucket('late')}/curation"
    log(url, "r", 40)
    return url


def curate(curator, url):
    window = WindowGrid.for_curator(curator).window(KEY)
    return curate_window(curator, window, KEY, DatasetStore.open(url), resolve_location(url))


def test_the_window_file_records_its_curation_and_a_late_batch_keeps_the_picks(store_url):
    curator = UniformCurator("sample", APP, 10, start_on=START)
    first = curate(curator, store_url)
    held = previous_window(DatasetStore.open(store_url), "sample", first.path)
    assert held.version_id == first.version_id and held.continues(first.manifest_metadata["definition"])
    assert WINDOW_RECORD_KEY not in (held.table.schema.metadata or {})  # the record stays in the file

    log(store_url, "late", 20)
    second = curate(curator, store_url)
    assert second.created and second.late.late_rows == 20 and second.late.late_files == 1
    assert second.late.kept + second.late.dropped == 10 and second.late.kept + second.late.added == 10
    assert second.candidate_rows == 60
    added = set(second.table["record_id"].to_pylist()) - set(first.table["record_id"].to_pylist())
    assert all(record.startswith("late-") for record in added)
    assert second.manifest_metadata["late"]["late_rows"] == 20


def test_a_changed_definition_is_curated_afresh_and_compared(store_url):
    curate(UniformCurator("sample", APP, 10, start_on=START), store_url)
    log(store_url, "late", 20)
    result = curate(UniformCurator("sample", APP, 12, start_on=START), store_url)
    assert result.late.late_rows is None  # not a re-curation: the rules changed
    assert result.late.kept + result.late.dropped == 10 and result.selected_rows == 12


def test_a_file_with_an_unreadable_record_is_curated_afresh(store_url):
    curator = UniformCurator("sample", APP, 10, start_on=START)
    first = curate(curator, store_url)
    dataset = DatasetStore.open(store_url).get_dataset("sample")
    table = pq.read_table(io.BytesIO(dataset.read_file(first.path)))
    broken = table.replace_schema_metadata({WINDOW_RECORD_KEY: b"{not json"})
    buffer = io.BytesIO()
    pq.write_table(broken, buffer)
    dataset.commit({first.path: buffer.getvalue()}, "a hand-edited window")
    held = previous_window(DatasetStore.open(store_url), "sample", first.path)
    assert held.lineage is None and not held.continues(first.manifest_metadata["definition"])

    again = curate(curator, store_url)
    assert again.late.late_rows is None and again.late.kept == 10  # the same data, the same seed: the same picks
    record = pq.ParquetFile(io.BytesIO(dataset.read_file(first.path))).schema_arrow.metadata[WINDOW_RECORD_KEY]
    assert set(json.loads(record)) == {"definition", "lineage", "seen", "rules"}  # written anew


def test_a_window_replaced_by_another_run_meanwhile_is_not_overwritten(store_url, monkeypatch):
    import curation_pipeline.windows.curate as curation
    from curation_pipeline.windows import WindowChangedError

    curator = UniformCurator("sample", APP, 10, start_on=START)
    curate(curator, store_url)
    log(store_url, "late", 20)
    real = curation.reselect

    def another_run_commits_first(*args, **kwargs):
        DatasetStore.open(store_url).get_dataset("sample").commit({"data/2026-01-01.parquet": b"theirs"}, "another run")
        return real(*args, **kwargs)

    monkeypatch.setattr(curation, "reselect", another_run_commits_first)
    with pytest.raises(WindowChangedError, match="curated by another run meanwhile"):
        curate(curator, store_url)
    assert DatasetStore.open(store_url).get_dataset("sample").read_file("data/2026-01-01.parquet") == b"theirs"


def test_a_window_file_that_is_not_parquet_stops_the_curation_with_a_store_error(store_url):
    from curation_pipeline.store import StoreError

    curator = UniformCurator("sample", APP, 10, start_on=START)
    first = curate(curator, store_url)
    DatasetStore.open(store_url).get_dataset("sample").commit({first.path: b"not parquet"}, "a broken push")
    with pytest.raises(StoreError, match="is not readable Parquet"):
        curate(curator, store_url)
    assert DatasetStore.open(store_url).get_dataset("sample").read_file(first.path) == b"not parquet"  # untouched
