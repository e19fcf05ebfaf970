"""polars reading for the one pass: a selector's conditions evaluated and counted exactly as pyarrow's kernels do."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pydantic
import pytest

from curation_pipeline.curators.selectors import BoundsFilter, EqualsFilter
from curation_pipeline.selection import value_scan
from curation_pipeline.selection.errors import FieldTypeError
from curation_pipeline.selection.filters import Comparison, filter_comparisons
from curation_pipeline_tests.selection.records import COMPARISON_FILTERS

FLOATS = [math.nan, -math.inf, math.inf, -0.0, 0.0, 0.45, float(np.float32(0.45)), 0.55, -1.5, 2.0**24, 2.0**24 + 2, 2.0**53, 1e300, None]
INTEGERS = {
    pa.int8(): [-128, 127, 0, -1, 1, None],
    pa.uint8(): [0, 255, 1, None],
    pa.int32(): [-(2**31), 2**31 - 1, 0, -1, 300, None],
    pa.uint32(): [0, 2**32 - 1, 300, None],
    pa.int64(): [-(2**63), 2**63 - 1, 0, -1, 300, 2**53 + 1, None],
    pa.uint64(): [0, 2**64 - 1, 2**63 + 5, 300, None],
}
BOUNDS = [0.45, 0, -1, 300, 2.5, 2**24, 2**24 + 1, 2**53, 2**53 + 1, 2**63 + 5, -(2**63), math.inf, -math.inf, math.nan, -0.0]
SPECS = COMPARISON_FILTERS


def columns() -> list[pa.Array]:
    floats = [pa.array(FLOATS, type_) for type_ in (pa.float32(), pa.float64())]
    return floats + [pa.array(values, type_) for type_, values in INTEGERS.items()]


def comparisons(column: pa.Array, name: str, bound: float) -> list[Comparison] | None:
    """The conditions a filter becomes on ``column``, as the engine builds them; None where the filter is refused."""
    try:
        return list(filter_comparisons(SPECS[name](bound), pa.schema([("x", column.type)]), "test"))
    except (pydantic.ValidationError, FieldTypeError):
        return None


def test_conditions_keep_exactly_the_rows_pyarrow_keeps() -> None:
    translated = 0
    for column, name, bound in itertools.product(columns(), SPECS, BOUNDS):
        conditions = comparisons(column, name, bound)
        if conditions is None:
            continue
        schema = pa.schema([("x", column.type)])
        try:
            expected = conditions[0].evaluate(column).fill_null(False).to_pylist()
        except pa.ArrowInvalid:  # pyarrow refuses the bound for this column's values: so must the translation
            assert value_scan.condition(schema, "x", conditions) is None, (column.type, name, bound)
            continue
        where = value_scan.condition(schema, "x", conditions)
        if where is None:
            continue
        frame = pl.from_arrow(pa.table({"x": column}))
        got = frame.select(where.fill_null(False).alias("kept")).to_series().to_list()
        assert got == expected, (column.type, name, bound)
        translated += 1
    assert translated > 300  # most cases are translated, not set aside


@pytest.mark.parametrize(
    ("type_", "name", "bound"),
    [
        (pa.float64(), "greater", 0.45),
        (pa.float32(), "less_equal", 0.45),  # polars alone would compare in float32
        (pa.float64(), "less", 0.55),  # polars alone keeps NaN: NaN orders above every number
        (pa.uint64(), "greater_equal", 2**63 + 5),
        (pa.int8(), "equal", 300),
        (pa.int32(), "less", 2.5),
    ],
)
def test_the_bounds_curators_give_are_translated(type_: pa.DataType, name: str, bound: float) -> None:
    conditions = comparisons(pa.array([], type_), name, bound)
    assert conditions and value_scan.condition(pa.schema([("x", type_)]), "x", conditions) is not None


@pytest.mark.parametrize(
    ("type_", "conditions"),
    [
        (pa.float64(), [Comparison("y", "greater", pa.scalar(0.5))]),  # another column
        (pa.float64(), [Comparison("x", "greater", pa.scalar(math.nan))]),
        (pa.int64(), [Comparison("x", "greater", pa.scalar(0.5))]),  # pyarrow compares in float64, refusing values past 2^53
        (pa.float64(), [Comparison("x", "greater", pa.scalar(2**53 + 1))]),  # no exact float
        (pa.float32(), [Comparison("x", "greater", pa.scalar(2**24 + 1))]),
        (pa.string(), [Comparison("x", "match_substring", "a")]),
    ],
    ids=["another column", "NaN bound", "float against int64", "int past 2^53", "int past 2^24", "substring"],
)
def test_conditions_polars_would_evaluate_otherwise_are_not_translated(type_: pa.DataType, conditions: list[Comparison]) -> None:
    schema = pa.schema([("x", type_), ("y", pa.float64())])
    assert value_scan.condition(schema, "x", conditions) is None
    assert not value_scan.usable(schema, "x", conditions)


def test_count_where_counts_the_rows_in_the_ranges_the_conditions_keep(tmp_path) -> None:
    values = np.round(np.random.default_rng(2).random(10_000), 2)
    values[::97] = np.nan
    table = pa.table({"record_id": [str(i) for i in range(values.size)], "x": pa.array(values)})
    path = str(tmp_path / "part.parquet")
    pq.write_table(table, path, row_group_size=1_000)
    conditions = list(filter_comparisons(BoundsFilter(field="x", lower=0.45, upper=0.55), table.schema, "test"))
    ranges = [(0, 2_000), (5_000, 9_000)]
    expected = sum(
        int(np.count_nonzero((values[start:end] > 0.45) & (values[start:end] < 0.55))) for start, end in ranges
    )
    assert expected > 0
    assert value_scan.count_where([(path, ranges, 10_000), (path, [(9_000, 10_000)], 10_000)], table.schema, "x", conditions) == expected + int(
        np.count_nonzero((values[9_000:] > 0.45) & (values[9_000:] < 0.55))
    )


@pytest.mark.parametrize("descending", [True, False], ids=["descending", "ascending"])
def test_counted_rows_past_counts_and_returns_the_rows_past_the_bound(tmp_path, descending: bool) -> None:
    """Files with rows past the bound, with matched rows but none past it, and with none matched at all."""
    rng = np.random.default_rng(4)
    files = []
    for number, values in enumerate([np.round(rng.random(5_000), 3), np.full(3_000, 0.5), np.full(2_000, 0.99)]):
        values[::89] = np.nan
        table = pa.table({"record_id": [f"{number}-{i}" for i in range(values.size)], "x": pa.array(values)})
        path = str(tmp_path / f"part-{number}.parquet")
        pq.write_table(table, path, row_group_size=1_000)
        files.append((path, values))
    conditions = list(filter_comparisons(BoundsFilter(field="x", lower=0.2, upper=0.8), table.schema, "test"))
    bound = 0.7 if descending else 0.3
    asked = [(path, [(0, 1_000), (2_000, values.size)], values.size) for path, values in files]
    rows, counted = value_scan.counted_rows_past(asked, table.schema, "x", bound, descending, 10_000, conditions)
    expected_count, expected_rows = 0, []
    for position, (path, values) in enumerate(files):
        for start, end in [(0, 1_000), (2_000, values.size)]:
            for row in range(start, end):
                value = values[row]
                if 0.2 < value < 0.8:
                    expected_count += 1
                    if (value >= bound) if descending else (value <= bound):
                        expected_rows.append((value, row, position))
    assert counted == expected_count and expected_rows
    assert rows.column_names == ["x", value_scan.ROW, value_scan.FILE]
    assert sorted(zip(*(rows.column(name).to_pylist() for name in rows.column_names))) == sorted(expected_rows)
    with pytest.raises(value_scan.LateFetchUnavailable):
        value_scan.counted_rows_past(asked, table.schema, "x", bound, descending, len(expected_rows) - 1, conditions)


def test_rows_at_gives_the_rows_asked_in_that_order_and_refuses_a_row_its_condition_drops(tmp_path) -> None:
    labels = pa.array(["dog", "cat", None, "dog", "dög", "dog"] * 500)
    table = pa.table({"record_id": [f"r{i}" for i in range(len(labels))], "x": pa.array(np.arange(len(labels), dtype=np.float64)), "label": labels})
    path = str(tmp_path / "part.parquet")
    pq.write_table(table, path, row_group_size=700)
    equals = list(filter_comparisons(EqualsFilter(field="label", equals="dog"), table.schema, "test"))
    where = value_scan.prefilter(table.schema, equals)
    asked = np.array([2_997, 0, 1_503, 3, 2_105], np.int64)  # rows of "dog", out of order
    (got,) = value_scan.rows_at([(path, asked, len(labels))], table.schema, where)
    assert got.equals(table.take(pa.array(asked)))
    with pytest.raises(value_scan.LateFetchUnavailable):
        value_scan.rows_at([(path, np.array([0, 4], np.int64), len(labels))], table.schema, where)  # "dög" is not "dog"
    bounds = list(filter_comparisons(BoundsFilter(field="x", lower=10.0), table.schema, "test"))
    (got,) = value_scan.rows_at([(path, asked[asked > 10], len(labels))], table.schema, value_scan.prefilter(table.schema, [*bounds, *equals]))
    assert got.equals(table.take(pa.array(asked[asked > 10])))


def test_a_prefilter_is_given_only_for_conditions_polars_evaluates() -> None:
    schema = pa.schema([("label", pa.string()), ("x", pa.float64()), ("n", pa.int64())])
    assert value_scan.prefilter(schema, [Comparison("label", "equal", pa.scalar("dog"))]) is not None
    assert value_scan.prefilter(schema, [Comparison("x", "less", pa.scalar(0.5))]) is not None
    assert value_scan.prefilter(schema, []) is None
    assert value_scan.prefilter(schema, [Comparison("label", "match_substring", "do")]) is None
    assert value_scan.prefilter(schema, [Comparison("label", "less", pa.scalar("dog"))]) is None
    assert value_scan.prefilter(schema, [Comparison("n", "less", pa.scalar(0.5))]) is None  # a float bound on int64


def _least(type_: pa.DataType) -> int | float:
    """A bound every number of ``type_`` is at or past, descending."""
    return -math.inf if pa.types.is_floating(type_) else (0 if pa.types.is_unsigned_integer(type_) else -(2**63))


def translated_grid(tmp_path) -> Iterator[tuple[str, pa.Array, list[Comparison], np.ndarray]]:
    """Each column of the grid written to a file, with each filter :func:`value_scan.condition` translates on it and the rows pyarrow keeps."""
    for number, column in enumerate(columns()):
        schema = pa.schema([("x", column.type)])
        path = str(tmp_path / f"column-{number}.parquet")
        pq.write_table(pa.table({"x": column}), path)
        for name, bound in itertools.product(SPECS, BOUNDS):
            conditions = comparisons(column, name, bound)
            if conditions is None or value_scan.condition(schema, "x", conditions) is None:
                continue
            yield path, column, conditions, conditions[0].evaluate(column).fill_null(False).to_numpy(zero_copy_only=False)


def test_one_scan_of_many_files_keeps_exactly_the_rows_pyarrow_keeps_where_translated(tmp_path) -> None:
    """The rows past a bound and the count, each file read twice in one scan, over the grid of conditions: NaN, nulls, extremes."""
    translated = 0
    for path, column, conditions, kept in translated_grid(tmp_path):
        schema = pa.schema([("x", column.type)])
        files = [(path, [(0, len(column))], len(column))] * 2
        got = value_scan.rows_past(files, schema, "x", _least(column.type), True, 1_000, conditions)
        rows = np.flatnonzero(kept).tolist()
        assert got.column(value_scan.ROW).to_pylist() == rows * 2, (column.type, conditions)
        assert got.column(value_scan.FILE).to_pylist() == [0] * len(rows) + [1] * len(rows)
        assert got.column("x").combine_chunks().equals(pa.chunked_array([column.filter(pa.array(kept))] * 2).combine_chunks()), (column.type, conditions)
        assert value_scan.count_where(files, schema, "x", conditions) == 2 * int(kept.sum())
        translated += 1
    assert translated > 300


@pytest.mark.parametrize("descending", [True, False], ids=["descending", "ascending"])
def test_the_rows_past_the_bound_come_with_every_column_in_the_ranges_asked(tmp_path, descending: bool) -> None:
    """Several files in one query, some read whole and some in ranges: each row's file and number in it, in one chunk."""
    rng = np.random.default_rng(6)
    files, expected = [], []
    for number in range(4):
        values = np.round(rng.random(2_000), 3)
        values[::53] = np.nan
        table = pa.table({"record_id": [f"{number}-{i}" for i in range(values.size)], "x": pa.array(values), "n": pa.array(np.arange(values.size))})
        path = str(tmp_path / f"part-{number}.parquet")
        pq.write_table(table, path, row_group_size=500)
        ranges = [(0, 2_000)] if number % 2 else [(100, 700), (1_500, 1_800)]
        files.append((path, ranges, values.size))
        for start, end in ranges:
            for row in range(start, end):
                value = values[row]
                if (value >= 0.9) if descending else (value <= 0.1):
                    expected.append((f"{number}-{row}", row, number))
    got = value_scan.rows_past(files, table.schema, "x", 0.9 if descending else 0.1, descending, 10_000)
    assert got.column_names == ["record_id", "x", "n", value_scan.ROW, value_scan.FILE]
    assert got.column("n").to_pylist() == got.column(value_scan.ROW).to_pylist()
    assert all(got.column(name).num_chunks == 1 for name in got.column_names)
    found = list(zip(*(got.column(name).to_pylist() for name in ["record_id", value_scan.ROW, value_scan.FILE])))
    assert found == sorted(expected, key=lambda row: (row[2], row[1])) and expected  # file by file, in file order
    with pytest.raises(value_scan.LateFetchUnavailable):
        value_scan.rows_past(files, table.schema, "x", 0.9 if descending else 0.1, descending, len(expected) - 1)


