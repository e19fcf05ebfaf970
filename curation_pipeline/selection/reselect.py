"""Re-curating a window whose records grew after it was curated, keeping what was picked.

``reselect(old, late, selectors, seed=...)`` selects from the grown window
(``old`` and ``late`` together) so that the records picked when the window
was first curated stay picked wherever each selector's rule still admits
them (the rule per kind of selector: :mod:`curation_pipeline.selection.regrow`).
The first curation's picks are not passed in: the engine is deterministic, so
they are ``run_selection(old, selectors, seed=seed)``, recomputed.

The selectors' results are united as the engine unites them: selectors in
order, the first occurrence of each ``record_id`` kept. With no late records
the result is exactly ``run_selection(old, selectors, seed=seed)``, and the
same inputs always give the same result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from curation_pipeline.curators.selectors import Selector
from curation_pipeline.fields import RECORD_ID
from curation_pipeline.selection.engine import run_selectors, unite
from curation_pipeline.selection.errors import SelectionError
from curation_pipeline.selection.grown import Data, grow
from curation_pipeline.selection.regrow import regrow
from curation_pipeline.selection.result import SelectionResult
from curation_pipeline.selection.window import FilteredParquet


@dataclass(frozen=True)
class Reselection:
    """A grown window's selection and how it compares with the picks before.

    ``kept``, ``dropped``: records picked before (the ``previous_ids`` given,
    else the first curation's picks) that are still selected, or no longer.
    ``added``: selected records not picked before; ``kept + added`` is the
    rows selected, ``kept + dropped`` the records picked before.
    ``late_rows``: rows passed as late; ``redelivered_rows`` of them repeat a
    record the old part already held (not counted as late records);
    ``late_selected``: selected records that arrived late.
    """

    selection: SelectionResult
    kept: int
    added: int
    dropped: int
    late_rows: int
    redelivered_rows: int
    late_selected: int


def reselect(
    old: Data | FilteredParquet,
    late: Data | FilteredParquet,
    selectors: Sequence[Selector],
    *,
    seed: int,
    previous_ids: Iterable[str] | None = None,
) -> Reselection:
    """Re-curate a window that grew: ``old`` records (curated before) plus ``late`` ones (arrived since).

    Args:
        old: the window's records when it was first curated (a table or dataset, as
            :func:`~curation_pipeline.selection.run_selection` accepts).
        late: the records that arrived in the window since.
        selectors: the curator's selectors, as for the first curation.
        seed: the window's seed, as for the first curation.
        previous_ids: the ``record_id`` s stored for the window, if known; only used
            to count ``kept``, ``added`` and ``dropped`` against what was stored.

    Returns:
        The selection over the grown window (its table has every column, in
        the data's column order; ``candidate_rows`` counts old and late rows)
        and the kept/added/dropped figures.

    Raises:
        SchemaMismatchError: a column's type differs between ``old`` and ``late``.
        MissingFieldError, FieldTypeError, SelectionError: as ``run_selection``
            raises them, and for ``previous_ids`` that are not strings.
    """
    window = grow(old, late)
    before = run_selectors(window.old_for_selection, selectors, seed=seed)
    tables = []
    figures = []
    for index, selector in enumerate(selectors):
        picked = regrow(window, selector, index, seed, (before.tables[index], before.result.selectors[index]))
        tables.append(picked[0])
        figures.append(picked[1])
    table = unite(tables, window.schema)
    selection = SelectionResult(table, before.result.candidate_rows + window.late_rows, tuple(figures))
    selected = table.column(RECORD_ID).combine_chunks()
    previous = _previous(previous_ids) if previous_ids is not None else before.result.table.column(RECORD_ID)
    previous = pc.unique(previous.combine_chunks() if isinstance(previous, pa.ChunkedArray) else previous)
    kept = _count_in(selected, previous)
    return Reselection(
        selection=selection,
        kept=kept,
        added=len(selected) - kept,
        dropped=len(previous) - kept,
        late_rows=window.late_rows,
        redelivered_rows=window.redelivered_rows,
        late_selected=_count_in(selected, window.late_ids),
    )


def _previous(ids: Iterable[str]) -> pa.Array:
    """``previous_ids`` as a string array; a clear error for anything else."""
    if isinstance(ids, str):
        raise SelectionError("previous_ids: expected record ids (a list of strings), got one string")
    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        ids = ids.to_pylist()
    values = list(ids)
    wrong = [value for value in values if not isinstance(value, str)]
    if wrong:
        raise SelectionError(f"previous_ids: record ids are strings; got {wrong[0]!r} ({type(wrong[0]).__name__})")
    return pa.array(values, pa.string())


def _count_in(values: pa.Array, value_set: pa.Array) -> int:
    if len(values) == 0 or len(value_set) == 0:
        return 0
    return int(pc.sum(pc.is_in(values, value_set=value_set.cast(values.type))).as_py())
