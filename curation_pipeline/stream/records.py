"""Validate a batch of records and normalise it to the stored form.

The stored form: ``record_id`` (string, unique, non-empty), ``__time``
(``timestamp[us, tz=UTC]``, no nulls), then the other columns in the order
given. Every check runs before anything is written, so a bad batch leaves the
store untouched. Row numbers in messages are 0-based positions in the batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from curation_pipeline.stream.errors import InvalidRecordsError
from curation_pipeline.stream.limits import (
    Declared,
    check_columns,
    check_row,
    check_table,
    check_value,
    check_width,
    record_label,
)
from curation_pipeline.stream.layout import PREFIXES, RECORD_ID, TIME, TIME_TYPE, is_record_column

Records = Sequence[Mapping[str, object]] | pd.DataFrame | pa.Table | pa.RecordBatch

_COLUMN_RULE = f"{RECORD_ID!r}, {TIME!r} or '<prefix>.<name>' with prefix in {', '.join(PREFIXES)}"


def to_record_table(records: Records, declared: Declared = Declared()) -> pa.Table:
    """Return ``records`` as a validated table in stored form, or raise InvalidRecordsError.

    Missing ``record_id`` column or null ids get fresh uuid4 strings (a null id
    means "no id given"); a missing ``__time`` column means "now". Records are
    bounded by ``declared`` (:mod:`curation_pipeline.stream.limits`): width,
    value sizes, and nested or binary values only when declared.
    """
    table = _as_table(records, declared)
    check_table(table, declared)
    _check_column_names(table.column_names)
    table = _with_record_ids(table)
    table = _with_times(table)
    table = _with_plain_strings(table)
    others = [name for name in table.column_names if name not in (RECORD_ID, TIME)]
    return table.select([RECORD_ID, TIME, *others]).replace_schema_metadata(None)


def _as_table(records: Records, declared: Declared) -> pa.Table:
    if isinstance(records, pa.Table):
        return records
    if isinstance(records, pa.RecordBatch):
        return pa.Table.from_batches([records])
    if isinstance(records, pd.DataFrame):
        return _from_pandas(records, declared)
    if isinstance(records, Sequence) and not isinstance(records, (str, bytes)):
        return _from_dicts(records, declared)
    raise InvalidRecordsError(
        "records must be a list of dicts, a pandas DataFrame or a pyarrow Table, "
        f"got {type(records).__name__}"
    )


def _from_pandas(frame: pd.DataFrame, declared: Declared) -> pa.Table:
    if not frame.columns.is_unique:
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise InvalidRecordsError(f"duplicate column names: {', '.join(dupes)}")
    check_columns(list(frame.columns), declared)
    _check_column_names(list(frame.columns))
    _check_objects(frame, declared)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        # Arrow names the column in its message ("Conversion failed for column ...").
        raise InvalidRecordsError(f"cannot convert DataFrame to Arrow: {exc}") from None


def _check_objects(frame: pd.DataFrame, declared: Declared) -> None:
    """Python values in object columns, checked before Arrow converts (and recurses into) them."""
    ids = frame[RECORD_ID] if RECORD_ID in frame.columns else None
    for name in frame.columns:
        if frame[name].dtype != object:
            continue
        for row, value in enumerate(frame[name].array):
            if not isinstance(value, (int, float, bool, type(None))):
                check_value(value, declared, record_label(row, None if ids is None else ids.iat[row]), name)


def _from_dicts(rows: Sequence[Mapping[str, object]], declared: Declared) -> pa.Table:
    names: dict[str, None] = {}  # insertion-ordered union of keys over all rows
    row_of: dict[object, int] = {}  # the first row holding each key
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidRecordsError(f"row {i} is a {type(row).__name__}, expected a dict")
        check_row(i, row, declared)
        for key in row:
            if key not in names:
                names[key] = None
                row_of[key] = i
        if len(names) > declared.limits.max_columns:
            check_width(list(names), row_of, rows, declared)
    _check_column_names(list(names))
    columns = {}
    for name in names:
        try:
            columns[name] = pa.array([row.get(name) for row in rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) as exc:
            raise InvalidRecordsError(f"column {name!r}: values of mixed or unsupported types: {exc}") from None
    if not columns:  # e.g. [{}, {}]: rows with nothing but generated ids and times
        return pa.table({"_": pa.nulls(len(rows))}).drop_columns(["_"])
    return pa.table(columns)


def _check_column_names(names: Sequence[object]) -> None:
    bad = [name for name in names if not is_record_column(name)]
    if bad:
        shown = ", ".join(repr(name) for name in bad[:5])
        raise InvalidRecordsError(f"invalid column name(s) {shown}: columns must be {_COLUMN_RULE}")
    seen: set[object] = set()
    dupes = sorted({str(name) for name in names if name in seen or seen.add(name)})
    if dupes:
        raise InvalidRecordsError(f"duplicate column names: {', '.join(dupes)}")


def _with_record_ids(table: pa.Table) -> pa.Table:
    if RECORD_ID not in table.column_names:
        return table.append_column(RECORD_ID, _new_ids(table.num_rows))
    index = table.column_names.index(RECORD_ID)
    ids = table.column(index)
    if pa.types.is_null(ids.type):
        return table.set_column(index, RECORD_ID, _new_ids(table.num_rows))
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type) or pa.types.is_string_view(ids.type)):
        raise InvalidRecordsError(
            f"column {RECORD_ID!r} must hold strings, got {ids.type} (convert ids with str() first)"
        )
    ids = ids.cast(pa.string()).combine_chunks()
    if ids.null_count:
        ids = pc.if_else(ids.is_null(), _new_ids(len(ids)), ids)
    empty = pc.indices_nonzero(pc.equal(ids, "")).to_pylist()
    if empty:
        raise InvalidRecordsError(f"empty {RECORD_ID!r} at row(s) {_rows(empty)}")
    _check_unique(ids)
    return table.set_column(index, RECORD_ID, ids)


def _new_ids(count: int) -> pa.Array:
    return pa.array([str(uuid.uuid4()) for _ in range(count)], pa.string())


def _check_unique(ids: pa.Array) -> None:
    if len(pc.unique(ids)) == len(ids):
        return
    counts = pc.value_counts(ids)
    dupes = counts.filter(pc.greater(counts.field("counts"), 1)).field("values").to_pylist()
    details = "; ".join(
        f"{value!r} at rows {_rows(pc.indices_nonzero(pc.equal(ids, value)).to_pylist())}"
        for value in dupes[:3]
    )
    more = f" (and {len(dupes) - 3} more)" if len(dupes) > 3 else ""
    raise InvalidRecordsError(f"duplicate {RECORD_ID!r} in batch: {details}{more}")


def _with_times(table: pa.Table) -> pa.Table:
    if TIME not in table.column_names:
        now = pa.scalar(datetime.now(timezone.utc), TIME_TYPE)
        return table.append_column(TIME, pa.repeat(now, table.num_rows))
    index = table.column_names.index(TIME)
    times = to_utc_micros(table.column(index).combine_chunks())
    return table.set_column(index, TIME, times)


def to_utc_micros(values: pa.Array) -> pa.Array:
    """``values`` as ``timestamp[us, tz=UTC]``; timestamps of any unit/zone or ISO-8601 strings.

    Naive timestamps are taken as UTC; nanoseconds are truncated to microseconds.
    """
    kind = values.type
    if pa.types.is_timestamp(kind):
        result = _timestamps_to_utc(values)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        result = _parse_iso(values)
    elif pa.types.is_null(kind):
        result = pa.nulls(len(values), TIME_TYPE)
    else:
        raise InvalidRecordsError(
            f"column {TIME!r} must hold timestamps or ISO-8601 strings, got {kind}"
        )
    if result.null_count:
        nulls = pc.indices_nonzero(result.is_null()).to_pylist()
        raise InvalidRecordsError(f"null {TIME!r} at row(s) {_rows(nulls)}")
    return result


def _timestamps_to_utc(values: pa.Array) -> pa.Array:
    # Re-labelling as UTC is free: Arrow stores zoned values as UTC already and
    # naive ones are defined to mean UTC here.
    unit = values.type.unit
    relabelled = values.cast(pa.timestamp(unit, tz="UTC"))
    try:
        # ns -> us can only lose sub-microsecond digits (truncated on purpose);
        # s/ms -> us can overflow, which must fail loudly.
        return relabelled.cast(TIME_TYPE, safe=unit != "ns")
    except pa.ArrowInvalid as exc:
        raise InvalidRecordsError(f"column {TIME!r}: timestamps out of range: {exc}") from None


def _parse_iso(values: pa.Array) -> pa.Array:
    raw = values.cast(pa.string()).to_numpy(zero_copy_only=False)
    parsed = pd.to_datetime(pd.Series(raw, dtype=object), format="ISO8601", utc=True, errors="coerce")
    failed = np.flatnonzero(parsed.isna().to_numpy() & ~pd.isna(raw))
    if len(failed):
        row = int(failed[0])
        raise InvalidRecordsError(
            f"column {TIME!r}: {raw[row]!r} at row {row} is not an ISO-8601 timestamp"
            + (f" ({len(failed) - 1} more bad rows)" if len(failed) > 1 else "")
        )
    return _timestamps_to_utc(pa.array(parsed, from_pandas=True))


def _with_plain_strings(table: pa.Table) -> pa.Table:
    # pandas 3 produces large_string; one string type keeps files from
    # different writers on one schema without promotion.
    for index, field in enumerate(table.schema):
        if pa.types.is_large_string(field.type) or pa.types.is_string_view(field.type):
            table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
    return table


def _rows(indices: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:5])
    return shown + (f" (and {len(indices) - 5} more)" if len(indices) > 5 else "")
