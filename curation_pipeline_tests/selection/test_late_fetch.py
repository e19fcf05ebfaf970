"""Winners' records through DuckDB, one query per local file: the same rows as pyarrow's whole-group reads."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from curation_pipeline.curators.selectors import (
    BoundsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.selection import SelectionError, late_fetch, scan, select, staging, value_scan
from curation_pipeline.stream import log_records, open_window
from curation_pipeline_tests.selection.records import DAY, records

SELECTORS = {
    "uniform": Selector(method=UniformSampler(), limit=300),
    "uniform_few": Selector(method=UniformSampler(), limit=7),
    "filtered": Selector(method=UniformSampler(), limit=200, filters=[EqualsFilter(field="outputs.label", equals="dog")]),
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=250),
    "newest": Selector(limit=5000),
    "strata": Selector(method=StratifiedSampler(field="outputs.label", mode="balanced"), limit=240),
}


@pytest.fixture
def prefetched(monkeypatch) -> list[bool]:
    """Whether each DuckDB query prefetched its file's column chunks."""
    asked: list[bool] = []
    take_file = late_fetch.take_file

    def recording(path, rows, schema, **options):
        asked.append(options.get("prefetch", True))
        return take_file(path, rows, schema, **options)

    monkeypatch.setattr(late_fetch, "take_file", recording)
    return asked


@pytest.fixture
def counted(monkeypatch, prefetched: list[bool]) -> list[int]:
    """Rows fetched through DuckDB."""
    fetched = [0]
    take_file = late_fetch.take_file

    def counting(path, rows, schema, **options):
        fetched[0] += rows.size
        return take_file(path, rows, schema, **options)

    monkeypatch.setattr(late_fetch, "take_file", counting)
    return fetched


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """Three days in three batches: files overlap in time, 65,536-row groups."""
    url = str(tmp_path_factory.mktemp("late") / "store")
    for seed in range(3):
        table = records(150_000, seed=seed)
        ids = pa.compute.binary_join_element_wise(pa.scalar(f"b{seed}-"), table.column("record_id"), "")
        log_records("app", table.set_column(0, "record_id", ids), url)
    return url


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_duckdb_and_pyarrow_fetch_the_same_rows(store: str, counted: list[int], monkeypatch, name: str) -> None:
    monkeypatch.setattr(scan, "_VALUED_FETCH_SHARE", 0)  # dense winners under a filter: DuckDB too, not polars
    window = open_window("app", DAY + dt.timedelta(hours=3), DAY + dt.timedelta(days=1, hours=9), store)
    through_duckdb = select(window, [SELECTORS[name]], seed=21)
    used = counted[0]
    monkeypatch.setattr(late_fetch, "suitable", lambda *args: False)
    counted[0] = 0
    through_pyarrow = select(window, [SELECTORS[name]], seed=21)
    assert counted[0] == 0
    assert through_duckdb.schema == through_pyarrow.schema == window.schema
    assert through_duckdb.equals(through_pyarrow)
    assert used > 0


def test_rows_come_back_in_the_order_asked(store: str) -> None:
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), store)
    path = window.files[0]
    rows = np.array([70_000, 3, 65_536, 12], dtype=np.int64)
    got = late_fetch.take_file(path, rows, window.schema)
    whole = window.dataset.filesystem.open_input_file(path)
    expected = pq.read_table(whole).take(pa.array(rows)).cast(window.schema)
    assert got.equals(expected)


def test_a_row_gone_from_the_file_is_an_error(store: str) -> None:
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), store)
    with pytest.raises(SelectionError, match="a picked row is gone"):
        late_fetch.take_file(window.files[0], np.array([5, 10_000_000], dtype=np.int64), window.schema)


def test_dense_winners_keep_whole_group_reads(tmp_path: Path, counted: list[int]) -> None:
    """The newest rows of a one-writer day sit in its last row groups: a whole-group read is as cheap."""
    table = records(150_000, seed=8)
    log_records("app", table, str(tmp_path / "store"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), str(tmp_path / "store"))
    got = select(window, [Selector(limit=5000)], seed=0)
    assert got.equals(select(table.slice(0, 86_400), [Selector(limit=5000)], seed=0))
    assert counted[0] == 0


