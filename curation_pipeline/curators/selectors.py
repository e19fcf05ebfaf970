"""Selectors: which records a curator picks from an interval, as Gantry defines them.

A :class:`Selector` is a sampling ``method``, a ``limit`` and filters. Filters
(``filters`` and ``tags``) are AND-ed; several selectors on one curator are
OR-ed by the selection engine. Every class here is an immutable, validated
value; construction errors raise :class:`CuratorConfigError`.

Selectors as Gantry serialises them load too: a sampler may name its kind
with Gantry's ``sample`` key instead of ``type`` (``{"sample": "ordered", ...}``),
and a filter without ``type`` is told by its fields (``equals``, ``contains``,
or bounds). :class:`OrderingDirection` and :class:`SamplingMethod` are Gantry's
enums; they are accepted wherever their values are.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from curation_pipeline.curators.errors import from_validation_error
from curation_pipeline.fields import TIME

MAX_LIMIT = 10_000


def _valid_unicode(value: str) -> str:
    # A lone surrogate ('\ud800') is a Python str but no Unicode text: it cannot be
    # encoded, so it would fail later, as a raw UnicodeEncodeError, when the field is
    # printed or stored. Refuse it here, where the error can name the field.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"must be valid Unicode text; {value!r} holds a lone surrogate at position {error.start}"
        ) from None
    return value


#: A text field of a spec: any str that is valid Unicode (no lone surrogates).
Text = Annotated[str, AfterValidator(_valid_unicode)]

BoundValue = Union[int, float, dt.datetime]
EqualsValue = Union[bool, int, float, str]


class SpecModel(BaseModel):
    """Base of every spec value: frozen, no unknown fields, errors as CuratorConfigError."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise from_validation_error(error, field_prefix=None) from None


def _non_empty(value: str, what: str) -> str:
    if not value or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return value


class OrderingDirection(str, Enum):
    """Gantry's sort orders of an :class:`OrderedSampler`."""

    ASCENDING = "ascending"
    DESCENDING = "descending"


class SamplingMethod(str, Enum):
    """Gantry's sampling methods: the kinds of sampler (``sample`` or ``type``)."""

    uniform = "uniform"
    ordered = "ordered"
    stratified = "stratified"


def _plain(value: Any) -> Any:
    """An enum member as its value (``SamplingMethod.ordered`` -> ``"ordered"``), anything else as is."""
    return value.value if isinstance(value, Enum) else value


def sampler_kind(data: Any) -> Any:
    """A sampler mapping with Gantry's ``sample`` key written as ``type`` (anything else unchanged).

    Giving both keys is fine when they agree; when they differ, ``sample`` is
    left in place, so validation reports it as an unknown field.
    """
    if not isinstance(data, dict) or "sample" not in data:
        return data
    data = dict(data)
    sample = _plain(data["sample"])
    if "type" not in data or _plain(data["type"]) == sample:
        data.pop("sample")
        data["type"] = sample
    return data


_FILTER_KINDS = (
    ("equals", ("equals",)),
    ("contains", ("contains",)),
    ("bounds", ("upper", "lower", "inclusive_upper", "inclusive_lower")),
)


def filter_kind(data: Any) -> Any:
    """A filter mapping without ``type`` (as Gantry serialises one) given the ``type`` its fields tell."""
    if not isinstance(data, dict) or "type" in data:
        return data
    kinds = [kind for kind, keys in _FILTER_KINDS if any(key in data for key in keys)]
    return {**data, "type": kinds[0]} if len(kinds) == 1 else data


# --- filters -----------------------------------------------------------------


class BoundsFilter(SpecModel):
    """Keep records whose ``field`` lies within bounds.

    ``upper``/``lower`` are exclusive bounds, ``inclusive_upper``/``inclusive_lower``
    inclusive ones. At least one bound is required, and one side may not have
    both an exclusive and an inclusive bound.
    """

    type: Literal["bounds"] = "bounds"
    field: Text
    upper: BoundValue | None = None
    inclusive_upper: BoundValue | None = None
    lower: BoundValue | None = None
    inclusive_lower: BoundValue | None = None

    _check_field = field_validator("field")(lambda cls, v: _non_empty(v, "field"))

    @model_validator(mode="after")
    def _check_bounds(self) -> BoundsFilter:
        if self.upper is not None and self.inclusive_upper is not None:
            raise ValueError("give either upper or inclusive_upper, not both")
        if self.lower is not None and self.inclusive_lower is not None:
            raise ValueError("give either lower or inclusive_lower, not both")
        if self.upper_bound is None and self.lower_bound is None:
            raise ValueError("at least one of upper, inclusive_upper, lower, inclusive_lower is required")
        if self.upper_bound is not None and self.lower_bound is not None:
            _check_ordered(self.lower_bound, self.upper_bound)
        return self

    @property
    def upper_bound(self) -> BoundValue | None:
        """The upper bound, whichever kind was given."""
        return self.upper if self.upper is not None else self.inclusive_upper

    @property
    def lower_bound(self) -> BoundValue | None:
        """The lower bound, whichever kind was given."""
        return self.lower if self.lower is not None else self.inclusive_lower


