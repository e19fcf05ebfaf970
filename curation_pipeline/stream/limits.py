"""Bounds on untrusted records: width, value sizes, nesting, and which value kinds are declared.

The stream is flat: scalar values (numbers, booleans, strings, timestamps)
under named columns. A producer may declare more with ``allow_nested=True``
(dicts and lists become Arrow structs and lists, up to ``max_depth`` levels)
and ``allow_binary=True`` (bytes values). Every batch is checked against
:class:`RecordLimits` before anything is converted or written, so one hostile
record (100,000 columns, a 1 GB string, a dict nested 100,000 deep) is refused
with an :class:`~curation_pipeline.stream.errors.InvalidRecordsError` naming
the limit, the record and the field, instead of making every later read of its
day expensive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation_pipeline.fields import RECORD_ID
from curation_pipeline.stream.errors import InvalidRecordsError


@dataclass(frozen=True)
class RecordLimits:
    """The bounds :func:`~curation_pipeline.stream.log_records` enforces (defaults in parentheses).

    Attributes:
        max_columns: columns per record, ``record_id`` and ``__time`` included (1,000).
        max_value_bytes: bytes of one string (UTF-8) or binary value (1 MiB).
        max_depth: levels of a declared nested value; a list of scalars is 1 (8).
    """

    max_columns: int = 1_000
    max_value_bytes: int = 1 << 20
    max_depth: int = 8


DEFAULT_LIMITS = RecordLimits()


@dataclass(frozen=True)
class Declared:
    """The value kinds a producer declared beyond flat scalars, and the limits in force."""

    allow_nested: bool = False
    allow_binary: bool = False
    limits: RecordLimits = DEFAULT_LIMITS


def record_label(row: int, record_id: object = None) -> str:
    """How a message names a record: its position in the batch and, when given, its id."""
    shown = f" ({RECORD_ID} {_short(record_id)})" if isinstance(record_id, str) else ""
    return f"record {row}{shown}"


# -- rows given as dicts: checked value by value before Arrow sees them ------------


def check_row(row: int, values: Mapping[Any, object], declared: Declared) -> None:
    """Check one dict record's width and each of its values."""
    limits = declared.limits
    label = record_label(row, values.get(RECORD_ID))
    if len(values) > limits.max_columns:
        field = list(values)[limits.max_columns]
        raise InvalidRecordsError(
            f"{label} has {len(values)} columns, over the limit of {limits.max_columns} columns per record "
            f"(max_columns; first field over it: {_short(field)})"
        )
    for field, value in values.items():
        check_value(value, declared, label, field)


def check_width(
    names: Sequence[object], row_of: Mapping[object, int], rows: Sequence[Mapping[Any, object]], declared: Declared
) -> None:
    """Refuse a batch whose columns (the union over its dict records) exceed the width limit.

    Every record is stored with the batch's columns, so the union is what
    counts; ``row_of`` names the record that brought each column in.
    """
    limit = declared.limits.max_columns
    if len(names) <= limit:
        return
    field = names[limit]
    row = row_of[field]
    label = record_label(row, rows[row].get(RECORD_ID))
    raise InvalidRecordsError(
        f"the batch has {len(names)} columns, over the limit of {limit} columns per record (max_columns): "
        f"{label} adds field {_short(field)}, column {limit + 1}"
    )


def check_value(value: object, declared: Declared, label: str, field: object) -> None:
    """Refuse an undeclared nested or binary value, or one over the size or depth limits."""
    if isinstance(value, str):
        _check_text(value, declared.limits, label, field)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        if not declared.allow_binary:
            raise InvalidRecordsError(
                f"{label}, field {_short(field)}: binary value refused; the stream is flat "
                "(declare binary values with allow_binary=True)"
            )
        if len(value) > declared.limits.max_value_bytes:
            raise _too_big(len(value), declared.limits, label, field)
    elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
        if not declared.allow_nested:
            raise InvalidRecordsError(
                f"{label}, field {_short(field)}: nested value ({type(value).__name__}) refused; the stream "
                "is flat (declare nested values with allow_nested=True)"
            )
        _check_nested(value, declared, label, field)


def _check_text(value: str, limits: RecordLimits, label: str, field: object) -> None:
    # A character takes 1 to 4 bytes: encode only when the length leaves a doubt.
    if len(value) > limits.max_value_bytes or (
        4 * len(value) > limits.max_value_bytes and len(value.encode("utf-8", "surrogatepass")) > limits.max_value_bytes
    ):
        raise _too_big(len(value.encode("utf-8", "surrogatepass")), limits, label, field)


def _check_nested(value: object, declared: Declared, label: str, field: object) -> None:
    """Walk a declared nested value without recursion, refusing it past ``max_depth``."""
    limit = declared.limits.max_depth
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise InvalidRecordsError(
                f"{label}, field {_short(field)}: nested deeper than the limit of {limit} levels (max_depth)"
            )
        children = item.values() if isinstance(item, Mapping) else item
        for child in children:  # type: ignore[union-attr]
            if isinstance(child, (Mapping, list, tuple, set, frozenset)):
                stack.append((child, depth + 1))
            else:
                check_value(child, declared, label, field)