def test_only_local_files_without_glob_characters_and_with_plain_types() -> None:
    schema = pa.schema([("record_id", pa.string()), ("__time", pa.timestamp("us", tz="UTC")), ("x", pa.float64())])
    local = pafs.LocalFileSystem()
    assert late_fetch.suitable(local, "/data/part-1.parquet", schema)
    assert not late_fetch.suitable(local, "/data/part-[1].parquet", schema)
    assert not late_fetch.suitable(pafs.S3FileSystem(anonymous=True, region="us-east-1"), "bucket/part.parquet", schema)
    nested = schema.append(pa.field("tags", pa.list_(pa.string())))
    assert not late_fetch.suitable(local, "/data/part-1.parquet", nested)


def test_an_s3_windows_winners_are_fetched_from_a_copy(aws_env, counted: list[int], monkeypatch) -> None:
    """Not from the remote file itself (DuckDB reads local files only here): from a temporary local copy."""
    table = records(70_000, seed=4)
    url = f"s3://{aws_env.make_bucket('late')}/curation"
    log_records("app", table, url)
    copied = []
    take_copied = late_fetch.take_copied

    def recording(path, rows, schema):
        copied.append(rows.size)
        return take_copied(path, rows, schema)

    monkeypatch.setattr(late_fetch, "take_copied", recording)
    monkeypatch.setattr(staging, "STAGED_BYTES", 0)  # the window read in place, not copied whole first
    selector = SELECTORS["uniform"]
    got = select(open_window("app", DAY, DAY + dt.timedelta(days=1), url), [selector], seed=5)
    assert got.equals(select(table.slice(0, 86_400), [selector], seed=5))
    assert copied == [selector.limit] and counted[0] == 0


def _chunks(path: str, chunk_bytes: int) -> Iterator[pa.Buffer]:
    """The bytes of the local file at ``path``, ``chunk_bytes`` a chunk."""
    data = Path(path).read_bytes()
    for offset in range(0, len(data), chunk_bytes):
        yield pa.py_buffer(data[offset : offset + chunk_bytes])


def test_a_copied_file_gives_the_rows_of_the_file_and_is_removed(store: str, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), store)
    path = window.files[0]
    rows = np.array([70_000, 3, 65_536, 12], dtype=np.int64)
    with late_fetch.local_copy(_chunks(path, 300_000)) as copy:
        assert Path(copy).read_bytes() == Path(path).read_bytes()
        got = late_fetch.take_copied(copy, rows, window.schema)
    assert got.equals(late_fetch.take_file(path, rows, window.schema))
    assert not list(tmp_path.iterdir())


def test_a_failed_read_of_a_copy_is_raised_and_the_copy_removed(store: str, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), store)

    def failing() -> Iterator[pa.Buffer]:
        chunks = _chunks(window.files[0], 100_000)
        yield next(chunks)
        raise OSError("connection reset by the store")

    with pytest.raises(OSError, match="connection reset"), late_fetch.local_copy(failing()):
        pass
    assert not list(tmp_path.iterdir())


def test_a_copy_duckdb_cannot_read_or_cannot_be_written_is_unavailable(store: str, monkeypatch, tmp_path: Path) -> None:
    """The caller then reads the file with pyarrow (tested on S3): no failed curation, no file left."""
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), store)
    path = window.files[0]
    rows = np.array([1], dtype=np.int64)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    zeros = (pa.py_buffer(bytes(len(chunk))) for chunk in _chunks(path, 1 << 20))  # not Parquet: the file changed meanwhile
    with pytest.raises(late_fetch.LateFetchUnavailable), late_fetch.local_copy(zeros) as copy:
        late_fetch.take_copied(copy, rows, window.schema)
    assert not list(tmp_path.iterdir())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    with pytest.raises(late_fetch.LateFetchUnavailable, match="no temporary file"), late_fetch.local_copy(_chunks(path, 1)):
        pass


def test_columns_duckdb_would_read_otherwise_keep_pyarrow_reads() -> None:
    schema = pa.schema([("record_id", pa.string()), ("__time", pa.timestamp("us", tz="UTC"))])
    local = pafs.LocalFileSystem()
    nanos = schema.append(pa.field("seen", pa.timestamp("ns")))  # INT96 files read as ns: DuckDB gives microseconds
    assert not late_fetch.suitable(local, "/data/part-1.parquet", nanos)
    assert not late_fetch.suitable(local, "/data/part-1.parquet", schema.append(pa.field("file_row_number", pa.int64())))
    cased = schema.append(pa.field("A", pa.int64())).append(pa.field("a", pa.int64()))  # one name to DuckDB
    assert not late_fetch.suitable(local, "/data/part-1.parquet", cased)


