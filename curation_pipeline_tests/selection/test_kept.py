"""What a rule's first pass keeps of a piece: second passes that do not read again, and the same rows either way."""

from __future__ import annotations

import threading
from collections import Counter
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
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.selection import kept, scan, select, stratified
from curation_pipeline.selection.kept import Budget, PackedCodes, RowSet, RowsSeen

GROUP_ROWS = 500
GROUPS = 8


def _table(n: int = GROUP_ROWS * GROUPS) -> pa.Table:
    rng = np.random.default_rng(7)
    labels = np.array(["cat", "dog", "bird", "fish"], dtype=object)[rng.integers(0, 4, n)]
    labels[rng.random(n) < 0.1] = None
    # The first group holds one label only (its strata codes need no bits).
    labels[:GROUP_ROWS] = "cat"
    sizes = rng.integers(0, 40, n).astype(object)
    sizes[rng.random(n) < 0.05] = None
    return pa.table(
        {
            "record_id": [f"r{i:05d}" for i in range(n)],
            "label": pa.array(labels.tolist(), pa.string()),
            "size": pa.array(sizes.tolist(), pa.int64()),
            "score": pa.array(rng.random(n)),
        }
    )


def _dataset(tmp_path: Path, table: pa.Table, group_rows: int = GROUP_ROWS) -> ds.Dataset:
    pq.write_table(table, tmp_path / "part-0.parquet", row_group_size=group_rows)
    return ds.dataset(tmp_path / "part-0.parquet", format="parquet")


# Many small pieces, so that a few picks leave most of them without one.
SMALL_GROUP_ROWS = GROUP_ROWS // 5
SMALL_GROUPS = 200


def _small_groups(tmp_path: Path) -> tuple[pa.Table, ds.Dataset]:
    """A table of SMALL_GROUPS row groups of SMALL_GROUP_ROWS rows, and its dataset."""
    table = _table(SMALL_GROUP_ROWS * SMALL_GROUPS)
    return table, _dataset(tmp_path, table, SMALL_GROUP_ROWS)


