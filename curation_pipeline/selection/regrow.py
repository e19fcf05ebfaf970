"""One selector over a grown window: keep what it picked before wherever its rule still admits it.

Given the selector's previous picks from the old records (what the engine
picked when the window was first curated) and the late records:

- **uniform** (with or without filters): a uniform sample of
  ``min(limit, N_old + M_late)`` of the grown window's matches, as "the
  lowest priorities win" (:mod:`curation_pipeline.selection.priorities`):
  every late record has a stable priority of its own, the previous picks
  hold the lowest old priorities. Late records take free places, or displace
  the previous picks with the highest priorities when theirs are lower. How
  many come from the late part is hypergeometric, as it must be for a
  uniform sample of the grown window;
- **ordered** (top or bottom ``limit`` by a field, bounded ranges, newest):
  the top ``limit`` of the grown window, which is the top ``limit`` of the
  previous picks and the late part's top ``limit``; a previous pick leaves
  only when ``limit`` records rank above it;
- **stratified**: new quotas from the grown strata sizes
  (:func:`~curation_pipeline.selection.stratified.stratum_quotas`, the
  selector's mode; in strict mode the remainder is shared among strata as
  the engine shares it), then the uniform rule per stratum; a stratum whose
  quota grew beyond its previous picks and late winners gets uniform picks
  among its old records not picked yet.

A selector that matches no late record keeps its previous picks and figures
exactly. Output order: kept picks in their previous order, then records added
from the old part, then records added from the late part (each in data order;
an ordered selector in ranking order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from curation_pipeline.curators.selectors import (
    OrderedSampler,
    Selector,
    StratificationMode,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.fields import RECORD_ID
from curation_pipeline.selection.distinct import first_of_each
from curation_pipeline.selection.engine import run_selection
from curation_pipeline.selection.filters import selector_expression
from curation_pipeline.selection.grown import Data, GrownWindow
from curation_pipeline.selection.priorities import lowest
from curation_pipeline.selection.result import SelectorStats
from curation_pipeline.selection.seeds import stream_key
from curation_pipeline.selection.stratified import stratum_key, stratum_quotas
from curation_pipeline.selection.uniform import sample_positions

Picked = tuple[pa.Table, SelectorStats]


def regrow(window: GrownWindow, selector: Selector, index: int, seed: int, previous: Picked) -> Picked:
    """Selector ``index``'s records and figures over the grown window, given its ``previous`` picks."""
    method = selector.method
    if isinstance(method, OrderedSampler):
        return _ordered(window, selector, previous)
    if isinstance(method, StratifiedSampler):
        return _stratified(window, selector, index, seed, previous)
    return _uniform(window, selector, index, seed, previous)


def _uniform(window: GrownWindow, selector: Selector, index: int, seed: int, previous: Picked) -> Picked:
    table, figures = previous
    matches = late_matches(window, selector, [RECORD_ID])
    if matches.num_rows == 0:
        return previous
    late_ids = pc.unique(pc.drop_null(matches.column(RECORD_ID))).to_pylist()  # first occurrences, in data order
    key = stream_key(seed, index, "reselect")
    kept, extra, picked = lowest(_ids(table), figures.matched_rows, late_ids, selector.limit, key)
    parts = [table.take(pa.array(kept))]
    if extra:
        unpicked = window.old.filter(~pc.field(RECORD_ID).isin(table.column(RECORD_ID).combine_chunks()))
        parts.append(_uniform_draw(unpicked, selector, extra, stream_key(key, "old")))
    parts.append(records_of(window.late, picked))
    grown = pa.concat_tables(parts)
    return grown, SelectorStats(selector.limit, figures.matched_rows + matches.num_rows, grown.num_rows)


