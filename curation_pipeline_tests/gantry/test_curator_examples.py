"""Gantry's curator examples, written as Gantry's docs and docstrings write them; only the import differs."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

from curation_pipeline.curators import load_curators_text
from curation_pipeline.gantry.curators import (
    TIME_COLUMN_NAME,
    BoundedRangeCurator,
    BoundsFilter,
    Curator,
    EqualityCurator,
    EqualityFilter,
    NewestCurator,
    OrderedSampler,
    OrderingDirection,
    SamplingMethod,
    Selector,
    StratifiedSampler,
    TagFilter,
    UniformCurator,
    UniformSampler,
    curator_from_gantry,
)
from curation_pipeline.names import name_key
from curation_pipeline.selection import select


def test_stock_curators_take_gantry_names_and_arguments() -> None:
    curator = UniformCurator(
        name="MyUniformCurator",
        application_name="my-app",
        limit=20,
        start_on=datetime.datetime(2023, 1, 1, 0, 0),
        curation_interval=datetime.timedelta(days=1),
    )
    assert curator.name == "MyUniformCurator" and name_key(curator.name) == "myuniformcurator"
    assert curator.curated_dataset_name == "MyUniformCurator"
    newest = NewestCurator(name="My Newest Curator", application_name="my-app", limit=100)
    assert name_key(newest.name) == "my-newest-curator"


def test_a_custom_curator_as_gantry_writes_one() -> None:
    curator = Curator(
        name="my-custom-curator",
        application_name="my-app",
        start_on=datetime.datetime(2023, 1, 1),
        curation_interval=datetime.timedelta(days=1),
        curate_past_intervals=True,
        selectors=[
            Selector(
                method=OrderedSampler(field=TIME_COLUMN_NAME, sort=OrderingDirection.DESCENDING),
                limit=10,
                filters=[BoundsFilter(field="outputs.confidence", upper=0.5, inclusive_lower=0.1)],
                tags=[TagFilter(name="env", value="prod")],
            ),
            Selector(method=UniformSampler(sample=SamplingMethod.uniform), limit=5),
            Selector(method=StratifiedSampler(sample="stratified", field="inputs.country"), limit=5),
        ],
    )
    ordered = curator.selectors[0].method
    assert (ordered.type, ordered.field, ordered.sort) == ("ordered", "__time", "descending")
    assert TIME_COLUMN_NAME == "__time"
    assert curator.selectors[1].method.type == "uniform"
    assert curator.selectors[2].method.type == "stratified"


def test_selectors_serialised_by_gantry_load_in_python() -> None:
    serialised = {
        "method": {"sample": "ordered", "field": "outputs.confidence", "sort": "ascending"},
        "limit": 10,
        "filters": [
            {"field": "outputs.confidence", "upper": 0.5, "lower": None, "inclusive_upper": None, "inclusive_lower": None},
            {"field": "inputs.flagged", "equals": True},
        ],
        "tags": [{"name": "env", "value": "prod"}],
    }
    selector = Selector(**serialised)
    assert selector.method == OrderedSampler(field="outputs.confidence", sort="ascending")
    assert selector.filters == (BoundsFilter(field="outputs.confidence", upper=0.5), EqualityFilter(field="inputs.flagged", equals=True))


GANTRY_CURATOR = {
    "id": "6a9d7c1e-6bb2-4d59-9a36-6f3c0b9a1d3e",
    "name": "Low Confidence Reviews",
    "application_name": "demo",
    "curated_dataset_name": "Low Confidence Reviews",
    "start_on": "2024-06-01T00:00:00",
    "curation_interval": 86400.0,
    "curate_past_intervals": True,
    "created_at": "2024-06-01T10:00:00",
    "selectors": [
        {
            "method": {"sample": "ordered", "field": "outputs.confidence", "sort": "ascending"},
            "limit": 50,
            "filters": [{"field": "outputs.confidence", "upper": 0.5}],
            "tags": [],
        }
    ],
}


def test_a_gantry_serialised_curator_loads_in_python_and_yaml() -> None:
    from_python = curator_from_gantry(GANTRY_CURATOR)
    assert from_python.curation_interval == datetime.timedelta(days=1)
    assert from_python.start_on == datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)
    assert from_python.selectors[0].filters == (BoundsFilter(field="outputs.confidence", upper=0.5),)
    yaml_text = """\
format: gantry
curators:
  - name: Low Confidence Reviews
    application_name: demo
    curated_dataset_name: Low Confidence Reviews
    start_on: 2024-06-01T00:00:00
    curation_interval: 86400.0
    curate_past_intervals: true
    selectors:
      - method: {sample: ordered, field: outputs.confidence, sort: ascending}
        limit: 50
        filters: [{field: outputs.confidence, upper: 0.5}]
        tags: []
"""
    assert load_curators_text(yaml_text) == [from_python]


def test_the_sample_key_and_untyped_filters_load_from_our_yaml_too() -> None:
    text = """\
- type: Curator
  name: Flagged
  application_name: demo
  selectors:
    - {method: {sample: uniform}, limit: 5, filters: [{field: inputs.flagged, equals: true}]}
"""
    [curator] = load_curators_text(text)
    assert curator.selectors[0].method == UniformSampler()
    assert curator.selectors[0].filters == (EqualityFilter(field="inputs.flagged", equals=True),)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(Exception, match="unknown format 'gantri'; valid formats: curation, gantry"):
        load_curators_text("format: gantri\ncurators: []\n")


def test_bare_seconds_stay_ambiguous_outside_the_gantry_format() -> None:
    with pytest.raises(Exception, match="a bare number is ambiguous"):
        load_curators_text("- {type: UniformCurator, name: a, application_name: demo, limit: 5, curation_interval: 86400}\n")


@pytest.mark.parametrize(("given", "expected"), [("true", True), ("False", False), ("yes", "yes"), (1, 1)])
def test_equality_curator_converts_true_and_false_as_gantry_documents(given: object, expected: object) -> None:
    curator = EqualityCurator(name="Flagged", application_name="demo", limit=5, field="inputs.flagged", equals=given)
    [selector] = curator.selectors
    assert selector.filters[0].equals == expected and type(selector.filters[0].equals) is type(expected)


def test_equality_curator_on_a_bool_column_selects_the_true_rows() -> None:
    curator = EqualityCurator(name="Flagged", application_name="demo", limit=5, field="inputs.flagged", equals="true")
    table = pa.table(
        {
            "record_id": ["a", "b", "c"],
            "__time": pa.array([datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)] * 3, pa.timestamp("us", tz="UTC")),
            "inputs.flagged": [True, False, True],
        }
    )
    picked = select(table, curator.selectors, seed=1)
    assert sorted(picked.column("record_id").to_pylist()) == ["a", "c"]


def test_bounded_range_curator_in_gantry_positional_order() -> None:
    curator = BoundedRangeCurator("Borderline", "demo", 10, "outputs.confidence", 0.6, 0.4)
    assert curator.selectors[0].filters == (BoundsFilter(field="outputs.confidence", upper=0.6, lower=0.4),)
