"""Limits count distinct records: a record delivered twice is selected at most once.

At-least-once producers deliver some records more than once (the same
``record_id`` in several rows). The engine cannot know every id of a window
without holding them all, so it works on what a selector picked, whose size is
bounded by its limit:

1. the method picks ``ask`` rows (at first ``ask = limit``) and their full
   records are fetched;
2. rows repeating a ``record_id`` are dropped, keeping the first in the
   selector's output order: the best-ranked copy for ordered selectors, the
   first in data order for uniform and stratified ones;
3. if fewer distinct records remain than the selector's targets (the limit;
   for stratified selectors, the rows each stratum got in the first round)
   and the method has rows left, ``ask`` grows by twice the shortfall and the
   method picks again (the copies it drew are dropped again);
4. extra distinct records are cut back to the targets: ordered selectors keep
   their best, uniform and stratified ones a seeded uniform subset (data
   order kept), so the same data and seed give the same rows.

Without duplicates among the picks the cost is one distinct count of at most
``limit`` ids. Uniform and stratified methods draw over rows, so a record
delivered twice is about twice as likely to be drawn; it is still selected at
most once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation_pipeline.curators.selectors import OrderedSampler, Selector, StratifiedSampler
from curation_pipeline.fields import RECORD_ID
from curation_pipeline.selection.picks import Picks
from curation_pipeline.selection.result import SelectorStats
from curation_pipeline.selection.seeds import stream_key
from curation_pipeline.selection.stratified import stratum_key
from curation_pipeline.selection.uniform import sample_positions

Pick = Callable[[int], tuple[Picks, SelectorStats]]


def first_of_each(table: pa.Table) -> np.ndarray | None:
    """Sorted row indices keeping the first row of each ``record_id``; None when all are distinct."""
    ids = table.column(RECORD_ID)
    if table.num_rows == 0 or pc.count_distinct(ids, mode="all").as_py() == table.num_rows:
        return None
    rows = pa.table({"id": ids, "row": pa.array(np.arange(table.num_rows))})
    first = rows.group_by("id", use_threads=False).aggregate([("row", "min")]).column("row_min")
    return np.sort(first.to_numpy())


def distinct_selection(
    pick: Pick, selector: Selector, schema: pa.Schema, seed: int, index: int
) -> tuple[pa.Table, SelectorStats]:
    """Run ``pick`` (the method, given how many rows to ask for) until the targets hold distinct records."""
    limit = selector.limit
    picks, figures = pick(limit)
    table = picks.fetch(schema)
    first = first_of_each(table)
    if first is None:
        return table, figures
    group = _grouping(selector)
    targets = _counts(table, group)  # what the method meant to give each group
    ask, taken = limit, picks.rows
    while True:
        table = table.take(pa.array(first)) if first is not None else table
        shortfall = sum(max(0, want - _counts(table, group).get(key, 0)) for key, want in targets.items())
        if shortfall == 0 or taken >= figures.matched_rows:
            break
        ask += 2 * shortfall
        picks, figures = pick(ask)
        if picks.rows <= taken:
            break  # the method has nothing more to give
        taken = picks.rows
        table = picks.fetch(schema)
        first = first_of_each(table)
    table = _cut(table, group, targets, selector, seed, index)
    strata = _counts(table, group) if figures.strata is not None else None
    if strata is not None:
        strata = {name: strata.get(name, 0) for name in figures.strata}
    return table, SelectorStats(limit, figures.matched_rows, table.num_rows, strata)


def _grouping(selector: Selector) -> Callable[[pa.Table], list[Any]] | None:
    """The groups targets are kept per: strata for stratified selectors, else one group."""
    method = selector.method
    if isinstance(method, StratifiedSampler):
        field = method.field
        return lambda table: [stratum_key(value) for value in table.column(field).to_pylist()]
    return None


def _counts(table: pa.Table, group: Callable[[pa.Table], list[Any]] | None) -> dict[Any, int]:
    if group is None:
        return {None: table.num_rows}
    counts: dict[Any, int] = {}
    for key in group(table):
        counts[key] = counts.get(key, 0) + 1
    return counts


def _cut(
    table: pa.Table,
    group: Callable[[pa.Table], list[Any]] | None,
    targets: dict[Any, int],
    selector: Selector,
    seed: int,
    index: int,
) -> pa.Table:
    """At most each group's target rows: the first for ordered selectors, a seeded subset otherwise."""
    keys = [None] * table.num_rows if group is None else group(table)
    rows_of: dict[Any, list[int]] = {}
    for row, key in enumerate(keys):
        rows_of.setdefault(key, []).append(row)
    keep: list[int] = []
    for key, rows in rows_of.items():
        want = targets.get(key, 0)
        if len(rows) <= want:
            keep.extend(rows)
        elif isinstance(selector.method, OrderedSampler):
            keep.extend(rows[:want])  # ranking order: the best
        else:
            chosen = sample_positions(len(rows), want, stream_key(seed, index, "distinct", str(key)))
            keep.extend(rows[int(i)] for i in chosen)
    if len(keep) == table.num_rows:
        return table
    return table.take(pa.array(sorted(keep), pa.int64()))