def _ordered(window: GrownWindow, selector: Selector, previous: Picked) -> Picked:
    table, figures = previous
    method = selector.method
    late = run_selection(window.late, [selector], seed=0)  # ordered selection draws nothing
    late_matched = late.selectors[0].matched_rows
    if late_matched == 0:
        return previous
    both = pa.concat_tables([table, late.table])
    # The engine's ranking: by the field (nulls last either way), ties by record_id; a stable sort.
    ranked = both.take(pc.sort_indices(both, sort_keys=[(method.field, method.sort), (RECORD_ID, "ascending")]))
    first = first_of_each(ranked)
    ranked = (ranked if first is None else ranked.take(pa.array(first))).slice(0, selector.limit)
    return ranked, SelectorStats(selector.limit, figures.matched_rows + late_matched, ranked.num_rows)


@dataclass(frozen=True)
class _Stratum:
    """One stratum of the grown window: its name, a raw value, its old and late rows, its late records, its rows."""

    name: str
    value: Any
    old: int
    late: int
    late_ids: list[str]
    target: int


def _stratified(window: GrownWindow, selector: Selector, index: int, seed: int, previous: Picked) -> Picked:
    table, figures = previous
    field = selector.method.field
    strata = _grown_strata(window, selector, index, seed)
    if not any(stratum.late for stratum in strata):
        return previous
    previous_strata = [stratum_key(value) for value in table.column(field).to_pylist()]
    previous_ids = _ids(table)
    keep: list[int] = []
    from_old: list[pa.Table] = []
    late_picked: list[str] = []
    for stratum in strata:
        rows = [row for row, name in enumerate(previous_strata) if name == stratum.name]
        key = stream_key(seed, index, "reselect", stratum.name)
        kept, extra, picked = lowest(
            [previous_ids[r] for r in rows], stratum.old, stratum.late_ids, stratum.target, key
        )
        keep.extend(rows[int(position)] for position in kept)
        late_picked.extend(picked)
        if extra:  # the stratum's quota grew past its picks and late winners: draw among old records not picked
            where = _stratum_expression(field, stratum.value, window.schema)
            picked_before = pa.array([previous_ids[r] for r in rows], pa.string())
            unpicked = window.old.filter(where & ~pc.field(RECORD_ID).isin(picked_before))
            from_old.append(_uniform_draw(unpicked, selector, extra, stream_key(key, "old")))
    kept_table = table.take(pa.array(sorted(keep), pa.int64()))
    grown = pa.concat_tables([kept_table, *from_old, records_of(window.late, late_picked)])
    counts = dict.fromkeys((stratum.name for stratum in strata), 0)
    for value in grown.column(field).to_pylist():
        counts[stratum_key(value)] += 1
    matched = figures.matched_rows + sum(stratum.late for stratum in strata)
    return grown, SelectorStats(selector.limit, matched, grown.num_rows, counts)


def _grown_strata(window: GrownWindow, selector: Selector, index: int, seed: int) -> list[_Stratum]:
    """The grown window's strata, in the engine's order, with the rows each one gets."""
    field = selector.method.field
    old = stratum_sizes(window.old, selector, window.schema)
    matches = late_matches(window, selector, [RECORD_ID, field])
    late: dict[str, tuple[Any, int]] = {}
    late_ids: dict[str, dict[str, None]] = {}  # distinct ids per stratum, in data order
    for record_id, value in zip(_ids(matches), matches.column(field).to_pylist()):
        name = stratum_key(value)
        raw, rows = late.get(name, (value, 0))
        late[name] = (raw, rows + 1)
        if record_id is not None:
            late_ids.setdefault(name, {})[record_id] = None
    values = {**late, **old}
    names = sorted(values, key=lambda name: _order(values[name][0]))
    old_n = [old[name][1] if name in old else 0 for name in names]
    late_n = [late[name][1] if name in late else 0 for name in names]
    key = stream_key(seed, index, "reselect", "remainder")
    targets = stratum_targets([a + b for a, b in zip(old_n, late_n)], selector.limit, selector.method.mode, key)
    return [
        _Stratum(name, values[name][0], n_old, n_late, list(late_ids.get(name, {})), target)
        for name, n_old, n_late, target in zip(names, old_n, late_n, targets)
    ]


