"""Row groups found from the statistics a window hands over: the pieces, ranges and rows its footers give, without parsing them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from curation_pipeline.curators.selectors import (
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.selection import SelectionError, run_selection
from curation_pipeline.selection import group_stats, scan
from curation_pipeline.selection.filters import selector_predicate
from curation_pipeline.selection.selector_pieces import selector_pieces
from curation_pipeline.selection.window import TimeRange
from curation_pipeline.stream import StreamWindow, log_records, open_window, parquet_files
from curation_pipeline.stream.group_statistics import ColumnStatistics, GroupStatistics, group_statistics
from curation_pipeline_tests.selection.records import DAY, records

SELECTORS = {
    "uniform": Selector(method=UniformSampler(), limit=40),
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=25),
    "bounded": Selector(
        method=OrderedSampler(field="outputs.confidence", sort="ascending"),
        limit=30,
        filters=[BoundsFilter(field="outputs.confidence", lower=0.4, upper=0.6)],
    ),
    "newest": Selector(limit=50),
    "by id": Selector(method=OrderedSampler(field="record_id", sort="ascending"), limit=20),
    "strata": Selector(method=StratifiedSampler(field="outputs.label"), limit=30),
    "equality": Selector(method=UniformSampler(), limit=10, filters=[EqualsFilter(field="outputs.label", equals="dog")]),
    # A substring's row groups are told by pyarrow's expressions on the footers' statistics.
    "contains": Selector(method=UniformSampler(), limit=10, filters=[ContainsFilter(field="inputs.text", contains="dog")]),
}
# Across midnight: cuts the first day's first group and the second day's.
BOUNDS = (DAY + dt.timedelta(hours=10), DAY + dt.timedelta(days=1, hours=5))


@pytest.fixture(params=["local", "s3"])
def stream_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Two days of records in four batches (files), on each backend."""
    if request.param == "local":
        url = str(tmp_path / "store")
    else:
        url = f"s3://{request.getfixturevalue('aws_env').make_bucket('group-stats')}/curation"
    table = records(150_000, seed=7)
    for start in range(0, table.num_rows, 40_000):
        log_records("app", table.slice(start, 40_000), url)
    return url


def _past_budget(monkeypatch: pytest.MonkeyPatch, url: str, selector: Selector) -> StreamWindow:
    """The window as one of more files than it holds footers for, keeping the statistics ``selector`` reads."""
    with monkeypatch.context() as patch:
        patch.setattr(parquet_files, "KEPT_FOOTER_CHUNKS", 1)
        window = open_window("app", *BOUNDS, url, statistics_of=selector.fields())
    assert not window.footers_held and sorted(window.group_statistics) == sorted(window.files)
    return window