def test_matched_rows_are_the_rows_pyarrow_keeps_in_the_ranges_asked(tmp_path) -> None:
    """Numbers over the grid the conditions are checked on; strings equal byte for byte (nulls, "", near misses)."""
    translated = 0
    for path, column, conditions, kept in translated_grid(tmp_path):
        where = value_scan.prefilter(pa.schema([("x", column.type)]), conditions)
        (got,) = value_scan.matched_rows([(path, [(0, len(column))], len(column))], where)
        assert got.tolist() == np.flatnonzero(kept).tolist(), (column.type, conditions)
        translated += 1
    assert translated > 300
    labels = pa.array(["dog", "Dog", None, "", "dög", "dog ", "dog"] * 300)
    table = pa.table({"label": labels})
    path = str(tmp_path / "labels.parquet")
    pq.write_table(table, path, row_group_size=500)
    equals = list(filter_comparisons(EqualsFilter(field="label", equals="dog"), table.schema, "test"))
    kept = np.flatnonzero(equals[0].evaluate(labels).fill_null(False).to_numpy(zero_copy_only=False))
    ranges = [(0, 700), (1_000, 1_500)]
    first, second = value_scan.matched_rows([(path, ranges, len(labels)), (path, [(2_000, 2_100)], len(labels))], value_scan.prefilter(table.schema, equals))
    assert first.tolist() == [row for row in kept if any(start <= row < end for start, end in ranges)]
    assert second.tolist() == [row for row in kept if 2_000 <= row < 2_100]



