"""The stream's window reaches the engine with its files and filter apart: the row-group path, local and S3."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import curation_pipeline
from curation_pipeline.curators.selectors import (
    BoundsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.selection import FilteredParquet, run_selection, select
from curation_pipeline.selection.filters import selector_predicate
from curation_pipeline.selection.scan import DatasetSource, ParquetSource, RowGroupPiece, open_source
from curation_pipeline.stream import StreamWindow, log_records, open_window, read_window
from curation_pipeline_tests.selection.records import DAY, records

SELECTORS = [
    Selector(method=UniformSampler(), limit=40),
    Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=25),
    Selector(method=StratifiedSampler(field="outputs.label"), limit=30),
]
# 150,000 records one second apart from DAY: two days, 65,536-row groups, so
# the first day's file has two row groups and the second day's one.
ROWS = 150_000
# Across midnight: part of day 1's first group, all of its second, part of day 2's group.
ACROSS = (DAY + dt.timedelta(hours=10), DAY + dt.timedelta(days=1, hours=5))
# Inside day 1's second row group (rows 65,536 to 86,399) alone.
INSIDE = (DAY + dt.timedelta(hours=20), DAY + dt.timedelta(hours=23))


@pytest.fixture(params=["local", "s3"])
def stream_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store holding the two days of records, on each backend."""
    if request.param == "local":
        url = str(tmp_path / "store")
    else:
        url = f"s3://{request.getfixturevalue('aws_env').make_bucket('handoff')}/curation"
    log_records("app", records(ROWS, seed=5), url)
    return url


def _groups_overlapping(window: StreamWindow) -> int:
    """Row groups of the window's files whose ``__time`` statistics overlap it."""
    filesystem = window.dataset.filesystem
    overlapping = 0
    for path in window.files:
        with filesystem.open_input_file(path) as source:
            metadata = pq.ParquetFile(source).metadata
        column = metadata.schema.names.index("__time")
        for group in range(metadata.num_row_groups):
            stats = metadata.row_group(group).column(column).statistics
            overlapping += stats.min < window.end and stats.max >= window.start
    return overlapping


@pytest.mark.parametrize("bounds", [ACROSS, INSIDE], ids=["across", "inside"])
def test_a_stream_window_is_read_row_group_by_row_group(stream_store: str, bounds) -> None:
    window = open_window("app", *bounds, stream_store)
    assert isinstance(window, FilteredParquet)
    source = open_source(window)
    assert isinstance(source, ParquetSource)
    pieces = source.pieces(None)
    assert pieces and all(isinstance(piece, RowGroupPiece) for piece in pieces)
    # Row groups outside the window are pruned by statistics, not read.
    assert len(pieces) == _groups_overlapping(window) == (3 if bounds is ACROSS else 1)
    assert source.count_rows() == window.count_rows() == int((bounds[1] - bounds[0]).total_seconds())


@pytest.mark.parametrize("bounds", [ACROSS, INSIDE], ids=["across", "inside"])
def test_the_window_and_its_filtered_dataset_select_the_same_rows(stream_store: str, bounds) -> None:
    window = open_window("app", *bounds, stream_store)
    filtered = read_window("app", *bounds, stream_store)
    # A dataset from Dataset.filter hides its files: the engine reads it as one piece.
    assert isinstance(open_source(filtered), DatasetSource)
    table = filtered.to_table()
    assert table.equals(window.to_dataset().to_table())
    for selector in SELECTORS:
        fast = run_selection(window, [selector], seed=3)
        assert fast.candidate_rows == table.num_rows
        assert fast.table.equals(run_selection(filtered, [selector], seed=3).table)
        assert fast.table.equals(run_selection(table, [selector], seed=3).table)
        assert fast.selectors == run_selection(table, [selector], seed=3).selectors


