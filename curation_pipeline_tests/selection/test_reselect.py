"""Re-curating a grown window keeps the earlier picks wherever each curator's rule admits them.

The window is the synthetic stream of :mod:`records`: the *old* part is what
the window held when it was first curated, the *late* part every seventh
record (interleaved in time, as late deliveries are). Parquet parts are real
files: the old records in one stream directory, the late ones in another.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from curation_pipeline.curators import (
    BalancedStratificationCurator,
    BoundedRangeCurator,
    ContainsFilter,
    Curator,
    DescendedSortCurator,
    EqualityCurator,
    NewestCurator,
    OldestCurator,
    ProportionalStratificationCurator,
    Selector,
    StratifiedSampler,
    StrictStratificationCurator,
    TagFilter,
    UniformCurator,
    UniformSampler,
)
from curation_pipeline.selection import (
    MissingFieldError,
    SchemaMismatchError,
    SelectionError,
    reselect,
    run_selection,
    stratum_quotas,
)
from curation_pipeline_tests.selection.records import DAY, ids, records, window

APP = {"application_name": "app"}
CURATORS = {
    "uniform": UniformCurator(name="uniform", limit=40, **APP),
    "equality": EqualityCurator(name="equality", limit=25, field="outputs.label", equals="dog", **APP),
    "top-confidence": DescendedSortCurator(name="top", limit=20, sort_field="outputs.confidence", **APP),
    "bounded-range": BoundedRangeCurator(
        name="range", limit=15, bound_field="outputs.confidence", lower_bound=0.2, upper_bound=0.5, **APP
    ),
    "newest": NewestCurator(name="newest", limit=12, **APP),
    "oldest": OldestCurator(name="oldest", limit=12, **APP),
    "proportional": ProportionalStratificationCurator(name="prop", limit=30, stratify_field="feedback.label", **APP),
    "balanced": BalancedStratificationCurator(name="bal", limit=32, stratify_field="feedback.label", **APP),
    "strict": StrictStratificationCurator(name="strict", limit=30, stratify_field="outputs.label", **APP),
    "stratified-filtered": Curator(
        name="strat-filtered",
        selectors=[
            Selector(
                method=StratifiedSampler(field="tags.env"),
                limit=9,
                filters=[ContainsFilter(field="inputs.text", contains="dog")],
            )
        ],
        **APP,
    ),
    "two-selectors": Curator(
        name="two",
        selectors=[
            Selector(method=UniformSampler(), limit=20, tags=[TagFilter(name="env", value="prod")]),
            Selector(limit=10),
        ],
        **APP,
    ),
}
ORDERED = ["top-confidence", "bounded-range", "newest", "oldest"]
SEED = 20261127


def split(table: pa.Table, every: int = 7) -> tuple[pa.Table, pa.Table]:
    """``(old, late)``: every ``every``-th record arrived late."""
    late = pa.array(np.arange(table.num_rows) % every == 3)
    return table.filter(pc.invert(late)), table.filter(late)


def to_parquet(root: Path, table: pa.Table, name: str, rows_per_group: int = 250) -> ds.Dataset:
    """``table`` as stream files under ``root/name`` (one ``date=`` directory), opened as a dataset."""
    folder = root / name / "date=2024-05-01"
    folder.mkdir(parents=True)
    for number, start in enumerate(range(0, max(table.num_rows, 1), 600)):
        pq.write_table(table.slice(start, 600), folder / f"part-{number}.parquet", row_group_size=rows_per_group)
    return ds.dataset(root / name, format="parquet", partitioning="hive")


def selectors(name: str) -> tuple[Selector, ...]:
    return CURATORS[name].selectors


# --- no late records: the first curation, exactly ------------------------------------------


@pytest.mark.parametrize("name", sorted(CURATORS))
def test_no_late_records_gives_the_first_curation(tmp_path, name: str) -> None:
    old, late = split(records(1500, seed=3))
    first = run_selection(old, selectors(name), seed=SEED)
    again = reselect(old, late.slice(0, 0), selectors(name), seed=SEED)
    assert again.selection == first
    assert (again.kept, again.added, again.dropped, again.late_rows) == (first.selected_rows, 0, 0, 0)
    # The same over Parquet parts: a late file without rows.
    old_files, empty = to_parquet(tmp_path, old, "old"), to_parquet(tmp_path, late.slice(0, 0), "late")
    assert reselect(old_files, empty, selectors(name), seed=SEED).selection == run_selection(
        old_files, selectors(name), seed=SEED
    )


@pytest.mark.parametrize("name", sorted(CURATORS))
def test_same_inputs_same_result_and_files_agree_with_tables(tmp_path, name: str) -> None:
    old, late = split(records(2000, seed=4))
    old_files, late_files = to_parquet(tmp_path, old, "old"), to_parquet(tmp_path, late, "late")
    once = reselect(old_files, late_files, selectors(name), seed=SEED)
    twice = reselect(old_files, late_files, selectors(name), seed=SEED)
    assert once == twice
    from_tables = reselect(old, late, selectors(name), seed=SEED)
    assert once.selection.table.drop_columns(["date"]).equals(from_tables.selection.table)
    assert once.selection.table.column_names == old.column_names + ["date"]
    assert (once.kept, once.added, once.dropped) == (from_tables.kept, from_tables.added, from_tables.dropped)
    assert once.selection.candidate_rows == 2000


@pytest.mark.parametrize("name", ["uniform", "top-confidence", "proportional", "stratified-filtered"])
def test_windows_over_the_files_agree_with_the_windows_tables(tmp_path, name: str) -> None:
    """The parts as the stream reads a window: datasets over the files, filtered by ``__time``."""
    table = records(3000, seed=22)  # 3,000 seconds from DAY; the window is the middle 40 minutes
    old, late = split(table)
    start, end = DAY + dt.timedelta(minutes=5), DAY + dt.timedelta(minutes=45)
    in_window = (pc.field("__time") >= pa.scalar(start, pa.timestamp("us", tz="UTC"))) & (
        pc.field("__time") < pa.scalar(end, pa.timestamp("us", tz="UTC"))
    )
    old_window = window(to_parquet(tmp_path, old, "old"), start, end)
    late_window = window(to_parquet(tmp_path, late, "late"), start, end)
    from_files = reselect(old_window, late_window, selectors(name), seed=SEED)
    from_tables = reselect(old.filter(in_window), late.filter(in_window), selectors(name), seed=SEED)
    assert from_files.selection.table.drop_columns(["date"]).equals(from_tables.selection.table)
    assert from_files.selection.selectors == from_tables.selection.selectors
    assert from_files.selection.candidate_rows == 2400
    assert (from_files.kept, from_files.added, from_files.dropped) == (
        from_tables.kept,
        from_tables.added,
        from_tables.dropped,
    )
    assert from_files.added > 0


# --- counts ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CURATORS))
def test_counts_add_up(name: str) -> None:
    old, late = split(records(1500, seed=5))
    before = set(ids(run_selection(old, selectors(name), seed=SEED).table))
    result = reselect(old, late, selectors(name), seed=SEED)
    after = set(ids(result.selection.table))
    late_ids = set(ids(late))
    assert len(after) == result.selection.selected_rows
    assert result.kept == len(after & before)
    assert result.added == len(after - before)
    assert result.dropped == len(before - after)
    assert result.kept + result.added == result.selection.selected_rows
    assert result.kept + result.dropped == len(before)
    assert result.late_selected == len(after & late_ids)
    assert result.late_rows == late.num_rows and result.redelivered_rows == 0
    assert result.selection.candidate_rows == 1500


def test_counts_against_the_stored_ids_when_given() -> None:
    old, late = split(records(1500, seed=5))
    curator = selectors("uniform")
    before = ids(run_selection(old, curator, seed=SEED).table)
    stored = before[:30] + ["not-in-this-window"]  # what the dataset's window file holds
    result = reselect(old, late, curator, seed=SEED, previous_ids=stored)
    after = set(ids(result.selection.table))
    assert result.kept == len(after & set(stored))
    assert result.dropped == len(set(stored) - after) >= 1
    assert result.kept + result.added == result.selection.selected_rows
    assert result.kept + result.dropped == len(stored)
    with pytest.raises(SelectionError, match="previous_ids"):
        reselect(old, late, curator, seed=SEED, previous_ids="rec-0000001")
    with pytest.raises(SelectionError, match="previous_ids.*strings"):
        reselect(old, late, curator, seed=SEED, previous_ids=[1, 2])


# --- uniform ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["uniform", "equality"])
def test_uniform_keeps_earlier_picks_and_adds_only_late_records(name: str) -> None:
    old, late = split(records(1500, seed=6))
    late_ids = set(ids(late))
    for seed in range(SEED, SEED + 10):
        before = set(ids(run_selection(old, selectors(name), seed=seed).table))
        result = reselect(old, late, selectors(name), seed=seed)
        after = set(ids(result.selection.table))
        limit = selectors(name)[0].limit
        assert len(after) == limit  # the window holds more matches than the limit
        # Only late records come in, each displacing one earlier pick: the limit stays full.
        assert after - before <= late_ids
        assert result.added == result.dropped == result.late_selected
    stats = result.selection.selectors[0]
    assert (
        stats.matched_rows
        == run_selection(pa.concat_tables([old, late]), selectors(name), seed=0).selectors[0].matched_rows
    )


def test_uniform_takes_free_places_without_dropping() -> None:
    old, late = split(records(140, seed=7))  # 120 old records, 20 late; the limit is over both
    curator = [Selector(method=UniformSampler(), limit=200)]
    result = reselect(old, late, curator, seed=SEED)
    assert (result.kept, result.added, result.dropped) == (120, 20, 0)


@pytest.mark.parametrize("name", ["uniform", "equality", "two-selectors", "top-confidence", "oldest"])
def test_a_second_late_batch_keeps_the_first_batchs_picks_unless_displaced(name: str) -> None:
    """Re-curating again (late = both batches) changes only what the second batch displaces."""
    table = records(2100, seed=23)
    old, late = split(table)
    first_batch = late.slice(0, 150)
    once = set(ids(reselect(old, first_batch, selectors(name), seed=SEED).selection.table))
    twice = set(ids(reselect(old, late, selectors(name), seed=SEED).selection.table))
    second_batch = set(ids(late)) - set(ids(first_batch))
    assert twice - once <= second_batch  # nothing the first re-curation passed over comes back
    assert len(once - twice) == len(twice - once)  # each record that left was displaced by one that came
    assert once & set(ids(first_batch)) and twice & set(ids(first_batch))  # the first batch had picks to keep


def test_uniform_share_of_late_records_is_hypergeometric_and_every_record_equally_likely() -> None:
    """Over many seeds, the late share averages M / (N + M) and every record is picked equally often."""
    old, late = split(records(105, seed=8))  # 90 old, 15 late
    curator = [Selector(method=UniformSampler(), limit=10)]
    late_ids = set(ids(late))
    picked: Counter = Counter()
    late_share = []
    seeds = range(600)
    for seed in seeds:
        chosen = ids(reselect(old, late, curator, seed=seed).selection.table)
        assert len(chosen) == 10
        picked.update(chosen)
        late_share.append(sum(record in late_ids for record in chosen) / 10)
    expected_share = late.num_rows / (old.num_rows + late.num_rows)
    # The mean of 600 hypergeometric shares has a standard deviation of about 0.013.
    assert abs(np.mean(late_share) - expected_share) < 0.04
    # Each of the 105 records is expected 600 * 10 / 105 times; chi-square with 104 degrees of freedom.
    expected = len(seeds) * 10 / 105
    counts = np.array([picked[record] for record in ids(records(105, seed=8))])
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    assert chi_square < 160  # the 99.9th percentile of chi-square(104) is about 155


# --- ordered ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ORDERED)
def test_ordered_is_the_top_of_the_grown_window(name: str) -> None:
    table = records(2000, seed=9)
    old, late = split(table)
    result = reselect(old, late, selectors(name), seed=SEED)
    grown = run_selection(pa.concat_tables([old, late]), selectors(name), seed=SEED)
    assert result.selection.table.equals(grown.table)
    before = set(ids(run_selection(old, selectors(name), seed=SEED).table))
    # Earlier picks stay unless records ranking above them arrived.
    assert result.kept == len(before & set(ids(grown.table)))


def test_late_records_below_the_cut_change_nothing() -> None:
    table = records(900, seed=21)
    old, late = table.slice(0, 800), table.slice(800)  # the late records are the window's newest
    curator = selectors("oldest")  # the 12 earliest records: every late record ranks below them
    first = run_selection(old, curator, seed=SEED)
    result = reselect(old, late, curator, seed=SEED)
    assert result.selection.table.equals(first.table)
    assert (result.kept, result.added, result.dropped, result.late_selected) == (12, 0, 0, 0)
    assert result.selection.selectors[0].matched_rows == 900


def test_a_late_record_better_than_every_pick_displaces_the_worst() -> None:
    old = records(500, seed=10)
    curator = selectors("top-confidence")
    before = ids(run_selection(old, curator, seed=SEED).table)  # best first
    late = records(1, seed=11)
    late = late.set_column(0, "record_id", pa.array(["late-best"])).set_column(
        late.schema.get_field_index("outputs.confidence"), "outputs.confidence", pa.array([1.5])
    )
    result = reselect(old, late, curator, seed=SEED)
    assert ids(result.selection.table) == ["late-best"] + before[:-1]
    assert (result.kept, result.added, result.dropped, result.late_selected) == (19, 1, 1, 1)


# --- stratified ---------------------------------------------------------------------------


def _strata(table: pa.Table, field: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for record, value in zip(ids(table), table.column(field).to_pylist()):
        found.setdefault("__null__" if value is None else value, set()).add(record)
    return found


def _late_batch(old: pa.Table, field: str, value: str, n: int) -> pa.Table:
    """``n`` late records like old ones, all in stratum ``value``."""
    batch = records(n, seed=12)
    batch = batch.set_column(0, "record_id", pa.array([f"late-{i:04d}" for i in range(n)]))
    return batch.set_column(batch.schema.get_field_index(field), field, pa.array([value] * n))


def test_proportional_late_batch_in_one_stratum_changes_only_that_stratum() -> None:
    old = records(1200, seed=13)
    curator = selectors("proportional")
    field = "feedback.label"
    late = _late_batch(old, field, "dog", 300)
    before = _strata(run_selection(old, curator, seed=SEED).table, field)
    result = reselect(old, late, curator, seed=SEED)
    after = _strata(result.selection.table, field)
    names = sorted(before)  # bird, cat, dog, __null__
    old_sizes = Counter("__null__" if v is None else v for v in old.column(field).to_pylist())
    grown_sizes = [old_sizes[n] + (300 if n == "dog" else 0) for n in names]
    quotas = dict(zip(names, stratum_quotas(grown_sizes, 30, "proportional")))
    for name in names:
        assert len(after[name]) == quotas[name]
        if name != "dog":
            # No record of another stratum comes in; a shrinking quota keeps a subset of the earlier picks.
            assert after[name] <= before[name]
    assert len(after["dog"]) > len(before["dog"])
    # The growing stratum is a uniform sample of its grown records: late records take a share of it,
    # old records keep the rest, earlier picks first (an old record comes in only if none was dropped).
    late_dogs = after["dog"] & set(ids(late))
    assert 0 < result.late_selected == len(late_dogs)
    new_old_dogs = after["dog"] - before["dog"] - late_dogs
    assert not (new_old_dogs and before["dog"] - after["dog"])
    assert new_old_dogs <= _strata(old, field)["dog"]
    assert dict(result.selection.selectors[0].strata) == {n: quotas[n] for n in ["bird", "cat", "dog", "__null__"]}


def test_balanced_quota_growth_adds_old_records_and_keeps_every_earlier_pick() -> None:
    """A rare stratum grows: every stratum's share grows, filled from its old records not picked yet."""
    table = records(600, seed=14)
    labels = np.array(table.column("outputs.label").to_pylist(), dtype=object)
    labels[np.arange(600) % 100 == 0] = "fish"  # 6 fish: the balanced share is 6 per stratum
    table = table.set_column(table.schema.get_field_index("outputs.label"), "outputs.label", pa.array(labels.tolist()))
    curator = [BalancedStratificationCurator(name="b", limit=40, stratify_field="outputs.label", **APP).selectors[0]]
    late = _late_batch(table, "outputs.label", "fish", 4)
    before = _strata(run_selection(table, curator, seed=SEED).table, "outputs.label")
    assert {len(v) for v in before.values()} == {6}
    result = reselect(table, late, curator, seed=SEED)
    after = _strata(result.selection.table, "outputs.label")
    assert {name: len(v) for name, v in after.items()} == {"bird": 10, "cat": 10, "dog": 10, "fish": 10}
    for name in before:
        assert before[name] <= after[name]
    assert after["fish"] - before["fish"] == set(ids(late))
    assert (result.kept, result.added, result.dropped, result.late_selected) == (24, 16, 0, 4)