def test_a_file_duckdb_cannot_read_is_fetched_by_pyarrow(store: str, monkeypatch) -> None:
    """DuckDB out of its memory limit (or any read error): the same rows through pyarrow, not a failed curation."""
    window = open_window("app", DAY + dt.timedelta(hours=3), DAY + dt.timedelta(days=1, hours=9), store)
    selector = SELECTORS["uniform"]
    expected = select(window, [selector], seed=21)

    def out_of_memory(path, rows, schema, **options):
        raise late_fetch.LateFetchUnavailable("Out of Memory Error: could not allocate block of size 93.8 MiB")

    monkeypatch.setattr(late_fetch, "take_file", out_of_memory)
    assert select(window, [selector], seed=21).equals(expected)


def test_small_files_keep_whole_group_reads(tmp_path: Path, counted: list[int], monkeypatch) -> None:
    """A file of a few thousand rows is read whole by pyarrow faster than a DuckDB query starts."""
    table = records(20_000, seed=9)
    log_records("app", table, str(tmp_path / "store"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), str(tmp_path / "store"))
    selector = Selector(method=UniformSampler(), limit=50)
    got = select(window, [selector], seed=4)
    assert got.num_rows == 50
    assert counted[0] == 0
    monkeypatch.setattr(late_fetch, "suitable", lambda *args: False)
    assert got.equals(select(window, [selector], seed=4))


def test_files_of_large_row_groups_are_fetched_without_prefetching(
    tmp_path: Path, counted: list[int], prefetched: list[bool], monkeypatch
) -> None:
    """A foreign writer's big row groups: DuckDB reads pages as it decodes them, not whole column chunks first."""
    url = str(tmp_path / "store")
    table = records(400_000, seed=12)
    five_a_second = np.datetime64(DAY.replace(tzinfo=None), "us") + np.arange(400_000) * np.timedelta64(200, "ms")
    log_records("app", table.set_column(1, "__time", pa.array(five_a_second, table.schema.field("__time").type)), url)
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    assert len(window.files) == 1
    # Rewritten in place as another writer would: 200,000-row groups, snappy, no page index.
    pq.write_table(pq.read_table(window.files[0]), window.files[0], row_group_size=200_000, compression="snappy")
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    selector = Selector(method=UniformSampler(), limit=400)
    got = select(window, [selector], seed=3)
    assert counted[0] == 400
    assert prefetched and not any(prefetched)
    monkeypatch.setattr(late_fetch, "suitable", lambda *args: False)
    assert got.equals(select(window, [selector], seed=3))


def test_the_stream_layout_is_fetched_with_prefetching(store: str, prefetched: list[bool]) -> None:
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), store)
    select(window, [SELECTORS["uniform"]], seed=5)
    assert prefetched and all(prefetched)


@pytest.mark.parametrize("prefetch", [True, False])
def test_a_query_prefetches_as_asked_and_returns_the_same_rows(store: str, prefetch: bool) -> None:
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), store)
    rows = np.array([70_000, 3, 65_536, 12], dtype=np.int64)
    got = late_fetch.take_file(window.files[0], rows, window.schema, prefetch=prefetch)
    assert got.equals(late_fetch.take_file(window.files[0], rows, window.schema))
    query = "SELECT current_setting('disable_parquet_prefetching')"
    for asked in (prefetch, not prefetch, prefetch):  # one connection a thread, set as each query asks
        assert late_fetch._connection(asked).execute(query).fetchall() == [(not asked,)]


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> str:
    """A day in 48 files of 1,000 rows (one log call each), as a delivery service writes a file a minute."""
    url = str(tmp_path_factory.mktemp("small") / "store")
    table = records(48_000, seed=13)
    for start in range(0, 48_000, 1_000):
        log_records("app", table.slice(start, 1_000), url)
    return url