# -- tables (and DataFrames once converted): checked column by column ---------------


def check_columns(names: Sequence[object], declared: Declared) -> None:
    """Refuse a table or DataFrame with more columns than the width limit (every record has them all)."""
    limit = declared.limits.max_columns
    if len(names) > limit:
        raise InvalidRecordsError(
            f"every record of the batch has {len(names)} columns, over the limit of {limit} columns per "
            f"record (max_columns; first field over it: {_short(names[limit])})"
        )


def check_table(table: pa.Table, declared: Declared) -> None:
    """Check a table's width, each column's type against the declaration, and its value sizes."""
    limits = declared.limits
    check_columns(table.column_names, declared)
    for name, column in zip(table.column_names, table.columns):
        check_type(name, column.type, declared)
        found = _oversized(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0), limits.max_value_bytes)
        if found is not None:
            row, size = found
            raise _too_big(size, limits, record_label(row, _id_at(table, row)), name)


def check_type(name: str, type_: pa.DataType, declared: Declared) -> None:
    """Refuse an undeclared nested or binary column type, or a nesting deeper than the limit."""
    if _is_nested(type_):
        if not declared.allow_nested:
            raise InvalidRecordsError(
                f"field {_short(name)}: nested column type {_short(str(type_))} refused; the stream is flat "
                "(declare nested values with allow_nested=True)"
            )
        depth = _type_depth(type_)
        if depth > declared.limits.max_depth:
            raise InvalidRecordsError(
                f"field {_short(name)}: nested {depth} levels deep, over the limit of "
                f"{declared.limits.max_depth} levels (max_depth)"
            )
    for leaf in _leaf_types(type_):
        if _is_binary(leaf) and not declared.allow_binary:
            raise InvalidRecordsError(
                f"field {_short(name)}: binary column type {_short(str(type_))} refused; the stream is flat "
                "(declare binary values with allow_binary=True)"
            )


def _is_nested(type_: pa.DataType) -> bool:
    return pa.types.is_nested(type_)


def _is_binary(type_: pa.DataType) -> bool:
    return (
        pa.types.is_binary(type_)
        or pa.types.is_large_binary(type_)
        or pa.types.is_fixed_size_binary(type_)
        or pa.types.is_binary_view(type_)
    )


def _children(type_: pa.DataType) -> list[pa.DataType]:
    if pa.types.is_dictionary(type_):
        return [type_.value_type]
    if pa.types.is_map(type_):
        return [type_.key_type, type_.item_type]
    return [type_.field(i).type for i in range(type_.num_fields)]


def _type_depth(type_: pa.DataType) -> int:
    deepest = 0
    stack = [(type_, 0)]
    while stack:
        current, depth = stack.pop()
        if _is_nested(current):
            depth += 1
            deepest = max(deepest, depth)
        stack.extend((child, depth) for child in _children(current))
    return deepest


def _leaf_types(type_: pa.DataType) -> list[pa.DataType]:
    leaves, stack = [], [type_]
    while stack:
        current = stack.pop()
        children = _children(current)
        if children:
            stack.extend(children)
        else:
            leaves.append(current)
    return leaves


def _oversized(array: pa.Array, limit: int) -> tuple[int, int] | None:
    """``(row, bytes)`` of the first value of ``array`` over ``limit`` bytes, nested values searched too."""
    type_ = array.type
    if pa.types.is_dictionary(type_):
        found = _oversized(array.dictionary, limit)
        if found is None:
            return None
        rows = np.flatnonzero(array.indices.to_numpy(zero_copy_only=False) == found[0])
        return (int(rows[0]), found[1]) if rows.size else None
    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or _is_binary(type_) or pa.types.is_string_view(type_):
        if pa.types.is_fixed_size_binary(type_):
            return (0, type_.byte_width) if type_.byte_width > limit and len(array) else None
        lengths = pc.binary_length(array).to_numpy(zero_copy_only=False)
        lengths = np.nan_to_num(np.asarray(lengths, dtype=np.float64), nan=0)
        over = np.flatnonzero(lengths > limit)
        return (int(over[0]), int(lengths[over[0]])) if over.size else None
    if pa.types.is_struct(type_):
        for i in range(type_.num_fields):
            found = _oversized(array.field(i), limit)
            if found is not None:
                return found
        return None
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_) or pa.types.is_map(type_):
        found = _oversized(array.flatten(), limit)
        if found is None:
            return None
        parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
        return int(parents[found[0]]), found[1]
    return None


def _id_at(table: pa.Table, row: int) -> object:
    if RECORD_ID not in table.column_names:
        return None
    value = table.column(RECORD_ID)[row].as_py()
    return value if isinstance(value, str) else None


def _too_big(size: int, limits: RecordLimits, label: str, field: object) -> InvalidRecordsError:
    return InvalidRecordsError(
        f"{label}, field {_short(field)}: a value of {size:,} bytes, over the limit of "
        f"{limits.max_value_bytes:,} bytes per value (max_value_bytes)"
    )


def _short(value: object, width: int = 80) -> str:
    """``repr`` of a name or id cut to ``width`` characters: a hostile value must not flood the message."""
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 5]}...{text[-2:]}"