def test_an_unfiltered_parquet_dataset_is_read_row_group_by_row_group(tmp_path: Path) -> None:
    log_records("app", records(1000), str(tmp_path / "store"))
    empty = open_window("app", DAY + dt.timedelta(days=3), DAY + dt.timedelta(days=4), str(tmp_path / "store"))
    assert empty.count_rows() == 0 and empty.files == ()
    assert isinstance(open_source(empty), ParquetSource) and open_source(empty).pieces(None) == []
    dataset = open_window("app", DAY, DAY + dt.timedelta(days=2), str(tmp_path / "store")).dataset
    source = open_source(dataset)
    assert isinstance(source, ParquetSource) and source.count_rows() == 1000


class _Handed:
    def __init__(self, dataset, filter) -> None:
        self.dataset = dataset
        self.filter = filter


def test_a_handed_over_filter_must_be_an_expression(tmp_path: Path) -> None:
    log_records("app", records(10), str(tmp_path / "store"))
    dataset = open_window("app", DAY, DAY + dt.timedelta(days=1), str(tmp_path / "store")).dataset
    with pytest.raises(curation_pipeline.selection.SelectionError, match="filter must be a pyarrow Expression"):
        run_selection(_Handed(dataset, "__time > 0"), SELECTORS[:1], seed=0)
    assert run_selection(_Handed(dataset, None), SELECTORS[:1], seed=0).candidate_rows == 10


def test_the_package_uses_no_private_pyarrow_attribute() -> None:
    """Private attributes vanish silently on a pyarrow upgrade; the engine would drop to the slow path."""
    root = Path(curation_pipeline.__file__).parent
    # The two the engine once read, also through getattr("...").
    private = re.compile(r"\b_(scan_options|get_fragments)\b")
    found = [f"{path}: {line.strip()}" for path in root.rglob("*.py") for line in path.read_text().splitlines() if private.search(line)]
    assert found == []


# Small limits: a few winners per row group, fetched from the stream's files.
SMALL_K = {
    "uniform": Selector(method=UniformSampler(), limit=5),
    "filtered": Selector(method=UniformSampler(), limit=4, filters=[EqualsFilter(field="outputs.label", equals="dog")]),
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=6),
    "newest": Selector(limit=50),
    "strata": Selector(method=StratifiedSampler(field="outputs.label", mode="balanced"), limit=6),
}


@pytest.mark.parametrize("name", sorted(SMALL_K))
def test_engine_on_the_stream_selects_as_from_a_table(tmp_path: Path, name: str) -> None:
    table = records(150_000, seed=3)  # 150k seconds: two days, two row groups on the first
    store = str(tmp_path / "store")
    log_records("app", table, store)
    start, end = DAY, DAY + dt.timedelta(days=1)
    in_window = table.slice(0, 86_400)
    got = select(open_window("app", start, end, store), [SMALL_K[name]], seed=11)
    expected = select(in_window, [SMALL_K[name]], seed=11)
    assert got.equals(expected)


def test_engine_on_an_s3_stream_selects_as_from_a_table(aws_env) -> None:
    table = records(70_000, seed=4)
    store = f"s3://{aws_env.make_bucket('window')}/curation"
    log_records("app", table, store)
    start, end = DAY, DAY + dt.timedelta(days=1)
    selector = Selector(method=UniformSampler(), limit=3)
    got = select(open_window("app", start, end, store), [selector], seed=5)
    assert got.equals(select(table, [selector], seed=5))


def test_a_fetch_stopping_early_gives_the_rows_of_a_whole_read(tmp_path: Path) -> None:
    """Winners in a group's first rows are read batch by batch up to the last one; the rows are the same."""
    table = records(70_000, seed=6)  # one day: a 65,536-row group, then 4,464 rows
    log_records("app", table, str(tmp_path / "store"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), str(tmp_path / "store"))
    first = open_source(window).pieces(None)[0]
    schema = window.schema
    for rows in ([0, 5, 8191, 8192, 30_000], [40_000, 65_535], [65_535]):
        got = first.fetch(np.array(rows, dtype=np.int64))
        assert got.schema == schema
        assert got.equals(table.take(pa.array(rows)).cast(schema))


