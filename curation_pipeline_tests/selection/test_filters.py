"""Filters: bounds, equals, contains and tags, alone and AND-ed; nulls never pass."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pyarrow as pa
import pytest

from curation_pipeline.curators.errors import CuratorConfigError
from curation_pipeline.curators.selectors import (
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    TagFilter,
)
from curation_pipeline.selection import FieldTypeError, MissingFieldError, SelectionError, run_selection, select
from curation_pipeline.selection.filters import Comparison, filter_comparisons
from curation_pipeline_tests.selection.records import COMPARISON_FILTERS, DAY, ids, records

ALL = 10_000  # the largest limit: every matching row comes back


def _pick(data: pa.Table, *filters, tags=()) -> list[str]:
    selector = Selector(
        limit=ALL, filters=filters, tags=tags, method=OrderedSampler(field="record_id", sort="ascending")
    )
    return ids(select(data, [selector], seed=0))


def _numbers() -> pa.Table:
    return pa.table(
        {
            "record_id": [f"r{i}" for i in range(6)],
            "v": pa.array([1, 2, 3, 4, 5, None], pa.int64()),
            "f": pa.array([0.5, 1.5, 2.5, None, 3.5, 4.5]),
            "s": pa.array(["alpha", "beta", None, "alphabet", "gamma", "Alpha"]),
            "b": pa.array([True, False, None, True, False, True]),
        }
    )


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ({"lower": 2}, ["r2", "r3", "r4"]),
        ({"inclusive_lower": 2}, ["r1", "r2", "r3", "r4"]),
        ({"upper": 4}, ["r0", "r1", "r2"]),
        ({"inclusive_upper": 4}, ["r0", "r1", "r2", "r3"]),
        ({"lower": 2, "upper": 4}, ["r2"]),
        ({"inclusive_lower": 2, "inclusive_upper": 4}, ["r1", "r2", "r3"]),
        ({"inclusive_lower": 3, "inclusive_upper": 3}, ["r2"]),
        ({"lower": 1.5, "upper": 3.5}, ["r1", "r2"]),
    ],
)
def test_bounds_on_int_column_at_the_boundary(bounds: dict, expected: list[str]) -> None:
    assert _pick(_numbers(), BoundsFilter(field="v", **bounds)) == expected


def test_bounds_on_float_column_with_int_bound() -> None:
    assert _pick(_numbers(), BoundsFilter(field="f", inclusive_lower=1, upper=3.5)) == ["r1", "r2"]


def test_nulls_never_pass_bounds() -> None:
    assert "r5" not in _pick(_numbers(), BoundsFilter(field="v", inclusive_lower=-(10**9)))
    assert "r3" not in _pick(_numbers(), BoundsFilter(field="f", upper=10**9))


def test_datetime_bounds_on_utc_timestamp_column() -> None:
    table = records(10)
    at = DAY + dt.timedelta(seconds=3)
    assert _pick(table, BoundsFilter(field="__time", inclusive_lower=at, upper=at + dt.timedelta(seconds=2))) == [
        "rec-0000003",
        "rec-0000004",
    ]
    assert _pick(table, BoundsFilter(field="__time", lower=at, inclusive_upper=at + dt.timedelta(seconds=2))) == [
        "rec-0000004",
        "rec-0000005",
    ]


def test_naive_datetime_bounds_mean_utc_and_other_zones_convert() -> None:
    table = records(10)
    naive = DAY.replace(tzinfo=None) + dt.timedelta(seconds=8)
    assert _pick(table, BoundsFilter(field="__time", inclusive_lower=naive)) == ["rec-0000008", "rec-0000009"]
    paris = dt.timezone(dt.timedelta(hours=2))
    local = (DAY + dt.timedelta(seconds=8)).astimezone(paris)
    assert _pick(table, BoundsFilter(field="__time", inclusive_lower=local)) == ["rec-0000008", "rec-0000009"]


def test_datetime_bounds_on_naive_timestamp_column() -> None:
    table = records(10)
    table = table.set_column(1, "__time", table.column("__time").cast(pa.timestamp("ns")))
    aware = DAY + dt.timedelta(seconds=8)
    assert _pick(table, BoundsFilter(field="__time", inclusive_lower=aware)) == ["rec-0000008", "rec-0000009"]


def test_equals_on_string_int_and_bool() -> None:
    table = _numbers()
    assert _pick(table, EqualsFilter(field="s", equals="alpha")) == ["r0"]
    assert _pick(table, EqualsFilter(field="v", equals=4)) == ["r3"]
    assert _pick(table, EqualsFilter(field="b", equals=True)) == ["r0", "r3", "r5"]
    assert _pick(table, EqualsFilter(field="b", equals=False)) == ["r1", "r4"]


def test_contains_is_a_case_sensitive_substring_and_skips_nulls() -> None:
    assert _pick(_numbers(), ContainsFilter(field="s", contains="alpha")) == ["r0", "r3"]
    assert _pick(_numbers(), ContainsFilter(field="s", contains="")) == ["r0", "r1", "r3", "r4", "r5"]


def test_tags_match_their_column() -> None:
    table = records(6)
    assert _pick(table, tags=[TagFilter(name="env", value="staging")]) == ["rec-0000001", "rec-0000003", "rec-0000005"]


def test_filters_and_tags_are_anded() -> None:
    table = records(40)
    picked = _pick(
        table,
        EqualsFilter(field="outputs.label", equals="dog"),
        BoundsFilter(field="inputs.n", lower=9),
        tags=[TagFilter(name="env", value="prod")],
    )
    expected = [
        row["record_id"]
        for row in table.to_pylist()
        if row["outputs.label"] == "dog" and row["inputs.n"] > 9 and row["tags.env"] == "prod"
    ]
    assert picked == expected and picked


def test_dictionary_encoded_string_columns_filter_like_strings() -> None:
    table = _numbers()
    table = table.set_column(3, "s", table.column("s").dictionary_encode())
    assert _pick(table, EqualsFilter(field="s", equals="beta")) == ["r1"]
    assert _pick(table, ContainsFilter(field="s", contains="pha")) == ["r0", "r3", "r5"]


def test_missing_field_names_the_field_and_the_columns() -> None:
    with pytest.raises(MissingFieldError) as caught:
        _pick(_numbers(), EqualsFilter(field="nope", equals=1))
    message = str(caught.value)
    assert "'nope'" in message and "selector 0" in message
    for column in ("record_id", "v", "f", "s", "b"):
        assert repr(column) in message
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, SelectionError)


def test_missing_tag_column() -> None:
    with pytest.raises(MissingFieldError, match="tags.region"):
        _pick(_numbers(), tags=[TagFilter(name="region", value="eu")])


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        (BoundsFilter(field="s", lower=3), "string"),
        (BoundsFilter(field="v", lower=dt.datetime(2024, 1, 1)), "int64"),
        (BoundsFilter(field="__time", lower=3), "timestamp"),
        (EqualsFilter(field="v", equals="3"), "int64"),
        (EqualsFilter(field="s", equals=3), "string"),
        (EqualsFilter(field="v", equals=True), "int64"),
        (EqualsFilter(field="b", equals=1), "bool"),
        (ContainsFilter(field="v", contains="1"), "int64"),
    ],
)
def test_type_mismatch_names_selector_field_type_and_value(spec, needle: str) -> None:
    table = _numbers().append_column("__time", pa.array([DAY] * 6, pa.timestamp("us", tz="UTC")))
    selector = Selector(limit=5, filters=[spec], method=OrderedSampler(field="v"))
    with pytest.raises(FieldTypeError) as caught:
        run_selection(table, [Selector(limit=1, method=OrderedSampler(field="v")), selector], seed=0)
    message = str(caught.value)
    assert "selector 1" in message and repr(spec.field) in message and needle in message
    assert isinstance(caught.value, TypeError)


_PREDICATE_CASES = [
    [BoundsFilter(field="v", lower=2, inclusive_upper=4)],
    [BoundsFilter(field="f", inclusive_lower=1, upper=3.5)],
    [BoundsFilter(field="v", upper=4.5)],
    [EqualsFilter(field="s", equals="alpha")],
    [EqualsFilter(field="d", equals="beta")],
    [EqualsFilter(field="b", equals=True)],
    [ContainsFilter(field="s", contains="lph")],
    [ContainsFilter(field="d", contains="a")],
    [EqualsFilter(field="d", equals="alpha"), BoundsFilter(field="f", upper=10)],
]


@pytest.mark.parametrize("filters", _PREDICATE_CASES, ids=range(len(_PREDICATE_CASES)))
@pytest.mark.parametrize("encode", [False, True])
def test_the_predicate_in_memory_keeps_the_rows_its_expression_keeps(filters, encode: bool) -> None:
    """Same rows from the kernels on the arrays as from the expression, nulls and dictionaries included."""
    import pyarrow.dataset as ds

    from curation_pipeline.selection.filters import selector_predicate

    labels = pa.array(["alpha", None, "beta", "alpha", "gamma", "beta"]).dictionary_encode()
    table = _numbers().append_column("d", labels)
    selector = Selector(limit=ALL, filters=filters, method=OrderedSampler(field="record_id", sort="ascending"))
    predicate = selector_predicate(selector, table.schema, "test")
    expected = ds.dataset(table).to_table(filter=predicate.expression()).column("record_id").to_pylist()
    # The engine reads string columns as dictionaries: the predicate must take either layout.
    batch = table.combine_chunks().to_batches()[0]
    if encode:
        columns = [c.dictionary_encode() if pa.types.is_string(c.type) else c for c in batch.columns]
        batch = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    mask = predicate.mask(batch)
    assert mask.null_count == 0
    assert table.filter(mask).column("record_id").to_pylist() == expected
    assert expected  # every case keeps some rows


def test_filters_on_row_groups_are_evaluated_without_a_dataset_per_batch(tmp_path, monkeypatch) -> None:
    """Row groups of a window read their filter's columns and run the kernels on them: no scanner, no dataset."""
    import pyarrow.dataset as ds

    from curation_pipeline.stream import log_records, open_window

    table = records(3000)
    log_records("app", table, str(tmp_path / "store"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), str(tmp_path / "store"))
    selector = Selector(
        limit=ALL,
        filters=[EqualsFilter(field="outputs.label", equals="dog")],
        method=OrderedSampler(field="record_id", sort="ascending"),
    )
    expected = select(table, [selector], seed=0)

    def refused(*args, **kwargs):
        raise AssertionError("a dataset was built to evaluate a filter")

    monkeypatch.setattr(ds, "dataset", refused)
    assert select(window, [selector], seed=0).equals(expected)