def _groups_of(selected: pa.Table) -> set[int]:
    """The small row groups holding ``selected``'s records (record_id "r00123" is row 123)."""
    return {int(record_id[1:]) // SMALL_GROUP_ROWS for record_id in selected.column("record_id").to_pylist()}


class _ColumnReads:
    """Counts each row group's reads of ``column`` (narrow scans; fetches read every column)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, column: str) -> None:
        self.reads: Counter = Counter()
        lock = threading.Lock()
        batches = scan.RowGroupPiece._batches
        reads = self.reads

        def counted(piece: scan.RowGroupPiece, columns: list[str] | None, dictionary: bool):
            if columns is not None and column in columns:
                with lock:
                    reads[piece.group.id] += 1
            return batches(piece, columns, dictionary)

        monkeypatch.setattr(scan.RowGroupPiece, "_batches", counted)


def _uniform(limit: int, *filters) -> Selector:
    return Selector(method=UniformSampler(), limit=limit, filters=list(filters))


def _stratified(limit: int, mode: str = "proportional", field: str = "label", *filters) -> Selector:
    return Selector(method=StratifiedSampler(field=field, mode=mode), limit=limit, filters=list(filters))


@pytest.mark.parametrize(
    "selector",
    [
        _uniform(GROUP_ROWS * GROUPS, EqualsFilter(field="label", equals="dog")),
        _stratified(GROUP_ROWS * GROUPS),
        _stratified(300, "strict", "size", EqualsFilter(field="label", equals="dog")),
    ],
    ids=["uniform-filtered", "stratified", "stratified-filtered"],
)
def test_the_second_pass_does_not_read_the_column_again_within_budget(tmp_path, monkeypatch, selector) -> None:
    monkeypatch.setattr(scan, "_counted_by_polars", lambda pieces: [])  # pyarrow's count: see the test below for polars'
    dataset = _dataset(tmp_path, _table())
    column = selector.method.field if isinstance(selector.method, StratifiedSampler) else "label"
    reads = _ColumnReads(monkeypatch, column).reads
    within = select(dataset, [selector], seed=3)
    assert within.num_rows > 0
    assert len(reads) >= GROUPS - 1  # equality on "dog" rules out the first group by its statistics
    assert set(reads.values()) == {1}

    # Without a budget every piece holding a pick is read twice: the count above can fail.
    reads.clear()
    monkeypatch.setattr(kept, "KEPT_BYTES", 0)
    assert select(dataset, [selector], seed=3).equals(within)
    assert max(reads.values()) == 2


def test_rows_counted_by_polars_are_kept_too(tmp_path, monkeypatch) -> None:
    """polars' count of a filter's matches hands each piece its rows: no piece is read for them, within the budget."""
    dataset = _dataset(tmp_path, _table())
    selector = _uniform(GROUP_ROWS * GROUPS, EqualsFilter(field="label", equals="dog"))
    reads = _ColumnReads(monkeypatch, "label").reads
    within = select(dataset, [selector], seed=3)
    assert within.num_rows > 0 and not reads
    monkeypatch.setattr(kept, "KEPT_BYTES", 0)
    assert select(dataset, [selector], seed=3).equals(within)
    assert len(reads) >= GROUPS - 1 and set(reads.values()) == {1}  # read once, for the picks' rows


def test_pieces_past_the_budget_are_read_again(tmp_path, monkeypatch) -> None:
    # Room for about half the pieces' bitmaps (each about 63 bytes): the rest are read twice.
    monkeypatch.setattr(scan, "_counted_by_polars", lambda pieces: [])  # pyarrow's count reads each piece once
    dataset = _dataset(tmp_path, _table())
    selector = _uniform(GROUP_ROWS * GROUPS, EqualsFilter(field="label", equals="dog"))
    reads = _ColumnReads(monkeypatch, "label").reads
    monkeypatch.setattr(kept, "KEPT_BYTES", 4 * 63)
    bounded = select(dataset, [selector], seed=3)
    twice = sum(1 for count in reads.values() if count == 2)
    assert 0 < twice < GROUPS
    monkeypatch.setattr(kept, "KEPT_BYTES", 1 << 30)
    assert select(dataset, [selector], seed=3).equals(bounded)


@pytest.mark.parametrize("mode", ["proportional", "strict", "balanced"])
def test_the_strata_second_pass_reads_only_the_pieces_holding_picks(tmp_path, monkeypatch, mode: str) -> None:
    """Pieces past the budget are read again only where a chosen rank lies; the others are stepped over by their counts."""
    table, dataset = _small_groups(tmp_path)
    selector = _stratified(9, mode)
    reads = _ColumnReads(monkeypatch, "label").reads
    monkeypatch.setattr(kept, "KEPT_BYTES", 0)
    got = select(dataset, [selector], seed=4)
    assert got.equals(select(table, [selector], seed=4))  # one piece in memory: no step over
    holding = _groups_of(got)
    assert 0 < len(holding) <= 9
    assert {group for group, count in reads.items() if count == 2} == holding
    assert len(reads) == SMALL_GROUPS and set(reads.values()) == {1, 2}


@pytest.mark.parametrize("pieces_tallied", [0, 50, 200])
def test_past_the_tallies_budget_the_strata_second_pass_visits_every_piece(tmp_path, monkeypatch, pieces_tallied: int) -> None:
    table, dataset = _small_groups(tmp_path)
    reads = _ColumnReads(monkeypatch, "label").reads
    monkeypatch.setattr(kept, "KEPT_BYTES", 0)
    # Room for exactly the first pieces_tallied pieces: a piece costs its arrays and an entry a stratum it holds.
    labels = table.column("label").to_pylist()
    strata = [len(set(labels[start : start + SMALL_GROUP_ROWS])) for start in range(0, len(labels), SMALL_GROUP_ROWS)]
    costs = [stratified._TALLY_PIECE_BYTES + stratified._TALLY_ENTRY_BYTES * count for count in strata]
    monkeypatch.setattr(stratified, "TALLY_BYTES", sum(costs[:pieces_tallied]))
    for mode in ("proportional", "strict", "balanced"):
        reads.clear()
        selector = _stratified(9, mode)
        got = select(dataset, [selector], seed=4)
        assert got.equals(select(table, [selector], seed=4)), mode
        visited = {group for group, count in reads.items() if count == 2}
        assert visited == _groups_of(got) | set(range(pieces_tallied, SMALL_GROUPS)), mode


def test_a_stratum_only_the_filter_drops_does_not_stop_a_piece_read_again(tmp_path, monkeypatch) -> None:
    """A piece's dictionary may hold a value that no matching row has anywhere: it is no stratum, read again or not."""
    table = _table()
    labels = table.column("label").to_pylist()
    sizes = table.column("size").to_pylist()
    # "bird" only where size is 0, and size 0 is filtered out: a value of every group's dictionary, no stratum.
    labels = ["bird" if size == 0 else ("cat" if label == "bird" else label) for label, size in zip(labels, sizes)]
    table = table.set_column(1, "label", pa.array(labels, pa.string()))
    dataset = _dataset(tmp_path, table)
    selector = _stratified(9, "proportional", "label", BoundsFilter(field="size", lower=1))
    monkeypatch.setattr(kept, "KEPT_BYTES", 0)
    got = select(dataset, [selector], seed=4)
    assert got.num_rows == 9 and "bird" not in got.column("label").to_pylist()
    assert got.equals(select(table, [selector], seed=4))


def test_skipping_pieces_with_kept_codes_and_a_filter_gives_the_rows_of_the_table(tmp_path, monkeypatch) -> None:
    table, dataset = _small_groups(tmp_path)
    reads = _ColumnReads(monkeypatch, "label").reads
    for mode in ("proportional", "strict", "balanced"):
        for selector in (_stratified(9, mode), _stratified(9, mode, "label", EqualsFilter(field="size", equals=5))):
            reads.clear()
            got = select(dataset, [selector], seed=4)
            assert got.num_rows > 0
            assert got.equals(select(table, [selector], seed=4)), (mode, selector.filters)
            assert set(reads.values()) == {1}  # within the budget: the codes kept, no piece read again


SELECTORS = [
    _uniform(10, EqualsFilter(field="label", equals="dog")),
    _uniform(900, EqualsFilter(field="label", equals="bird")),
    _uniform(25, ContainsFilter(field="label", contains="i")),
    _uniform(400, BoundsFilter(field="size", lower=3, upper=9)),
    _uniform(50, BoundsFilter(field="score", lower=0.999)),  # few matches: kept as row indices
    _stratified(20, "proportional"),
    _stratified(1000, "strict"),
    _stratified(40, "balanced"),
    _stratified(300, "proportional", "size"),  # plain integers with nulls, 41 strata
    _stratified(77, "strict", "size", BoundsFilter(field="score", upper=0.3)),
    _stratified(60, "balanced", "label", EqualsFilter(field="size", equals=5)),
]


@pytest.mark.parametrize("small_batches", [False, True], ids=["whole-groups", "batches"])
def test_the_same_rows_come_out_with_any_budget(tmp_path, monkeypatch, small_batches) -> None:
    table = _table()
    dataset = _dataset(tmp_path, table)
    if small_batches:
        # Groups read in several batches: each batch brings its own dictionary.
        monkeypatch.setattr(scan, "BATCH_ROWS", 128)
        monkeypatch.setattr(scan, "_WHOLE_GROUP_ROWS", 128)
    for seed in (0, 11):
        for selector in SELECTORS:
            monkeypatch.setattr(kept, "KEPT_BYTES", 1 << 30)
            unbounded = select(dataset, [selector], seed=seed)
            assert unbounded.num_rows > 0
            monkeypatch.setattr(kept, "KEPT_BYTES", 0)
            assert select(dataset, [selector], seed=seed).equals(unbounded), selector
            assert select(table, [selector], seed=seed).equals(unbounded), selector  # in memory: nothing kept


@pytest.mark.parametrize(
    "rows",
    [[], [0, 1, 2, 3], [5], [0, 2, 9, 10, 11, 63, 64, 700], list(range(3, 1000, 2)), [10, 100_000]],
)
def test_a_row_set_gives_back_its_rows(rows: list[int]) -> None:
    given = np.array(rows, dtype=np.int64)
    found = RowSet.of(given)
    assert found.rows().dtype == np.int64
    assert found.rows().tolist() == rows


@pytest.mark.parametrize(
    "batches",
    [[], [[0, 1], [2, 3, 4]], [[0, 1], [], [3, 4]], [[0, 1], [2, 5], [6]], [[4, 7], [8]], [[], [0, 1]]],
)
def test_rows_seen_batch_by_batch_are_the_rows_given(batches: list[list[int]]) -> None:
    seen = RowsSeen()
    for rows in batches:
        seen.add(np.array(rows, dtype=np.int64))
    given = [row for rows in batches for row in rows]
    found = seen.row_set()
    assert found.rows().tolist() == given
    assert found.rows(np.int32).dtype == np.int32
    assert found.end >= (given[-1] + 1 if given else 0)


def test_a_row_set_takes_the_cheapest_form() -> None:
    assert RowSet.of(np.arange(1000)).nbytes == 0  # every row
    assert RowSet.of(np.arange(1, 1000)).nbytes == 125  # a bitmap
    assert RowSet.of(np.array([5, 9_000])).nbytes == 8  # two indices


@pytest.mark.parametrize("distinct", [1, 2, 3, 4, 5, 16, 17, 256, 257, 70_000])
@pytest.mark.parametrize("size", [0, 1, 7, 1001])
def test_packed_codes_give_back_their_codes(distinct: int, size: int) -> None:
    codes = np.random.default_rng(distinct + size).integers(0, distinct, size)
    packed = PackedCodes.of(codes, distinct)
    assert packed.codes().tolist() == codes.tolist()
    bits = {1: 0, 2: 1, 3: 2, 4: 2, 5: 4, 16: 4, 17: 8, 256: 8, 257: 16, 70_000: 32}[distinct]
    assert packed.bits == bits
    assert packed.nbytes == -(-size * bits // 8)


def test_a_budget_refuses_what_does_not_fit() -> None:
    budget = Budget(100)
    assert budget.take(60)
    assert not budget.full()
    assert not budget.take(41)
    assert budget.full()  # once a piece did not fit, the next need not prepare its trace
    assert budget.take(40)  # though what fits is still taken
    assert budget.full()
    assert not budget.take(1)
    assert Budget(0).full()
