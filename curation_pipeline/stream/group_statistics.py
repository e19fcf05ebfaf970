"""What a file's footer says of each of its row groups, kept as a few arrays when the parsed footer is not.

A window of more files than it can hold parsed footers for (a day of a
billion rows in 1,000 files: 200 MB parsed) keeps none, and a reader that
needs them parses every footer a second time. Most readers need only each
row group's rows and a few columns' min, max and null count: the selection
engine finds the row groups a window keeps by its time column, and orders
row groups by a rule's column. Those are taken here, once, while the window
has each footer parsed (a few MB for a billion rows), and handed over with
the window (:attr:`~curation_pipeline.stream.StreamWindow.group_statistics`).

Only the columns asked are taken (the time column, ``record_id`` and the
columns a curator's selectors read): each column costs about 0.07 ms a file
of 16 row groups, and a stream may have hundreds. Values are the footer's
raw ones, as its physical type stores them: reading them costs a sixth of
what converting them to Python values does (0.17 against 1.1-2.1
microseconds a value; a timestamp's conversion takes 12). Only columns
whose raw value is the value itself are taken: signed integers, floating
point, timestamps (in the file's unit) and strings (as UTF-8 bytes).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class ColumnStatistics:
    """One column's statistics in each row group of a file, raw (see the module docstring).

    ``low``/``high``: the min and max of each group's non-null values,
    meaningful where ``known`` (int64 or float64; ``bytes`` objects for a
    string column). ``nulls``: each group's null count, -1 where the footer
    does not say.
    """

    low: np.ndarray
    high: np.ndarray
    known: np.ndarray
    nulls: np.ndarray


@dataclass(frozen=True)
class GroupStatistics:
    """Each row group of one file: its rows, and some columns' :class:`ColumnStatistics`, by column name.

    ``schema`` is the file's own schema (its footer's, before any
    unification with other files). ``compressed_bytes``: the compressed bytes
    of every column chunk, when asked for (a remote file's, to plan its copy).
    """

    schema: pa.Schema
    rows: np.ndarray
    columns: Mapping[str, ColumnStatistics]
    compressed_bytes: int | None = None


def group_statistics(
    metadata: pq.FileMetaData, schema: pa.Schema, columns: Collection[str], *, compressed: bool = False
) -> GroupStatistics:
    """The :class:`GroupStatistics` of ``columns`` of a file, from its parsed footer ``metadata`` and its schema ``schema``.

    Columns missing from the file, nested or of other types are left out.
    ``compressed``: also sum every column chunk's compressed bytes.
    """
    groups = [metadata.row_group(index) for index in range(metadata.num_row_groups)]
    leaves = _raw_leaves(metadata, schema, columns)
    found: dict[str, tuple[list, list, list, list]] = {name: ([], [], [], []) for name in leaves}
    for group in groups:
        for name, leaf in leaves.items():
            low, high, known, nulls = found[name]
            stats = group.column(leaf).statistics
            present = stats is not None and stats.has_min_max
            low.append(stats.min_raw if present else None)
            high.append(stats.max_raw if present else None)
            known.append(present)
            nulls.append(stats.null_count if stats is not None and stats.has_null_count else -1)
    columns = {name: _column(schema.field(name).type, *lists) for name, lists in found.items()}
    total = None
    if compressed:
        total = sum(group.column(i).total_compressed_size for group in groups for i in range(group.num_columns))
    rows = np.fromiter((group.num_rows for group in groups), np.int64, len(groups))
    return GroupStatistics(schema, rows, columns, total)


# Physical types whose raw statistics are plain numbers or bytes (INT96 and fixed-length arrays are not).
_RAW_TYPES = frozenset({"INT32", "INT64", "FLOAT", "DOUBLE", "BYTE_ARRAY"})


def _raw_leaves(metadata: pq.FileMetaData, schema: pa.Schema, columns: Collection[str]) -> dict[str, int]:
    """Leaf index of each of ``columns`` that ``schema`` has at the top level, stored flat, whose raw statistics are its values."""
    parquet = metadata.schema
    names = set(schema.names)
    leaves = {}
    for index in range(len(parquet)):
        column = parquet.column(index)
        name = column.path
        if name in columns and name in names and column.physical_type in _RAW_TYPES:
            if _raw_is_value(schema.field(name).type):
                leaves[name] = index
    return leaves


def _raw_is_value(type_: pa.DataType) -> bool:
    """Whether a column of ``type_`` has raw statistics equal to its values (an unsigned integer's may wrap)."""
    return (
        pa.types.is_signed_integer(type_)
        or pa.types.is_floating(type_) and not pa.types.is_float16(type_)
        or pa.types.is_timestamp(type_)
        or pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
    )


def _column(type_: pa.DataType, low: list, high: list, known: list[bool], nulls: list[int]) -> ColumnStatistics:
    dtype: type = np.float64 if pa.types.is_floating(type_) else object if _is_string(type_) else np.int64
    if dtype is not object:
        # Unknown entries take 0: ``known`` says they mean nothing.
        low = [0 if value is None else value for value in low]
        high = [0 if value is None else value for value in high]
    return ColumnStatistics(
        np.array(low, dtype), np.array(high, dtype), np.array(known, bool), np.array(nulls, np.int64)
    )


def _is_string(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)