def test_integer_bounds_past_what_pyarrow_compares_are_exact_or_refused_up_front() -> None:
    data = pa.table(
        {
            "record_id": ["r0", "r1", "r2"],
            "u": pa.array([2**64 - 1, 2**63 + 5, 3], pa.uint64()),
            "f": pa.array([2.0**60, 1.0, 2.5]),
            "i": pa.array([1, 2, 3], pa.int64()),
        }
    )
    # An unsigned bound (pyarrow would cast the column to int64 and refuse values past 2^63 mid-scan).
    assert _pick(data, BoundsFilter(field="u", lower=2**63)) == ["r0", "r1"]
    assert _pick(data, BoundsFilter(field="u", inclusive_upper=2**63 + 5)) == ["r1", "r2"]
    assert _pick(data, EqualsFilter(field="u", equals=2**64 - 1)) == ["r0"]
    # An integer a float holds exactly compares as that float.
    assert _pick(data, BoundsFilter(field="f", inclusive_lower=2**60)) == ["r0"]
    with pytest.raises(FieldTypeError, match=r"bounds filter on field 'f': 1152921504606846977 has no exact double"):
        _pick(data, BoundsFilter(field="f", lower=2**60 + 1))
    with pytest.raises(FieldTypeError, match=r"equals filter on field 'i': 18446744073709551616 is out of range for column type int64"):
        _pick(data, EqualsFilter(field="i", equals=2**64))


