"""Row groups' statistics kept for a window of more files than it holds parsed footers for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation_pipeline.stream import log_records, open_window, parquet_files
from curation_pipeline.stream.group_statistics import group_statistics
from curation_pipeline.stream.lineage import split_window

DAY = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
# Columns whose raw statistics are their values, and some whose are not (unsigned, bool, nested).
TABLE = pa.table(
    {
        "i8": pa.array([-3, 5, None, 7, 1, -100], pa.int8()),
        "i32": pa.array([10, -20, 30, None, 50, 60], pa.int32()),
        "i64": pa.array([2**40, -(2**40), 0, 1, None, 3], pa.int64()),
        "f32": pa.array([0.5, -1.25, None, 2.0, 3.5, -0.0], pa.float32()),
        "f64": pa.array([0.1, float("nan"), 0.3, -2.5, None, 1e300], pa.float64()),
        "aware": pa.array([1, 2, 3, None, 5, 6], pa.timestamp("us", tz="UTC")),
        "naive": pa.array([10**15, 2, 3, 4, 5, None], pa.timestamp("ms")),
        "text": pa.array(["b", "a", None, "zé", "", "c"]),
        "nulls": pa.array([None] * 6, pa.float64()),
        "u32": pa.array([1, 2**32 - 1, 3, 4, 5, 6], pa.uint32()),
        "flag": pa.array([True, False, None, True, True, False]),
        "nested": pa.array([{"a": i} for i in range(6)]),
    }
)
RAW = ["i8", "i32", "i64", "f32", "f64", "aware", "naive", "text", "nulls"]


def _footer(tmp_path: Path, table: pa.Table = TABLE, **options) -> pq.FileMetaData:
    path = tmp_path / "file.parquet"
    pq.write_table(table, path, row_group_size=2, **options)
    return pq.ParquetFile(path).metadata


def test_statistics_are_the_footers_own_raw_values(tmp_path: Path) -> None:
    metadata = _footer(tmp_path)
    stats = group_statistics(metadata, TABLE.schema, set(TABLE.column_names))
    assert stats.rows.tolist() == [2, 2, 2]
    assert stats.compressed_bytes is None
    # Unsigned integers (whose raw value may wrap), booleans and nested columns are not taken.
    assert sorted(stats.columns) == sorted(RAW)
    for name in RAW:
        leaf = metadata.schema.names.index(name)
        column = stats.columns[name]
        for group in range(metadata.num_row_groups):
            told = metadata.row_group(group).column(leaf).statistics
            assert column.known[group] == told.has_min_max, (name, group)
            assert column.nulls[group] == told.null_count, (name, group)
            if told.has_min_max:
                assert column.low[group] == told.min_raw and column.high[group] == told.max_raw, (name, group)


def test_only_the_columns_asked_are_taken(tmp_path: Path) -> None:
    metadata = _footer(tmp_path)
    stats = group_statistics(metadata, TABLE.schema, {"f64", "u32", "missing"}, compressed=True)
    assert list(stats.columns) == ["f64"]
    chunks = [metadata.row_group(g).column(c) for g in range(metadata.num_row_groups) for c in range(metadata.num_columns)]
    assert stats.compressed_bytes == sum(chunk.total_compressed_size for chunk in chunks)


def test_a_footer_without_statistics_says_none_is_known(tmp_path: Path) -> None:
    metadata = _footer(tmp_path, write_statistics=False)
    stats = group_statistics(metadata, TABLE.schema, {"i64", "text"})
    assert sorted(stats.columns) == ["i64", "text"]
    for column in stats.columns.values():
        assert not column.known.any()
        assert (column.nulls == -1).all()


def _log(url: str, files: int) -> None:
    """``files`` batches of a day's records, a file each."""
    for batch in range(files):
        times = [DAY + dt.timedelta(minutes=10 * batch + i) for i in range(5)]
        log_records(
            "app",
            pa.table(
                {
                    "record_id": [f"r-{batch}-{i}" for i in range(5)],
                    "__time": pa.array(times, pa.timestamp("us", tz="UTC")),
                    "outputs.score": np.arange(5, dtype=np.float64) + batch,
                    "outputs.label": ["a", "b", "a", "c", "b"],
                }
            ),
            url,
        )


def test_a_window_past_its_footer_budget_keeps_the_statistics_asked(tmp_path: Path, monkeypatch) -> None:
    url = str(tmp_path / "store")
    _log(url, 3)
    within = open_window("app", DAY, DAY + dt.timedelta(days=1), url, statistics_of={"outputs.score"})
    assert within.footers_held and within.group_statistics == {}

    monkeypatch.setattr(parquet_files, "KEPT_FOOTER_CHUNKS", 1)
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url, statistics_of={"outputs.score"})
    assert not window.footers_held
    assert sorted(window.group_statistics) == sorted(window.files)
    for path, stats in window.group_statistics.items():
        # __time and record_id always, and the columns asked.
        assert sorted(stats.columns) == ["__time", "outputs.score", "record_id"]
        assert stats.rows.tolist() == [5]
        assert stats.schema == pq.read_schema(path)
        assert stats.compressed_bytes is None  # a local file: no copy is planned from it
    bare = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    assert all(sorted(stats.columns) == ["__time", "record_id"] for stats in bare.group_statistics.values())


def test_a_split_window_keeps_them_for_both_parts(tmp_path: Path, monkeypatch) -> None:
    url = str(tmp_path / "store")
    _log(url, 2)
    monkeypatch.setattr(parquet_files, "KEPT_FOOTER_CHUNKS", 1)
    first = split_window("app", DAY, DAY + dt.timedelta(days=1), None, url, statistics_of={"outputs.label"})
    _log(url, 1)  # a late file
    split = split_window("app", DAY, DAY + dt.timedelta(days=1), first.lineage, url, statistics_of={"outputs.label"})
    assert len(split.earlier.group_statistics) == 2 and len(split.late.group_statistics) == 1
    for part in (split.earlier, split.late):
        assert all("outputs.label" in stats.columns for stats in part.group_statistics.values())


@pytest.mark.slow
def test_a_remote_windows_statistics_carry_its_files_compressed_bytes(aws_env, monkeypatch) -> None:
    url = f"s3://{aws_env.make_bucket('group-stats')}/curation"
    _log(url, 2)
    monkeypatch.setattr(parquet_files, "KEPT_FOOTER_CHUNKS", 1)
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    assert len(window.group_statistics) == 2
    for path, stats in window.group_statistics.items():
        with window.dataset.filesystem.open_input_file(path) as source:
            metadata = pq.ParquetFile(source).metadata
        groups = [metadata.row_group(g) for g in range(metadata.num_row_groups)]
        assert stats.compressed_bytes == sum(g.column(c).total_compressed_size for g in groups for c in range(g.num_columns))
