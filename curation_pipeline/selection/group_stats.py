"""Row groups told from statistics a window hands over, without its files' footers.

A stream window too large to hold its files' parsed footers keeps, for each
file, every row group's rows and some columns' raw min, max and null counts
(:class:`FilteredParquet`'s ``group_statistics``). The engine finds the row
groups a window keeps, and each group's range of a rule's field, from
these: a second parse of every footer cost 1 s of a 4.6 s selection over
1,000 files of 1M rows.

The shape is structural (the stream sits above this layer): a mapping from
a file's path to an object with ``schema`` (the file's own), ``rows`` (per
row group), ``columns`` (by name, objects with ``low``, ``high``, ``known``
and ``nulls`` arrays, one entry a row group) and ``compressed_bytes``.
Values are raw, as the footer stores them: numbers, or UTF-8 bytes for
strings. A file or a column missing from it is read from its footer, as
without.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from curation_pipeline.selection.errors import SelectionError
from curation_pipeline.selection.window import TimeRange


class ColumnStats(Protocol):
    """One column's raw statistics in each row group of a file."""

    low: np.ndarray
    high: np.ndarray
    known: np.ndarray
    nulls: np.ndarray  # -1: not told


class FileStats(Protocol):
    """Each row group of one file: its rows, and some columns' statistics by name."""

    schema: pa.Schema
    rows: np.ndarray
    columns: Mapping[str, ColumnStats]
    compressed_bytes: int | None


def handed_over(data: Any) -> Mapping[str, FileStats]:
    """``data.group_statistics`` (by file path), or an empty mapping if it has none.

    Raises:
        SelectionError: it is not a mapping.
    """
    found = getattr(data, "group_statistics", None)
    if found is None:
        return {}
    if not isinstance(found, Mapping):
        raise SelectionError(
            f"the filtered data's group_statistics must be a mapping of file paths, got {type(found).__name__}"
        )
    return found


def value_ranges(stats: FileStats, field: str, type_: pa.DataType) -> list[tuple[Any, Any] | None] | None:
    """``(min, max)`` of ``field`` in each row group as Python values of ``type_`` (None where not told); None when ``stats`` has no such column.

    The values are those pyarrow's ``Statistics.min``/``max`` give for a
    file of ``type_``: numbers as they are, timestamps as datetimes, strings
    decoded (a string statistic that is not UTF-8 counts as not told).
    """
    column = stats.columns.get(field)
    if column is None:
        return None
    known = column.known.tolist()
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return [_decoded(low, high) if present else None for low, high, present in zip(column.low, column.high, known)]
    lows = pa.array(column.low, type_).to_pylist()
    highs = pa.array(column.high, type_).to_pylist()
    return [(low, high) if present else None for low, high, present in zip(lows, highs, known)]


def _decoded(low: bytes, high: bytes) -> tuple[str, str] | None:
    try:
        return low.decode(), high.decode()
    except UnicodeDecodeError:
        return None


def time_judged(stats: FileStats, window: TimeRange) -> list[tuple[bool, bool]] | None:
    """``(kept, whole)`` of each row group by ``window`` (:func:`judge_groups`); None when ``stats`` has no time column."""
    column = stats.columns.get(window.field)
    if column is None:
        return None
    return judge_groups(
        window,
        zip(column.low.tolist(), column.high.tolist(), column.known.tolist(), column.nulls.tolist(), stats.rows.tolist()),
    )


def judge_groups(window: TimeRange, groups: Iterable[tuple[int, int, bool, int, int]]) -> list[tuple[bool, bool]]:
    """``(kept, whole)`` of row groups by ``window``, each given as ``(low, high, known, nulls, rows)`` of its time column.

    ``low``/``high`` are raw (the window's unit) and mean something where
    ``known``; ``nulls`` is -1 when not told. A group of nulls alone keeps
    nothing; a group without a min and max is kept, and cut (filtered row by row).
    """
    judged = []
    for low, high, known, nulls, rows in groups:
        if not known:
            judged.append((False, False) if nulls == rows else (True, False))
        else:
            judged.append(window.judge(low, high, None if nulls < 0 else nulls))
    return judged