def test_polars_results_are_converted_in_one_chunk() -> None:
    # A scan of many files comes a chunk a file; converted chunk by chunk, each costs on its own.
    parts = [pl.DataFrame({"record_id": [f"r{i}-{j}" for j in range(3)], "x": [i * 1.0] * 3}) for i in range(50)]
    frame = pl.concat(parts, rechunk=False)
    assert frame.n_chunks() == 50
    table = value_scan._arrow(frame)
    assert [column.num_chunks for column in table.columns] == [1, 1]
    assert table.column("record_id").to_pylist() == [f"r{i}-{j}" for i in range(50) for j in range(3)]
    assert table.column("x").to_pylist() == [i * 1.0 for i in range(50) for _ in range(3)]
    empty = value_scan._arrow(frame.clear())
    assert empty.num_rows == 0 and empty.schema.names == ["record_id", "x"]


def test_every_query_of_many_files_is_rechunked_before_it_becomes_arrow(tmp_path, monkeypatch) -> None:
    """Rows past a bound, counted or not, a filter's matches and the winners under it: each frame converted in one chunk."""
    paths, tables = [], []
    for number in range(6):
        table = pa.table(
            {
                "record_id": [f"{number}-{i}" for i in range(1_000)],
                "x": pa.array(np.linspace(0.0, 1.0, 1_000)),
                "label": pa.array(["dog", "cat"] * 500),
            }
        )
        path = str(tmp_path / f"part-{number}.parquet")
        pq.write_table(table, path, row_group_size=250)
        paths.append(path)
        tables.append(table)
    schema = tables[0].schema
    files = [(path, [(0, 1_000)], 1_000) for path in paths]
    converted: list[int] = []
    to_arrow = pl.DataFrame.to_arrow

    def recorded(frame: pl.DataFrame, *args, **kwargs) -> pa.Table:
        converted.append(frame.n_chunks())
        return to_arrow(frame, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "to_arrow", recorded)
    bounds = list(filter_comparisons(BoundsFilter(field="x", upper=0.9), schema, "test"))
    equals = list(filter_comparisons(EqualsFilter(field="label", equals="dog"), schema, "test"))
    past = value_scan.rows_past(files, schema, "x", 0.5, True, 10_000)
    counted, matched = value_scan.counted_rows_past(files, schema, "x", 0.5, True, 10_000, bounds)
    (first, *_) = value_scan.matched_rows(files, value_scan.prefilter(schema, equals))
    (got, *_) = value_scan.rows_at([(path, np.array([0, 998], np.int64), 1_000) for path in paths], schema, value_scan.prefilter(schema, equals))
    assert past.num_rows == 6 * 500 and counted.num_rows == 6 * 400 and matched == 6 * 900
    assert first.tolist() == list(range(0, 1_000, 2)) and got.equals(tables[0].take(pa.array([0, 998])))
    assert len(converted) == 4 and converted == [1] * 4
