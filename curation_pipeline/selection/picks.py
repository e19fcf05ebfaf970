"""Where a selector's winners are: rows named by piece and row index, and their output order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curation_pipeline.selection.scan import Piece, fetch


@dataclass(frozen=True)
class Picks:
    """A selector's winners before their full records are read.

    ``pieces[i]`` holds the winners at row indices ``offsets[i]`` (sorted,
    non-empty). Fetching returns rows piece by piece in index order, which is
    data order; ``order``, when set, permutes that into the selector's output
    order. ``records``, when set, holds those rows' full records already, in
    that fetch order (a selection that read them whole): fetching reads nothing.
    """

    pieces: tuple[Piece, ...]
    offsets: tuple[np.ndarray, ...]
    order: np.ndarray | None = None
    records: pa.Table | None = None

    @property
    def rows(self) -> int:
        """How many rows were picked."""
        return int(sum(o.size for o in self.offsets))

    def fetch(self, schema: pa.Schema) -> pa.Table:
        """The picked rows with every column, in output order."""
        if self.records is not None:
            table = self.records.cast(schema)
        else:
            table = fetch(list(zip(self.pieces, self.offsets)), schema)
        return table if self.order is None else table.take(pa.array(self.order))


def locate(positions: np.ndarray, counts: np.ndarray, pieces: list[Piece]) -> Picks:
    """Sorted ``positions`` among the matches of pieces holding ``counts`` matches each, split per piece.

    The offsets of the result number matches within each piece; pieces turn
    them into row indices (:meth:`Piece.rows_of`).
    """
    ends = np.cumsum(counts)
    owners = np.searchsorted(ends, positions, side="right")
    starts = ends - counts
    chosen_pieces: list[Piece] = []
    chosen_offsets: list[np.ndarray] = []
    bounds = np.flatnonzero(np.diff(owners)) + 1
    for group in np.split(np.arange(positions.size), bounds) if positions.size else []:
        owner = int(owners[group[0]])
        chosen_pieces.append(pieces[owner])
        chosen_offsets.append(positions[group] - starts[owner])
    return Picks(tuple(chosen_pieces), tuple(chosen_offsets))


def group_by_piece(piece_index: np.ndarray, offsets: np.ndarray, pieces: list[Piece]) -> Picks:
    """Picks for rows given as parallel (piece index, row index) arrays in output order."""
    fetch_order = np.lexsort((offsets, piece_index))
    sorted_pieces = piece_index[fetch_order]
    sorted_offsets = offsets[fetch_order]
    bounds = np.flatnonzero(np.diff(sorted_pieces)) + 1
    chosen_pieces = []
    chosen_offsets = []
    for group in np.split(np.arange(sorted_pieces.size), bounds) if sorted_pieces.size else []:
        chosen_pieces.append(pieces[int(sorted_pieces[group[0]])])
        chosen_offsets.append(sorted_offsets[group].astype(np.int64))
    # Output row r was fetched at position inverse[r].
    inverse = np.empty(fetch_order.size, dtype=np.int64)
    inverse[fetch_order] = np.arange(fetch_order.size)
    return Picks(tuple(chosen_pieces), tuple(chosen_offsets), inverse)
