"""Gantry's stock curators: the selector each builds, stock attributes, errors named by stock argument."""

from __future__ import annotations

import datetime as dt
import inspect
import pickle

import pytest

from curation_pipeline.curators import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    BoundsFilter,
    Curator,
    CuratorConfigError,
    DescendedSortCurator,
    EqualityCurator,
    EqualsFilter,
    NewestCurator,
    OldestCurator,
    OrderedSampler,
    ProportionalStratificationCurator,
    Selector,
    StratificationMode,
    StratifiedSampler,
    StrictStratificationCurator,
    UniformCurator,
    UniformSampler,
    curator_from_dict,
)
from curation_pipeline.curators.stock import STOCK_CURATORS

# Every stock curator with its stock arguments and the one selector it must build.
CASES = [
    (UniformCurator, {"limit": 100}, Selector(method=UniformSampler(), limit=100)),
    (NewestCurator, {"limit": 10}, Selector(method=OrderedSampler(field="__time", sort="descending"), limit=10)),
    (OldestCurator, {"limit": 10}, Selector(method=OrderedSampler(field="__time", sort="ascending"), limit=10)),
    (
        AscendedSortCurator,
        {"limit": 5, "sort_field": "outputs.confidence"},
        Selector(method=OrderedSampler(field="outputs.confidence", sort="ascending"), limit=5),
    ),
    (
        DescendedSortCurator,
        {"limit": 5, "sort_field": "outputs.confidence"},
        Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=5),
    ),
    (
        BoundedRangeCurator,
        {"limit": 20, "bound_field": "outputs.confidence", "upper_bound": 0.8, "lower_bound": 0.2, "sort_ascending": False},
        Selector(
            method=OrderedSampler(field="outputs.confidence", sort="descending"),
            limit=20,
            filters=[BoundsFilter(field="outputs.confidence", upper=0.8, lower=0.2)],
        ),
    ),
    (
        EqualityCurator,
        {"limit": 30, "field": "tags.env", "equals": "staging"},
        Selector(method=UniformSampler(), limit=30, filters=[EqualsFilter(field="tags.env", equals="staging")]),
    ),
    (
        StrictStratificationCurator,
        {"limit": 40, "stratify_field": "outputs.label"},
        Selector(method=StratifiedSampler(field="outputs.label", mode=StratificationMode.strict), limit=40),
    ),
    (
        ProportionalStratificationCurator,
        {"limit": 40, "stratify_field": "outputs.label"},
        Selector(method=StratifiedSampler(field="outputs.label", mode=StratificationMode.proportional), limit=40),
    ),
    (
        BalancedStratificationCurator,
        {"limit": 40, "stratify_field": "outputs.label"},
        Selector(method=StratifiedSampler(field="outputs.label", mode=StratificationMode.balanced), limit=40),
    ),
]
IDS = [case[0].__name__ for case in CASES]


def test_every_stock_curator_is_covered() -> None:
    assert [case[0] for case in CASES] == list(STOCK_CURATORS)


@pytest.mark.parametrize(("cls", "stock", "selector"), CASES, ids=IDS)
def test_builds_the_gantry_selector(cls: type[Curator], stock: dict, selector: Selector) -> None:
    curator = cls(name="c", application_name="demo", **stock)
    assert isinstance(curator, Curator)
    assert curator.selectors == (selector,)
    assert cls.STOCK_ARGUMENTS == tuple(stock)
    for key, value in stock.items():
        assert getattr(curator, key) == value


@pytest.mark.parametrize(("cls", "stock", "selector"), CASES, ids=IDS)
def test_positional_order_follows_gantry(cls: type[Curator], stock: dict, selector: Selector) -> None:
    parameters = list(inspect.signature(cls).parameters)
    gantry = ["name", "application_name", *[k for k in stock if k != "sort_ascending"]]
    gantry += ["curated_dataset_name", "start_on", "curation_interval", "curate_past_intervals"]
    if cls is BoundedRangeCurator:
        gantry.append("sort_ascending")
    assert parameters[: len(gantry)] == gantry
    assert parameters[len(gantry) :] == ["curation_delay", "enabled", "selectors"]


@pytest.mark.parametrize(("cls", "stock", "selector"), CASES, ids=IDS)
def test_round_trip_through_dict(cls: type[Curator], stock: dict, selector: Selector) -> None:
    curator = cls(
        name="c",
        application_name="demo",
        curated_dataset_name="c-data",
        start_on=dt.datetime(2024, 2, 1),
        curation_interval="6h",
        curate_past_intervals=False,
        curation_delay="15m",
        enabled=False,
        **stock,
    )
    data = curator.to_dict()
    assert data["type"] == cls.__name__
    assert {k: data[k] for k in stock} == stock
    assert "selectors" not in data
    assert data["curation_interval"] == "6h"
    assert data["curation_delay"] == "15m"
    again = curator_from_dict(data)
    assert type(again) is cls
    assert again == curator
    assert hash(again) == hash(curator)
    assert pickle.loads(pickle.dumps(curator)) == curator


def test_uniform_to_dict_exactly() -> None:
    assert UniformCurator("u", "demo", 100).to_dict() == {
        "type": "UniformCurator",
        "name": "u",
        "application_name": "demo",
        "limit": 100,
        "curated_dataset_name": "u",
        "start_on": None,
        "curation_interval": "1d",
        "curation_delay": "0m",
        "curate_past_intervals": True,
        "enabled": True,
    }


