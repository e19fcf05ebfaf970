"""Reading the data in pieces: pruned, projected, in a fixed order, in parallel.

A *source* wraps what the caller passed (a table, a Parquet dataset, any other
dataset) and splits it into *pieces*: one Parquet row group, one slice of a
table, or, for datasets the engine cannot split, the whole dataset. Pieces
come in the data's order, and the rows a piece yields under a filter always
come in the same order, so a row is named by ``(piece, offset)``: its position
among the rows of that piece that pass the filter. The engine finds winners
with narrow scans (a column or two), then fetches full records only for the
pieces that hold winners.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from curation_pipeline.selection.errors import SelectionError

# Rows per batch of a scan: a Parquet row group of the stream (128k rows) in one batch.
BATCH_ROWS = 1 << 17
# Rows per piece when the data is an in-memory table.
TABLE_PIECE_ROWS = 1 << 18

T = TypeVar("T")
R = TypeVar("R")


@functools.cache
def workers() -> int:
    """Threads scanning pieces at once; pyarrow releases the GIL while decoding."""
    return max(2, min(8, os.cpu_count() or 2))


def ordered_map(fn: Callable[[T], R], items: Sequence[T], *, threads: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` on a thread pool, results in order, a bounded number in flight.

    Bounding what is in flight bounds memory: at most ``2 * threads`` piece
    results exist at once, however many pieces the data has. A single item
    runs inline: starting threads would cost more than it saves.
    """
    if len(items) <= 1:
        yield from map(fn, items)
        return
    threads = threads or workers()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class Piece(Protocol):
    """A part of the data with one filter bound to it (the data's own and the selector's)."""

    def batches(self, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        """The rows that pass the filter, ``columns`` only (all when None), in a fixed order."""

    def count(self) -> int:
        """How many rows pass the filter."""

    def value_range(self, field: str) -> tuple[Any, Any] | None:
        """``(min, max)`` of the non-null values of ``field`` before filtering, if known."""


@dataclass
class TablePiece:
    """A slice of an in-memory table."""

    table: pa.Table
    filter: ds.Expression | None

    def batches(self, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        if self.filter is None:
            table = self.table if columns is None else self.table.select(list(columns))
            yield from table.to_batches()
            return
        yield from ds.dataset(self.table).to_batches(columns=columns, filter=self.filter, batch_size=BATCH_ROWS)

    def count(self) -> int:
        if self.filter is None:
            return self.table.num_rows
        return ds.dataset(self.table).count_rows(filter=self.filter)

    def value_range(self, field: str) -> tuple[Any, Any] | None:
        return None

    def take(self, offsets: np.ndarray) -> pa.Table | None:
        """Rows at ``offsets`` without a scan, when no filter shifts the offsets."""
        return self.table.take(offsets) if self.filter is None else None


@dataclass
class DatasetPiece:
    """A whole dataset the engine does not split (in-memory, union, non-Parquet)."""

    dataset: ds.Dataset
    filter: ds.Expression | None

    def batches(self, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        # The dataset applies its own filter (Dataset.filter) on top of this one.
        yield from self.dataset.to_batches(columns=columns, filter=self.filter, batch_size=BATCH_ROWS, use_threads=True)

    def count(self) -> int:
        return self.dataset.count_rows(filter=self.filter)

    def value_range(self, field: str) -> tuple[Any, Any] | None:
        return None


@dataclass
class RowGroupPiece:
    """One row group of one Parquet file."""

    fragment: ds.ParquetFileFragment
    schema: pa.Schema
    filter: ds.Expression | None

    def batches(self, columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        yield from self.fragment.to_batches(
            schema=self.schema, columns=columns, filter=self.filter, batch_size=BATCH_ROWS, use_threads=True
        )

    def count(self) -> int:
        if self.filter is None:
            return self.fragment.row_groups[0].num_rows
        # Parquet answers from the footer when statistics show the filter keeps the whole group.
        return self.fragment.scanner(schema=self.schema, filter=self.filter, columns=[]).count_rows()

    def value_range(self, field: str) -> tuple[Any, Any] | None:
        stats = self.fragment.row_groups[0].statistics or {}
        found = stats.get(field)
        if not found or "min" not in found or "max" not in found:
            return None
        return found["min"], found["max"]


class Source(Protocol):
    """The data, as pieces."""

    schema: pa.Schema

    def pieces(self, selector_filter: ds.Expression | None) -> list[Piece]:
        """The pieces that may hold rows passing ``selector_filter``, in data order."""

    def count_rows(self) -> int:
        """Rows in the data (after the dataset's own filter)."""


class TableSource:
    """An in-memory table, in slices."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.schema = table.schema

    def pieces(self, selector_filter: ds.Expression | None) -> list[Piece]:
        starts = range(0, max(self.table.num_rows, 1), TABLE_PIECE_ROWS)
        return [TablePiece(self.table.slice(start, TABLE_PIECE_ROWS), selector_filter) for start in starts]

    def count_rows(self) -> int:
        return self.table.num_rows


class DatasetSource:
    """Any dataset, read as one piece."""

    def __init__(self, dataset: ds.Dataset) -> None:
        self.dataset = dataset
        self.schema = dataset.schema

    def pieces(self, selector_filter: ds.Expression | None) -> list[Piece]:
        return [DatasetPiece(self.dataset, selector_filter)]

    def count_rows(self) -> int:
        return self.dataset.count_rows()


class ParquetSource:
    """A Parquet file-system dataset, one piece per row group.

    A filtered dataset (``Dataset.filter``) hides its fragments; pyarrow keeps
    the filter in ``_scan_options`` and lists the fragments through
    ``_get_fragments``. :func:`open_source` falls back to :class:`DatasetSource`
    when a pyarrow release no longer has them.
    """

    def __init__(self, dataset: ds.FileSystemDataset, data_filter: ds.Expression | None, fragments: list) -> None:
        self.dataset = dataset
        self.schema = dataset.schema
        self.data_filter = data_filter
        self.fragments = fragments

    def pieces(self, selector_filter: ds.Expression | None) -> list[Piece]:
        combined = _and(self.data_filter, selector_filter)
        pieces: list[Piece] = []
        for fragment in self.fragments:
            # split_by_row_group drops row groups whose statistics rule the filter out.
            for group in fragment.split_by_row_group(combined, schema=self.schema):
                pieces.append(RowGroupPiece(group, self.schema, combined))
        return pieces

    def count_rows(self) -> int:
        return self.dataset.count_rows()


def open_source(data: pa.Table | ds.Dataset) -> Source:
    """The source for ``data``: a table, or a dataset (possibly from ``Dataset.filter``)."""
    if isinstance(data, pa.Table):
        return TableSource(data)
    if not isinstance(data, ds.Dataset):
        raise SelectionError(f"data must be a pyarrow Table or Dataset, got {type(data).__name__}")
    if isinstance(data, ds.FileSystemDataset) and isinstance(data.format, ds.ParquetFileFormat):
        try:
            options = getattr(data, "_scan_options", None) or {}
            data_filter = options.get("filter")
            if set(options) - {"filter"}:
                return DatasetSource(data)  # a projection or option the pieces would not honour
            fragments = list(data._get_fragments(data_filter))
        except (AttributeError, TypeError):
            return DatasetSource(data)
        return ParquetSource(data, data_filter, fragments)
    return DatasetSource(data)


def _and(a: ds.Expression | None, b: ds.Expression | None) -> ds.Expression | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def fetch(picks: Sequence[tuple[Piece, np.ndarray]], schema: pa.Schema) -> pa.Table:
    """Full rows at sorted ``offsets`` of each piece, concatenated in the order given."""
    tables = list(ordered_map(lambda pick: _fetch_piece(pick[0], pick[1]), picks))
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


def _fetch_piece(piece: Piece, offsets: np.ndarray) -> pa.Table:
    direct = piece.take(offsets) if isinstance(piece, TablePiece) else None
    if direct is not None:
        return direct
    parts = []
    start = 0
    last = int(offsets[-1])
    for batch in piece.batches(None):
        end = start + batch.num_rows
        lo, hi = np.searchsorted(offsets, [start, end])
        if hi > lo:
            parts.append(batch.take(pa.array(offsets[lo:hi] - start)))
        start = end
        if start > last:
            break  # Later batches hold no winner; stop reading.
    if not parts:
        raise SelectionError(f"offsets {offsets.tolist()[:5]} are past the end of a piece: the data changed while read")
    return pa.Table.from_batches(parts)
