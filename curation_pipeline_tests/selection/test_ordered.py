"""Ordered selection: direction, nulls last, ties broken by record_id, statistics pruning."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from curation_pipeline.curators.selectors import BoundsFilter, OrderedSampler, Selector
from curation_pipeline.selection import run_selection, select
from curation_pipeline.selection.ordered import _rank_keys, _ranked
from curation_pipeline_tests.selection.records import DAY, ids, records, window, write_stream


def _ordered(limit: int, field: str = "__time", sort: str = "descending", **kwargs) -> Selector:
    return Selector(method=OrderedSampler(field=field, sort=sort), limit=limit, **kwargs)


def _ties() -> pa.Table:
    return pa.table(
        {
            "record_id": ["e", "b", "d", "a", "c", "f", "g"],
            "score": pa.array([2.0, 1.0, 2.0, None, 2.0, 3.0, None]),
        }
    )


def test_newest_first_by_default() -> None:
    assert ids(select(records(100), [Selector(limit=3)], seed=0)) == ["rec-0000099", "rec-0000098", "rec-0000097"]


def test_oldest_first_when_ascending() -> None:
    assert ids(select(records(100), [_ordered(2, sort="ascending")], seed=0)) == ["rec-0000000", "rec-0000001"]


def test_ties_broken_by_record_id_ascending_in_both_directions() -> None:
    assert ids(select(_ties(), [_ordered(3, "score")], seed=0)) == ["f", "c", "d"]
    assert ids(select(_ties(), [_ordered(3, "score", "ascending")], seed=0)) == ["b", "c", "d"]


def test_nulls_come_last_in_both_directions() -> None:
    assert ids(select(_ties(), [_ordered(7, "score")], seed=0)) == ["f", "c", "d", "e", "b", "a", "g"]
    assert ids(select(_ties(), [_ordered(7, "score", "ascending")], seed=0)) == ["b", "c", "d", "e", "f", "a", "g"]


def test_ordered_is_independent_of_the_seed() -> None:
    table = records(500)
    assert ids(select(table, [_ordered(20, "outputs.confidence")], seed=1)) == ids(
        select(table, [_ordered(20, "outputs.confidence")], seed=2)
    )


def test_ordered_over_row_groups_matches_a_full_sort(tmp_path) -> None:
    table = records(5000, seed=3)
    dataset = write_stream(tmp_path, table, rows_per_group=300, rows_per_file=1700)
    cases = [("__time", "descending"), ("__time", "ascending"), ("outputs.confidence", "descending")]
    # Integers with many ties (0..99) in both directions: ties fall to record_id.
    cases += [("inputs.n", "descending"), ("inputs.n", "ascending")]
    for field, sort in cases:
        expected = table.sort_by([(field, sort), ("record_id", "ascending")]).slice(0, 40)
        result = run_selection(dataset, [_ordered(40, field, sort)], seed=0)
        assert ids(result.table) == ids(expected)
        assert result.table.drop_columns(["date"]).equals(expected)
        assert result.selectors[0].matched_rows == 5000


def test_newest_in_a_window_with_a_filter(tmp_path) -> None:
    table = records(5000, seed=4)
    dataset = write_stream(tmp_path, table, rows_per_group=256)
    start, end = DAY + dt.timedelta(seconds=1000), DAY + dt.timedelta(seconds=3000)
    selector = _ordered(25, filters=[BoundsFilter(field="outputs.confidence", inclusive_lower=0.5)])
    result = run_selection(window(dataset, start, end), [selector], seed=0)
    rows = [
        row
        for row in table.to_pylist()
        if start <= row["__time"] < end and row["outputs.confidence"] >= 0.5
    ]
    rows.sort(key=lambda row: row["__time"], reverse=True)
    assert ids(result.table) == [row["record_id"] for row in rows[:25]]
    assert result.selectors[0].matched_rows == len(rows)
    assert result.candidate_rows == 2000


def test_in_memory_dataset_gives_the_same_rows_as_the_table() -> None:
    table = records(3000, seed=5)
    selector = _ordered(30, "outputs.confidence", "ascending")
    assert select(ds.dataset(table), [selector], seed=0).equals(select(table, [selector], seed=0))


def test_a_crowd_of_ties_is_ranked_by_record_id(tmp_path) -> None:
    # 3000 equal values: far more ties at the cut than the value-only pass keeps.
    table = pa.table(
        {
            "record_id": [f"r{(i * 7919) % 3000:05d}" for i in range(3000)],
            "score": pa.array([1.5] * 3000),
        }
    )
    dataset = write_stream(tmp_path, table, rows_per_group=500)
    expected = [f"r{i:05d}" for i in range(5)]
    assert ids(select(dataset, [_ordered(5, "score")], seed=0)) == expected
    assert ids(select(table, [_ordered(5, "score", "ascending")], seed=0)) == expected


def test_ties_at_the_cut_are_settled_by_record_id(tmp_path) -> None:
    values = [3, 2, 2, 2, 2, 1] * 50
    table = pa.table(
        {"record_id": [f"r{i:03d}" for i in range(300)][::-1], "score": pa.array(values, pa.int32())}
    )
    dataset = write_stream(tmp_path, table, rows_per_group=64)
    expected = ids(table.sort_by([("score", "descending"), ("record_id", "ascending")]).slice(0, 60))
    result = run_selection(dataset, [_ordered(60, "score")], seed=0)
    assert ids(result.table) == expected
    assert result.selectors[0].selected_rows == 60


def test_thousands_of_ties_at_the_cut_stay_on_the_numeric_path(tmp_path, monkeypatch) -> None:
    """Rounded values tie by the thousand on big windows: the tied rows' record_id settles them.

    Ranking every row's record_id instead (the general path) made top-k on a
    100M-row day of four-decimal confidences cost 2.2 times as much.
    """
    from curation_pipeline.selection import ordered

    def general(*args, **kwargs):
        raise AssertionError("the general path ranked every row's record_id")

    monkeypatch.setattr(ordered, "_general_picks", general)
    rows = 40_000
    # 3 distinct values: 13,333 or so rows tied at every value, in every row group.
    table = pa.table(
        {
            "record_id": [f"r{(i * 7919) % rows:06d}" for i in range(rows)],
            "score": pa.array([round((i % 3) / 10, 1) for i in range(rows)]),
        }
    )
    dataset = write_stream(tmp_path, table, rows_per_group=4096)
    for direction, limit in (("descending", 100), ("ascending", 2500)):
        expected = table.sort_by([("score", direction), ("record_id", "ascending")]).slice(0, limit)
        assert ids(select(dataset, [_ordered(limit, "score", direction)], seed=0)) == ids(expected)


def _tied_day(tmp_path, *, shuffled_ids: bool) -> tuple[pa.Table, ds.Dataset]:
    """A day whose confidences tie in crowds (one decimal): the top 30 are all tied at 1.0, in every row group."""
    import numpy as np
    import pyarrow.compute as pc

    table = records(20_000, seed=5)
    rounded = pc.round(table.column("outputs.confidence"), 1)
    table = table.set_column(table.schema.get_field_index("outputs.confidence"), "outputs.confidence", rounded)
    if shuffled_ids:
        order = np.random.default_rng(3).permutation(table.num_rows)
        table = table.set_column(0, "record_id", table.column("record_id").take(pa.array(order)))
    return table, write_stream(tmp_path, table, rows_per_group=1000)


def test_ties_are_settled_reading_only_the_groups_whose_smallest_id_can_win(tmp_path, monkeypatch) -> None:
    """Ids following time: the tied rows' groups are read by their record_id minimum, the rest left unread."""
    from curation_pipeline.selection import scan

    table, dataset = _tied_day(tmp_path, shuffled_ids=False)
    selector = _ordered(30, field="outputs.confidence")
    expected = select(table, [selector], seed=0)
    reads: list[int] = []
    take = scan.RowGroupPiece.take

    def counted(self, rows, columns):
        reads.append(1)
        return take(self, rows, columns)

    monkeypatch.setattr(scan.RowGroupPiece, "take", counted)
    got = select(dataset, [selector], seed=0)
    assert got.drop_columns(["date"]).equals(expected)  # the hive folder's column aside
    # 20 row groups hold tied rows; the 30 smallest ids sit in the first one or two.
    assert 0 < len(reads) <= 4


