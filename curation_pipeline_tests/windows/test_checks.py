"""The checks of a curated window, without Dagster: each one passes on a good window and fails on its fault."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from curation_pipeline.curators import BoundedRangeCurator, UniformCurator
from curation_pipeline.location import resolve_location
from curation_pipeline.store import DatasetStore
from curation_pipeline.stream import log_records
from curation_pipeline.windows import CHECK_DESCRIPTIONS, WindowGrid, check_window, curate_window, stored_window

UTC = dt.timezone.utc
DAY = dt.datetime(2026, 1, 1, tzinfo=UTC)
APP = "shop"


def _table(times: list[dt.datetime], ids: list[str], scores: list[float]) -> pa.Table:
    return pa.table(
        {
            "record_id": pa.array(ids, pa.string()),
            "__time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "outputs.score": pa.array(scores, pa.float64()),
        }
    )


@pytest.fixture
def curator() -> BoundedRangeCurator:
    return BoundedRangeCurator("mid", APP, 3, "outputs.score", 0.9, 0.1, start_on=DAY)


def _outcomes(curator, table, stream_schema=None) -> dict[str, bool]:
    window = WindowGrid.for_curator(curator).window("2026-01-01")
    outcomes = check_window(curator, window, table, stream_schema or table.schema)
    assert [o.name for o in outcomes] == list(CHECK_DESCRIPTIONS)
    return {o.name: o.passed for o in outcomes}


def test_a_good_window_passes_every_check(curator):
    times = [DAY + dt.timedelta(hours=h) for h in (1, 2, 3)]
    assert all(_outcomes(curator, _table(times, ["a", "b", "c"], [0.2, 0.5, 0.8])).values())


@pytest.mark.parametrize(
    ("times", "ids", "scores", "failing"),
    [
        ([DAY + dt.timedelta(hours=h) for h in (1, 2, 3, 4)], ["a", "b", "c", "d"], [0.5] * 4, "row_count_within_limit"),
        ([DAY + dt.timedelta(days=1)], ["a"], [0.5], "records_inside_window"),
        ([DAY], ["a"], [0.95], "filters_hold"),
        ([DAY, DAY], ["a", "a"], [0.5, 0.5], "unique_record_ids"),
    ],
)
def test_each_check_fails_on_its_fault(curator, times, ids, scores, failing):
    outcomes = _outcomes(curator, _table(times, ids, scores))
    assert [name for name, passed in outcomes.items() if not passed] == [failing]


def test_a_schema_other_than_the_streams_fails(curator):
    table = _table([DAY], ["a"], [0.5])
    stream = pa.schema([*table.schema, pa.field("tags.env", pa.string())])
    assert _outcomes(curator, table, stream)["schema_matches_stream"] is False


def test_stored_window_reads_what_the_version_holds(tmp_path):
    url = str(tmp_path / "store")
    records = [{"record_id": f"r{i}", "__time": DAY + dt.timedelta(minutes=10 * i), "outputs.score": 0.5} for i in range(30)]
    log_records(APP, records, store_url=url)
    curator = UniformCurator("sample", APP, 4, start_on=DAY)
    where = resolve_location(url)
    store = DatasetStore.open(location=where)
    grid = WindowGrid.for_curator(curator)
    window = grid.window("2026-01-01")

    empty, schema = stored_window(curator, window, "2026-01-01", store, where)  # no dataset yet
    assert empty.num_rows == 0 and "outputs.score" in schema.names

    result = curate_window(curator, window, "2026-01-01", store, where)
    stored, _ = stored_window(curator, window, "2026-01-01", store, where)
    assert sorted(stored["record_id"].to_pylist()) == sorted(result.table["record_id"].to_pylist())
    assert stored.num_rows == 4