@pytest.fixture
def queries(monkeypatch) -> list[int]:
    """Files per DuckDB query over several files."""
    asked: list[int] = []
    take_files = late_fetch.take_files

    def recording(files, schema):
        asked.append(len(files))
        return take_files(files, schema)

    monkeypatch.setattr(late_fetch, "take_files", recording)
    return asked


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_small_files_are_fetched_several_to_a_query_with_the_same_rows(
    small_files: str, queries: list[int], counted: list[int], monkeypatch, name: str
) -> None:
    monkeypatch.setattr(scan, "_FILES_QUERY_ROWS", 10_000)  # a query per ten files or so
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), small_files)
    assert len(window.files) == 48
    by_polars: list[int] = []
    rows_at = value_scan.rows_at
    monkeypatch.setattr(value_scan, "rows_at", lambda files, *args: by_polars.append(len(files)) or rows_at(files, *args))
    got = select(window, [SELECTORS[name]], seed=17)
    # Polars reads the files holding a winner (nearly all 48: which ones varies with the files' names).
    assert (0 < sum(by_polars) <= 48) if name == "filtered" else not by_polars
    assert counted[0] == 0  # no query per file
    if name == "newest":  # the newest rows are dense in their files: whole reads
        assert not queries
    elif name == "uniform_few":  # 7 winners: files of 7,000 rows in all do not repay a query
        assert not queries
    elif name == "filtered":  # winners under a filter polars evaluates: polars reads them (scan._fetch_valued)
        assert not queries
    else:
        assert len(queries) > 1 and sum(queries) > 10
    monkeypatch.setattr(late_fetch, "suitable", lambda *args: False)
    expected = select(window, [SELECTORS[name]], seed=17)
    assert got.schema == expected.schema == window.schema
    assert got.equals(expected)


def test_several_files_rows_come_back_in_the_order_asked(small_files: str) -> None:
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), small_files)
    first, second = window.files[3], window.files[40]
    asked = [(second, np.array([999, 0, 500], dtype=np.int64)), (first, np.array([7, 3], dtype=np.int64))]
    got = late_fetch.take_files(asked, window.schema)
    for (path, rows), table in zip(asked, got):
        assert table.equals(pq.read_table(path).take(pa.array(rows)).cast(window.schema))


def test_a_row_gone_from_one_of_several_files_is_an_error(small_files: str) -> None:
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), small_files)
    asked = [(window.files[0], np.array([5], dtype=np.int64)), (window.files[1], np.array([1_000], dtype=np.int64))]
    with pytest.raises(SelectionError, match="a picked row is gone"):
        late_fetch.take_files(asked, window.schema)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([20_000], ([], [0])),  # too few rows for a query: pyarrow
        ([20_000, 20_000], ([["f0", "f1"]], [])),
        ([600_000, 600_000, 600_000], ([["f0", "f1"], ["f2"]], [])),
        ([1_100_000, 10_000], ([["f0", "f1"]], [])),  # a last query too small joins the one before
    ],
)
def test_small_files_are_batched_by_their_rows(rows: list[int], expected) -> None:
    small = [(f"f{i}", [i], held) for i, held in enumerate(rows)]
    batched, alone = scan._batched(small)
    assert ([paths for paths, _ in batched], alone) == expected
    assert sorted([i for _, picks in batched for i in picks] + alone) == list(range(len(rows)))  # each pick once



@pytest.mark.parametrize(
    "filters",
    [
        [EqualsFilter(field="outputs.label", equals="dog")],
        [BoundsFilter(field="outputs.confidence", lower=0.2, upper=0.9), EqualsFilter(field="outputs.label", equals="cat")],
    ],
    ids=["equals", "bounds and equals"],
)
def test_dense_winners_under_a_filter_come_through_polars_as_through_duckdb(store: str, counted: list[int], monkeypatch, filters) -> None:
    """Winners in most pages, under a filter polars evaluates: polars reads the filter's columns, then the winners'."""
    window = open_window("app", DAY + dt.timedelta(hours=3), DAY + dt.timedelta(days=1, hours=9), store)
    selector = Selector(method=UniformSampler(), limit=10_000, filters=filters)
    queried: list[int] = []
    rows_at = value_scan.rows_at
    monkeypatch.setattr(value_scan, "rows_at", lambda files, *rest: queried.append(len(files)) or rows_at(files, *rest))
    through_polars = select(window, [selector], seed=21)
    assert queried and counted[0] == 0
    monkeypatch.setattr(scan, "_VALUED_FETCH_SHARE", 0)  # winners never dense enough: DuckDB
    through_duckdb = select(window, [selector], seed=21)
    assert counted[0] > 0
    assert through_polars.schema == through_duckdb.schema == window.schema
    assert through_polars.equals(through_duckdb) and through_polars.num_rows == 10_000


