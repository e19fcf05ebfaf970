"""The selection engine: selectors in, full records out.

Output order, fixed so that a selection is reproducible byte for byte:
selectors in the order given; within an ordered selector, its ranking
(best first, ties by ``record_id``); within a uniform or stratified selector,
data order (the order rows have in the data; for the stream, by ``__time``).
The union keeps the first occurrence of each ``record_id``: a record two
selectors pick appears once, where the earlier selector put it.

A record delivered more than once (the same ``record_id`` in several rows, as
an at-least-once producer's retry leaves) is selected at most once, and a
limit counts distinct records (:mod:`curation_pipeline.selection.distinct`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds

from curation_pipeline.curators.selectors import (
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.fields import RECORD_ID
from curation_pipeline.heap import trim_heap
from curation_pipeline.selection.distinct import distinct_selection, first_of_each
from curation_pipeline.selection.errors import FieldTypeError, SelectionError
from curation_pipeline.selection.filters import Predicate, column_type, selector_predicate
from curation_pipeline.selection.kept import Budget
from curation_pipeline.selection.ordered import ordered_picks
from curation_pipeline.selection.picks import Picks, locate
from curation_pipeline.selection.result import SelectionResult, SelectorStats
from curation_pipeline.selection.scan import Piece, Source, count_pieces, filtering, open_source, ordered_map, reading
from curation_pipeline.selection.seeds import stream_key
from curation_pipeline.selection.selector_pieces import selector_pieces
from curation_pipeline.selection.staging import staged
from curation_pipeline.selection.stratified import stratified_picks
from curation_pipeline.selection.uniform import sample_positions
from curation_pipeline.selection.window import FilteredParquet


def select(data: pa.Table | ds.Dataset | FilteredParquet, selectors: Sequence[Selector], *, seed: int) -> pa.Table:
    """The records ``selectors`` pick from ``data``: every column, in the data's column order.

    Same as ``run_selection(data, selectors, seed=seed).table``.
    """
    return run_selection(data, selectors, seed=seed).table


def run_selection(data: pa.Table | ds.Dataset | FilteredParquet, selectors: Sequence[Selector], *, seed: int) -> SelectionResult:
    """Apply ``selectors`` (OR-ed) to ``data`` and report what each one did.

    Args:
        data: a ``pyarrow.Table``, a ``pyarrow.dataset.Dataset``, or a Parquet
            dataset with its filter handed over apart (:class:`FilteredParquet`,
            such as the stream's ``StreamWindow`` from ``open_window``). Parquet
            datasets are read row group by row group; a dataset returned by
            ``Dataset.filter`` hides its files from pyarrow's public API and is
            read as one piece instead (same rows, slower on big data). It must
            have a ``record_id`` column.
        selectors: one or more selectors; their selections are united without
            duplicate records.
        seed: drives uniform and stratified sampling; the same data, selectors
            and seed always give the same rows (see :func:`derive_seed`).

    Returns:
        The selected full records and per-selector figures.

    Raises:
        MissingFieldError: a filter, tag, sampling field or ``record_id`` is
            not a column of the data.
        FieldTypeError: a filter value or sampling field does not fit its
            column's type.
        SelectionError: no selectors, or data of an unsupported kind.
    """
    return run_selectors(data, selectors, seed=seed).result


@dataclass(frozen=True)
class SelectorTables:
    """A selection plus each selector's own records, before the union (in the selectors' order)."""

    result: SelectionResult
    tables: tuple[pa.Table, ...]


def run_selectors(data: pa.Table | ds.Dataset, selectors: Sequence[Selector], *, seed: int) -> SelectorTables:
    """:func:`run_selection`, keeping what each selector picked on its own.

    Re-curation (:mod:`curation_pipeline.selection.reselect`) works selector
    by selector; the union is :func:`unite` of ``tables``. Raises as
    :func:`run_selection` does.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SelectionError(f"seed must be an int, got {seed!r}")
    if not selectors:
        raise SelectionError("at least one selector is required")
    trim_heap()  # what earlier work freed (opening the window, an earlier selection), back to the system
    source = open_source(data)
    schema = source.schema
    column_type(schema, RECORD_ID, "selection")
    # Check every selector before reading any data: a typo fails fast.
    predicates = [_checked_predicate(selector, schema, f"selector {i}") for i, selector in enumerate(selectors)]
    tables = []
    stats = []
    # A remote window a selector would read most of is read from local copies of its files
    # (gone after the block); as many pieces at once as the store's latency calls for.
    with staged(source, list(zip(selectors, predicates))) as read, reading(read):
        for index, (selector, predicate) in enumerate(zip(selectors, predicates)):
            pick = functools.partial(_pick, read, selector, predicate, seed, index)
            table, figures = distinct_selection(pick, selector, schema, seed, index)
            tables.append(table)
            stats.append(figures)
        candidates = source.count_rows()  # the window's rows: the copies may leave out files no selector reads
    result = SelectionResult(table=unite(tables, schema), candidate_rows=candidates, selectors=tuple(stats))
    return SelectorTables(result, tuple(tables))


