"""Selector filters as pyarrow dataset expressions, type-checked against the data.

Every filter becomes an expression the scanner pushes down, so Parquet
row-group statistics prune row groups before any value is decoded. A
comparison with null yields null, and the scanner drops rows whose filter is
null: null values never pass a filter.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from curation_pipeline.curators.selectors import (
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    Selector,
    TagFilter,
)
from curation_pipeline.selection.errors import FieldTypeError, MissingFieldError

AnyFilter = BoundsFilter | EqualsFilter | ContainsFilter | TagFilter


def column_type(schema: pa.Schema, field: str, where: str) -> pa.DataType:
    """The type of column ``field``; :class:`MissingFieldError` if there is none."""
    index = schema.get_field_index(field)
    if index < 0:
        raise MissingFieldError(field, schema.names, where=where)
    return schema.field(index).type


def selector_expression(selector: Selector, schema: pa.Schema, where: str) -> ds.Expression | None:
    """The AND of every filter and tag of ``selector``, or None when it has none."""
    parts = [filter_expression(f, schema, where) for f in (*selector.filters, *selector.tags)]
    return reduce(lambda a, b: a & b, parts) if parts else None


def filter_expression(spec: AnyFilter, schema: pa.Schema, where: str) -> ds.Expression:
    """One filter as an expression; raises if its field is missing or its value does not fit."""
    if isinstance(spec, BoundsFilter):
        return _bounds(spec, schema, where)
    if isinstance(spec, EqualsFilter):
        return _equals(spec.field, spec.equals, schema, f"{where}: equals filter")
    if isinstance(spec, TagFilter):
        return _equals(spec.field, spec.value, schema, f"{where}: tag {spec.name!r}")
    if isinstance(spec, ContainsFilter):
        return _contains(spec, schema, where)
    raise FieldTypeError(f"{where}: unknown filter {type(spec).__name__}")


def is_string_like(type_: pa.DataType) -> bool:
    """String columns, whatever their layout (plain, large, view, dictionary-encoded)."""
    if pa.types.is_dictionary(type_):
        return is_string_like(type_.value_type)
    return pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_string_view(type_)


def _is_numeric(type_: pa.DataType) -> bool:
    return pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_)


def _mismatch(where: str, field: str, type_: pa.DataType, value: object) -> FieldTypeError:
    return FieldTypeError(
        f"{where} on field {field!r}: column type {type_} cannot be compared with "
        f"{value!r} ({type(value).__name__})"
    )


def _bound_scalar(value: object, type_: pa.DataType, field: str, where: str) -> pa.Scalar:
    """A bound as a scalar comparable with the column, or a FieldTypeError."""
    if isinstance(value, dt.datetime):
        if not pa.types.is_timestamp(type_):
            raise _mismatch(where, field, type_, value)
        # Naive bounds mean UTC, as every stream timestamp does.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        if type_.tz is None:
            # A naive timestamp column holds UTC wall-clock values.
            return pa.scalar(aware.astimezone(dt.timezone.utc).replace(tzinfo=None), type=pa.timestamp(type_.unit))
        return pa.scalar(aware, type=type_)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and _is_numeric(type_):
        return pa.scalar(value)
    raise _mismatch(where, field, type_, value)


def _bounds(spec: BoundsFilter, schema: pa.Schema, where: str) -> ds.Expression:
    label = f"{where}: bounds filter"
    type_ = column_type(schema, spec.field, label)
    column = pc.field(spec.field)
    parts = []
    if spec.lower is not None:
        parts.append(column > _bound_scalar(spec.lower, type_, spec.field, label))
    if spec.inclusive_lower is not None:
        parts.append(column >= _bound_scalar(spec.inclusive_lower, type_, spec.field, label))
    if spec.upper is not None:
        parts.append(column < _bound_scalar(spec.upper, type_, spec.field, label))
    if spec.inclusive_upper is not None:
        parts.append(column <= _bound_scalar(spec.inclusive_upper, type_, spec.field, label))
    return reduce(lambda a, b: a & b, parts)


def _equals(field: str, value: object, schema: pa.Schema, where: str) -> ds.Expression:
    type_ = column_type(schema, field, where)
    if isinstance(value, bool):
        fits = pa.types.is_boolean(type_)
    elif isinstance(value, (int, float)):
        fits = _is_numeric(type_)
    elif isinstance(value, str):
        fits = is_string_like(type_)
    else:
        fits = False
    if not fits:
        raise _mismatch(where, field, type_, value)
    column = pc.field(field)
    if pa.types.is_dictionary(type_):
        # Comparison kernels do not take dictionary arrays; decode first.
        column = column.cast(type_.value_type)
    return column == pa.scalar(value)


def _contains(spec: ContainsFilter, schema: pa.Schema, where: str) -> ds.Expression:
    label = f"{where}: contains filter"
    type_ = column_type(schema, spec.field, label)
    if not is_string_like(type_):
        raise _mismatch(label, spec.field, type_, spec.contains)
    column = pc.field(spec.field)
    if pa.types.is_dictionary(type_):
        column = column.cast(type_.value_type)
    return pc.match_substring(column, pattern=spec.contains)
