"""Rows of local Parquet files at or past a value of one column, with every column, through polars' reader.

An ordered rule whose winners fill nearly every page of the files it reads
(10,000 of a 100M-row day) pays twice in two passes: a narrow scan of its
column, then a fetch that decompresses every page of every column anyway.
Given a predicate on one column, polars' reader decodes that column first
and the others only for the rows it keeps, so a query with the rule's cut
as the predicate reads each file once and returns only rows that can still
win (docs/decisions.md, "Dense ordered selections in one pass").

polars only reads: the rows past the cut come back with their row numbers
and are filtered, ranked and chosen by the engine, cast to the data's schema.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from types import ModuleType

import pyarrow as pa

from curation_pipeline.selection import late_fetch
from curation_pipeline.selection.late_fetch import LateFetchUnavailable

# The columns a query adds: each row's number within its file, and its file's position among those asked.
ROW = "__curation_row"
FILE = "__curation_file"


@functools.cache
def _polars() -> ModuleType | None:
    """polars, imported on first use (0.17 s that most selections never need); None where it is not installed."""
    try:
        import polars
    except ImportError:  # an install without it selects in two passes
        return None
    return polars


def usable(schema: pa.Schema, field: str) -> bool:
    """Whether rows of files of ``schema`` can be read this way with values identical to pyarrow's.

    The columns must be ones DuckDB's fetch also returns exactly
    (:func:`late_fetch.readable`: flat, no nanosecond timestamps; polars
    reads those types the same), ``field`` numeric, and no column named as
    one the query adds.
    """
    if _polars() is None or not late_fetch.readable(schema) or {ROW, FILE} & set(schema.names):
        return False
    index = schema.get_field_index(field)
    return index >= 0 and (pa.types.is_integer(schema.field(index).type) or pa.types.is_floating(schema.field(index).type))


def rows_past(
    files: Sequence[tuple[str, Sequence[tuple[int, int]]]],
    schema: pa.Schema,
    field: str,
    bound: int | float,
    descending: bool,
    cap: int,
) -> pa.Table:
    """The rows of ``files`` whose ``field`` is at least ``bound`` (at most, ascending): every column, :data:`ROW` and :data:`FILE`.

    ``files``: each local path with the ``[start, end)`` file row numbers to
    read of it. One query over them all, so polars spreads the files over its
    own threads. Rows come cast to ``schema``, plus each row's number in its
    file (:data:`ROW`) and its file's position in ``files`` (:data:`FILE`),
    both int64, file by file in file order. Nulls and NaN never pass (both
    rank after every number).

    Raises :class:`LateFetchUnavailable` when polars fails or more than
    ``cap`` rows pass (a cut too loose to hold in memory): the caller then
    selects in two passes.
    """
    pl = _polars()
    assert pl is not None, "rows_past needs polars (see usable)"
    try:
        column = pl.col(field)
        past = column >= bound if descending else column <= bound
        if pa.types.is_floating(schema.field(field).type):
            past = past & column.is_not_nan()  # polars orders NaN above every number; it never ranks
        frames = []
        for position, (path, ranges) in enumerate(files):
            inside = pl.any_horizontal([pl.col(ROW).is_between(start, end - 1) for start, end in ranges])
            frame = pl.scan_parquet(path, glob=False, hive_partitioning=False).with_row_index(ROW)
            frames.append(frame.filter(past & inside).with_columns(pl.lit(position, pl.Int64).alias(FILE)))
        # polars stops reading once the cap is passed: a cut far looser than the sample promised costs
        # the rows up to it (half of a 100M-row day past the cut: the query gave up after 0.12 s).
        table = pl.concat(frames).head(cap + 1).collect().to_arrow()
    # Building the query may fail too (a value polars takes as no literal); a panic in its reader is no Exception.
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, pa.ArrowException, OSError, OverflowError, ValueError) as error:
        raise LateFetchUnavailable(str(error)) from error
    if table.num_rows > cap:
        raise LateFetchUnavailable(f"more than {cap} rows of {len(files)} files past {bound}")
    try:
        records = table.select(schema.names).cast(schema)
    except (KeyError, pa.ArrowException) as error:  # a column polars named or typed otherwise
        raise LateFetchUnavailable(str(error)) from error
    records = records.append_column(ROW, table.column(ROW).cast(pa.int64()))
    return records.append_column(FILE, table.column(FILE).cast(pa.int64()))