# Row groups ruled out by their statistics (Comparison.may_hold): only where pyarrow's kernel keeps none of their rows.
RANGE_VALUES = {
    pa.int8(): [-128, -1, 0, 1, 127],
    pa.uint8(): [0, 1, 200, 255],
    pa.int32(): [-(2**31), -1, 0, 300, 2**24 + 1, 2**31 - 1],
    pa.uint32(): [0, 300, 2**32 - 1],
    pa.int64(): [-(2**63), -1, 0, 300, 2**53, 2**53 + 1, 2**63 - 1],
    pa.uint64(): [0, 300, 2**63 - 1, 2**63 + 5, 2**64 - 1],
    pa.float32(): [-math.inf, -1.5, -0.0, 0.0, float(np.float32(0.45)), 0.55, 2.0**24 + 2, math.inf],
    pa.float64(): [-math.inf, -1.5, -0.0, 0.0, 0.45, float(np.float32(0.45)), 2.0**53, 1e300, math.inf],
    pa.string(): ["", "Alpha", "alpha", "alphabet", "beta", "é", "\U0001f600"],
}
RANGE_BOUNDS = [0.45, 0, -1, 300, 2.5, 2**24 + 1, 2**53, 2.0**53, 2**53 + 1, 2**63 + 5, -(2**63), math.inf, -math.inf, math.nan, -0.0]
STRING_BOUNDS = ["", "alpha", "alphabet", "b", "é", "\U0001f600", "zz"]


