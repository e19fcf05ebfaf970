"""Stratified selection: the quota arithmetic of each mode, exactly, and the rows behind it."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from curation_pipeline.curators.selectors import EqualsFilter, Selector, StratifiedSampler
from curation_pipeline.selection import NULL_STRATUM, run_selection, select, stratum_quotas
from curation_pipeline_tests.selection.records import ids

# 100 records: 51 A, 15 B, 16 C, 17 D, 1 E (shuffled so strata interleave).
SIZES = {"A": 51, "B": 15, "C": 16, "D": 17, "E": 1}


def _strata_table(sizes: dict = SIZES, *, shuffle_seed: int = 0) -> pa.Table:
    labels = np.array([label for label, size in sizes.items() for _ in range(size)], dtype=object)
    np.random.default_rng(shuffle_seed).shuffle(labels)
    return pa.table(
        {
            "record_id": [f"r{i:03d}" for i in range(labels.size)],
            "label": pa.array(labels.tolist(), pa.string()),
            "n": pa.array(np.arange(labels.size)),
        }
    )


def _stratified(limit: int, mode: str, field: str = "label", **kwargs) -> Selector:
    return Selector(method=StratifiedSampler(field=field, mode=mode), limit=limit, **kwargs)


def _label_counts(table: pa.Table) -> dict:
    return dict(Counter(table.column("label").to_pylist()))


@pytest.mark.parametrize(
    ("mode", "quotas"),
    [("proportional", [5, 2, 2, 2, 0]), ("strict", [5, 1, 1, 1, 0]), ("balanced", [1, 1, 1, 1, 1])],
)
def test_quota_arithmetic_of_the_reference_example(mode: str, quotas: list[int]) -> None:
    assert stratum_quotas(list(SIZES.values()), 10, mode) == quotas


def test_proportional_rounds_half_to_even_exactly() -> None:
    # 10 * 25 / 100 = 2.5 -> 2 and 10 * 15 / 100 = 1.5 -> 2; fractions, not floats.
    assert stratum_quotas([25, 15, 60], 10, "proportional") == [2, 2, 6]
    assert stratum_quotas([35, 65], 10, "proportional") == [4, 6]  # 3.5 -> 4, 6.5 -> 6
    # 3 * 1 / 3 is exactly 1 (floating point would give 0.999...).
    assert stratum_quotas([1, 1, 1], 3, "proportional") == [1, 1, 1]


def test_quotas_are_capped_by_the_stratum_size() -> None:
    assert stratum_quotas([2, 3], 100, "proportional") == [2, 3]
    assert stratum_quotas([2, 3], 100, "strict") == [2, 3]
    assert stratum_quotas([2, 30], 100, "balanced") == [2, 2]
    assert stratum_quotas([5, 5, 5], 2, "balanced") == [0, 0, 0]  # fewer places than strata


def test_proportional_selects_the_rounded_share_of_each_stratum() -> None:
    result = run_selection(_strata_table(), [_stratified(10, "proportional")], seed=11)
    assert _label_counts(result.table) == {"A": 5, "B": 2, "C": 2, "D": 2}
    assert result.table.num_rows == 11  # the total may exceed the limit
    assert result.selectors[0].strata == {"A": 5, "B": 2, "C": 2, "D": 2, "E": 0}
    assert result.selectors[0].selected_rows == 11 and result.selectors[0].matched_rows == 100


def test_strict_selects_exactly_the_limit() -> None:
    for seed in range(30):
        result = run_selection(_strata_table(), [_stratified(10, "strict")], seed=seed)
        counts = _label_counts(result.table)
        assert result.table.num_rows == 10
        # The integer parts are always there; two more come from the rest.
        assert counts.get("A", 0) >= 5 and all(counts.get(s, 0) >= 1 for s in "BCD")
        assert sum(result.selectors[0].strata.values()) == 10
        assert result.selectors[0].strata == {s: counts.get(s, 0) for s in SIZES}


def test_strict_remainder_is_drawn_from_records_not_yet_chosen() -> None:
    # Two strata of 3 with limit 5: floors are 2 and 2, one record comes from the 2 left over.
    table = _strata_table({"A": 3, "B": 3})
    seen = Counter()
    for seed in range(200):
        result = run_selection(table, [_stratified(5, "strict")], seed=seed)
        assert result.table.num_rows == 5 == len(set(ids(result.table)))
        counts = _label_counts(result.table)
        seen[(counts["A"], counts["B"])] += 1
    assert set(seen) == {(3, 2), (2, 3)}  # the remainder lands in either stratum
    assert 70 < seen[(3, 2)] < 130


def test_strict_takes_everything_when_fewer_rows_than_the_limit() -> None:
    result = run_selection(_strata_table({"A": 3, "B": 2}), [_stratified(50, "strict")], seed=0)
    assert result.table.num_rows == 5 and not result.limit_hit


def test_balanced_takes_the_same_number_from_each_stratum() -> None:
    result = run_selection(_strata_table(), [_stratified(10, "balanced")], seed=5)
    assert _label_counts(result.table) == {"A": 1, "B": 1, "C": 1, "D": 1, "E": 1}
    result = run_selection(_strata_table({"A": 40, "B": 30, "C": 20}), [_stratified(12, "balanced")], seed=5)
    assert _label_counts(result.table) == {"A": 4, "B": 4, "C": 4}


def test_nulls_form_their_own_stratum() -> None:
    table = pa.table(
        {
            "record_id": [f"r{i:02d}" for i in range(40)],
            "label": pa.array(["x"] * 20 + [None] * 20, pa.string()),
        }
    )
    result = run_selection(table, [_stratified(4, "balanced")], seed=0)
    assert result.selectors[0].strata == {"x": 2, NULL_STRATUM: 2}
    assert Counter(table.column("label").to_pylist()[int(r[1:])] for r in ids(result.table)) == {"x": 2, None: 2}


def test_stratified_by_integer_and_bool_fields() -> None:
    table = _strata_table().append_column("flag", pa.array([i % 4 == 0 for i in range(100)]))
    result = run_selection(table, [_stratified(8, "proportional", field="flag")], seed=1)
    assert result.selectors[0].strata == {"False": 6, "True": 2}
    only_b = [EqualsFilter(field="label", equals="B")]
    result = run_selection(table, [_stratified(30, "balanced", field="n", filters=only_b)], seed=1)
    # 15 strata of one record each, 30 // 15 = 2 places: every stratum gives its one record.
    assert result.table.num_rows == 15 and set(result.table.column("label").to_pylist()) == {"B"}


def test_stratified_is_deterministic_and_seed_dependent() -> None:
    table = _strata_table()
    for mode in ("proportional", "strict", "balanced"):
        first = ids(select(table, [_stratified(10, mode)], seed=3))
        assert first == ids(select(table, [_stratified(10, mode)], seed=3))
        assert first == sorted(first)  # data order
        assert any(first != ids(select(table, [_stratified(10, mode)], seed=s)) for s in range(4, 8))


def test_within_a_stratum_every_record_is_equally_likely() -> None:
    table = _strata_table({"A": 8, "B": 4})
    hits = Counter()
    seeds = 1500
    for seed in range(seeds):
        hits.update(ids(select(table, [_stratified(6, "proportional")], seed=seed)))
    labels = table.column("label").to_pylist()
    for index, label in enumerate(labels):
        expected = 4 / 8 if label == "A" else 2 / 4
        assert abs(hits[f"r{index:03d}"] / seeds - expected) < 0.06
