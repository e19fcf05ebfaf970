"""Gantry's stock curators: one selector built from a few stock arguments.

Every stock curator is a row of :data:`STOCK_TABLE`: its stock arguments and
the selector they fill in. Each row becomes a real class (a subclass of
:class:`StockCurator`, so of :class:`Curator`) whose signature is Gantry's:

    ``(name, application_name, limit, <arguments>, curated_dataset_name=None,
    start_on=None, curation_interval=1d, curate_past_intervals=True, <trailing>,
    *, curation_delay=0, enabled=True, recurate_late_within=None)``

Names, positional order and defaults match Gantry's SDK; ``curation_delay`` and
``enabled`` are keyword-only additions. A stock curator builds its own selector,
so passing ``selectors=`` is an error; validation errors name the stock argument
(``limit``, ``sort_field`` ...) rather than the selector field it feeds.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from curation_pipeline.curators.curator import (
    DEFAULT_INTERVAL,
    NO_DELAY,
    Curator,
    Problems,
    check_bool,
    join_field,
)
from curation_pipeline.curators.selectors import BoundValue, EqualsValue, Selector
from curation_pipeline.fields import TIME

# Tells "selectors not given" apart from any value a user could pass, None included.
_NOT_GIVEN: Any = type("_NotGiven", (), {"__repr__": lambda self: "<not given>"})()

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class StockArgument:
    """One stock argument: a constructor parameter that feeds the selector."""

    name: str
    annotation: Any
    doc: str
    default: Any = _EMPTY
    #: A check made before the selector is built, for a value the selector does not see as given.
    check: Callable[[Any, str], Any] | None = None


@dataclass(frozen=True)
class Fill:
    """A place in a selector template, filled with a stock argument (``convert`` ed when given)."""

    argument: str
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class StockRow:
    """One stock curator.

    ``selector`` is the template of its selector's fields (``limit`` is added),
    with :class:`Fill` where a stock argument goes. ``arguments`` follow
    ``limit`` in the signature; ``trailing`` ones follow ``curate_past_intervals``
    (Gantry's order). ``joint`` names the stock arguments behind a selector field
    that no single :class:`Fill` explains (a check across two bounds).
    """

    name: str
    doc: str
    selector: Mapping[str, Any]
    arguments: tuple[StockArgument, ...] = ()
    trailing: tuple[StockArgument, ...] = ()
    joint: Mapping[str, str] = field(default_factory=dict)

    @property
    def stock_arguments(self) -> tuple[StockArgument, ...]:
        """Every stock argument, in constructor order."""
        return (LIMIT, *self.arguments, *self.trailing)

    def signature(self) -> inspect.Signature:
        """The constructor's signature, without ``self``."""
        positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
        keyword = inspect.Parameter.KEYWORD_ONLY
        params = [
            *(inspect.Parameter(n, positional, annotation=a) for n, a in (("name", str), ("application_name", str))),
            *(_parameter(argument) for argument in (LIMIT, *self.arguments)),
            inspect.Parameter("curated_dataset_name", positional, default=None, annotation=str | None),
            inspect.Parameter("start_on", positional, default=None, annotation=dt.datetime | None),
            inspect.Parameter("curation_interval", positional, default=DEFAULT_INTERVAL, annotation=dt.timedelta),
            inspect.Parameter("curate_past_intervals", positional, default=True, annotation=bool),
            *(_parameter(argument) for argument in self.trailing),
            inspect.Parameter("curation_delay", keyword, default=NO_DELAY, annotation=dt.timedelta),
            inspect.Parameter("enabled", keyword, default=True, annotation=bool),
            inspect.Parameter("recurate_late_within", keyword, default=None, annotation=dt.timedelta | None),
            inspect.Parameter("selectors", keyword, default=_NOT_GIVEN, annotation=Any),
        ]
        return inspect.Signature(params, return_annotation=None)

    def field_names(self) -> dict[str, str]:
        """Selector field path -> the stock argument it comes from, for error messages."""
        names: dict[str, str] = {}

        def walk(path: str, value: object) -> None:
            if isinstance(value, Fill):
                names[path] = value.argument
            elif isinstance(value, Mapping):
                for key, item in value.items():
                    walk(f"{path}.{key}" if path else key, item)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(f"{path}[{index}]", item)

        walk("", self.template())
        return {**names, **self.joint}

    def template(self) -> dict[str, Any]:
        """The selector template, ``limit`` included."""
        return {**self.selector, "limit": Fill("limit")}

    def class_doc(self) -> str:
        """The generated class's docstring: what it curates, then its stock arguments."""
        lines = [self.doc, "", "Stock arguments:"]
        lines += [f"    {argument.name}: {argument.doc}" for argument in self.stock_arguments]
        lines += [
            "",
            "The other arguments are :class:`Curator`'s, in Gantry's positional order. This",
            "curator builds its own selector: passing ``selectors`` is an error.",
        ]
        return "\n".join(lines)


def _parameter(argument: StockArgument) -> inspect.Parameter:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Parameter(argument.name, kind, default=argument.default, annotation=argument.annotation)


def _fill(template: object, stock: Mapping[str, Any]) -> Any:
    """The template with every :class:`Fill` replaced by its stock argument."""
    if isinstance(template, Fill):
        value = stock[template.argument]
        return template.convert(value) if template.convert else value
    if isinstance(template, Mapping):
        return {key: _fill(item, stock) for key, item in template.items()}
    if isinstance(template, list):
        return [_fill(item, stock) for item in template]
    return template


# --- the table ----------------------------------------------------------------------

LIMIT = StockArgument("limit", int, "the number of records to curate per interval, 1 to 10,000.")
SORT_FIELD = StockArgument("sort_field", str, "the stream field records are ordered by.")
STRATIFY_FIELD = StockArgument("stratify_field", str, "the stream field whose values are the strata.")


def gantry_equals(value: Any) -> Any:
    """``equals`` as Gantry's EqualityCurator reads it: the strings ``"true"``/``"false"`` (any case) are booleans.

    Gantry converts them so that ``equals="true"`` matches a boolean field;
    every other value is compared as given.
    """
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _sort_word(ascending: bool) -> str:
    return "ascending" if ascending else "descending"


def _ordered(by: object, sort: object) -> dict[str, Any]:
    return {"type": "ordered", "field": by, "sort": sort}


def _stratified(mode: str) -> dict[str, Any]:
    return {"method": {"type": "stratified", "field": Fill("stratify_field"), "mode": mode}}


_UNIFORM = {"type": "uniform"}

STOCK_TABLE: tuple[StockRow, ...] = (
    StockRow(
        "UniformCurator",
        "Up to ``limit`` records picked uniformly at random from each interval.",
        {"method": _UNIFORM},
    ),
    StockRow(
        "NewestCurator",
        "The ``limit`` most recent records of each interval (by ``__time``).",
        {"method": _ordered(TIME, "descending")},
    ),
    StockRow(
        "OldestCurator",
        "The ``limit`` earliest records of each interval (by ``__time``).",
        {"method": _ordered(TIME, "ascending")},
    ),
    StockRow(
        "AscendedSortCurator",
        "The ``limit`` records of each interval with the lowest ``sort_field``.",
        {"method": _ordered(Fill("sort_field"), "ascending")},
        arguments=(SORT_FIELD,),
    ),
    StockRow(
        "DescendedSortCurator",
        "The ``limit`` records of each interval with the highest ``sort_field``.",
        {"method": _ordered(Fill("sort_field"), "descending")},
        arguments=(SORT_FIELD,),
    ),
    StockRow(
        "BoundedRangeCurator",
        "Records with ``lower_bound < bound_field < upper_bound`` (exclusive), up to ``limit``.\n\n"
        "When more records qualify, they are ordered by ``bound_field``, ascending\n"
        "unless ``sort_ascending`` is False.",
        {
            "method": _ordered(Fill("bound_field"), Fill("sort_ascending", _sort_word)),
            "filters": [
                {
                    "type": "bounds",
                    "field": Fill("bound_field"),
                    "upper": Fill("upper_bound"),
                    "lower": Fill("lower_bound"),
                }
            ],
        },
        arguments=(
            StockArgument("bound_field", str, "the stream field that is bounded (and orders the records)."),
            StockArgument("upper_bound", BoundValue, "records lie below it (exclusive); None for no upper bound."),
            StockArgument("lower_bound", BoundValue, "records lie above it (exclusive); None for no lower bound."),
        ),
        trailing=(
            StockArgument(
                "sort_ascending", bool, "order by ``bound_field`` ascending (else descending).", True, check_bool
            ),
        ),
        joint={"filters[0]": "lower_bound, upper_bound"},
    ),
    StockRow(
        "EqualityCurator",
        "Up to ``limit`` records with ``field == equals``, picked uniformly at random.",
        {"method": _UNIFORM, "filters": [{"type": "equals", "field": Fill("field"), "equals": Fill("equals", gantry_equals)}]},
        arguments=(
            StockArgument("field", str, "the stream field compared."),
            StockArgument(
                "equals", EqualsValue, "the value it must equal; the strings 'true' and 'false' mean booleans (Gantry's rule)."
            ),
        ),
    ),
    StockRow(
        "StrictStratificationCurator",
        "Exactly ``limit`` records shared among the values of ``stratify_field`` in proportion.",
        _stratified("strict"),
        arguments=(STRATIFY_FIELD,),
    ),
    StockRow(
        "ProportionalStratificationCurator",
        "Records in the proportions of ``stratify_field``'s values (rounded; may exceed ``limit``).",
        _stratified("proportional"),
        arguments=(STRATIFY_FIELD,),
    ),
    StockRow(
        "BalancedStratificationCurator",
        "The same number of records from each value of ``stratify_field``, up to ``limit``.",
        _stratified("balanced"),
        arguments=(STRATIFY_FIELD,),
    ),
)


# --- the classes --------------------------------------------------------------------


class StockCurator(Curator):
    """The base of every stock curator: validate the arguments, build the one selector, freeze.

    Each subclass is generated from its :class:`StockRow` (``ROW``).
    """

    __slots__ = ()
    ROW: ClassVar[StockRow]
    #: Selector field -> the stock argument it comes from, for error messages.
    FIELD_NAMES: ClassVar[dict[str, str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("StockCurator is the base of the stock curators; build one of them (or a Curator)")

    def _init_stock(self, arguments: Mapping[str, Any]) -> None:
        stock = {argument: arguments[argument] for argument in self.STOCK_ARGUMENTS}
        common = {key: value for key, value in arguments.items() if key not in stock and key != "selectors"}
        problems = Problems(common["name"])
        self._finish(problems, common, lambda found: self._build(found, stock, arguments["selectors"]), stock)

    def _build(self, problems: Problems, stock: dict[str, Any], selectors: object) -> tuple[Selector, ...] | None:
        before = len(problems.errors)
        if selectors is not _NOT_GIVEN:
            problems.add(
                "selectors",
                f"{type(self).__name__} builds its own selector; use Curator(selectors=[...]) for custom selection",
            )
        for argument in self.ROW.stock_arguments:
            if argument.check is not None:
                problems.check(argument.name, argument.check, stock[argument.name], argument.name)
        if len(problems.errors) > before:
            return None
        spec = _fill(self.ROW.template(), stock)
        selector = problems.check("selectors[0]", lambda: Selector(**spec), rename=self._rename)
        return None if selector is None else (selector,)

    def _rename(self, field: str | None) -> str:
        return self.FIELD_NAMES.get(field or "", join_field("selectors[0]", field))


def _stock_property(argument: StockArgument) -> property:
    name = argument.name
    return property(lambda self: self._stock[name], doc=f"The stock argument ``{name}``: {argument.doc}")


def stock_curator_class(row: StockRow) -> type[StockCurator]:
    """The class of one stock curator: its Gantry signature, docstring and stock attributes."""
    signature = row.signature()

    def __init__(self: StockCurator, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{row.name}(): {error}") from None
        bound.apply_defaults()
        self._init_stock(bound.arguments)

    # On __init__ (with self), so inspect.signature finds it for the class and for
    # __init__ alike; a class attribute would be inherited by any subclass.
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    init_signature = signature.replace(parameters=[self_parameter, *signature.parameters.values()])
    __init__.__signature__ = init_signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{row.name}.__init__"
    __init__.__module__ = __name__
    __init__.__doc__ = f"Build a {row.name}; see the class for its arguments."
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__module__": __name__,
        "__qualname__": row.name,
        "__doc__": row.class_doc(),
        "__init__": __init__,
        "ROW": row,
        "STOCK_ARGUMENTS": tuple(argument.name for argument in row.stock_arguments),
        "FIELD_NAMES": row.field_names(),
        **{argument.name: _stock_property(argument) for argument in row.stock_arguments},
    }
    return type(row.name, (StockCurator,), namespace)


#: Every stock curator class, in the order of :data:`STOCK_TABLE`.
STOCK_CURATORS: tuple[type[StockCurator], ...] = tuple(stock_curator_class(row) for row in STOCK_TABLE)

(
    UniformCurator,
    NewestCurator,
    OldestCurator,
    AscendedSortCurator,
    DescendedSortCurator,
    BoundedRangeCurator,
    EqualityCurator,
    StrictStratificationCurator,
    ProportionalStratificationCurator,
    BalancedStratificationCurator,
) = STOCK_CURATORS
