"""Selector filters as pyarrow dataset expressions, type-checked against the data.

Every filter becomes an expression the scanner pushes down, so Parquet
row-group statistics prune row groups before any value is decoded. A
comparison with null yields null, and the scanner drops rows whose filter is
null: null values never pass a filter.

The same filters also evaluate on columns already in memory
(:class:`Predicate`), with the same compute kernels the expression calls: a
dataset built per batch to evaluate an expression costs several times the
kernels themselves, and a dictionary-encoded column is compared on its
dictionary alone.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

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


# The compute function of each comparison, as the operator an expression (pyarrow's, polars') takes.
OPERATORS = {
    "greater": operator.gt,
    "greater_equal": operator.ge,
    "less": operator.lt,
    "less_equal": operator.le,
    "equal": operator.eq,
}
_SUBSTRING = "match_substring"


@dataclass(frozen=True)
class Comparison:
    """One condition on one column: ``function(column, value)``, as an expression or on arrays in memory."""

    field: str
    function: str  # a key of OPERATORS, or "match_substring" (value: the pattern)
    value: Any
    # The column's type is a dictionary: the expression decodes it first (comparison kernels take no dictionaries).
    decode: pa.DataType | None = None

    def expression(self) -> ds.Expression:
        """The condition as a dataset expression (what the scanner pushes down and prunes row groups by)."""
        column = pc.field(self.field)
        if self.decode is not None:
            column = column.cast(self.decode)
        if self.function == _SUBSTRING:
            return pc.match_substring(column, pattern=self.value)
        return OPERATORS[self.function](column, self.value)

    def evaluate(self, column: pa.Array) -> pa.Array:
        """The condition on ``column`` (booleans, null where the value is null).

        A dictionary-encoded column is compared on its dictionary and the
        results taken by its indices: the same booleans as decoding first.
        """
        if pa.types.is_dictionary(column.type):
            return self._apply(column.dictionary).take(column.indices)
        return self._apply(column)

    def judged_by_range(self, type_: pa.DataType) -> bool:
        """Whether :meth:`may_hold` on the ``(min, max)`` of a ``type_`` column rules rows out exactly as pyarrow's kernel would.

        Python compares numbers exactly and strings by code point (UTF-8's
        byte order, as pyarrow does). pyarrow compares exactly too, but where
        it casts the column to a type that rounds or refuses its values (a
        float bound against a 64-bit integer column, a signed bound against
        an unsigned 64-bit one): those, dictionaries, timestamps and
        substrings are left to pyarrow.
        """
        if self.function not in OPERATORS or self.decode is not None or not isinstance(self.value, pa.Scalar):
            return False
        bound = self.value.type
        if pa.types.is_string(type_) or pa.types.is_large_string(type_):
            return pa.types.is_string(bound) or pa.types.is_large_string(bound)
        if pa.types.is_integer(type_) and pa.types.is_integer(bound):
            return pa.types.is_uint64(bound) or not pa.types.is_uint64(type_)
        if pa.types.is_integer(type_) and _is_float(bound):
            return type_.bit_width <= 32
        return _is_float(type_) and _is_float(bound)

    def may_hold(self, low: Any, high: Any) -> bool:
        """Whether a value within ``[low, high]`` (a row group's non-null values, from its statistics) may meet the condition.

        True where the range cannot tell: a bound missing, NaN, or of
        another kind than the condition's value. See :meth:`judged_by_range`.
        """
        value = self.value.as_py() if isinstance(self.value, pa.Scalar) else self.value
        kinds = (str,) if isinstance(value, str) else (int, float)
        if not all(isinstance(each, kinds) and not isinstance(each, bool) and each == each for each in (low, high)):
            return True
        if self.function == "equal":
            return bool(low <= value <= high)
        if self.function in ("greater", "greater_equal"):
            return bool(OPERATORS[self.function](high, value))
        if self.function in ("less", "less_equal"):
            return bool(OPERATORS[self.function](low, value))
        return True

    def _apply(self, values: pa.Array) -> pa.Array:
        if self.function == _SUBSTRING:
            return pc.match_substring(values, pattern=self.value)
        return pc.call_function(self.function, [values, self.value])


def _is_float(type_: pa.DataType) -> bool:
    return pa.types.is_float32(type_) or pa.types.is_float64(type_)


@dataclass(frozen=True)
class Predicate:
    """The AND of a selector's conditions, evaluated on record batches in memory."""

    comparisons: tuple[Comparison, ...]

    @property
    def fields(self) -> list[str]:
        """The columns the conditions read, each once, in order."""
        return list(dict.fromkeys(c.field for c in self.comparisons))

    def expression(self) -> ds.Expression:
        """The same conditions as one dataset expression."""
        return reduce(lambda a, b: a & b, [c.expression() for c in self.comparisons])

    def mask(self, batch: pa.RecordBatch | pa.Table) -> pa.Array:
        """Where every condition holds on ``batch`` (which holds :attr:`fields`); nulls count as false."""
        result = None
        for comparison in self.comparisons:
            column = batch.column(comparison.field)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            found = comparison.evaluate(column)
            result = found if result is None else pc.and_kleene(result, found)
        assert result is not None  # a predicate has at least one condition
        return result.fill_null(False)


def selector_predicate(selector: Selector, schema: pa.Schema, where: str) -> Predicate | None:
    """Every filter and tag of ``selector`` as one predicate, or None when it has none."""
    comparisons = [c for f in (*selector.filters, *selector.tags) for c in filter_comparisons(f, schema, where)]
    return Predicate(tuple(comparisons)) if comparisons else None


def selector_expression(selector: Selector, schema: pa.Schema, where: str) -> ds.Expression | None:
    """The AND of every filter and tag of ``selector``, or None when it has none."""
    predicate = selector_predicate(selector, schema, where)
    return None if predicate is None else predicate.expression()


def filter_expression(spec: AnyFilter, schema: pa.Schema, where: str) -> ds.Expression:
    """One filter as an expression; raises if its field is missing or its value does not fit."""
    return Predicate(tuple(filter_comparisons(spec, schema, where))).expression()


def filter_comparisons(spec: AnyFilter, schema: pa.Schema, where: str) -> Sequence[Comparison]:
    """One filter as its conditions (AND-ed); raises if its field is missing or its value does not fit."""
    if isinstance(spec, BoundsFilter):
        return _bounds(spec, schema, where)
    if isinstance(spec, EqualsFilter):
        return [_equals(spec.field, spec.equals, schema, f"{where}: equals filter")]
    if isinstance(spec, TagFilter):
        return [_equals(spec.field, spec.value, schema, f"{where}: tag {spec.name!r}")]
    if isinstance(spec, ContainsFilter):
        return [_contains(spec, schema, where)]
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
        return _number(value, type_, field, where)
    raise _mismatch(where, field, type_, value)


def _number(value: int | float, type_: pa.DataType, field: str, where: str) -> pa.Scalar:
    """A numeric filter value as a scalar pyarrow compares with a ``type_`` column without refusing it mid-scan.

    pyarrow casts an integer to a float column's type, and refuses (while
    reading) one that type cannot hold exactly; a float column gets the
    integer as a float when that is exact. An unsigned 64-bit column gets
    an unsigned bound, and an integer past 64 bits signed fits no other.
    """
    if isinstance(value, int) and pa.types.is_floating(type_):
        if float(value) != value:
            raise FieldTypeError(f"{where} on field {field!r}: {value} has no exact {type_} value to compare with")
        return pa.scalar(float(value))
    if isinstance(value, int) and pa.types.is_uint64(type_) and 0 <= value < 2**64:
        # As unsigned: pyarrow casts the column to a signed bound's type, refusing values past 2^63.
        return pa.scalar(value, pa.uint64())
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise FieldTypeError(f"{where} on field {field!r}: {value} is out of range for column type {type_}")
    return pa.scalar(value)


def _bounds(spec: BoundsFilter, schema: pa.Schema, where: str) -> list[Comparison]:
    label = f"{where}: bounds filter"
    type_ = column_type(schema, spec.field, label)
    parts = []
    for function, value in (
        ("greater", spec.lower),
        ("greater_equal", spec.inclusive_lower),
        ("less", spec.upper),
        ("less_equal", spec.inclusive_upper),
    ):
        if value is not None:
            parts.append(Comparison(spec.field, function, _bound_scalar(value, type_, spec.field, label)))
    return parts


def _decoded(type_: pa.DataType) -> pa.DataType | None:
    return type_.value_type if pa.types.is_dictionary(type_) else None


def _equals(field: str, value: object, schema: pa.Schema, where: str) -> Comparison:
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
    scalar = _number(value, type_, field, where) if isinstance(value, (int, float)) and not isinstance(value, bool) else pa.scalar(value)
    # Comparison kernels do not take dictionary arrays; decode first.
    return Comparison(field, "equal", scalar, _decoded(type_))


def _contains(spec: ContainsFilter, schema: pa.Schema, where: str) -> Comparison:
    label = f"{where}: contains filter"
    type_ = column_type(schema, spec.field, label)
    if not is_string_like(type_):
        raise _mismatch(label, spec.field, type_, spec.contains)
    return Comparison(spec.field, _SUBSTRING, spec.contains, _decoded(type_))
