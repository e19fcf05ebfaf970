"""A record delivered more than once is selected at most once; limits count distinct records.

The data is a stream plus a producer's retry: a second file repeating some
(or every) record with the same ``record_id``. Every rule (uniform, ordered
both ways, bounded range, equality, stratified in each mode) must return
``min(limit, distinct records matched)`` distinct records, the same rows for
the same data and seed, and, for ordered rules, exactly the best distinct
records.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
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
from curation_pipeline.selection import run_selection
from curation_pipeline_tests.selection.records import records

N = 3_000
LIMIT = 200

RULES = {
    "uniform": Selector(method=UniformSampler(), limit=LIMIT),
    "newest": Selector(method=OrderedSampler(field="__time", sort="descending"), limit=LIMIT),
    "oldest": Selector(method=OrderedSampler(field="__time", sort="ascending"), limit=LIMIT),
    "least-confident": Selector(method=OrderedSampler(field="outputs.confidence", sort="ascending"), limit=LIMIT),
    "by-label": Selector(method=OrderedSampler(field="outputs.label", sort="ascending"), limit=LIMIT),
    "bounded-range": Selector(  # BoundedRangeCurator: bounds on a field, ordered by it
        method=OrderedSampler(field="outputs.confidence", sort="ascending"),
        limit=LIMIT,
        filters=(BoundsFilter(field="outputs.confidence", upper=0.5),),
    ),
    "uniform-in-bounds": Selector(
        method=UniformSampler(), limit=LIMIT, filters=(BoundsFilter(field="outputs.confidence", upper=0.5),)
    ),
    "equality": Selector(method=UniformSampler(), limit=LIMIT, filters=(EqualsFilter(field="outputs.label", equals="dog"),)),
    "proportional": Selector(method=StratifiedSampler(field="outputs.label", mode="proportional"), limit=LIMIT),
    "strict": Selector(method=StratifiedSampler(field="outputs.label", mode="strict"), limit=LIMIT),
    "balanced": Selector(method=StratifiedSampler(field="feedback.label", mode="balanced"), limit=LIMIT),
}


def with_retry(base: pa.Table, share: float) -> list[pa.Table]:
    """``base`` and a retry file repeating ``share`` of its records (a contiguous run, as a batch is)."""
    count = int(base.num_rows * share)
    start = (base.num_rows - count) // 2
    return [base, base.slice(start, count)]


def as_dataset(tmp_path, files: list[pa.Table], row_group: int = 256) -> ds.Dataset:
    folder = tmp_path / "streams" / "app" / "date=2024-05-01"
    folder.mkdir(parents=True)
    for number, table in enumerate(files):
        pq.write_table(table, folder / f"part-{number}.parquet", row_group_size=row_group)
    return ds.dataset(str(folder), format="parquet")


def distinct_matching(base: pa.Table, selector: Selector) -> int:
    table = base
    for spec in selector.filters:
        if isinstance(spec, BoundsFilter):
            table = table.filter(pc.less(table.column(spec.field), spec.upper))
        else:
            table = table.filter(pc.equal(table.column(spec.field), spec.equals))
    return table.num_rows


@pytest.mark.parametrize("share", [0.5, 1.0])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_selects_distinct_records_up_to_its_limit(tmp_path, rule, share):
    base = records(N, seed=3)
    selector = RULES[rule]
    data = as_dataset(tmp_path, with_retry(base, share))

    result = run_selection(data, [selector], seed=7)
    ids = result.table.column("record_id").to_pylist()

    assert len(ids) == len(set(ids)), f"{rule}: {len(ids) - len(set(ids))} duplicates selected"
    expected = min(LIMIT, distinct_matching(base, selector))
    if rule == "proportional":  # rounding may give a stratum one more or one less
        assert abs(len(ids) - expected) <= 3
    elif rule != "balanced":
        assert len(ids) == expected
    assert result.selectors[0].selected_rows == len(ids)
    again = run_selection(as_dataset(tmp_path / "again", with_retry(base, share)), [selector], seed=7)
    assert again.table.equals(result.table)  # same data, same seed: same rows


@pytest.mark.parametrize("rule", ["newest", "oldest", "least-confident", "by-label"])
def test_ordered_rules_return_exactly_the_best_distinct_records(tmp_path, rule):
    base = records(N, seed=5)
    selector = RULES[rule]
    method = selector.method
    data = as_dataset(tmp_path, with_retry(base, 1.0))

    got = run_selection(data, [selector], seed=1).table
    best = base.sort_by([(method.field, method.sort), ("record_id", "ascending")]).slice(0, LIMIT)
    assert got.column("record_id").to_pylist() == best.column("record_id").to_pylist()


@pytest.mark.parametrize("rule", ["proportional", "strict", "balanced"])
def test_a_fully_repeated_stream_keeps_the_strata_shares(tmp_path, rule):
    base = records(N, seed=9)
    selector = RULES[rule]
    once = run_selection(base, [selector], seed=2).selectors[0]
    twice = run_selection(as_dataset(tmp_path, with_retry(base, 1.0)), [selector], seed=2)

    if rule == "strict":  # the remainder over the floors is drawn at random, from other rows
        assert sum(twice.selectors[0].strata.values()) == sum(once.strata.values())
        assert all(abs(twice.selectors[0].strata[k] - v) <= 1 for k, v in once.strata.items())
        return
    assert twice.selectors[0].strata == once.strata
    counts = pc.value_counts(twice.table.column(selector.method.field).fill_null("__null__")).to_pylist()
    assert {c["values"]: c["counts"] for c in counts} == {k: v for k, v in once.strata.items() if v}


def test_in_memory_tables_with_repeats_are_deduplicated_too():
    base = records(500, seed=1)
    table = pa.concat_tables([base, base])
    for name, selector in RULES.items():
        ids = run_selection(table, [selector], seed=4).table.column("record_id").to_pylist()
        assert len(ids) == len(set(ids)), name


def test_without_repeats_the_selection_is_unchanged(tmp_path):
    """Deduplication costs nothing and changes nothing when every record is delivered once."""
    base = records(N, seed=11)
    data = as_dataset(tmp_path, [base])
    for name, selector in RULES.items():
        result = run_selection(data, [selector], seed=3)
        assert result.table.num_rows == len(set(result.table.column("record_id").to_pylist())), name
        assert result.selectors[0].selected_rows == result.table.num_rows


def test_a_record_repeated_many_times_is_still_selected_once(tmp_path):
    base = records(400, seed=2)
    hot = base.slice(0, 10)
    data = as_dataset(tmp_path, [base, *[hot] * 30])  # ten records delivered 31 times each
    for name, selector in RULES.items():
        ids = run_selection(data, [selector], seed=6).table.column("record_id").to_pylist()
        assert len(ids) == len(set(ids)), name
        if name not in ("proportional", "balanced"):
            assert len(ids) == min(LIMIT, distinct_matching(base, selector)), name
    ids = np.array(run_selection(data, [RULES["oldest"]], seed=6).table.column("record_id").to_pylist())
    assert list(ids[:10]) == hot.column("record_id").to_pylist()
