"""Ordered selection: the top ``limit`` rows by a field, nulls last, ties by ``record_id``.

Each piece reduces to its own top ``limit`` on a thread; the main thread
merges them into a running top ``limit``, so memory holds at most a few times
``limit`` rows of two columns. Pieces are read best-first by their Parquet
statistics, and a piece whose best value is worse than the current
``limit``-th value is never read: for ``__time`` (the stream is sorted by it)
the newest records cost one or two row groups, whatever the window's size.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation_pipeline.curators.selectors import RECORD_ID_FIELD
from curation_pipeline.selection.picks import Picks, group_by_piece
from curation_pipeline.selection.scan import Piece, ordered_map, workers

_PIECE = "__selection_piece"
_OFFSET = "__selection_offset"


def ordered_picks(pieces: list[Piece], field: str, descending: bool, limit: int) -> tuple[Picks, int]:
    """The top ``limit`` rows of ``pieces`` by ``field``, and how many rows matched."""
    direction = "descending" if descending else "ascending"
    sort_keys = [(field, direction), (RECORD_ID_FIELD, "ascending"), (_PIECE, "ascending"), (_OFFSET, "ascending")]
    columns = [field] if field == RECORD_ID_FIELD else [field, RECORD_ID_FIELD]

    def top_of(index: int) -> tuple[pa.Table, int]:
        parts = []
        matched = 0
        for batch, rows in pieces[index].matches(columns):
            table = pa.Table.from_batches([batch])
            table = table.append_column(_PIECE, pa.array(np.full(rows.size, index, dtype=np.int32)))
            table = table.append_column(_OFFSET, pa.array(rows))
            parts.append(_top(table, limit, sort_keys))
            matched += rows.size
        if not parts:
            return None, 0  # type: ignore[return-value]
        return _top(pa.concat_tables(parts), limit, sort_keys), matched

    order = _best_first(pieces, field, descending)
    best: pa.Table | None = None
    matched = 0
    unread: list[int] = []
    position = 0
    wave = workers()
    while position < len(order):
        threshold = _threshold(best, field, limit, descending)
        batch_of_pieces = []
        while position < len(order) and len(batch_of_pieces) < wave:
            index, bound = order[position]
            position += 1
            if threshold is not None and bound is not None and _worse(bound, threshold, descending):
                unread.append(index)
            else:
                batch_of_pieces.append(index)
        for table, rows in ordered_map(top_of, batch_of_pieces):
            matched += rows
            if table is not None and table.num_rows:
                best = table if best is None else _top(pa.concat_tables([best, table]), limit, sort_keys)
    # Pieces skipped by statistics still count towards the matched rows (Parquet footers answer that).
    matched += sum(ordered_map(lambda i: pieces[i].count(), unread))
    if best is None or best.num_rows == 0:
        return Picks((), ()), matched
    # Nulls sort last by default, in either direction.
    best = best.take(pc.sort_indices(best, sort_keys=sort_keys))
    picks = group_by_piece(
        best.column(_PIECE).to_numpy().astype(np.int64), best.column(_OFFSET).to_numpy(), pieces
    )
    return picks, matched


def _top(table: pa.Table, limit: int, sort_keys: list[tuple[str, str]]) -> pa.Table:
    """The best ``limit`` rows of ``table`` (unordered)."""
    if table.num_rows <= limit:
        return table
    field, direction = sort_keys[0]
    values = table.column(field)
    # A first cut on the value alone is cheap; the string tie-breaker only
    # has to rank the rows at or above the cut.
    best = values.take(pc.select_k_unstable(values, k=limit, sort_keys=[(field, direction)]))
    if best.null_count == 0:
        extremes = pc.min_max(best)
        if direction == "descending":
            keep = pc.greater_equal(values, extremes["min"])
        else:
            keep = pc.less_equal(values, extremes["max"])
        table = table.filter(keep)
        if table.num_rows <= limit:
            return table
    # select_k_unstable keeps nulls last in either direction, as the ranking wants.
    return table.take(pc.select_k_unstable(table, k=limit, sort_keys=sort_keys))


def _best_first(pieces: list[Piece], field: str, descending: bool) -> list[tuple[int, Any]]:
    """Pieces without statistics first (they must be read), then by their best value."""
    known: list[tuple[int, Any]] = []
    unknown: list[tuple[int, Any]] = []
    for index, piece in enumerate(pieces):
        found = piece.value_range(field)
        bound = None if found is None else _comparable(found[1] if descending else found[0])
        (unknown if bound is None else known).append((index, bound))
    try:
        known.sort(key=lambda item: item[1], reverse=descending)
    except TypeError:
        return [(index, None) for index, _ in unknown + known]  # incomparable statistics: read everything
    return unknown + known


def _threshold(best: pa.Table | None, field: str, limit: int, descending: bool) -> Any:
    """The ``limit``-th best value so far, once there are ``limit`` non-null values."""
    if best is None or best.num_rows < limit:
        return None
    values = best.column(field)
    if values.null_count:
        return None
    extremes = pc.min_max(values)
    return _comparable(extremes["min" if descending else "max"].as_py())


def _worse(bound: Any, threshold: Any, descending: bool) -> bool:
    try:
        return bound < threshold if descending else bound > threshold
    except TypeError:
        return False


def _comparable(value: Any) -> Any:
    """Statistics and scalars as mutually comparable Python values (naive datetimes mean UTC)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
    return value