def _check_ordered(lower: BoundValue, upper: BoundValue) -> None:
    if isinstance(lower, dt.datetime) != isinstance(upper, dt.datetime):
        raise ValueError("lower and upper bounds must both be numbers or both be datetimes")
    if isinstance(lower, dt.datetime) and (lower.tzinfo is None) != (upper.tzinfo is None):
        raise ValueError("lower and upper bounds must both be timezone-aware or both naive")
    if lower > upper:
        raise ValueError(f"lower bound {lower!r} is above upper bound {upper!r}")


class EqualsFilter(SpecModel):
    """Keep records whose ``field`` equals ``equals``."""

    type: Literal["equals"] = "equals"
    field: Text
    equals: EqualsValue

    _check_field = field_validator("field")(lambda cls, v: _non_empty(v, "field"))
    # Not `Text` inside the union: pydantic would name that member in its errors.
    _check_equals = field_validator("equals")(lambda cls, v: _valid_unicode(v) if isinstance(v, str) else v)


class ContainsFilter(SpecModel):
    """Keep records whose string ``field`` contains the substring ``contains``."""

    type: Literal["contains"] = "contains"
    field: Text
    contains: Text

    _check_field = field_validator("field")(lambda cls, v: _non_empty(v, "field"))


class TagFilter(SpecModel):
    """Keep records whose tag ``name`` (column ``tags.<name>``) equals ``value``."""

    name: Text
    value: Text

    _check_name = field_validator("name")(lambda cls, v: _non_empty(v, "tag name"))

    @property
    def field(self) -> str:
        """The stream column this tag lives in."""
        return f"tags.{self.name}"


Filter = Annotated[Union[BoundsFilter, EqualsFilter, ContainsFilter], Field(discriminator="type")]


# --- sampling methods ----------------------------------------------------------


class StratificationMode(str, Enum):
    """How a stratified sampler shares the limit among strata."""

    proportional = "proportional"
    strict = "strict"
    balanced = "balanced"


class SamplerModel(SpecModel):
    """Base of the samplers: Gantry's ``sample`` key is read as ``type``."""

    @model_validator(mode="before")
    @classmethod
    def _gantry_sample_key(cls, data: Any) -> Any:
        return sampler_kind(data)


class UniformSampler(SamplerModel):
    """Every record in the interval has the same chance of being picked."""

    type: Literal["uniform"] = "uniform"


class OrderedSampler(SamplerModel):
    """Pick the first ``limit`` records ordered by ``field`` (ties broken by ``record_id``)."""

    type: Literal["ordered"] = "ordered"
    field: Text = TIME
    sort: Literal["ascending", "descending"] = "descending"

    _check_field = field_validator("field")(lambda cls, v: _non_empty(v, "field"))


class StratifiedSampler(SamplerModel):
    """Share the limit among the distinct values (strata) of ``field``."""

    type: Literal["stratified"] = "stratified"
    field: Text
    mode: StratificationMode = StratificationMode.proportional

    _check_field = field_validator("field")(lambda cls, v: _non_empty(v, "field"))


Sampler = Annotated[Union[UniformSampler, OrderedSampler, StratifiedSampler], Field(discriminator="type")]

# Tags pydantic adds to error locations inside discriminated unions.
UNION_TAGS = frozenset({"bounds", "equals", "contains", "uniform", "ordered", "stratified"})


class Selector(SpecModel):
    """A sampling ``method`` applied to the records that pass every filter, up to ``limit``.

    The default method orders by ``__time``, newest first. ``limit`` is 1 to 10,000.
    """

    method: Sampler = Field(default_factory=lambda: OrderedSampler(field=TIME, sort="descending"))
    # Strict, as Gantry's `limit: int`: the text '10' (a quoted YAML value, a string
    # from Python) is refused, not coerced.
    limit: int = Field(ge=1, le=MAX_LIMIT, strict=True)
    filters: tuple[Filter, ...] = ()
    tags: tuple[TagFilter, ...] = ()

    @field_validator("method", mode="before")
    @classmethod
    def _gantry_method(cls, value: Any) -> Any:
        # Before the union picks a member by `type`: Gantry's `sample` names it.
        return sampler_kind(value)

    @field_validator("filters", mode="before")
    @classmethod
    def _gantry_filters(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [filter_kind(item) for item in value]
        return value

    @field_validator("limit", mode="before")
    @classmethod
    def _strict_int_limit(cls, value: Any) -> Any:
        # A bool is an int to Python; a limit of True is a typo, not 1.
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"limit must be a whole number, got {value!r}")
        # A whole float (YAML `limit: 10.0`) was accepted before strict mode: keep it, as an int.
        if isinstance(value, float):
            return int(value)
        return value

    def fields(self) -> frozenset[str]:
        """Every stream column this selector reads (filters, tags and ranking)."""
        names = {f.field for f in self.filters} | {t.field for t in self.tags}
        method_field = getattr(self.method, "field", None)
        if method_field:
            names.add(method_field)
        return frozenset(names)