def test_row_groups_wholly_inside_the_window_are_told_by_statistics(tmp_path: Path) -> None:
    """Inside, across an edge, with a null time, all null: the window's filter runs per row only where it must."""
    import pyarrow.dataset as ds

    utc = pa.timestamp("us", tz="UTC")
    hours = [DAY + dt.timedelta(hours=h) for h in range(10)]
    times = [hours[1], hours[2], None, hours[3], hours[1], hours[2], hours[3], hours[4]]
    times += [hours[8], hours[9], hours[5], hours[6], None, None, None, None]
    table = pa.table({"record_id": [f"r{i:02d}" for i in range(16)], "__time": pa.array(times, utc)})
    pq.write_table(table, tmp_path / "part.parquet", row_group_size=4)
    dataset = ds.dataset(tmp_path / "part.parquet")
    start, end = pa.scalar(hours[1], utc), pa.scalar(hours[7], utc)
    window = (ds.field("__time") >= start) & (ds.field("__time") < end)

    class Window:
        def __init__(self) -> None:
            self.dataset, self.filter = dataset, window

    source = open_source(Window())
    pieces = source.pieces(None)
    # Group 3 holds no time at all: no piece; group 1 lies inside; groups 0 and 2 must be filtered row by row.
    assert [piece.group.id for piece in pieces] == [0, 1, 2]
    assert [piece._row_filter() is None for piece in pieces] == [False, True, False]
    expected = dataset.to_table(filter=window)
    got = select(Window(), [Selector(method=UniformSampler(), limit=100)], seed=1)
    assert got.column("record_id").to_pylist() == expected.column("record_id").to_pylist()
    # Candidates: counted on the window's pieces once a selector without a filter built them, else by the dataset.
    assert source.count_rows() == expected.num_rows == 9
    filtered = Selector(method=UniformSampler(), limit=3, filters=[EqualsFilter(field="record_id", equals="r01")])
    assert run_selection(Window(), [filtered], seed=1).candidate_rows == 9