def _checked_predicate(selector: Selector, schema: pa.Schema, where: str) -> Predicate | None:
    if not isinstance(selector, Selector):
        raise SelectionError(f"{where}: expected a Selector, got {type(selector).__name__}")
    predicate = selector_predicate(selector, schema, where)
    method = selector.method
    if isinstance(method, (OrderedSampler, StratifiedSampler)):
        label = f"{where}: {method.type} sampling"
        type_ = column_type(schema, method.field, label)
        if pa.types.is_nested(type_):
            raise FieldTypeError(f"{label} on field {method.field!r}: column type {type_} has no order or strata")
    return predicate


def _pick(
    source: Source, selector: Selector, predicate: Predicate | None, seed: int, index: int, limit: int
) -> tuple[Picks, SelectorStats]:
    """The rows ``selector``'s method picks when asked for ``limit`` rows (duplicates included)."""
    pieces = selector_pieces(source, selector, predicate)
    fields = () if predicate is None else predicate.fields
    with filtering(fields):  # scans read the filter's columns too
        return _picked(pieces, source, selector, seed, index, limit)


def _picked(
    pieces: list[Piece], source: Source, selector: Selector, seed: int, index: int, limit: int
) -> tuple[Picks, SelectorStats]:
    method = selector.method
    if isinstance(method, UniformSampler):
        # Counting reads the filter's column; each piece keeps which rows matched
        # (within the budget), so locating the picks need not read it again.
        keep = Budget()
        counts = count_pieces(pieces, keep)
        matched = int(counts.sum())
        positions = sample_positions(matched, limit, stream_key(seed, index, "uniform"))
        found = locate(positions, counts, pieces)
        # Positions count matches; a piece whose filter drops rows maps them to row indices.
        located = list(zip(found.pieces, found.offsets))
        rows = tuple(ordered_map(lambda pick: pick[0].rows_of(pick[1]), located, reads=()))
        picks = Picks(found.pieces, rows)
        return picks, SelectorStats(limit, matched, picks.rows)
    if isinstance(method, OrderedSampler):
        field_type = source.schema.field(method.field).type
        picks, matched = ordered_picks(pieces, method.field, field_type, method.sort == "descending", limit)
        return picks, SelectorStats(limit, matched, picks.rows)
    if isinstance(method, StratifiedSampler):
        outcome = stratified_picks(pieces, method.field, method.mode, limit, seed, index)
        return outcome.picks, SelectorStats(limit, outcome.matched, outcome.picks.rows, outcome.strata)
    raise SelectionError(f"selector {index}: unknown sampling method {type(method).__name__}")


def unite(tables: Sequence[pa.Table], schema: pa.Schema) -> pa.Table:
    """Selectors' tables concatenated in order, keeping the first row of each ``record_id``."""
    table = pa.concat_tables(list(tables)) if tables else schema.empty_table()
    if table.num_rows == 0:
        return table
    first = first_of_each(table)
    return table if first is None else table.take(pa.array(first))
