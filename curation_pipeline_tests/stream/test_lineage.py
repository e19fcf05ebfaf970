"""A day's data version (its files) and a window split by when its files arrived, local and on S3."""

from __future__ import annotations

import datetime as dt

import pytest

from curation_pipeline.stream import log_records
from curation_pipeline.stream.lineage import (
    InvalidLineageError,
    WindowLineage,
    observe_days,
    split_window,
    with_rows,
)

UTC = dt.timezone.utc
DAY0 = dt.date(2026, 3, 1)
DAYS = [DAY0 + dt.timedelta(days=i) for i in range(3)]


def records(day: dt.date, count: int, prefix: str, hour: int = 0) -> list[dict]:
    start = dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return [
        {"record_id": f"{prefix}{day:%d}-{i}", "__time": start + dt.timedelta(minutes=i), "outputs.score": float(i)}
        for i in range(count)
    ]


@pytest.fixture
def stream(store_url):
    for day in DAYS:
        log_records("app", records(day, 20, "r"), store_url=store_url)
    return store_url


def test_a_late_file_changes_its_days_version_and_no_other(stream):
    before = observe_days("app", DAYS, stream)
    log_records("app", records(DAYS[1], 5, "late"), store_url=stream)
    after = observe_days("app", DAYS, stream)
    assert [b.version == a.version for b, a in zip(before, after)] == [True, False, True]
    assert len(after[1].files) == 2 and after[1].rows is None
    counted = with_rows("app", after, stream)
    assert [d.rows for d in counted] == [20, 25, 20]
    assert counted[1].latest == dt.datetime(2026, 3, 2, 0, 19, tzinfo=UTC)
    assert observe_days("app", DAYS, stream) == after  # the same files, the same versions


def test_an_empty_day_has_a_version_and_no_files(stream):
    (empty,) = observe_days("app", [dt.date(2026, 4, 1)], stream)
    assert empty.files == () and len(empty.version) == 16


def test_a_batch_still_pending_is_not_part_of_any_day(stream, monkeypatch):
    import curation_pipeline.stream.writer as writer

    before = observe_days("app", DAYS, stream)
    monkeypatch.setattr(writer, "publish_batch", lambda store, marker: None)  # the writer dies before publishing
    # A batch over two days is published by removing its marker; until then neither day shows it.
    log_records("app", records(DAYS[0], 3, "pending") + records(DAYS[1], 3, "pending"), store_url=stream)
    assert observe_days("app", DAYS, stream) == before


def test_a_window_splits_into_the_files_it_had_and_those_that_arrived_since(stream):
    start = dt.datetime(2026, 3, 2, tzinfo=UTC)
    end = start + dt.timedelta(days=1)
    first = split_window("app", start, end, None, stream)
    assert first.earlier.count_rows() == 20 and first.late.count_rows() == 0 and first.late_files == 0

    log_records("app", records(DAYS[1], 5, "late"), store_url=stream)
    log_records("app", records(DAYS[2], 7, "other"), store_url=stream)  # another day: not this window's
    grown = split_window("app", start, end, first.lineage, stream)
    assert grown.earlier.count_rows() == 20
    assert sorted(grown.late.to_dataset().to_table().column("record_id").to_pylist()) == sorted(f"late02-{i}" for i in range(5))
    assert grown.late_files == 1
    assert grown.arrived_since(first.lineage) == (1, 5)
    assert grown.arrived_since(grown.lineage) == (0, 0)


def test_a_late_file_outside_the_window_adds_files_but_no_rows(stream):
    start = dt.datetime(2026, 3, 2, 0, tzinfo=UTC)
    end = start + dt.timedelta(hours=1)
    first = split_window("app", start, end, None, stream)
    log_records("app", records(DAYS[1], 5, "late", hour=5), store_url=stream)
    grown = split_window("app", start, end, first.lineage, stream)
    assert grown.arrived_since(first.lineage) == (1, 0)
    assert grown.late.count_rows() == 0


def test_a_lineage_round_trips_and_refuses_what_is_not_one():
    lineage = WindowLineage({"2026-03-02": ("b.parquet", "a.parquet")})
    assert WindowLineage.from_json(lineage.to_json()) == WindowLineage({"2026-03-02": ("a.parquet", "b.parquet")})
    for text in ("[]", '{"files": 3}', '{"files": {"2026-03-02": [1]}}', "not json"):
        with pytest.raises(InvalidLineageError, match="not a window lineage record"):
            WindowLineage.from_json(text)


def test_both_parts_of_a_split_window_reach_the_engine_row_group_by_row_group(stream):
    from curation_pipeline.selection.scan import ParquetSource, open_source

    split = split_window("app", dt.datetime(2026, 3, 2, tzinfo=UTC), dt.datetime(2026, 3, 3, tzinfo=UTC), None, stream)
    assert isinstance(open_source(split.earlier), ParquetSource)
    assert isinstance(open_source(split.late), ParquetSource)