def test_a_selectors_row_groups_are_told_by_value_ranges_as_pyarrows_statistics_tell_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounds and equals filters keep the row groups ``split_by_row_group`` keeps, without asking it, and the same rows."""
    import pyarrow.dataset as ds

    utc = pa.timestamp("us", tz="UTC")
    rows = 64
    scores = [float(i // 8) if i % 8 else math.nan for i in range(rows)]  # a NaN in every group; groups 0..7
    table = pa.table(
        {
            "record_id": [f"r{i:02d}" for i in range(rows)],
            "__time": pa.array([DAY + dt.timedelta(minutes=i) for i in range(rows)], utc),
            "score": pa.array([None if i % 16 == 3 else value for i, value in enumerate(scores)]),
            "count": pa.array([i // 8 * 100 for i in range(rows)], pa.int64()),
            "label": [("a", "b", "c", "d")[i // 16] for i in range(rows)],
        }
    )
    pq.write_table(table, tmp_path / "part.parquet", row_group_size=8)
    dataset = ds.dataset(tmp_path / "part.parquet")
    # The window cuts group 1 and leaves out group 7.
    window = (ds.field("__time") >= pa.scalar(DAY + dt.timedelta(minutes=12), utc)) & (
        ds.field("__time") < pa.scalar(DAY + dt.timedelta(minutes=56), utc)
    )

    class Window:
        def __init__(self) -> None:
            self.dataset, self.filter = dataset, window

    asked = []
    groups = ParquetSource._groups
    monkeypatch.setattr(ParquetSource, "_groups", lambda self, row_filter, ranges=(): asked.append(row_filter) or groups(self, row_filter, ranges))
    cases = [
        [BoundsFilter(field="score", lower=2.0, inclusive_upper=4.0)],
        [BoundsFilter(field="score", inclusive_lower=6.5)],
        [BoundsFilter(field="count", upper=300), EqualsFilter(field="label", equals="b")],
        [EqualsFilter(field="label", equals="c")],
        [EqualsFilter(field="count", equals=250)],
    ]
    fragment = next(dataset.get_fragments())
    for filters in cases:
        selector = Selector(method=OrderedSampler(field="record_id", sort="ascending"), limit=100, filters=filters)
        source = open_source(Window())
        predicate = selector_predicate(selector, dataset.schema, "test")
        pieces = source.pieces(predicate.expression(), predicate.fields, predicate)
        expected = [group.row_groups[0].id for group in fragment.split_by_row_group(window & predicate.expression())]
        assert [piece.group.id for piece in pieces] == expected, filters
        got = select(Window(), [selector], seed=1).column("record_id").to_pylist()
        assert got == dataset.to_table(filter=window & predicate.expression()).column("record_id").to_pylist()
    assert all(row_filter is window for row_filter in asked), "a selector's groups were asked of split_by_row_group"


class _Fragment:
    """A file's fragment that refuses ``split_by_row_group``: the window's bounds must tell its groups."""

    def __init__(self, fragment) -> None:
        self._fragment = fragment

    def __getattr__(self, name: str):
        if name == "split_by_row_group":
            raise AssertionError("the window's row groups were asked of split_by_row_group")
        return getattr(self._fragment, name)


def _window_pieces(dataset, start: dt.datetime, end: dt.datetime, bounds: bool) -> list[tuple[int, bool]]:
    """``(row group, whole)`` of the window's pieces, told by its time bounds or by its filter's statistics."""
    import pyarrow.dataset as ds

    utc = pa.timestamp("us", tz="UTC")

    class Window:
        def __init__(self) -> None:
            self.dataset = dataset
            self.filter = (ds.field("__time") >= pa.scalar(start, utc)) & (ds.field("__time") < pa.scalar(end, utc))
            if bounds:
                self.time_range = ("__time", start, end)

    source = open_source(Window())
    return [(piece.group.id, piece._row_filter() is None) for piece in source.pieces(None)]


def test_a_windows_row_groups_are_told_by_its_time_bounds_as_by_its_filters_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random times (nulls, groups without statistics, bounds on a group's min or max).

    A group the bounds leave out holds no row of the window, and one they
    keep whole holds only such rows; they leave out and keep whole at least
    the groups the filter's statistics do (with a null in a group,
    ``split_by_row_group`` keeps some that hold no row of the window).
    """
    import pyarrow.dataset as ds

    from curation_pipeline.selection import scan

    utc = pa.timestamp("us", tz="UTC")
    rng = np.random.default_rng(7)
    for case in range(60):
        rows = int(rng.integers(1, 40))
        seconds = rng.integers(0, 50, rows)
        times = [None if rng.random() < 0.1 else DAY + dt.timedelta(seconds=int(s)) for s in seconds]
        if case % 3 == 0:
            times.sort(key=lambda t: (t is None, t))  # in time order, as a stream's files mostly are
        table = pa.table({"record_id": [f"r{i:02d}" for i in range(rows)], "__time": pa.array(times, utc)})
        path = tmp_path / f"case{case}.parquet"
        pq.write_table(table, path, row_group_size=int(rng.integers(1, 8)), write_statistics=case % 7 != 0)
        dataset = ds.dataset(path)
        edges = sorted({int(s) for s in rng.choice(seconds, 2)} | {int(rng.integers(0, 51))})
        start, end = (DAY + dt.timedelta(seconds=edges[0]), DAY + dt.timedelta(seconds=edges[-1]))
        by_statistics = dict(_window_pieces(dataset, start, end, bounds=False))
        with monkeypatch.context() as patched:
            opened = scan._open_file
            patched.setattr(scan, "_open_file", lambda *args: _Fragment(opened(*args)))
            by_bounds = dict(_window_pieces(dataset, start, end, bounds=True))
        window = (ds.field("__time") >= pa.scalar(start, utc)) & (ds.field("__time") < pa.scalar(end, utc))
        parquet = pq.ParquetFile(path)
        for group in range(parquet.metadata.num_row_groups):
            inside = [t is not None and start <= t < end for t in parquet.read_row_group(group).column("__time").to_pylist()]
            context = (case, group, times, start, end)
            assert group in by_bounds or not any(inside), context
            assert not by_bounds.get(group) or all(inside), context
            assert group not in by_bounds or group in by_statistics, context
            assert by_bounds.get(group, True) or not by_statistics.get(group), context
        kept = dataset.to_table(filter=window).column("record_id").to_pylist()
        for bounds in (True, False):
            handed = _Handed(dataset, window)
            if bounds:
                handed.time_range = ("__time", start, end)  # type: ignore[attr-defined]
            got = select(handed, [Selector(method=UniformSampler(), limit=100)], seed=1).column("record_id").to_pylist()
            assert got == kept, (case, bounds)


