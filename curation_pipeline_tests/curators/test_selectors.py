"""Selectors, filters and samplers: defaults, validation and located errors."""

from __future__ import annotations

import datetime as dt

import pytest

from curation_pipeline.curators import (
    BoundsFilter,
    ContainsFilter,
    CuratorConfigError,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratificationMode,
    StratifiedSampler,
    TagFilter,
    UniformSampler,
)


def test_selector_defaults_to_newest_first() -> None:
    selector = Selector(limit=10)
    assert selector.method == OrderedSampler(field="__time", sort="descending")
    assert selector.filters == ()
    assert selector.tags == ()


def test_selector_parses_mappings_into_spec_values() -> None:
    selector = Selector(
        method={"type": "stratified", "field": "outputs.label", "mode": "balanced"},
        limit=5,
        filters=[{"type": "bounds", "field": "outputs.confidence", "upper": 0.5}, {"type": "contains", "field": "inputs.text", "contains": "refund"}],
        tags=[{"name": "env", "value": "prod"}],
    )
    assert selector.method == StratifiedSampler(field="outputs.label", mode=StratificationMode.balanced)
    assert selector.filters == (
        BoundsFilter(field="outputs.confidence", upper=0.5),
        ContainsFilter(field="inputs.text", contains="refund"),
    )
    assert selector.tags == (TagFilter(name="env", value="prod"),)
    assert selector.fields() == {"outputs.label", "outputs.confidence", "inputs.text", "tags.env"}


def test_uniform_selector_reads_only_filtered_fields() -> None:
    selector = Selector(method=UniformSampler(), limit=3, filters=[EqualsFilter(field="tags.env", equals="prod")])
    assert selector.fields() == {"tags.env"}


@pytest.mark.parametrize("limit", [0, 10_001, True, -1, 2.5])
def test_limit_must_be_1_to_10000(limit: object) -> None:
    with pytest.raises(CuratorConfigError) as caught:
        Selector(limit=limit)
    assert caught.value.field == "limit"


@pytest.mark.parametrize("limit", [1, 10_000])
def test_limit_edges_are_accepted(limit: int) -> None:
    assert Selector(limit=limit).limit == limit


def test_bool_limit_is_a_typo_not_one() -> None:
    with pytest.raises(CuratorConfigError, match=r"limit must be a whole number, got True"):
        Selector(limit=True)


def test_bounds_need_at_least_one_bound() -> None:
    with pytest.raises(CuratorConfigError, match="at least one of upper, inclusive_upper, lower, inclusive_lower"):
        BoundsFilter(field="x")


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"upper": 1, "inclusive_upper": 2}, "either upper or inclusive_upper, not both"),
        ({"lower": 1, "inclusive_lower": 0}, "either lower or inclusive_lower, not both"),
        ({"lower": 5, "upper": 1}, "lower bound 5 is above upper bound 1"),
        ({"lower": dt.datetime(2024, 1, 1), "upper": 3}, "both be numbers or both be datetimes"),
    ],
)
def test_bounds_rules(bounds: dict, message: str) -> None:
    with pytest.raises(CuratorConfigError, match=message):
        BoundsFilter(field="x", **bounds)


def test_bounds_accessors_pick_whichever_kind() -> None:
    bounds = BoundsFilter(field="x", inclusive_upper=9, lower=1)
    assert (bounds.lower_bound, bounds.upper_bound) == (1, 9)


def test_nested_filter_errors_keep_their_field_path() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        Selector(limit=5, filters=[{"type": "equals", "field": "x", "equals": 1}, {"type": "bounds", "field": "y", "upper": "high"}])
    assert caught.value.field == "filters[1].upper"
    assert caught.value.problem == "Input should be an integer, a number or a datetime (got 'high')"


def test_equals_field_is_not_mistaken_for_a_union_tag() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        Selector(limit=5, filters=[{"type": "equals", "field": "x", "equals": None}])
    assert caught.value.field == "filters[0].equals"
    assert caught.value.problem == "Input should be true/false, an integer, a number or a string"


def test_bad_stratification_mode_is_located() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        Selector(limit=5, method={"type": "stratified", "field": "x", "mode": "fair"})
    assert caught.value.field == "method.mode"
    assert caught.value.problem == "Input should be 'proportional', 'strict' or 'balanced' (got 'fair')"


def test_bad_sort_is_located() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        Selector(limit=5, method={"type": "ordered", "field": "x", "sort": "up"})
    assert caught.value.field == "method.sort"


def test_unknown_method_type_lists_the_valid_ones() -> None:
    with pytest.raises(CuratorConfigError, match="'uniform', 'ordered', 'stratified'") as caught:
        Selector(limit=5, method={"type": "random"})
    assert caught.value.field == "method"


def test_unknown_selector_field() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        Selector(limit=5, sample="all")
    assert caught.value.field == "sample"
    assert caught.value.problem.startswith("Extra inputs are not permitted")


def test_several_problems_are_all_kept() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        Selector(limit=0, method={"type": "ordered", "field": ""})
    assert [(p.field, p.problem) for p in caught.value.split()] == [
        ("method.field", "field must be a non-empty string (got '')"),
        ("limit", "Input should be greater than or equal to 1 (got 0)"),
    ]


def test_spec_values_are_frozen_and_hashable() -> None:
    selector = Selector(limit=5, tags=[TagFilter(name="env", value="prod")])
    with pytest.raises(Exception):
        selector.limit = 6  # type: ignore[misc]
    assert hash(selector) == hash(Selector(limit=5, tags=[TagFilter(name="env", value="prod")]))
    assert TagFilter(name="env", value="prod").field == "tags.env"
