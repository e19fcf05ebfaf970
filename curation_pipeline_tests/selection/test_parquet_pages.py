"""Page-wise reads of a few rows: the same values as decoding the row group whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from curation_pipeline.curators.selectors import (
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.selection import select
from curation_pipeline.selection.parquet_pages import PagedFile, worth_paging
from curation_pipeline.stream import log_records, open_window
from curation_pipeline_tests.selection.records import DAY, ids, records

ROWS = 40_000
STRINGS = ["label", "note"]


def rich_table(rows: int = ROWS, *, seed: int = 0) -> pa.Table:
    """Columns of every kind the stream holds, with nulls, repeats and long strings."""
    rng = np.random.default_rng(seed)
    index = np.arange(rows)
    return pa.table(
        {
            "record_id": pa.array([f"id-{i:07d}" for i in index]),
            "__time": pa.array(np.datetime64("2024-05-01", "us") + index.astype("timedelta64[ms]"), pa.timestamp("us", tz="UTC")),
            "score": pa.array(rng.random(rows)),
            "count": pa.array(np.where(index % 7 == 0, None, index % 1000).tolist(), pa.int64()),
            "small": pa.array((index % 120).astype(np.int32)),
            "flag": pa.array((index % 3 == 0).tolist()),
            "label": pa.array(np.where(index % 4 == 0, None, np.array(["a", "b", "c"])[index % 3]).tolist(), pa.string()),
            "note": pa.array([("x" * int(i % 90)) + str(i % 5000) for i in index]),
        }
    )


# Each layout: pq.write_table options. Pages aligned across columns (the
# stream's own), pages cut by bytes so columns differ, dictionaries that
# overflow into plain pages, data page v2, other codecs.
LAYOUTS = {
    "aligned": dict(row_group_size=16_384, max_rows_per_page=512, use_dictionary=["label", "small", "note"]),
    "unaligned": dict(row_group_size=16_384, data_page_size=4096, max_rows_per_page=100_000),
    "dictionary_overflow": dict(row_group_size=16_384, max_rows_per_page=700, dictionary_pagesize_limit=2048),
    "v2_snappy": dict(row_group_size=12_000, max_rows_per_page=256, data_page_version="2.0", compression="snappy"),
    "uncompressed": dict(row_group_size=20_000, max_rows_per_page=1000, compression="none"),
}


def write(path: Path, table: pa.Table, **options) -> PagedFile:
    options.setdefault("compression", "zstd")
    pq.write_table(table, path, write_page_index=True, **options)
    paged = PagedFile.open(pafs.LocalFileSystem(), str(path), pq.ParquetFile(path).metadata)
    assert paged is not None
    return paged


def whole(path: Path, group: int, rows: np.ndarray) -> pa.Table:
    return pq.ParquetFile(path, read_dictionary=STRINGS).read_row_group(group).take(pa.array(rows))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_page_reads_equal_whole_group_reads(tmp_path, layout: str) -> None:
    table = rich_table()
    path = tmp_path / "data.parquet"
    paged = write(path, table, **LAYOUTS[layout])
    metadata = pq.ParquetFile(path).metadata
    rng = np.random.default_rng(1)
    compared = 0
    for _ in range(60):
        group = int(rng.integers(0, metadata.num_row_groups))
        size = metadata.row_group(group).num_rows
        rows = np.sort(rng.choice(size, int(rng.integers(1, 5)), replace=False))
        taken = paged.take(group, rows, STRINGS)
        if taken is None:
            continue
        compared += 1
        # Dictionaries may differ (pages of a fallen-back chunk), values may not.
        assert taken.cast(table.schema).equals(whole(path, group, rows).cast(table.schema)), (group, rows)
        assert taken.schema.field("label").type == pa.dictionary(pa.int32(), pa.string())
    assert compared >= 30


def test_first_and_last_rows_of_pages_and_groups(tmp_path) -> None:
    table = rich_table()
    path = tmp_path / "data.parquet"
    paged = write(path, table, **LAYOUTS["aligned"])
    rows = np.array([0, 511, 512, 1023, 16_383])
    taken = paged.take(1, rows, STRINGS)
    assert taken is not None
    assert ids(taken) == [f"id-{16_384 + r:07d}" for r in rows]
    assert taken.cast(table.schema).equals(table.slice(16_384).take(pa.array(rows)))


def test_the_stream_files_are_read_page_wise(tmp_path) -> None:
    """log_records writes a page index, and a few rows of a group are read from their pages."""
    store = str(tmp_path / "store")
    table = records(70_000)  # more than one row group of the stream's files
    log_records("app", table, store)
    (path,) = (tmp_path / "store").rglob("*.parquet")
    metadata = pq.ParquetFile(path).metadata
    paged = PagedFile.open(pafs.LocalFileSystem(), str(path), metadata)
    assert paged is not None and metadata.num_row_groups == 2
    rows = np.array([5, 4100, 30_000, 65_535])
    taken = paged.take(0, rows, ["inputs.text", "outputs.label"])
    assert taken is not None
    assert ids(taken) == [f"rec-{r:07d}" for r in rows]
    assert taken.cast(table.schema).equals(table.take(pa.array(rows)))


def test_files_without_a_page_index_are_not_paged(tmp_path) -> None:
    path = tmp_path / "plain.parquet"
    pq.write_table(rich_table(1000), path)
    assert PagedFile.open(pafs.LocalFileSystem(), str(path), pq.ParquetFile(path).metadata) is None


def test_nested_columns_are_not_paged(tmp_path) -> None:
    path = tmp_path / "nested.parquet"
    nested = pa.table({"id": ["a", "b"], "tags": [[1, 2], [3]], "pair": [{"x": 1}, {"x": 2}]})
    pq.write_table(nested, path, write_page_index=True)
    assert PagedFile.open(pafs.LocalFileSystem(), str(path), pq.ParquetFile(path).metadata) is None


def test_most_of_a_group_is_left_to_the_whole_read(tmp_path) -> None:
    paged = write(tmp_path / "data.parquet", rich_table(), **LAYOUTS["aligned"])
    spread = np.arange(0, 16_384, 100)  # a row in every page
    assert not worth_paging(spread, 16_384)
    assert paged.take(0, spread, STRINGS) is None
    assert paged.take(0, np.array([16_384]), STRINGS) is None  # past the group: the whole read reports it
    assert paged.take(0, np.array([], dtype=np.int64), STRINGS) is None
    assert worth_paging(np.array([3, 4000]), 65_536)
    assert not worth_paging(np.array([], dtype=np.int64), 65_536)


def test_a_corrupt_offset_index_falls_back_to_none(tmp_path) -> None:
    path = tmp_path / "data.parquet"
    paged = write(path, rich_table(), **LAYOUTS["aligned"])
    start, block = paged._index()
    paged._index_block = (start, b"\xff" * len(block))  # garbage where the page locations were
    assert paged.take(0, np.array([1, 2]), STRINGS) is None


def test_page_locations_that_point_elsewhere_fall_back_to_none(tmp_path) -> None:
    path = tmp_path / "data.parquet"
    paged = write(path, rich_table(), **LAYOUTS["aligned"])
    rows = np.array([1, 2])
    assert paged.take(0, rows, STRINGS) is not None
    for column in range(8):
        located = paged._page_locations(0, column)
        # Every page shifted by 3 bytes: headers no longer where the index says.
        paged._pages[(0, column)] = type(located)(located.offsets + 3, located.sizes, located.first_rows)
    assert paged.take(0, rows, STRINGS) is None


# -- through the engine --------------------------------------------------------

SMALL_K = {
    "uniform": Selector(method=UniformSampler(), limit=5),
    "filtered": Selector(method=UniformSampler(), limit=4, filters=[EqualsFilter(field="outputs.label", equals="dog")]),
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=6),
    "newest": Selector(limit=50),
    "strata": Selector(method=StratifiedSampler(field="outputs.label", mode="balanced"), limit=6),
}


@pytest.fixture
def counted_pages(monkeypatch) -> list[int]:
    """Counts the page-wise reads that returned rows."""
    counts = [0]
    take = PagedFile.take

    def counting(self, *args, **kwargs):
        result = take(self, *args, **kwargs)
        counts[0] += result is not None
        return result

    monkeypatch.setattr(PagedFile, "take", counting)
    return counts


@pytest.mark.parametrize("name", sorted(SMALL_K))
def test_engine_on_the_stream_reads_pages_and_selects_as_from_a_table(tmp_path, counted_pages, name) -> None:
    table = records(150_000, seed=3)  # 150k seconds: two days, three row groups on the first
    store = str(tmp_path / "store")
    log_records("app", table, store)
    start, end = DAY, DAY + dt.timedelta(days=1)
    in_window = table.slice(0, 86_400)
    got = select(open_window("app", start, end, store), [SMALL_K[name]], seed=11)
    expected = select(in_window, [SMALL_K[name]], seed=11)
    assert got.equals(expected)
    assert counted_pages[0] > 0


def test_engine_on_an_s3_stream_reads_pages(aws_env, counted_pages) -> None:
    table = records(70_000, seed=4)
    store = f"s3://{aws_env.make_bucket('pages')}/curation"
    log_records("app", table, store)
    start, end = DAY, DAY + dt.timedelta(days=1)
    selector = Selector(method=UniformSampler(), limit=3)
    got = select(open_window("app", start, end, store), [selector], seed=5)
    assert got.equals(select(table, [selector], seed=5))
    assert counted_pages[0] > 0
