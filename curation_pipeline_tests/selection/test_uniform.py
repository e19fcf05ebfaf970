"""Uniform sampling: exact size, determinism, and no bias (checked over fixed seeds)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from curation_pipeline.curators.selectors import BoundsFilter, EqualsFilter, Selector, UniformSampler
from curation_pipeline.selection import kept as kept_module
from curation_pipeline.selection import run_selection, scan, select, value_scan
from curation_pipeline.selection.uniform import sample_positions
from curation_pipeline_tests.selection.records import ids, records, write_stream

UTC = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Window:
    """A dataset and its filter apart (:class:`FilteredParquet`), as the stream's windows hand them over."""

    dataset: ds.Dataset
    filter: ds.Expression | None

# The 99.9th percentile of chi-square with 49 degrees of freedom. The seeds
# below are fixed, so the statistic is one fixed number: the test cannot flake.
CHI2_49_P999 = 85.35


def _uniform(limit: int, **kwargs) -> Selector:
    return Selector(method=UniformSampler(), limit=limit, **kwargs)


@pytest.mark.parametrize(("population", "k"), [(10, 0), (10, 3), (10, 6), (10, 10), (10, 15), (1, 1), (100_000, 7)])
def test_sample_positions_are_distinct_sorted_and_in_range(population: int, k: int) -> None:
    positions = sample_positions(population, k, key=12345)
    assert positions.size == min(k, population)
    assert np.all(np.diff(positions) > 0)
    assert positions.size == 0 or (positions[0] >= 0 and positions[-1] < population)


def test_uniform_picks_limit_rows_in_data_order() -> None:
    result = run_selection(records(1000), [_uniform(25)], seed=7)
    picked = ids(result.table)
    assert len(picked) == 25 == len(set(picked))
    assert picked == sorted(picked)  # data order: the stream's order
    assert result.selectors[0].matched_rows == 1000 and result.selectors[0].selected_rows == 25
    assert result.limit_hit and result.candidate_rows == 1000


def test_uniform_takes_all_when_fewer_rows_match() -> None:
    table = records(300)
    result = run_selection(table, [_uniform(100, filters=[EqualsFilter(field="inputs.n", equals=3)])], seed=1)
    assert ids(result.table) == [f"rec-{i:07d}" for i in (3, 103, 203)]
    assert not result.limit_hit


def test_uniform_is_deterministic_and_seed_dependent() -> None:
    table = records(2000)
    first = ids(select(table, [_uniform(50)], seed=42))
    assert first == ids(select(table, [_uniform(50)], seed=42))
    others = {tuple(ids(select(table, [_uniform(50)], seed=seed))) for seed in range(1, 6)}
    assert tuple(first) not in others and len(others) == 5


def test_uniform_returns_full_records_in_column_order() -> None:
    table = records(50)
    result = select(table, [_uniform(5)], seed=3)
    assert result.schema == table.schema
    rows = {row["record_id"]: row for row in table.to_pylist()}
    assert all(rows[row["record_id"]] == row for row in result.to_pylist())


def test_uniform_is_unbiased_over_many_seeds() -> None:
    # N=50, k=10, 2000 seeds: each record is expected in 20% of the samples.
    population, k, seeds = 50, 10, 2000
    table = pa.table({"record_id": [f"r{i:02d}" for i in range(population)]})
    hits = np.zeros(population)
    for seed in range(seeds):
        picked = select(table, [_uniform(k)], seed=seed).column("record_id").to_pylist()
        hits[[int(record[1:]) for record in picked]] += 1
    p = k / population
    frequencies = hits / seeds
    assert np.all(np.abs(frequencies - p) < 0.05)
    # Inclusion counts are binomial(seeds, p); their sum is fixed, hence 49 degrees of freedom.
    statistic = float(np.sum((hits - seeds * p) ** 2 / (seeds * p * (1 - p))))
    assert statistic < CHI2_49_P999


def test_sample_positions_unbiased_when_drawing_the_complement() -> None:
    # k over half the population takes the complement path; it must be unbiased too.
    population, k, seeds = 12, 9, 3000
    hits = np.zeros(population)
    for seed in range(seeds):
        hits[sample_positions(population, k, key=seed * 7919)] += 1
    assert np.all(np.abs(hits / seeds - k / population) < 0.04)


def test_draws_are_pinned_across_releases() -> None:
    # The random stream is splitmix64 over a counter: no numpy generator whose
    # output could change between releases. Changing these values would change
    # every curated dataset on its next re-run.
    assert sample_positions(1_000_000, 6, key=0x5EED).tolist() == [38848, 46672, 332801, 364681, 369994, 440713]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Six files of 3,000 rows in groups of 500: labels with nulls, an empty string and near misses, rounded scores."""
    table = records(18_000, seed=21)
    rng = np.random.default_rng(5)
    labels = rng.choice(np.array(["dog", "cat", "dög", "", "Dog"], dtype=object), table.num_rows)
    labels[::13] = None
    table = table.set_column(table.schema.get_field_index("outputs.label"), "outputs.label", pa.array(labels.tolist(), pa.string()))
    scores = np.round(rng.random(table.num_rows), 2)
    scores[::17] = np.nan
    table = table.append_column("inputs.score", pa.array(scores))
    root = tmp_path_factory.mktemp("labelled")
    write_stream(root, table, rows_per_group=500, rows_per_file=3_000)
    return ds.dataset(root / "streams" / "app" / "date=2024-05-01", format="parquet")


COUNTED = {
    "equality": [EqualsFilter(field="outputs.label", equals="dog")],
    "bounds": [BoundsFilter(field="inputs.score", lower=0.2, inclusive_upper=0.6)],
    "both": [EqualsFilter(field="outputs.label", equals="dog"), BoundsFilter(field="inputs.score", upper=0.5)],
}


@pytest.mark.parametrize("name", sorted(COUNTED))
@pytest.mark.parametrize("edges", [True, False], ids=["window edges", "whole day"])
@pytest.mark.parametrize("kept", [True, False], ids=["matched rows kept", "read again"])
def test_matches_counted_by_polars_give_the_picks_of_pyarrows_count(labelled, monkeypatch, name: str, edges: bool, kept: bool) -> None:
    """Whole row groups are counted by polars, the window's edges by pyarrow: the same picks and counts."""
    monkeypatch.setattr(scan, "_POLARS_COUNT_ROWS", 6_000)  # two files a query
    if not kept:
        monkeypatch.setattr(kept_module, "KEPT_BYTES", 0)  # no room: the picks' rows are found by reading again
    queried: list[int] = []
    matched_rows = value_scan.matched_rows
    monkeypatch.setattr(value_scan, "matched_rows", lambda files, where: queried.append(len(files)) or matched_rows(files, where))
    time = pc.field("__time")
    day = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    cut = (time >= pa.scalar(day + dt.timedelta(seconds=777), UTC)) & (time < pa.scalar(day + dt.timedelta(seconds=16_766), UTC))
    window = Window(labelled, cut if edges else None)
    selector = _uniform(700, filters=COUNTED[name])
    got = run_selection(window, [selector], seed=4)
    assert queried == [2, 2, 2]
    with monkeypatch.context() as patched:
        patched.setattr(scan, "_counted_by_polars", lambda pieces: [])
        expected = run_selection(window, [selector], seed=4)
    # NaN scores equal nothing, themselves included: the tables are compared without them.
    assert got.table.drop_columns(["inputs.score"]).equals(expected.table.drop_columns(["inputs.score"]))
    assert got.selectors == expected.selectors and got.table.num_rows == 700