def _counting_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths whose footer the engine reads (parses), from now on, in order."""
    parsed: list[str] = []
    read = scan._open_file

    def counted(where, formats, opened, path, dictionary):
        parsed.append(path)
        return read(where, formats, opened, path, dictionary)

    monkeypatch.setattr(scan, "_open_file", counted)
    return parsed


def _described(source, selector: Selector) -> list[tuple]:
    """Each piece ``selector`` reads: its row group, and the ranges of its field and of record_id."""
    predicate = selector_predicate(selector, source.schema, "test")
    fields = sorted(selector.fields() | {"record_id", "__time"})
    return [
        (piece.group, [piece.value_range(field) for field in fields])
        for piece in selector_pieces(source, selector, predicate)
    ]


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_the_pieces_are_those_of_the_footers_and_none_is_parsed(stream_store, monkeypatch, name) -> None:
    selector = SELECTORS[name]
    held = scan.open_source(open_window("app", *BOUNDS, stream_store))
    expected = _described(held, selector)
    window = _past_budget(monkeypatch, stream_store, selector)
    parsed = _counting_parses(monkeypatch)
    source = scan.open_source(window)
    pieces = selector_pieces(source, selector, selector_predicate(selector, source.schema, "test"))
    if name == "contains":
        assert sorted(set(parsed)) == sorted(window.files)  # read from the footers, as without statistics
    else:
        assert parsed == []
    assert len(pieces) == len(expected)
    assert _described(source, selector) == expected


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_a_window_past_its_budget_selects_the_same_rows(stream_store, monkeypatch, name) -> None:
    selector = SELECTORS[name]
    expected = run_selection(open_window("app", *BOUNDS, stream_store), [selector], seed=4)
    got = run_selection(_past_budget(monkeypatch, stream_store, selector), [selector], seed=4)
    assert got.table.equals(expected.table)
    assert got.selectors == expected.selectors and got.candidate_rows == expected.candidate_rows


def test_a_field_without_statistics_is_read_from_the_footers(tmp_path: Path, monkeypatch) -> None:
    url = str(tmp_path / "store")
    log_records("app", records(150_000, seed=8), url)
    selector = SELECTORS["top"]
    expected = _described(scan.open_source(open_window("app", *BOUNDS, url)), selector)
    with monkeypatch.context() as patch:
        patch.setattr(parquet_files, "KEPT_FOOTER_CHUNKS", 1)
        window = open_window("app", *BOUNDS, url)  # __time and record_id only
    parsed = _counting_parses(monkeypatch)
    source = scan.open_source(window)
    assert _described(source, selector) == expected
    assert sorted(set(parsed)) == sorted(window.files)


# Columns of each type whose statistics a window keeps, and one it does not (unsigned).
TYPED = pa.table(
    {
        "__time": pa.array(np.arange(8) * 1_000_000, pa.timestamp("us", tz="UTC")),
        "record_id": [f"r{i}" for i in range(8)],
        "i8": pa.array([-3, 5, None, 7, 1, -100, 2, 2], pa.int8()),
        "f32": pa.array([0.5, -1.25, None, 2.0, 3.5, -0.0, 1, 1], pa.float32()),
        "f64": pa.array([0.1, float("nan"), 0.3, -2.5, None, 1e300, 0, 0]),
        "aware": pa.array([1, 2, 3, None, 5, 6, 7, 8], pa.timestamp("us", tz="UTC")),
        "naive": pa.array([10**12, 2, 3, 4, 5, None, 7, 8], pa.timestamp("ms")),
        "text": pa.array(["b", "a", None, "zé", "", "c", "d", "e"]),
        "u32": pa.array([1, 2**32 - 1, 3, 4, 5, 6, 7, 8], pa.uint32()),
    }
)


def test_value_ranges_are_those_of_the_parsed_footer(tmp_path: Path, monkeypatch) -> None:
    path = str(tmp_path / "typed.parquet")
    pq.write_table(TYPED, path, row_group_size=2)
    dataset = ds.dataset(path)
    fragments = list(dataset.get_fragments())
    stats = group_statistics(pq.ParquetFile(path).metadata, TYPED.schema, set(TYPED.column_names))
    parsed = scan.ParquetSource(dataset, None, fragments)
    groups = parsed.pieces(None)
    expected = {field: [parsed.value_range(piece.group, field) for piece in groups] for field in TYPED.column_names}
    parses = _counting_parses(monkeypatch)
    told = scan.ParquetSource(dataset, None, fragments, statistics={path: stats})
    assert [piece.group for piece in groups] == [piece.group for piece in told.pieces(None)]
    for field in TYPED.column_names:
        assert [told.value_range(piece.group, field) for piece in groups] == expected[field], field
        # From the statistics, but for the unsigned column, which they leave out: its footer is read.
        assert parses == ([] if field != "u32" else [path]), field
    assert told.value_range(groups[1].group, "aware")[0] == dt.datetime(1970, 1, 1, 0, 0, 0, 3, tzinfo=dt.timezone.utc)


def _file_stats(column: ColumnStatistics, rows: list[int]) -> GroupStatistics:
    return GroupStatistics(pa.schema([("x", pa.string())]), np.array(rows), {"x": column})


def test_a_string_statistic_that_is_not_utf8_is_not_told() -> None:
    column = ColumnStatistics(
        np.array([b"a", b"\xff"], object), np.array([b"b", b"\xfe"], object), np.array([True, True]), np.array([0, 0])
    )
    assert group_stats.value_ranges(_file_stats(column, [3, 3]), "x", pa.string()) == [("a", "b"), None]
    assert group_stats.value_ranges(_file_stats(column, [3, 3]), "y", pa.string()) is None


def test_groups_are_judged_by_their_time_statistics() -> None:
    window = TimeRange("__time", 100, 200)
    # (low, high, known, nulls, rows)
    groups = [
        (120, 150, True, 0, 10),  # inside
        (120, 150, True, 1, 10),  # inside, with a null time: cut
        (120, 150, True, -1, 10),  # nulls not told: cut
        (50, 150, True, 0, 10),  # across the start
        (200, 300, True, 0, 10),  # after
        (0, 0, False, 10, 10),  # no time at all
        (0, 0, False, 3, 10),  # no min and max: read
        (0, 0, False, -1, 10),  # nothing told: read
    ]
    judged = group_stats.judge_groups(window, groups)
    assert judged == [
        (True, True),
        (True, False),
        (True, False),
        (True, False),
        (False, False),
        (False, False),
        (True, False),
        (True, False),
    ]


class _Handed:
    def __init__(self, window: StreamWindow, statistics: object) -> None:
        self.dataset, self.filter, self.group_statistics = window.dataset, window.filter, statistics


def test_handed_over_statistics_must_be_a_mapping(tmp_path: Path) -> None:
    log_records("app", records(10), str(tmp_path / "store"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), str(tmp_path / "store"))
    with pytest.raises(SelectionError, match="group_statistics must be a mapping"):
        run_selection(_Handed(window, [1, 2]), [SELECTORS["uniform"]], seed=0)
    assert run_selection(_Handed(window, None), [SELECTORS["uniform"]], seed=0).candidate_rows == 10
