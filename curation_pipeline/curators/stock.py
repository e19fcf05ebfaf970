"""Gantry's stock curators: one selector built from a few stock arguments.

Names, positional order and defaults match Gantry's SDK. Beyond Gantry, each
also takes the keyword-only ``curation_delay`` and ``enabled`` of
:class:`Curator`. A stock curator builds its own selector, so passing
``selectors=`` is an error; validation errors name the stock argument
(``limit``, ``sort_field`` ...) rather than the selector field it feeds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from curation_pipeline.curators.curator import (
    DEFAULT_INTERVAL,
    NO_DELAY,
    Curator,
    _check_bool,
    _join,
    _Problems,
)
from curation_pipeline.curators.selectors import BoundValue, EqualsValue, Selector
from curation_pipeline.fields import TIME

# Tells "selectors not given" apart from any value a user could pass, None included.
_NOT_GIVEN: Any = type("_NotGiven", (), {"__repr__": lambda self: "<not given>"})()


def _stock_argument(name: str) -> property:
    return property(lambda self: self._stock[name], doc=f"The stock argument ``{name}``.")


class _StockCurator(Curator):
    """Shared machinery: validate, map selector errors to stock arguments, freeze."""

    __slots__ = ()
    #: Selector field -> the stock argument it comes from, for error messages.
    FIELD_NAMES: ClassVar[dict[str, str]] = {"limit": "limit"}

    def _init_stock(self, common: dict[str, Any], stock: dict[str, Any], selectors: object) -> None:
        self._finish(_Problems(common["name"]), common, lambda found: self._build(found, stock, selectors), stock)

    def _build(self, problems: _Problems, stock: dict[str, Any], selectors: object) -> tuple[Selector, ...] | None:
        before = len(problems.errors)
        if selectors is not _NOT_GIVEN:
            problems.add(
                "selectors",
                f"{type(self).__name__} builds its own selector; use Curator(selectors=[...]) for custom selection",
            )
        self._check_stock(problems, stock)
        if len(problems.errors) > before:
            return None
        selector = problems.check("selectors[0]", lambda: Selector(**self._selector_spec(stock)), rename=self._rename)
        return None if selector is None else (selector,)

    def _check_stock(self, problems: _Problems, stock: dict[str, Any]) -> None:
        """Checks of stock arguments that do not reach the selector as they are."""

    def _selector_spec(self, stock: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _rename(self, field: str | None) -> str:
        return self.FIELD_NAMES.get(field or "", _join("selectors[0]", field))


class UniformCurator(_StockCurator):
    """Up to ``limit`` records picked uniformly at random from each interval."""

    __slots__ = ()
    STOCK_ARGUMENTS = ("limit",)
    limit = _stock_argument("limit")

    def __init__(
        self,
        name: str,
        application_name: str,
        limit: int,
        curated_dataset_name: str | None = None,
        start_on: dt.datetime | None = None,
        curation_interval: dt.timedelta = DEFAULT_INTERVAL,
        curate_past_intervals: bool = True,
        *,
        curation_delay: dt.timedelta = NO_DELAY,
        enabled: bool = True,
        selectors: Any = _NOT_GIVEN,
    ) -> None:
        common = dict(
            name=name, application_name=application_name, curated_dataset_name=curated_dataset_name,
            start_on=start_on, curation_interval=curation_interval, curation_delay=curation_delay,
            curate_past_intervals=curate_past_intervals, enabled=enabled,
        )  # fmt: skip
        self._init_stock(common, {"limit": limit}, selectors)

    def _selector_spec(self, stock: dict[str, Any]) -> dict[str, Any]:
        return {"method": {"type": "uniform"}, "limit": stock["limit"]}


class _TimeOrderedCurator(_StockCurator):
    __slots__ = ()
    STOCK_ARGUMENTS = ("limit",)
    SORT: ClassVar[str]
    limit = _stock_argument("limit")

    def __init__(
        self,
        name: str,
        application_name: str,
        limit: int,
        curated_dataset_name: str | None = None,
        start_on: dt.datetime | None = None,
        curation_interval: dt.timedelta = DEFAULT_INTERVAL,
        curate_past_intervals: bool = True,
        *,
        curation_delay: dt.timedelta = NO_DELAY,
        enabled: bool = True,
        selectors: Any = _NOT_GIVEN,
    ) -> None:
        common = dict(
            name=name, application_name=application_name, curated_dataset_name=curated_dataset_name,
            start_on=start_on, curation_interval=curation_interval, curation_delay=curation_delay,
            curate_past_intervals=curate_past_intervals, enabled=enabled,
        )  # fmt: skip
        self._init_stock(common, {"limit": limit}, selectors)

    def _selector_spec(self, stock: dict[str, Any]) -> dict[str, Any]:
        return {"method": {"type": "ordered", "field": TIME, "sort": self.SORT}, "limit": stock["limit"]}


class NewestCurator(_TimeOrderedCurator):
    """The ``limit`` most recent records of each interval (by ``__time``)."""

    __slots__ = ()
    SORT = "descending"


class OldestCurator(_TimeOrderedCurator):
    """The ``limit`` earliest records of each interval (by ``__time``)."""

    __slots__ = ()
    SORT = "ascending"


class _FieldSortCurator(_StockCurator):
    __slots__ = ()
    STOCK_ARGUMENTS = ("limit", "sort_field")
    FIELD_NAMES = {"limit": "limit", "method.field": "sort_field"}
    SORT: ClassVar[str]
    limit = _stock_argument("limit")
    sort_field = _stock_argument("sort_field")

    def __init__(
        self,
        name: str,
        application_name: str,
        limit: int,
        sort_field: str,
        curated_dataset_name: str | None = None,
        start_on: dt.datetime | None = None,
        curation_interval: dt.timedelta = DEFAULT_INTERVAL,
        curate_past_intervals: bool = True,
        *,
        curation_delay: dt.timedelta = NO_DELAY,
        enabled: bool = True,
        selectors: Any = _NOT_GIVEN,
    ) -> None:
        common = dict(
            name=name, application_name=application_name, curated_dataset_name=curated_dataset_name,
            start_on=start_on, curation_interval=curation_interval, curation_delay=curation_delay,
            curate_past_intervals=curate_past_intervals, enabled=enabled,
        )  # fmt: skip
        self._init_stock(common, {"limit": limit, "sort_field": sort_field}, selectors)

    def _selector_spec(self, stock: dict[str, Any]) -> dict[str, Any]:
        method = {"type": "ordered", "field": stock["sort_field"], "sort": self.SORT}
        return {"method": method, "limit": stock["limit"]}


class AscendedSortCurator(_FieldSortCurator):
    """The ``limit`` records of each interval with the lowest ``sort_field``."""

    __slots__ = ()
    SORT = "ascending"


class DescendedSortCurator(_FieldSortCurator):
    """The ``limit`` records of each interval with the highest ``sort_field``."""

    __slots__ = ()
    SORT = "descending"


class BoundedRangeCurator(_StockCurator):
    """Records with ``lower_bound < bound_field < upper_bound`` (exclusive), up to ``limit``.

    When more records qualify, they are ordered by ``bound_field``, ascending
    unless ``sort_ascending`` is False.
    """

    __slots__ = ()
    STOCK_ARGUMENTS = ("limit", "bound_field", "upper_bound", "lower_bound", "sort_ascending")
    FIELD_NAMES = {
        "limit": "limit",
        "method.field": "bound_field",
        "filters[0].field": "bound_field",
        "filters[0].upper": "upper_bound",
        "filters[0].lower": "lower_bound",
        "filters[0]": "lower_bound, upper_bound",
    }
    limit = _stock_argument("limit")
    bound_field = _stock_argument("bound_field")
    upper_bound = _stock_argument("upper_bound")
    lower_bound = _stock_argument("lower_bound")
    sort_ascending = _stock_argument("sort_ascending")

    def __init__(
        self,
        name: str,
        application_name: str,
        limit: int,
        bound_field: str,
        upper_bound: BoundValue,
        lower_bound: BoundValue,
        curated_dataset_name: str | None = None,
        start_on: dt.datetime | None = None,
        curation_interval: dt.timedelta = DEFAULT_INTERVAL,
        curate_past_intervals: bool = True,
        sort_ascending: bool = True,
        *,
        curation_delay: dt.timedelta = NO_DELAY,
        enabled: bool = True,
        selectors: Any = _NOT_GIVEN,
    ) -> None:
        common = dict(
            name=name, application_name=application_name, curated_dataset_name=curated_dataset_name,
            start_on=start_on, curation_interval=curation_interval, curation_delay=curation_delay,
            curate_past_intervals=curate_past_intervals, enabled=enabled,
        )  # fmt: skip
        stock = {
            "limit": limit,
            "bound_field": bound_field,
            "upper_bound": upper_bound,
            "lower_bound": lower_bound,
            "sort_ascending": sort_ascending,
        }
        self._init_stock(common, stock, selectors)

    def _check_stock(self, problems: _Problems, stock: dict[str, Any]) -> None:
        problems.check("sort_ascending", _check_bool, stock["sort_ascending"], "sort_ascending")

    def _selector_spec(self, stock: dict[str, Any]) -> dict[str, Any]:
        field = stock["bound_field"]
        sort = "ascending" if stock["sort_ascending"] else "descending"
        bounds = {"type": "bounds", "field": field, "upper": stock["upper_bound"], "lower": stock["lower_bound"]}
        return {"method": {"type": "ordered", "field": field, "sort": sort}, "limit": stock["limit"], "filters": [bounds]}


class EqualityCurator(_StockCurator):
    """Up to ``limit`` records with ``field == equals``, picked uniformly at random."""

    __slots__ = ()
    STOCK_ARGUMENTS = ("limit", "field", "equals")
    FIELD_NAMES = {"limit": "limit", "filters[0].field": "field", "filters[0].equals": "equals"}
    limit = _stock_argument("limit")
    field = _stock_argument("field")
    equals = _stock_argument("equals")

    def __init__(
        self,
        name: str,
        application_name: str,
        limit: int,
        field: str,
        equals: EqualsValue,
        curated_dataset_name: str | None = None,
        start_on: dt.datetime | None = None,
        curation_interval: dt.timedelta = DEFAULT_INTERVAL,
        curate_past_intervals: bool = True,
        *,
        curation_delay: dt.timedelta = NO_DELAY,
        enabled: bool = True,
        selectors: Any = _NOT_GIVEN,
    ) -> None:
        common = dict(
            name=name, application_name=application_name, curated_dataset_name=curated_dataset_name,
            start_on=start_on, curation_interval=curation_interval, curation_delay=curation_delay,
            curate_past_intervals=curate_past_intervals, enabled=enabled,
        )  # fmt: skip
        self._init_stock(common, {"limit": limit, "field": field, "equals": equals}, selectors)

    def _selector_spec(self, stock: dict[str, Any]) -> dict[str, Any]:
        equals = {"type": "equals", "field": stock["field"], "equals": stock["equals"]}
        return {"method": {"type": "uniform"}, "limit": stock["limit"], "filters": [equals]}


class _StratificationCurator(_StockCurator):
    __slots__ = ()
    STOCK_ARGUMENTS = ("limit", "stratify_field")
    FIELD_NAMES = {"limit": "limit", "method.field": "stratify_field"}
    MODE: ClassVar[str]
    limit = _stock_argument("limit")
    stratify_field = _stock_argument("stratify_field")

    def __init__(
        self,
        name: str,
        application_name: str,
        limit: int,
        stratify_field: str,
        curated_dataset_name: str | None = None,
        start_on: dt.datetime | None = None,
        curation_interval: dt.timedelta = DEFAULT_INTERVAL,
        curate_past_intervals: bool = True,
        *,
        curation_delay: dt.timedelta = NO_DELAY,
        enabled: bool = True,
        selectors: Any = _NOT_GIVEN,
    ) -> None:
        common = dict(
            name=name, application_name=application_name, curated_dataset_name=curated_dataset_name,
            start_on=start_on, curation_interval=curation_interval, curation_delay=curation_delay,
            curate_past_intervals=curate_past_intervals, enabled=enabled,
        )  # fmt: skip
        self._init_stock(common, {"limit": limit, "stratify_field": stratify_field}, selectors)

    def _selector_spec(self, stock: dict[str, Any]) -> dict[str, Any]:
        method = {"type": "stratified", "field": stock["stratify_field"], "mode": self.MODE}
        return {"method": method, "limit": stock["limit"]}


class StrictStratificationCurator(_StratificationCurator):
    """Exactly ``limit`` records shared among the values of ``stratify_field`` in proportion."""

    __slots__ = ()
    MODE = "strict"


class ProportionalStratificationCurator(_StratificationCurator):
    """Records in the proportions of ``stratify_field``'s values (rounded; may exceed ``limit``)."""

    __slots__ = ()
    MODE = "proportional"


class BalancedStratificationCurator(_StratificationCurator):
    """The same number of records from each value of ``stratify_field``, up to ``limit``."""

    __slots__ = ()
    MODE = "balanced"


STOCK_CURATORS: tuple[type[Curator], ...] = (
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
)
