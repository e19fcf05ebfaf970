from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow.compute as pc
import pytest

from curation_pipeline.demo import LABELS, demo_day, write_demo_stream
from curation_pipeline.stream import InvalidApplicationNameError, read_window, stream_stats
from curation_pipeline_tests.stream.conftest import stored_files

END = date(2024, 3, 8)


def test_demo_writes_one_deterministic_file_per_day(local_store):
    result = write_demo_stream("demo", days=3, rows_per_day=1_000, end=END, store_url=local_store)

    assert result.rows == 3_000
    assert stored_files(local_store) == [
        f"streams/demo/date=2024-03-0{d}/demo-2024-03-0{d}.parquet" for d in (5, 6, 7)
    ]
    assert result.first_time >= datetime(2024, 3, 5, tzinfo=timezone.utc)
    assert result.last_time < datetime(2024, 3, 8, tzinfo=timezone.utc)


def test_rerun_replaces_instead_of_duplicating(local_store):
    write_demo_stream("demo", days=2, rows_per_day=500, end=END, store_url=local_store)
    window = (datetime(2024, 3, 1, tzinfo=timezone.utc), datetime(2024, 3, 9, tzinfo=timezone.utc))
    first = read_window("demo", *window, local_store).to_table()

    write_demo_stream("demo", days=2, rows_per_day=500, end=END, store_url=local_store)
    second = read_window("demo", *window, local_store).to_table()

    assert stream_stats("demo", local_store).rows == 1_000
    assert first.sort_by("record_id").equals(second.sort_by("record_id"))


def test_same_seed_same_day_different_seed_different_day():
    day = date(2024, 3, 1)
    assert demo_day("demo", day, 200, seed=1).equals(demo_day("demo", day, 200, seed=1))
    assert not demo_day("demo", day, 200, seed=1).equals(demo_day("demo", day, 200, seed=2))


def test_records_look_like_a_production_stream():
    day = date(2024, 3, 1)
    table = demo_day("demo", day, 20_000)
    shares = {
        row["values"]: row["counts"] / table.num_rows for row in pc.value_counts(table.column("outputs.label")).to_pylist()
    }

    assert set(shares) == set(LABELS)
    assert 0.45 < shares["positive"] < 0.55
    assert 0.003 < shares["spam"] < 0.02
    assert 0.55 < table.column("feedback.label").null_count / table.num_rows < 0.65
    confidence = table.column("outputs.confidence")
    assert 0 <= pc.min(confidence).as_py() and pc.max(confidence).as_py() <= 1
    assert set(table.column("tags.env").unique().to_pylist()) == {"prod", "staging"}
    assert {"inputs.text", "inputs.price", "inputs.stars", "tags.model_version"} <= set(table.column_names)
    assert len(table.column("record_id").unique()) == table.num_rows
    times = table.column("__time").to_pylist()
    assert times == sorted(times)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    assert start <= times[0] and times[-1] < start + timedelta(days=1)


def test_default_end_writes_complete_days_only(local_store):
    # A fixed moment: the test and the code must not each read a clock that may cross midnight in between.
    now = datetime(2024, 3, 8, 0, 30, tzinfo=timezone.utc)
    result = write_demo_stream("demo", days=1, rows_per_day=10, store_url=local_store, now=now)
    yesterday = now.date() - timedelta(days=1)
    assert result.files[0].endswith(f"date={yesterday}/demo-{yesterday}.parquet")
    # ``now`` counts in UTC: late evening in New York is already the next UTC day.
    evening_west = datetime(2024, 3, 8, 21, 0, tzinfo=timezone(timedelta(hours=-5)))
    result = write_demo_stream("demo", days=1, rows_per_day=10, store_url=local_store, now=evening_west)
    assert result.files[0].endswith("date=2024-03-08/demo-2024-03-08.parquet")


def test_without_now_the_clock_decides(local_store):
    before = datetime.now(timezone.utc).date()
    result = write_demo_stream("demo", days=1, rows_per_day=10, store_url=local_store)
    after = datetime.now(timezone.utc).date()
    written = {f"date={d}/demo-{d}.parquet" for d in (before - timedelta(days=1), after - timedelta(days=1))}
    assert any(result.files[0].endswith(name) for name in written)


def test_demo_rejects_bad_arguments(local_store):
    with pytest.raises(InvalidApplicationNameError):
        write_demo_stream("Demo/1", days=1, rows_per_day=10, store_url=local_store)
    with pytest.raises(ValueError, match=">= 0"):
        write_demo_stream("demo", days=-1, store_url=local_store)
    assert stored_files(local_store) == []