def test_dense_winners_in_row_groups_too_large_to_read_whole_keep_duckdb(store: str, counted: list[int], monkeypatch) -> None:
    """polars would hold such a group's columns decoded (a foreign writer's 128 MB groups)."""
    monkeypatch.setattr(scan, "_WHOLE_GROUP_ROWS", 1_000)  # the store's 65,536-row groups count as large
    window = open_window("app", DAY + dt.timedelta(hours=3), DAY + dt.timedelta(days=1, hours=9), store)
    selector = Selector(method=UniformSampler(), limit=10_000, filters=[EqualsFilter(field="outputs.label", equals="dog")])
    queried: list[int] = []
    rows_at = value_scan.rows_at
    monkeypatch.setattr(value_scan, "rows_at", lambda files, *rest: queried.append(len(files)) or rows_at(files, *rest))
    assert select(window, [selector], seed=21).num_rows == 10_000
    assert not queried and counted[0] > 0


def test_a_files_rows_come_with_the_columns_asked_alone_in_the_order_asked(tmp_path: Path) -> None:
    """Names with quotes in them too: DuckDB is asked for them quoted."""
    table = records(5_000, seed=4)
    table = table.append_column('inputs.we"ird', table.column("outputs.label")).append_column("inputs.it's", table.column("record_id"))
    path = str(tmp_path / "part.parquet")
    pq.write_table(table, path, row_group_size=5_000)
    rows = np.array([4_321, 7, 2_500, 0, 4_999])
    columns = ["outputs.label", 'inputs.we"ird', "record_id", "inputs.it's"]
    got = late_fetch.take_file(path, rows, table.schema, prefetch=False, columns=columns)
    assert got.equals(table.select(columns).take(pa.array(rows)))


def test_ties_in_a_row_group_too_large_to_read_whole_take_their_ids_from_duckdb(tmp_path: Path, monkeypatch) -> None:
    """The ids of the rows tied at the cut, read by DuckDB for those rows alone: the rows pyarrow's read of the group gives."""
    table = records(40_000, seed=8)
    rounded = np.round(np.random.default_rng(3).random(table.num_rows), 2)  # 1.0 in about 200 rows: every winner tied
    table = table.set_column(table.schema.get_field_index("outputs.confidence"), "outputs.confidence", pa.array(rounded))
    path = tmp_path / "part.parquet"
    pq.write_table(table, path, row_group_size=20_000)
    monkeypatch.setattr(scan, "_WHOLE_GROUP_ROWS", 1_000)  # the two 20,000-row groups count as large (a foreign writer's)
    selector = Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=100)
    asked: list[list[str] | None] = []
    take_file = late_fetch.take_file
    monkeypatch.setattr(late_fetch, "take_file", lambda *args, columns=None, **kwargs: asked.append(columns) or take_file(*args, columns=columns, **kwargs))
    got = select(pa.dataset.dataset(path), [selector], seed=1)
    assert [["record_id"]] * 2 == [columns for columns in asked if columns is not None]  # a query for each group's tied rows
    with monkeypatch.context() as patched:
        patched.setattr(scan.RowGroupPiece, "late_file", lambda self: None)  # pyarrow reads the ids
        expected = select(pa.dataset.dataset(path), [selector], seed=1)
    order = pa.compute.sort_indices(table, sort_keys=[("outputs.confidence", "descending"), ("record_id", "ascending")])
    assert got.equals(expected) and got.column("record_id").equals(table.take(order).slice(0, 100).column("record_id"))

    def unavailable(*args, columns=None, **kwargs):
        if columns is not None:
            raise late_fetch.LateFetchUnavailable("out of memory")
        return take_file(*args, **kwargs)

    monkeypatch.setattr(late_fetch, "take_file", unavailable)  # DuckDB failing: pyarrow reads the ids
    assert select(pa.dataset.dataset(path), [selector], seed=1).equals(expected)