def stratum_targets(sizes: Sequence[int], limit: int, mode: StratificationMode | str, key: int) -> list[int]:
    """Rows each stratum gets: its quota; in strict mode plus its share of the remainder.

    Strict mode's remainder (``min(limit, N)`` less the quotas) goes to rows
    not chosen by a quota, uniformly, as the engine draws it: here as counts,
    the draws among ``sizes - quotas`` falling in each stratum.
    """
    quotas = stratum_quotas(sizes, limit, mode)
    if StratificationMode(mode) is not StratificationMode.strict:
        return quotas
    free = np.array([size - quota for size, quota in zip(sizes, quotas)], dtype=np.int64)
    wanted = min(limit, sum(sizes)) - sum(quotas)
    draws = sample_positions(int(free.sum()), wanted, key)
    extra = np.bincount(np.searchsorted(np.cumsum(free), draws, side="right"), minlength=len(sizes))
    return [quota + int(more) for quota, more in zip(quotas, extra[: len(sizes)])]


def stratum_sizes(data: Data, selector: Selector, schema: pa.Schema) -> dict[str, tuple[Any, int]]:
    """Rows of each stratum among ``data``'s matches: stratum name -> (a raw value, rows).

    A narrow read of the stratum column (with the filters' columns), batch by batch.
    """
    field = selector.method.field
    dataset = ds.dataset(data) if isinstance(data, pa.Table) else data
    expression = selector_expression(selector, schema, "re-curation")
    counts: dict[str, int] = {}
    raw: dict[str, Any] = {}
    for batch in dataset.to_batches(columns=[field], filter=expression):
        found = pc.value_counts(batch.column(0))
        for value, count in zip(found.field("values").to_pylist(), found.field("counts").to_pylist()):
            name = stratum_key(value)
            raw.setdefault(name, value)
            counts[name] = counts.get(name, 0) + count
    return {name: (raw[name], count) for name, count in counts.items()}


def _uniform_draw(data: Data, selector: Selector, size: int, key: int) -> pa.Table:
    """``size`` records drawn uniformly from ``data``'s matches of ``selector``'s filters."""
    draw = Selector(method=UniformSampler(), limit=size, filters=selector.filters, tags=selector.tags)
    return run_selection(data, [draw], seed=key).table


def late_matches(window: GrownWindow, selector: Selector, columns: list[str]) -> pa.Table:
    """``columns`` of the late rows that pass ``selector``'s filters (a narrow read), in data order."""
    late = ds.dataset(window.late) if isinstance(window.late, pa.Table) else window.late
    return late.to_table(columns=columns, filter=selector_expression(selector, window.schema, "late records"))


def records_of(data: Data, ids: Sequence[str]) -> pa.Table:
    """The full records of ``ids`` in ``data``: one row each (the first delivered), in data order."""
    wanted = pc.field(RECORD_ID).isin(pa.array(list(ids), pa.string()))
    found = data.filter(wanted) if isinstance(data, pa.Table) else data.to_table(filter=wanted)
    first = first_of_each(found)
    return found if first is None else found.take(pa.array(first))


def _ids(table: pa.Table) -> list[str]:
    return table.column(RECORD_ID).to_pylist()


def _stratum_expression(field: str, value: Any, schema: pa.Schema) -> ds.Expression:
    """Rows of the stratum ``value`` names (null and NaN strata included)."""
    column = pc.field(field)
    if value is None:
        return column.is_null()
    if isinstance(value, float) and math.isnan(value):
        return pc.is_nan(column)
    type_ = schema.field(field).type
    return column == pa.scalar(value, type_.value_type if pa.types.is_dictionary(type_) else type_)


def _order(value: Any) -> tuple:
    """Strata by value; NaN, then null, last (the engine's order of the strata figures)."""
    if value is None:
        return (2, 0)
    if isinstance(value, float) and math.isnan(value):
        return (1, 0)
    return (0, value)