def test_ties_with_random_ids_read_every_tied_group_and_pick_the_same_rows(tmp_path) -> None:
    table, dataset = _tied_day(tmp_path, shuffled_ids=True)
    for limit in (30, 700):
        selector = _ordered(limit, field="outputs.confidence")
        got = select(dataset, [selector], seed=0).drop_columns(["date"])
        assert got.equals(select(table, [selector], seed=0))


def _column(type_: pa.DataType, rng: np.random.Generator, nulls: bool) -> pa.Array:
    """Values of ``type_`` with ties, extremes, and for floats NaN and both zeros; nulls if asked."""
    if pa.types.is_floating(type_):
        values = rng.choice([-np.inf, -1.5, -0.0, 0.0, 0.25, 0.25, 3.0, np.inf, np.nan], 500)
    else:
        dtype = type_.to_pandas_dtype()
        info = np.iinfo(dtype)
        values = rng.choice(np.array([info.min, info.min + 1, 0, 1, 1, 7, info.max - 1, info.max], dtype), 500)
    mask = rng.random(500) < 0.1 if nulls else None
    return pa.array(values, type_, mask=mask)


@pytest.mark.parametrize("type_", [pa.float64(), pa.float32(), pa.int8(), pa.int32(), pa.int64(), pa.uint8(), pa.uint64()], ids=str)
@pytest.mark.parametrize("direction", ["ascending", "descending"])
@pytest.mark.parametrize("nulls", [False, True], ids=["no nulls", "nulls"])
def test_a_cut_keeps_the_rows_whose_keys_reach_it(type_, direction, nulls) -> None:
    """Found on the values (no nulls) or on the keys, the rows kept are those ranked at or before the cut, numbers only."""
    rng = np.random.default_rng(5)
    column = _column(type_, rng, nulls)
    keys = _rank_keys(column, direction)
    numbers = column.is_valid().to_numpy(zero_copy_only=False) & ~np.isnan(keys.astype(np.float64))
    for cut in [*np.unique(keys[numbers]), None]:
        expected = numbers if cut is None else numbers & (keys <= cut)
        got_keys, keep = _ranked(column, direction, cut)
        keep = np.ones(len(column), bool) if keep is None else keep
        assert np.array_equal(keep, expected), cut
        assert np.array_equal(got_keys, keys[expected]), cut
