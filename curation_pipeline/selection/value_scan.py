"""Rows of local Parquet files at or past a value of one column, with every column, through polars' reader.

An ordered rule whose winners fill nearly every page of the files it reads
(10,000 of a 100M-row day) pays twice in two passes: a narrow scan of its
column, then a fetch that decompresses every page of every column anyway.
Given a predicate on one column, polars' reader decodes that column first
and the others only for the rows it keeps, so a query with the rule's cut
as the predicate reads each file once and returns only rows that can still
win (docs/decisions.md, "Dense ordered selections in one pass").

A selector's own bounds on that column (a bounded range: ``0.45 <
confidence < 0.55``) join the predicate, and polars counts the rows they
keep, where it evaluates them exactly as pyarrow's kernels do
(:func:`condition`).

A query reads its files in one scan (:func:`_frame`); the caller bounds
its files (polars' memory grows faster than their number). A uniform
rule's matches are found the same way (:func:`matched_rows`).

polars only reads and counts: the rows past the cut come back with
their row numbers and are filtered, ranked and chosen by the engine, cast to
the data's schema.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa

from curation_pipeline.fields import RECORD_ID
from curation_pipeline.selection import late_fetch
from curation_pipeline.selection.filters import OPERATORS, Comparison
from curation_pipeline.selection.late_fetch import LateFetchUnavailable

# The columns a query adds: each row's number within its file, and its file's position among those asked.
ROW = "__curation_row"
FILE = "__curation_file"
# Each row's number among all the rows of a query's files, in their order (see _frame).
_GLOBAL = "__curation_global"
# counted_rows_past's columns: the matched rows, and the rows past the bound (a list).
_COUNT = "__curation_count"
_FOUND = "__curation_found"
# Local files, each with the [start, end) row numbers to read of it and its rows in all.
FileRows = Sequence[tuple[str, Sequence[tuple[int, int]], int]]


@functools.cache
def _polars() -> ModuleType | None:
    """polars, imported on first use (0.17 s that most selections never need); None where it is not installed."""
    try:
        import polars
    except ImportError:  # an install without it selects in two passes
        return None
    return polars


def usable(schema: pa.Schema, field: str, comparisons: Sequence[Comparison] = ()) -> bool:
    """Whether rows of files of ``schema`` can be read this way with values identical to pyarrow's.

    The columns must be ones DuckDB's fetch also returns exactly
    (:func:`late_fetch.readable`: flat, no nanosecond timestamps; polars
    reads those types the same), ``field`` numeric, no column named as
    one the query adds, and ``comparisons`` (a selector's conditions) ones
    :func:`condition` translates.
    """
    if _polars() is None or not late_fetch.readable(schema) or {ROW, FILE} & set(schema.names):
        return False
    index = schema.get_field_index(field)
    if index < 0 or not (pa.types.is_integer(schema.field(index).type) or pa.types.is_floating(schema.field(index).type)):
        return False
    return not comparisons or condition(schema, field, comparisons) is not None


def condition(schema: pa.Schema, field: str, comparisons: Sequence[Comparison]) -> Any | None:
    """``comparisons``, conditions on the numeric column ``field``, as one polars expression keeping exactly the rows pyarrow's kernels keep; None where it cannot.

    pyarrow compares in a common type, and drops nulls and NaN (every
    comparison with NaN is false). polars orders NaN above every number
    (``NaN > 0.45`` holds) and casts a float literal to a float32 column's
    type, so the expression compares integers as 128-bit integers and
    floats as float64 (exact for every value either holds) and sets NaN
    aside. Not translated (two passes read the selection instead): a
    condition on another column, a NaN bound, a condition other than the
    five comparisons, and the bounds pyarrow itself would round or refuse
    (an integer past float precision against a float column, a float
    against a 64-bit integer column, a signed bound against an unsigned
    64-bit column).
    """
    pl = _polars()
    type_ = schema.field(field).type if schema.get_field_index(field) >= 0 else None
    if pl is None or type_ is None or not comparisons:
        return None
    terms = [_term(type_, field, comparison) for comparison in comparisons]
    if any(term is None for term in terms):
        return None
    expressions = []
    for function, as_float, value in terms:  # type: ignore[misc]
        kind = pl.Float64 if as_float else pl.Int128
        expressions.append(OPERATORS[function](pl.col(field).cast(kind), pl.lit(value, kind)))
    if pa.types.is_floating(type_):
        expressions.append(pl.col(field).is_not_nan())
    return pl.all_horizontal(expressions)


def _term(type_: pa.DataType, field: str, comparison: Comparison) -> tuple[str, bool, int | float] | None:
    """``comparison`` on the column ``field`` of ``type_`` as ``(function, compared as float64, bound)``; None where not exact (:func:`condition`).

    Compared as float64 or, for integers, as 128-bit integers: exact for
    every value either side holds, so the rows kept are pyarrow's.
    """
    floating = pa.types.is_floating(type_)
    if not (floating or pa.types.is_integer(type_)):
        return None
    if comparison.field != field or comparison.function not in OPERATORS or comparison.decode is not None:
        return None
    if not isinstance(comparison.value, pa.Scalar):
        return None
    value = comparison.value.as_py()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and value != value:
        return None  # NaN: pyarrow keeps no row, polars orders NaN above every number
    if floating:
        # pyarrow casts an integer bound to the column's float type, refusing one it would round.
        if isinstance(value, int) and abs(value) > 2 ** (24 if type_.bit_width == 32 else 53):
            return None
        return comparison.function, True, float(value)
    if isinstance(value, float):
        if type_.bit_width == 64:
            return None  # pyarrow casts the column to float64, refusing values past 2^53
        return comparison.function, True, value
    if pa.types.is_uint64(type_) and not pa.types.is_uint64(comparison.value.type):
        return None  # pyarrow casts the column to the bound's signed type, refusing values past 2^63
    return comparison.function, False, value


def count_where(
    files: FileRows, schema: pa.Schema, field: str, comparisons: Sequence[Comparison]
) -> int:
    """How many rows of ``files`` (as :func:`rows_past` takes them) ``comparisons`` keep, counted by polars.

    ``comparisons`` must be ones :func:`condition` translates. Raises
    :class:`LateFetchUnavailable` when polars fails.
    """
    pl = _polars()
    assert pl is not None, "count_where needs polars (see usable)"
    where = condition(schema, field, comparisons)
    assert where is not None, "count_where needs comparisons polars evaluates exactly (see usable)"
    if not files:
        return 0
    try:
        return int(_frame(pl, files).filter(where).select(pl.len()).collect().item())
    except _failures(pl) as error:
        raise LateFetchUnavailable(str(error)) from error


def _failures(pl: ModuleType) -> tuple[type[BaseException], ...]:
    """What a polars query may raise where the caller then reads in two passes.

    Building the query may fail too (a value polars takes as no literal); a
    panic in its reader is no Exception.
    """
    return (pl.exceptions.PolarsError, pl.exceptions.PanicException, pa.ArrowException, OSError, OverflowError, ValueError)


def _frame(pl: ModuleType, files: FileRows, *, numbered: bool = False) -> Any:
    """One lazy scan of every file of ``files``, keeping the rows in their ranges; with :data:`_GLOBAL` if ``numbered``.

    One scan of the files rather than a scan a file joined together: polars
    plans a union of scans in a time growing faster than their number
    (the rows of 1,440 small files meeting a condition: 23-26 s joined,
    0.27-0.31 s in one scan; of 144 files, 0.33-0.41 against 0.03-0.04 s).
    Rows are numbered across the files (:func:`_located` tells each row's
    file and number in it) only where asked or where a range leaves rows
    out: numbering 100M rows costs polars 0.03-0.05 s.

    Raises :class:`LateFetchUnavailable` for more rows than polars numbers.
    """
    offsets = _offsets(files)
    if offsets[-1] >= 1 << (32 if pl.get_index_type() == pl.UInt32 else 64):
        raise LateFetchUnavailable(f"{offsets[-1]} rows in one query: more than polars numbers")
    kept = _merged([(offset + start, offset + end) for (_, ranges, _), offset in zip(files, offsets) for start, end in ranges])
    frame = pl.scan_parquet([path for path, _, _ in files], glob=False, hive_partitioning=False)
    whole = kept == [(0, int(offsets[-1]))]
    if whole and not numbered:
        return frame
    frame = frame.with_row_index(_GLOBAL)
    if whole:
        return frame
    # Each row's range found by a binary search of the ranges' starts (a row before the first
    # takes end 0): a test of every range for every row would cost rows times ranges.
    starts = pl.lit(pl.Series([start for start, _ in kept], dtype=pl.Int64))
    ends = pl.lit(pl.Series([0, *(end for _, end in kept)], dtype=pl.Int64))
    return frame.filter(pl.col(_GLOBAL) < ends.gather(starts.search_sorted(pl.col(_GLOBAL), side="right")))


def _offsets(files: FileRows) -> np.ndarray:
    """The number of each file's first row among all the rows of ``files``, and their rows in all (last)."""
    return np.cumsum([0, *(rows for _, _, rows in files)], dtype=np.int64)


def _merged(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``ranges`` (ascending, apart) with each run of adjacent ones as one."""
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        elif end > start:
            merged.append((start, end))
    return merged


def _arrow(frame: Any) -> pa.Table:
    """polars' ``frame`` as an Arrow table of one chunk.

    Rechunked by polars first: a scan of many files comes a chunk a file
    or row group, and polars converts each chunk of each column on its own.
    The rows of 1,440 small files past a cut, 31,393 in all from three
    queries of up to 600 files (1,439 chunks in all), took 0.30 s to
    convert as they came and 0.03 s rechunked first.
    """
    return frame.rechunk().to_arrow()


def _located(table: pa.Table, files: FileRows) -> pa.Table:
    """``table`` (one chunk, from :func:`_arrow`) with its :data:`_GLOBAL` column replaced by each row's number in its file (:data:`ROW`) and its file's position (:data:`FILE`).

    One chunk, as a query of many files would otherwise come (a chunk a
    row group: 1,595 for 16,661 rows of 100 files), for every later take
    and filter pays for each.
    """
    offsets = _offsets(files)
    numbers = table.column(_GLOBAL).to_numpy().astype(np.int64)
    if np.any(numbers[1:] < numbers[:-1]):
        # The callers split the rows file by file, each in file order: one scan gives that order; should it not, sorted.
        order = np.argsort(numbers, kind="stable")
        table, numbers = table.take(pa.array(order)), numbers[order]
    positions = np.searchsorted(offsets, numbers, side="right") - 1
    table = table.drop_columns([_GLOBAL])
    return table.append_column(ROW, pa.array(numbers - offsets[positions])).append_column(FILE, pa.array(positions))


def rows_past(
    files: FileRows,
    schema: pa.Schema,
    field: str,
    bound: int | float,
    descending: bool,
    cap: int,
    comparisons: Sequence[Comparison] = (),
    *,
    narrow: bool = False,
    ids: bool = False,
) -> pa.Table:
    """The rows of ``files`` whose ``field`` is at least ``bound`` (at most, ascending): every column, :data:`ROW` and :data:`FILE`.

    ``files``: each local path with the ``[start, end)`` file row numbers to
    read of it and its rows in all. One query over them all, so polars spreads the files over its
    own threads. Rows come cast to ``schema``, plus each row's number in its
    file (:data:`ROW`) and its file's position in ``files`` (:data:`FILE`),
    both int64, file by file in file order. Nulls and NaN never pass (both
    rank after every number). ``comparisons``: a selector's conditions on
    ``field``, which the rows must also meet (:func:`condition` translates
    them). ``narrow``: ``field`` alone, with :data:`ROW` and :data:`FILE`
    (polars then reads no other column), and ``record_id`` too if ``ids``
    (polars decodes a page of it for each row that passes).

    Raises :class:`LateFetchUnavailable` when polars fails or more than
    ``cap`` rows pass (a cut too loose to hold in memory): the caller then
    selects in two passes.
    """
    pl = _polars()
    assert pl is not None, "rows_past needs polars (see usable)"
    try:
        past = _past(pl, schema, field, bound, descending)
        if comparisons:
            where = condition(schema, field, comparisons)
            assert where is not None, "rows_past needs comparisons polars evaluates exactly (see usable)"
            past = past & where
        names = ([field, RECORD_ID] if ids and field != RECORD_ID else [field]) if narrow else schema.names
        # polars stops reading once the cap is passed: a cut far looser than the sample promised costs
        # the rows up to it (half of a 100M-row day past the cut: the query gave up after 0.12 s).
        query = _frame(pl, files, numbered=True).filter(past).select(*names, _GLOBAL).head(cap + 1)
        table = _arrow(query.collect())
    except _failures(pl) as error:
        raise LateFetchUnavailable(str(error)) from error
    if table.num_rows > cap:
        raise LateFetchUnavailable(f"more than {cap} rows of {len(files)} files past {bound}")
    return _typed(_located(table, files), pa.schema([schema.field(name) for name in names]), numbered=True)


def counted_rows_past(
    files: FileRows, schema: pa.Schema, field: str, bound: int | float, descending: bool, cap: int, comparisons: Sequence[Comparison]
) -> tuple[pa.Table, int]:
    """:func:`rows_past` read narrow, and how many rows of ``files`` ``comparisons`` keep, from one read of ``field``.

    Counting apart from the query decodes the column twice: 1.5-1.6 s
    against 0.9 s for 100M confidences. The rows past ``bound`` are
    gathered as a list beside the count, so at most ``cap + 1`` of them are
    held. ``comparisons`` must be ones :func:`condition`
    translates (at least one). Raises :class:`LateFetchUnavailable` as
    :func:`rows_past` does.
    """
    pl = _polars()
    assert pl is not None, "counted_rows_past needs polars (see usable)"
    where = condition(schema, field, comparisons)
    assert where is not None, "counted_rows_past needs comparisons polars evaluates exactly (see usable)"
    try:
        past = _past(pl, schema, field, bound, descending)
        found = pl.struct(field, _GLOBAL).filter(past).head(cap + 1).implode().alias(_FOUND)
        counts = _frame(pl, files, numbered=True).filter(where).select(pl.len().cast(pl.Int64).alias(_COUNT), found).collect()
        rows = _arrow(counts.select(_FOUND).explode(_FOUND).drop_nulls(_FOUND).unnest(_FOUND))
    except _failures(pl) as error:
        raise LateFetchUnavailable(str(error)) from error
    if rows.num_rows > cap:
        raise LateFetchUnavailable(f"more than {cap} rows of {len(files)} files past {bound}")
    return _typed(_located(rows, files), pa.schema([schema.field(field)]), numbered=True), int(counts.get_column(_COUNT).sum())


def _typed(table: pa.Table, target: pa.Schema, *, numbered: bool = False) -> pa.Table:
    """``target``'s columns of polars' ``table``, cast to its types; then, if ``numbered``, :data:`ROW` and :data:`FILE` as int64.

    Raises :class:`LateFetchUnavailable` where polars named or typed a column otherwise.
    """
    try:
        typed = table.select(target.names).cast(target)
    except (KeyError, pa.ArrowException) as error:
        raise LateFetchUnavailable(str(error)) from error
    if numbered:
        typed = typed.append_column(ROW, table.column(ROW).cast(pa.int64()))
        typed = typed.append_column(FILE, table.column(FILE).cast(pa.int64()))
    return typed


def _past(pl: ModuleType, schema: pa.Schema, field: str, bound: int | float, descending: bool) -> Any:
    """The polars condition that ``field`` is at least ``bound`` (at most, ascending); NaN never passes."""
    column = pl.col(field)
    past = column >= bound if descending else column <= bound
    if pa.types.is_floating(schema.field(field).type):
        past = past & column.is_not_nan()  # polars orders NaN above every number; it never ranks
    return past


def prefilter(schema: pa.Schema, comparisons: Sequence[Comparison]) -> Any | None:
    """A polars condition keeping exactly the rows that meet ``comparisons``, where polars can say one; else None.

    Numeric comparisons as :func:`condition` translates them; equality of a
    string column with a string (both compare the bytes; a null matches
    nothing). Given to :func:`rows_at`, it lets polars decode the other
    columns only for the rows it keeps; to :func:`matched_rows`, it finds
    the rows a uniform rule counts.
    """
    pl = _polars()
    if pl is None or not comparisons:
        return None
    terms = []
    for comparison in comparisons:
        type_ = schema.field(comparison.field).type if schema.get_field_index(comparison.field) >= 0 else None
        value = comparison.value.as_py() if isinstance(comparison.value, pa.Scalar) else None
        if type_ is not None and pa.types.is_string(type_) and comparison.function == "equal" and comparison.decode is None:
            if not isinstance(value, str):
                return None
            terms.append(pl.col(comparison.field) == pl.lit(value, pl.String))
            continue
        term = condition(schema, comparison.field, [comparison])
        if term is None:
            return None
        terms.append(term)
    return pl.all_horizontal(terms)


def matched_rows(files: FileRows, where: Any) -> list[np.ndarray]:
    """For each ``(path, ranges, rows)`` of ``files``, the numbers (int64, ascending) of its rows in ``ranges`` that ``where`` (:func:`prefilter`) keeps.

    One query over the files, reading the condition's columns alone: the
    equality of the benchmark's 10M-row day (700,428 rows of 10M) took
    0.04 s, where pyarrow's count keeping the same rows took 0.19-0.20 s.
    Raises :class:`LateFetchUnavailable` where polars fails.
    """
    pl = _polars()
    assert pl is not None, "matched_rows needs polars (see prefilter)"
    try:
        table = _located(_arrow(_frame(pl, files, numbered=True).filter(where).select(_GLOBAL).collect()), files)
    except _failures(pl) as error:
        raise LateFetchUnavailable(str(error)) from error
    positions = table.column(FILE).to_numpy()
    numbers = table.column(ROW).to_numpy()
    bounds = np.searchsorted(positions, np.arange(len(files) + 1))  # file by file, each in file order (one scan)
    return [numbers[low:high] for low, high in zip(bounds[:-1], bounds[1:])]


def rows_at(files: Sequence[tuple[str, np.ndarray, int]], schema: pa.Schema, where: Any) -> list[pa.Table]:
    """Every column of the rows at file row numbers ``rows`` (distinct) of each ``(path, rows, file rows)`` of ``files``, in that order.

    The rows must all meet ``where`` (:func:`prefilter`): polars reads the
    columns it names, and the others only for the rows asked among those
    that meet it. One query over the files. Raises
    :class:`LateFetchUnavailable` where polars fails or returns other rows
    than asked (a row ``where`` does not hold for): the caller reads them
    otherwise.
    """
    pl = _polars()
    assert pl is not None, "rows_at needs polars (see prefilter)"
    whole = [(path, [(0, size)], size) for path, _, size in files]
    offsets = _offsets(whole)
    asked = np.concatenate([rows.astype(np.int64) + offset for (_, rows, _), offset in zip(files, offsets)])
    try:
        wanted = pl.Series(asked).cast(pl.get_index_type()).implode()
        query = _frame(pl, whole, numbered=True).filter(where & pl.col(_GLOBAL).is_in(wanted))
        table = _located(_arrow(query.collect()), whole)
    except _failures(pl) as error:
        raise LateFetchUnavailable(str(error)) from error
    sizes = [rows.size for _, rows, _ in files]
    if table.num_rows != sum(sizes):
        raise LateFetchUnavailable(f"polars returned {table.num_rows} of the {sum(sizes)} rows asked")
    records = _typed(table, schema)
    positions = table.column(FILE).to_numpy()
    numbers = table.column(ROW).to_numpy().astype(np.int64)
    found = []
    start = 0
    for position, (_, rows, _) in enumerate(files):
        # File by file, each in file order (_located): back to the order asked.
        part = records.slice(start, sizes[position])
        got = numbers[start : start + sizes[position]]
        if np.any(positions[start : start + sizes[position]] != position) or np.any(np.sort(rows) != got):
            raise LateFetchUnavailable("polars returned rows other than those asked")
        found.append(part.take(pa.array(np.searchsorted(got, rows))))
        start += sizes[position]
    return found