def _range_comparisons(type_: pa.DataType, spec, bound) -> list[Comparison]:
    try:
        return list(filter_comparisons(spec(bound), pa.schema([("x", type_)]), "test"))
    except (CuratorConfigError, SelectionError):
        return []  # a bound the filter does not take (a string range) or the column refuses


def test_a_row_group_is_ruled_out_by_its_range_only_where_pyarrow_keeps_none_of_its_rows() -> None:
    ruled_out = kept = 0
    for type_, values in RANGE_VALUES.items():
        bounds = STRING_BOUNDS if pa.types.is_string(type_) else RANGE_BOUNDS
        for spec, bound in itertools.product(COMPARISON_FILTERS.values(), bounds):
            for comparison in _range_comparisons(type_, spec, bound):
                if not comparison.judged_by_range(type_):
                    continue
                for low, high in itertools.combinations_with_replacement(sorted(values), 2):
                    # A group holding every value from low to high, its statistics (low, high).
                    group = pa.array([value for value in values if low <= value <= high], type_)
                    if comparison.may_hold(low, high):
                        kept += 1
                    else:
                        ruled_out += 1
                        assert not any(comparison.evaluate(group).fill_null(False).to_pylist()), (comparison, low, high)
    assert ruled_out > 1000 and kept > 1000


@pytest.mark.parametrize(
    ("type_", "bound", "judged"),
    [
        (pa.int64(), 0.5, False),  # pyarrow casts the column to float64, rounding past 2^53
        (pa.int32(), 0.5, True),
        (pa.uint64(), -1, False),  # pyarrow casts the column to the bound's signed type
        (pa.uint64(), 2**63 + 5, True),
        (pa.timestamp("us", tz="UTC"), dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), False),
        (pa.dictionary(pa.int32(), pa.string()), "alpha", False),
    ],
)
def test_ranges_judge_only_what_python_compares_as_pyarrow_does(type_: pa.DataType, bound: object, judged: bool) -> None:
    (comparison,) = _range_comparisons(type_, COMPARISON_FILTERS["greater_equal" if not pa.types.is_dictionary(type_) else "equal"], bound)
    assert comparison.judged_by_range(type_) is judged


def test_a_range_that_cannot_tell_keeps_the_group() -> None:
    (comparison,) = _range_comparisons(pa.float64(), COMPARISON_FILTERS["greater"], 0.5)
    assert comparison.may_hold(math.nan, 0.1) and comparison.may_hold(0.0, math.nan)
    assert comparison.may_hold(None, 0.1) and comparison.may_hold("a", "b")
    assert not comparison.may_hold(0.0, 0.5) and comparison.may_hold(0.0, 0.6)
    (match,) = _range_comparisons(pa.string(), COMPARISON_FILTERS["equal"], "beta")
    assert match.may_hold("alpha", "gamma") and not match.may_hold("gamma", "zeta") and match.may_hold(1, 2)
