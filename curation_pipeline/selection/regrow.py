"""One selector over a grown window: keep what it picked before wherever its rule still admits it.

Given the selector's previous picks from the old records (what the engine
picked when the window was first curated) and the late records:

- **uniform** (with or without filters): the result is a uniform sample of
  the grown window's matches, of ``k' = min(limit, N_old + M_late)`` rows.
  How many of them come from the late part, ``X``, is hypergeometric: the
  draws at ``>= N_old`` among ``k'`` uniform positions out of
  ``N_old + M_late``. A seeded uniform ``k' - X`` of the previous picks stay;
  ``X`` late records are drawn uniformly. A uniform subset of a uniform
  sample is uniform, so the result is uniform over the grown window whenever
  the previous picks were uniform over the old records;
- **ordered** (top or bottom ``limit`` by a field, bounded ranges, newest):
  the top ``limit`` of the grown window, which is the top ``limit`` of the
  previous picks and the late part's top ``limit``; a previous pick leaves
  only when ``limit`` records rank above it;
- **stratified**: new quotas from the grown strata sizes
  (:func:`~curation_pipeline.selection.stratified.stratum_quotas`, the
  selector's mode; in strict mode the remainder is shared among strata as
  the engine shares it), then the uniform rule per stratum; a stratum whose
  share from old records grew beyond its previous picks gets uniform picks
  among its old records not picked yet.

A selector that matches no late record keeps its previous picks and figures
exactly. Output order: kept picks in their previous order, then records added
from the old part, then records added from the late part (each in data order;
an ordered selector in ranking order).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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


def late_share(old_rows: int, late_rows: int, target: int, key: int) -> tuple[int, int]:
    """``(from old, from late)``: how a uniform ``target``-sample of the grown rows splits (hypergeometric).

    ``target`` is capped at the rows there are; the split counts the draws at
    ``>= old_rows`` among ``target`` uniform positions of ``old_rows + late_rows``.
    """
    total = old_rows + late_rows
    size = min(target, total)
    late = int(np.count_nonzero(sample_positions(total, size, key) >= old_rows))
    return size - late, late


def subset(table: pa.Table, size: int, key: int) -> pa.Table:
    """A seeded uniform ``size``-subset of ``table``'s rows, in their order (all of them when fewer)."""
    if size >= table.num_rows:
        return table
    return table.take(pa.array(sample_positions(table.num_rows, size, key)))


def _uniform(window: GrownWindow, selector: Selector, index: int, seed: int, previous: Picked) -> Picked:
    table, figures = previous
    late = run_selection(window.late, [selector], seed=stream_key(seed, index, "reselect", "late"))
    late_matched = late.selectors[0].matched_rows
    if late_matched == 0:
        return previous
    old_count, late_count = late_share(
        figures.matched_rows, late_matched, selector.limit, stream_key(seed, index, "reselect", "share")
    )
    kept = subset(table, old_count, stream_key(seed, index, "reselect", "keep"))
    added = subset(late.table, late_count, stream_key(seed, index, "reselect", "add"))
    grown = pa.concat_tables([kept, added])
    return grown, SelectorStats(selector.limit, figures.matched_rows + late_matched, grown.num_rows)


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
    """One stratum of the grown window: its name, a raw value, rows old and late, rows it gets."""

    name: str
    value: Any
    old: int
    late: int
    target: int


def _stratified(window: GrownWindow, selector: Selector, index: int, seed: int, previous: Picked) -> Picked:
    table, figures = previous
    field = selector.method.field
    strata = _grown_strata(window, selector, index, seed)
    if not any(stratum.late for stratum in strata):
        return previous
    previous_strata = [stratum_key(value) for value in table.column(field).to_pylist()]
    keep: list[int] = []
    from_old: list[pa.Table] = []
    from_late: list[pa.Table] = []
    for stratum in strata:
        rows = [row for row, name in enumerate(previous_strata) if name == stratum.name]
        kept, old, late = _regrow_stratum(
            window, selector, table, rows, stratum, lambda *p: stream_key(seed, index, *p)
        )
        keep.extend(kept)
        from_old.extend(old)
        from_late.extend(late)
    grown = pa.concat_tables([table.take(pa.array(sorted(keep), pa.int64())), *from_old, *from_late])
    counts = dict.fromkeys((stratum.name for stratum in strata), 0)
    for value in grown.column(field).to_pylist():
        counts[stratum_key(value)] += 1
    matched = figures.matched_rows + sum(stratum.late for stratum in strata)
    return grown, SelectorStats(selector.limit, matched, grown.num_rows, counts)


def _grown_strata(window: GrownWindow, selector: Selector, index: int, seed: int) -> list[_Stratum]:
    """The grown window's strata, in the engine's order, with the rows each one gets."""
    old = stratum_sizes(window.old, selector, window.schema)
    late = stratum_sizes(window.late, selector, window.schema)
    values = {**late, **old}
    names = sorted(values, key=lambda name: _order(values[name][0]))
    old_n = [old[name][1] if name in old else 0 for name in names]
    late_n = [late[name][1] if name in late else 0 for name in names]
    key = stream_key(seed, index, "reselect", "remainder")
    targets = stratum_targets([a + b for a, b in zip(old_n, late_n)], selector.limit, selector.method.mode, key)
    return [_Stratum(*fields) for fields in zip(names, (values[n][0] for n in names), old_n, late_n, targets)]


def _regrow_stratum(
    window: GrownWindow,
    selector: Selector,
    table: pa.Table,
    rows: list[int],
    stratum: _Stratum,
    key: Callable[..., int],
) -> tuple[list[int], list[pa.Table], list[pa.Table]]:
    """The uniform rule in one stratum: earlier picks kept (rows of ``table``), old and late records added.

    ``rows`` are the stratum's earlier picks; ``key(*purpose)`` gives the selector's random streams.
    """
    name = stratum.name
    old_count, late_count = late_share(stratum.old, stratum.late, stratum.target, key("reselect", "share", name))
    chosen = sample_positions(len(rows), min(old_count, len(rows)), key("reselect", "keep", name))
    where = _stratum_expression(selector.method.field, stratum.value, window.schema)
    from_old = []
    if old_count > len(rows):  # the stratum's share of old records grew: draw among those not picked
        picked = table.column(RECORD_ID).take(pa.array(rows, pa.int64()))
        unpicked = window.old.filter(where & ~pc.field(RECORD_ID).isin(picked))
        from_old.append(_uniform_draw(unpicked, selector, old_count - len(rows), key("reselect", "old", name)))
    from_late = []
    if late_count:
        from_late.append(_uniform_draw(window.late.filter(where), selector, late_count, key("reselect", "late", name)))
    return [rows[int(position)] for position in chosen], from_old, from_late


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