def test_positional_use_like_gantry() -> None:
    curator = BoundedRangeCurator("b", "demo", 10, "outputs.confidence", 0.9, 0.1, "b-data", None, dt.timedelta(hours=1), True, False)
    assert (curator.upper_bound, curator.lower_bound, curator.sort_ascending) == (0.9, 0.1, False)
    assert curator.curated_dataset_name == "b-data"
    assert curator.curation_interval == dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("curator", "description"),
    [
        (lambda: UniformCurator("c", "demo", 100), "100 uniformly random records per 1 day"),
        (lambda: NewestCurator("c", "demo", 5, curation_interval="6h"), "5 newest records per 6 hours"),
        (lambda: OldestCurator("c", "demo", 1), "1 oldest records per 1 day"),
        (lambda: AscendedSortCurator("c", "demo", 5, "x"), "5 records with the lowest x per 1 day"),
        (lambda: DescendedSortCurator("c", "demo", 5, "x"), "5 records with the highest x per 1 day"),
        (lambda: BoundedRangeCurator("c", "demo", 5, "x", 9, 1), "5 records with the lowest x where 1 < x < 9 per 1 day"),
        (lambda: EqualityCurator("c", "demo", 5, "tags.env", "prod"), "5 uniformly random records where tags.env == 'prod' per 1 day"),
        (lambda: BalancedStratificationCurator("c", "demo", 5, "y"), "5 records stratified by y (balanced) per 1 day"),
    ],
)
def test_descriptions(curator, description: str) -> None:
    assert curator().description == description


@pytest.mark.parametrize(
    ("build", "field", "problem"),
    [
        (lambda: UniformCurator("c", "demo", 0), "limit", "Input should be greater than or equal to 1 (got 0)"),
        (lambda: UniformCurator("c", "demo", 10_001), "limit", "Input should be less than or equal to 10000 (got 10001)"),
        (lambda: NewestCurator("c", "demo", True), "limit", "limit must be a whole number, got True"),
        (lambda: AscendedSortCurator("c", "demo", 5, ""), "sort_field", "field must be a non-empty string (got '')"),
        (lambda: BoundedRangeCurator("c", "demo", 5, "x", 1, 5), "lower_bound, upper_bound", "lower bound 5 is above upper bound 1"),
        (lambda: BoundedRangeCurator("c", "demo", 5, "x", None, None), "lower_bound, upper_bound", "at least one of"),
        (lambda: BoundedRangeCurator("c", "demo", 5, "x", "high", 1), "upper_bound", "Input should be an integer, a number or a datetime (got 'high')"),
        (lambda: BoundedRangeCurator("c", "demo", 5, "", 2, 1), "bound_field", "field must be a non-empty string (got '')"),
        (lambda: BoundedRangeCurator("c", "demo", 5, "x", 2, 1, sort_ascending="no"), "sort_ascending", "sort_ascending must be true or false, got 'no'"),
        (lambda: EqualityCurator("c", "demo", 5, "x", None), "equals", "Input should be true/false, an integer, a number or a string"),
        (lambda: EqualityCurator("c", "demo", 5, "", 1), "field", "field must be a non-empty string (got '')"),
        (lambda: StrictStratificationCurator("c", "demo", 5, ""), "stratify_field", "field must be a non-empty string (got '')"),
        (lambda: UniformCurator("c", "demo", 5, selectors=[Selector(limit=5)]), "selectors", "UniformCurator builds its own selector; use Curator(selectors=[...]) for custom selection"),
        (lambda: UniformCurator("c", "demo", 5, selectors=None), "selectors", "UniformCurator builds its own selector"),
        (lambda: NewestCurator("c", "Demo App", 5), "application_name", "invalid application name 'Demo App'"),
        (lambda: OldestCurator("c", "demo", 5, curation_delay="-1m"), "curation_delay", "must be zero or positive"),
    ],
)
def test_errors_name_the_stock_argument(build, field: str, problem: str) -> None:
    with pytest.raises(CuratorConfigError) as caught:
        build()
    assert (caught.value.curator, caught.value.field) == ("c", field)
    assert problem in caught.value.problem


def test_stock_errors_are_collected() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        BoundedRangeCurator("c", "demo", 0, "x", 1, 5, curation_interval="1 week")
    assert [(p.field, p.problem) for p in caught.value.split()] == [
        ("curation_interval", "not an interval: '1 week' (e.g. '1d', '6h', '1h30m' or ISO-8601 'PT30M', 'P1DT6H')"),
        ("limit", "Input should be greater than or equal to 1 (got 0)"),
        ("lower_bound, upper_bound", "lower bound 5 is above upper bound 1"),
    ]


def test_stock_curators_differ_from_an_equal_general_curator() -> None:
    stock = UniformCurator("c", "demo", 5)
    general = Curator("c", "demo", selectors=[Selector(method=UniformSampler(), limit=5)])
    assert stock.selectors == general.selectors
    assert stock != general


def test_stock_curators_are_immutable() -> None:
    curator = UniformCurator("c", "demo", 5)
    with pytest.raises(AttributeError):
        curator.limit = 6  # type: ignore[misc]