def test_strict_keeps_its_exact_total() -> None:
    old, late = split(records(1500, seed=15))
    result = reselect(old, late, selectors("strict"), seed=SEED)
    assert result.selection.selected_rows == 30
    assert sum(result.selection.selectors[0].strata.values()) == 30


# --- records delivered twice ---------------------------------------------------------------


def test_a_late_copy_of_an_old_record_is_no_late_record(tmp_path) -> None:
    old, late = split(records(700, seed=16))
    again = old.slice(10, 5)  # a producer's retry of five records the window already had
    late_with_copies = pa.concat_tables([late, again])
    curator = selectors("uniform")
    result = reselect(old, late_with_copies, curator, seed=SEED)
    plain = reselect(old, late, curator, seed=SEED)
    assert result.redelivered_rows == 5
    assert result.late_rows == late.num_rows + 5
    assert result.selection.table.equals(plain.selection.table)  # the copies change nothing
    assert result.selection.selectors[0].matched_rows == 700
    assert result.selection.candidate_rows == 705
    files = reselect(
        to_parquet(tmp_path, old, "old"), to_parquet(tmp_path, late_with_copies, "late"), curator, seed=SEED
    )
    assert files.redelivered_rows == 5
    assert files.selection.table.drop_columns(["date"]).equals(plain.selection.table)