def test_a_window_stored_in_another_time_unit_is_told_by_its_filter(tmp_path: Path) -> None:
    """Nanoseconds in the file, microseconds in the dataset: the filter casts them, its statistics decide."""
    import pyarrow.dataset as ds

    utc = pa.timestamp("us", tz="UTC")
    times = pa.array([DAY + dt.timedelta(seconds=s) for s in range(12)], pa.timestamp("ns", tz="UTC"))
    pq.write_table(pa.table({"record_id": [f"r{i:02d}" for i in range(12)], "__time": times}), tmp_path / "ns.parquet", row_group_size=4)
    dataset = ds.dataset(tmp_path / "ns.parquet", schema=pa.schema([("record_id", pa.string()), ("__time", utc)]))
    start, end = DAY + dt.timedelta(seconds=4), DAY + dt.timedelta(seconds=9)
    assert _window_pieces(dataset, start, end, bounds=True) == _window_pieces(dataset, start, end, bounds=False)
    assert _window_pieces(dataset, start, end, bounds=True) == [(1, True), (2, False)]


@pytest.mark.parametrize(
    "time_range",
    [
        ("__time", DAY),
        ("__time", DAY + dt.timedelta(days=1), DAY),
        ("__time", DAY.replace(tzinfo=None), DAY),
        (1, DAY, DAY),
        ("__time", pd.Timestamp(DAY) + pd.Timedelta(nanoseconds=500), DAY + dt.timedelta(days=1)),
    ],
    ids=["two items", "end before start", "naive", "field not a name", "nanoseconds"],
)
def test_a_handed_over_time_range_must_be_a_field_and_two_aware_datetimes(tmp_path: Path, time_range) -> None:
    log_records("app", records(10), str(tmp_path / "store"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), str(tmp_path / "store"))
    handed = _Handed(window.dataset, window.filter)
    handed.time_range = time_range  # type: ignore[attr-defined]
    with pytest.raises(curation_pipeline.selection.SelectionError, match="time_range must be"):
        run_selection(handed, SELECTORS[:1], seed=0)


def test_a_stream_window_says_its_time_bounds(tmp_path: Path) -> None:
    log_records("app", records(10), str(tmp_path / "store"))
    start, end = DAY, DAY + dt.timedelta(hours=3)
    assert open_window("app", start, end, str(tmp_path / "store")).time_range == ("__time", start, end)


def test_a_null_time_beside_a_single_time_is_not_in_the_window(tmp_path: Path) -> None:
    """A group of one time and a null: its statistics (min equal to max) once showed it wholly inside."""
    import pyarrow.dataset as ds

    utc = pa.timestamp("us", tz="UTC")
    times = pa.array([DAY + dt.timedelta(hours=1), None, DAY + dt.timedelta(hours=2), DAY + dt.timedelta(hours=3)], utc)
    pq.write_table(pa.table({"record_id": ["a", "b", "c", "d"], "__time": times}), tmp_path / "part.parquet", row_group_size=2)
    dataset = ds.dataset(tmp_path / "part.parquet")
    start, end = DAY, DAY + dt.timedelta(days=1)
    window = (ds.field("__time") >= pa.scalar(start, utc)) & (ds.field("__time") < pa.scalar(end, utc))
    for bounds in (False, True):
        handed = _Handed(dataset, window)
        if bounds:
            handed.time_range = ("__time", start, end)  # type: ignore[attr-defined]
        assert _window_pieces(dataset, start, end, bounds) == [(0, False), (1, True)]
        got = select(handed, [Selector(method=UniformSampler(), limit=10)], seed=1)
        assert got.column("record_id").to_pylist() == ["a", "c", "d"]
