from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from curation_pipeline.stream.layout import days_overlapping, is_data_file, is_record_column, parse_date_dir

UTC = timezone.utc


@pytest.mark.parametrize(
    "name, ok",
    [
        ("record_id", True), ("__time", True), ("inputs.text", True), ("outputs.label", True),
        ("feedback.label", True), ("tags.env", True), ("inputs.a.b", True),
        ("inputs.", False), ("input.x", False), ("text", False), ("__time2", False), ("Inputs.x", False), (3, False),
    ],
)
def test_record_columns(name, ok):
    assert is_record_column(name) is ok


def test_days_overlapping():
    midnight = datetime(2024, 3, 2, tzinfo=UTC)
    assert days_overlapping(midnight - timedelta(hours=1), midnight) == [date(2024, 3, 1)]
    assert days_overlapping(midnight - timedelta(hours=1), midnight + timedelta(microseconds=1)) == [
        date(2024, 3, 1), date(2024, 3, 2)
    ]
    assert days_overlapping(midnight, midnight) == []


def test_folder_and_file_names():
    assert parse_date_dir("date=2024-02-29") == date(2024, 2, 29)
    assert parse_date_dir("date=2023-02-29") is None
    assert parse_date_dir("dt=2024-01-01") is None
    assert is_data_file("part-1.parquet") and not is_data_file(".part-1.parquet.tmp") and not is_data_file("_x.parquet")