def test_late_records_delivered_twice_are_picked_once() -> None:
    old, late = split(records(300, seed=17))
    result = reselect(old, pa.concat_tables([late, late]), selectors("newest"), seed=SEED)
    chosen = ids(result.selection.table)
    assert len(chosen) == len(set(chosen)) == 12


# --- schemas and bad input ----------------------------------------------------------------


def test_late_records_with_a_new_column_and_a_missing_one(tmp_path) -> None:
    old, late = split(records(700, seed=18))
    late = late.drop_columns(["feedback.label"]).append_column("inputs.lang", pa.array(["en"] * late.num_rows))
    result = reselect(old, late, selectors("newest"), seed=SEED)
    table = result.selection.table
    assert table.column_names == old.column_names + ["inputs.lang"]
    from_late = pc.is_in(table.column("record_id"), value_set=late.column("record_id"))
    assert table.filter(from_late).column("inputs.lang").to_pylist() == ["en"] * result.late_selected
    assert table.filter(from_late).column("feedback.label").null_count == result.late_selected
    assert table.filter(pc.invert(from_late)).column("inputs.lang").null_count == result.kept
    files = reselect(
        to_parquet(tmp_path, old, "old"), to_parquet(tmp_path, late, "late"), selectors("newest"), seed=SEED
    )
    assert files.selection.table.drop_columns(["date"]).equals(table)


