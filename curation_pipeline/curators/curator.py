"""The general :class:`Curator`: a selection rule run over every interval of an application's stream.

Constructor arguments, defaults and attribute names follow Gantry's SDK, so
Gantry curator code ports by changing the import. A curator is an immutable,
validated value: equal curators compare and hash equal, and :meth:`Curator.to_dict`
is its explicit serialisation (read back by ``curator_from_dict``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from curation_pipeline.curators.errors import CuratorConfigError
from curation_pipeline.curators.intervals import describe_interval, format_interval, parse_interval
from curation_pipeline.curators.selectors import (
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.fields import TIME
from curation_pipeline.names import check_name

DEFAULT_INTERVAL = dt.timedelta(days=1)
NO_DELAY = dt.timedelta(0)
MIN_INTERVAL = dt.timedelta(minutes=1)
COMMON_FIELDS = (
    "name",
    "application_name",
    "curated_dataset_name",
    "start_on",
    "curation_interval",
    "curation_delay",
    "curate_past_intervals",
    "enabled",
    "recurate_late_within",
)

T = TypeVar("T")


class Problems:
    """Collects every problem of one curator so a user sees them all at once.

    Each check records its problems as :class:`CuratorConfigError` s naming the
    curator and the field; :meth:`raise_if_any` then raises them together.
    """

    def __init__(self, curator: object) -> None:
        # Name the curator in errors whenever it has a usable label, even an invalid one.
        self.curator = curator if isinstance(curator, str) and curator else None
        self.errors: list[CuratorConfigError] = []

    def add(self, field: str | None, problem: str) -> None:
        """Record ``problem`` under ``field``."""
        # One stock argument can feed two selector fields; report its problem once.
        if any(e.field == field and e.problem == problem for e in self.errors):
            return
        self.errors.append(CuratorConfigError(problem, curator=self.curator, field=field))

    def check(
        self, field: str, check: Callable[..., T], *args: Any, rename: Callable[[str | None], str] | None = None
    ) -> T | None:
        """Run ``check(*args)``; record its problems under ``field`` (or ``rename``d) and return None on failure."""
        try:
            return check(*args)
        except CuratorConfigError as error:
            for single in error.split():
                where = rename(single.field) if rename else join_field(field, single.field)
                self.add(where, single.problem)
        except ValueError as error:
            self.add(field, str(error))
        return None

    def raise_if_any(self) -> None:
        """Raise every recorded problem as one :class:`CuratorConfigError`; nothing when there is none."""
        if self.errors:
            raise CuratorConfigError.combine(self.errors, curator=self.curator)


def join_field(prefix: str, field: str | None) -> str:
    """The path of ``field`` inside ``prefix``: ``selectors[0]`` + ``limit`` -> ``selectors[0].limit``."""
    if not field:
        return prefix
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


# --- field checks: each returns the normalised value or raises ValueError ---------


def check_bool(value: object, field: str) -> bool:
    """``value`` when it is a bool; otherwise a ValueError naming ``field``."""
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false, got {value!r}")
    return value


def _check_start_on(value: object) -> dt.datetime | None:
    """None stays None; naive datetimes are UTC; aware ones are converted to UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = _parse_iso(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise ValueError(f"start_on must be a datetime, a date or None, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _parse_iso(text: str) -> dt.datetime:
    # Python 3.10's fromisoformat does not know the 'Z' suffix.
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"start_on must be an ISO-8601 date or datetime, got {text!r}") from None


def _check_interval(value: object) -> dt.timedelta:
    interval = parse_interval(value)
    if interval < MIN_INTERVAL or interval % MIN_INTERVAL:
        raise ValueError(f"curation_interval must be a whole number of minutes, at least 1 minute, got {value!r}")
    return interval


def _check_delay(value: object) -> dt.timedelta:
    return parse_interval(value, allow_zero=True)


def _check_late_horizon(value: object) -> dt.timedelta | None:
    if value is None:
        return None
    return parse_interval(value)


def _check_selectors(selectors: object) -> tuple[Selector, ...]:
    if selectors is None or isinstance(selectors, (str, bytes, Mapping)) or not isinstance(selectors, Sequence):
        raise ValueError(f"selectors must be a non-empty list of Selector, got {selectors!r}")
    if not selectors:
        raise ValueError("selectors must be a non-empty list of Selector: a curator needs at least one")
    problems = Problems(None)
    built = tuple(problems.check(f"[{i}]", _check_selector, item) for i, item in enumerate(selectors))
    problems.raise_if_any()
    return built  # type: ignore[return-value]  # no None is left once no problem was found


def _check_selector(item: object) -> Selector:
    if isinstance(item, Selector):
        return item
    if isinstance(item, Mapping) and all(isinstance(key, str) for key in item):
        return Selector(**item)
    raise ValueError(f"a selector must be a Selector or a mapping of its fields, got {item!r}")


# --- descriptions -----------------------------------------------------------------


def describe_selector(selector: Selector) -> str:
    """Words for one selector: ``50 records with the lowest outputs.confidence where tags.env == 'prod'``."""
    method = selector.method
    if isinstance(method, UniformSampler):
        text = f"{selector.limit} uniformly random records"
    elif isinstance(method, StratifiedSampler):
        text = f"{selector.limit} records stratified by {method.field} ({method.mode.value})"
    elif isinstance(method, OrderedSampler) and method.field == TIME:
        text = f"{selector.limit} {'newest' if method.sort == 'descending' else 'oldest'} records"
    else:
        extreme = "highest" if method.sort == "descending" else "lowest"
        text = f"{selector.limit} records with the {extreme} {method.field}"
    conditions = [_describe_filter(f) for f in selector.filters]
    conditions += [f"{tag.field} == {tag.value!r}" for tag in selector.tags]
    return f"{text} where {' and '.join(conditions)}" if conditions else text


def _describe_filter(item: BoundsFilter | EqualsFilter | ContainsFilter) -> str:
    if isinstance(item, EqualsFilter):
        return f"{item.field} == {item.equals!r}"
    if isinstance(item, ContainsFilter):
        return f"{item.field} contains {item.contains!r}"
    lower = "" if item.lower_bound is None else f"{item.lower_bound} {'<' if item.lower is not None else '<='} "
    upper = "" if item.upper_bound is None else f" {'<' if item.upper is not None else '<='} {item.upper_bound}"
    return f"{lower}{item.field}{upper}"


# --- the curator ------------------------------------------------------------------


class Curator:
    """A curator: every ``curation_interval``, select records of ``application_name`` into a dataset.

    Selectors are OR-ed: a record is curated when any selector picks it. Each
    interval of the curator is one partition of its Dagster asset.

    Args:
        name: the curator's name (the naming rule of :func:`curation_pipeline.names.check_name`).
        application_name: the application whose stream is curated.
        curated_dataset_name: the dataset written to; defaults to ``name``.
        start_on: start of the first interval. A naive datetime is UTC, an aware one
            is converted to UTC, a date means its midnight UTC, an ISO string is parsed.
            None is kept: the scheduling layer decides.
        curation_interval: the length of one interval: a whole number of minutes, at
            least one. A timedelta or text such as ``1d``, ``6h``, ``PT30M``.
        curation_delay: how long after an interval ends to curate it (late records); >= 0.
        curate_past_intervals: also curate the intervals between ``start_on`` and now.
        selectors: a non-empty list of :class:`Selector` (or mappings of their fields).
        enabled: whether the curator runs on its schedule.
        recurate_late_within: re-curate, automatically, the windows that ended within
            this long of now whose records grew after they were curated (late data);
            None (the default) leaves such windows for a user to launch. Follows
            ``enabled``'s switch like the rest of the curator's automation.

    Raises:
        CuratorConfigError: every problem found, each naming the curator and field.
    """

    #: The stock arguments of a stock curator, in constructor order (none for the general one).
    STOCK_ARGUMENTS: ClassVar[tuple[str, ...]] = ()

    __slots__ = (
        "_name",
        "_application_name",
        "_curated_dataset_name",
        "_start_on",
        "_curation_interval",
        "_curation_delay",
        "_curate_past_intervals",
        "_enabled",
        "_recurate_late_within",
        "_selectors",
        "_stock",
    )

    def __init__(
        self,
        name: str,
        application_name: str,
        curated_dataset_name: str | None = None,
        start_on: dt.datetime | None = None,
        curation_interval: dt.timedelta = DEFAULT_INTERVAL,
        curation_delay: dt.timedelta = NO_DELAY,
        curate_past_intervals: bool = True,
        selectors: Sequence[Selector | Mapping[str, Any]] | None = None,
        enabled: bool = True,
        *,
        recurate_late_within: dt.timedelta | None = None,
    ) -> None:
        self._finish(
            Problems(name),
            {
                "name": name,
                "application_name": application_name,
                "curated_dataset_name": curated_dataset_name,
                "start_on": start_on,
                "curation_interval": curation_interval,
                "curation_delay": curation_delay,
                "curate_past_intervals": curate_past_intervals,
                "enabled": enabled,
                "recurate_late_within": recurate_late_within,
            },
            lambda problems: problems.check("selectors", _check_selectors, selectors),
            stock={},
        )

    def _finish(
        self,
        problems: Problems,
        common: dict[str, Any],
        build_selectors: Callable[[Problems], tuple[Selector, ...] | None],
        stock: dict[str, Any],
    ) -> None:
        """Validate the shared arguments and build the selectors, then freeze the instance.

        Every constructor ends here; a subclass that builds its own selectors (the
        stock curators) passes ``build_selectors`` and its stock arguments.
        """
        name = problems.check("name", check_name, common["name"], "curator")
        dataset = common["curated_dataset_name"]
        if dataset is None:
            dataset = name  # already checked: an invalid name is reported once, as the name
        else:
            dataset = problems.check("curated_dataset_name", check_name, dataset, "dataset")
        values = {
            "name": name,
            "application_name": problems.check(
                "application_name", check_name, common["application_name"], "application"
            ),
            "curated_dataset_name": dataset,
            "start_on": problems.check("start_on", _check_start_on, common["start_on"]),
            "curation_interval": problems.check("curation_interval", _check_interval, common["curation_interval"]),
            "curation_delay": problems.check("curation_delay", _check_delay, common["curation_delay"]),
            "curate_past_intervals": problems.check(
                "curate_past_intervals", check_bool, common["curate_past_intervals"], "curate_past_intervals"
            ),
            "enabled": problems.check("enabled", check_bool, common["enabled"], "enabled"),
            "recurate_late_within": problems.check(
                "recurate_late_within", _check_late_horizon, common.get("recurate_late_within")
            ),
            "selectors": build_selectors(problems),
            "stock": stock,
        }
        problems.raise_if_any()
        for key, value in values.items():
            object.__setattr__(self, f"_{key}", value)

    # --- immutability and value semantics ---------------------------------------

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new one instead")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _key(self) -> tuple:
        stock = tuple(self._stock.items())
        return (type(self).__name__, *(getattr(self, f) for f in COMMON_FIELDS), self._selectors, stock)

    def __reduce__(self) -> tuple:
        # Copies and pickles go through the explicit serialisation: no frozen slot is ever set.
        from curation_pipeline.curators.serialization import curator_from_dict

        return (curator_from_dict, (self.to_dict(),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Curator):
            return NotImplemented
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        data = self.to_dict()
        data.pop("type")
        return f"{type(self).__name__}({', '.join(f'{key}={value!r}' for key, value in data.items())})"

    # --- Gantry's attributes ------------------------------------------------------

    @property
    def name(self) -> str:
        """The curator's name."""
        return self._name

    @property
    def application_name(self) -> str:
        """The application whose stream this curator reads."""
        return self._application_name

    @property
    def curated_dataset_name(self) -> str:
        """The dataset this curator writes (its name unless given)."""
        return self._curated_dataset_name

    @property
    def dataset_name(self) -> str:
        """Alias of :attr:`curated_dataset_name`."""
        return self._curated_dataset_name

    @property
    def start_on(self) -> dt.datetime | None:
        """Start of the first interval, in UTC, or None to let the scheduling layer decide."""
        return self._start_on

    @property
    def curation_interval(self) -> dt.timedelta:
        """Length of one interval."""
        return self._curation_interval

    @property
    def curation_delay(self) -> dt.timedelta:
        """Wait after an interval ends before curating it."""
        return self._curation_delay

    @property
    def curate_past_intervals(self) -> bool:
        """Whether intervals already past at deployment are curated too."""
        return self._curate_past_intervals

    @property
    def enabled(self) -> bool:
        """Whether the curator runs on its schedule."""
        return self._enabled

    @property
    def recurate_late_within(self) -> dt.timedelta | None:
        """How far back windows whose records grew are re-curated automatically; None: never automatically."""
        return self._recurate_late_within

    @property
    def selectors(self) -> tuple[Selector, ...]:
        """The selectors, OR-ed: a record is curated when any of them picks it."""
        return self._selectors

    @property
    def description(self) -> str:
        """One line of words: ``100 uniformly random records per 1 day``."""
        picks = " or ".join(describe_selector(s) for s in self._selectors)
        return f"{picks} per {describe_interval(self._curation_interval)}"

    def fields(self) -> frozenset[str]:
        """Every stream column the selectors read (filters, tags, ordering and strata)."""
        return frozenset().union(*(s.fields() for s in self._selectors))

    # --- serialisation ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready data; ``curator_from_dict`` reads it back to an equal curator.

        Stock curators keep their type and stock arguments; the general curator
        lists its selectors. Intervals are written compactly (``1d``), ``start_on``
        as ISO-8601 in UTC.
        """
        data: dict[str, Any] = {"type": type(self).__name__, "name": self._name}
        data["application_name"] = self._application_name
        data.update(self._stock)
        data["curated_dataset_name"] = self._curated_dataset_name
        data["start_on"] = None if self._start_on is None else self._start_on.isoformat()
        data["curation_interval"] = format_interval(self._curation_interval)
        data["curation_delay"] = format_interval(self._curation_delay)
        data["curate_past_intervals"] = self._curate_past_intervals
        data["enabled"] = self._enabled
        if self._recurate_late_within is not None:
            data["recurate_late_within"] = format_interval(self._recurate_late_within)
        if not self.STOCK_ARGUMENTS:
            data["selectors"] = [selector_to_dict(s) for s in self._selectors]
        return data


def selector_to_dict(selector: Selector) -> dict[str, Any]:
    """A selector as plain data (defaults included, unset bounds left out)."""
    return selector.model_dump(mode="json", exclude_none=True)
