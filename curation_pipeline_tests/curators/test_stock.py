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
    assert parameters[len(gantry) :] == ["curation_delay", "enabled", "recurate_late_within", "selectors"]


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
        (lambda: NewestCurator("c", "Demo/App", 5), "application_name", "invalid application name 'Demo/App'"),
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


# Gantry's signatures, written out: (parameter, default) in order; `REQUIRED` has none.
REQUIRED = inspect.Parameter.empty
_HEAD = [("name", REQUIRED), ("application_name", REQUIRED), ("limit", REQUIRED)]
_TAIL = [
    ("curated_dataset_name", None),
    ("start_on", None),
    ("curation_interval", dt.timedelta(days=1)),
    ("curate_past_intervals", True),
]
GANTRY_SIGNATURES = {
    UniformCurator: _HEAD + _TAIL,
    NewestCurator: _HEAD + _TAIL,
    OldestCurator: _HEAD + _TAIL,
    AscendedSortCurator: _HEAD + [("sort_field", REQUIRED)] + _TAIL,
    DescendedSortCurator: _HEAD + [("sort_field", REQUIRED)] + _TAIL,
    BoundedRangeCurator: _HEAD
    + [("bound_field", REQUIRED), ("upper_bound", REQUIRED), ("lower_bound", REQUIRED)]
    + _TAIL
    + [("sort_ascending", True)],
    EqualityCurator: _HEAD + [("field", REQUIRED), ("equals", REQUIRED)] + _TAIL,
    StrictStratificationCurator: _HEAD + [("stratify_field", REQUIRED)] + _TAIL,
    ProportionalStratificationCurator: _HEAD + [("stratify_field", REQUIRED)] + _TAIL,
    BalancedStratificationCurator: _HEAD + [("stratify_field", REQUIRED)] + _TAIL,
}


@pytest.mark.parametrize("cls", STOCK_CURATORS, ids=lambda cls: cls.__name__)
def test_signature_is_gantrys(cls: type[Curator]) -> None:
    gantry = GANTRY_SIGNATURES[cls]
    for signature in (inspect.signature(cls), inspect.signature(cls.__init__)):
        parameters = list(signature.parameters.values())
        if parameters[0].name == "self":
            parameters = parameters[1:]
        positional = [p for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        assert [(p.name, p.default) for p in positional] == gantry
        keyword = [(p.name, p.default) for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert keyword[:2] == [("curation_delay", dt.timedelta(0)), ("enabled", True)]
        assert [p.name for p in parameters] == [name for name, _ in gantry] + [
            "curation_delay", "enabled", "recurate_late_within", "selectors"
        ]
        assert all(p.annotation is not inspect.Parameter.empty for p in parameters)


@pytest.mark.parametrize("cls", STOCK_CURATORS, ids=lambda cls: cls.__name__)
def test_each_stock_curator_is_documented(cls: type[Curator]) -> None:
    doc = inspect.getdoc(cls)
    assert doc and doc != inspect.getdoc(Curator)
    for argument in cls.STOCK_ARGUMENTS:
        assert f"{argument}:" in doc
        assert getattr(cls, argument).__doc__
    assert "selectors" in doc


@pytest.mark.parametrize("cls", STOCK_CURATORS, ids=lambda cls: cls.__name__)
def test_each_stock_curator_is_a_named_class(cls: type[Curator]) -> None:
    from curation_pipeline.curators import stock

    assert isinstance(cls, type) and issubclass(cls, Curator)
    assert cls.__module__ == stock.__name__
    assert cls.__qualname__ == cls.__name__
    assert getattr(stock, cls.__name__) is cls
    assert cls.__init__.__qualname__ == f"{cls.__name__}.__init__"
    assert pickle.loads(pickle.dumps(cls)) is cls


def test_wrong_call_is_a_type_error_naming_the_class() -> None:
    with pytest.raises(TypeError, match=r"UniformCurator\(\): missing a required argument: 'limit'"):
        UniformCurator("c", "demo")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'sort_field'"):
        UniformCurator("c", "demo", 5, sort_field="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="too many positional arguments"):
        UniformCurator("c", "demo", 5, None, None, dt.timedelta(days=1), True, dt.timedelta(0))  # type: ignore[call-arg]


def test_the_shared_base_is_not_a_curator_of_its_own() -> None:
    from curation_pipeline.curators.stock import StockCurator

    with pytest.raises(TypeError):
        StockCurator("c", "demo", 5)
    assert all(issubclass(cls, StockCurator) for cls in STOCK_CURATORS)