def test_a_column_with_another_type_is_named() -> None:
    old, late = split(records(300, seed=19))
    late = late.set_column(
        late.schema.get_field_index("inputs.n"), "inputs.n", late.column("inputs.n").cast(pa.string())
    )
    with pytest.raises(SchemaMismatchError, match=r"'inputs.n' is int64 in the old records but string in the late"):
        reselect(old, late, selectors("uniform"), seed=SEED)


def test_bad_input_is_refused_with_what_and_where() -> None:
    old, late = split(records(300, seed=20))
    with pytest.raises(SelectionError, match="late records: data must be a pyarrow Table or Dataset, got list"):
        reselect(old, [], selectors("uniform"), seed=SEED)
    with pytest.raises(MissingFieldError, match="late records: field 'record_id'"):
        reselect(old, late.drop_columns(["record_id"]), selectors("uniform"), seed=SEED)
    with pytest.raises(SelectionError, match="seed must be an int"):
        reselect(old, late, selectors("uniform"), seed="1")  # type: ignore[arg-type]
    with pytest.raises(SelectionError, match="at least one selector"):
        reselect(old, late, [], seed=SEED)


@pytest.mark.parametrize("name", ["uniform", "top-confidence", "proportional"])
def test_parts_handed_over_with_their_filter_apart_agree_and_are_read_by_row_group(tmp_path, name, monkeypatch):
    """Old and late as the stream splits a window: each part's files and the window's filter apart."""
    from dataclasses import dataclass

    from curation_pipeline.selection.scan import ParquetSource, open_source

    reselection = importlib.import_module("curation_pipeline.selection.reselect")  # the package's name is the function

    @dataclass(frozen=True)
    class Part:  # the shape of the stream's StreamWindow, as the engine sees it
        dataset: ds.Dataset
        filter: ds.Expression

    table = records(3000, seed=22)
    old, late = split(table)
    start, end = DAY + dt.timedelta(minutes=5), DAY + dt.timedelta(minutes=45)
    in_window = (pc.field("__time") >= pa.scalar(start, pa.timestamp("us", tz="UTC"))) & (
        pc.field("__time") < pa.scalar(end, pa.timestamp("us", tz="UTC"))
    )
    old_files, late_files = to_parquet(tmp_path, old, "old"), to_parquet(tmp_path, late, "late")
    seen = []
    real = reselection.run_selectors
    monkeypatch.setattr(
        reselection, "run_selectors", lambda data, *a, **k: seen.append(open_source(data)) or real(data, *a, **k)
    )
    parts = reselect(Part(old_files, in_window), Part(late_files, in_window), selectors(name), seed=SEED)
    filtered = reselect(old_files.filter(in_window), late_files.filter(in_window), selectors(name), seed=SEED)
    assert parts == filtered
    assert isinstance(seen[0], ParquetSource)  # the old part's first picks on the row-group path
