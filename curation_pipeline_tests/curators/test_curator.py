"""The general Curator: defaults, validation with located errors, value semantics, serialisation."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
import subprocess
import sys

import pytest

from curation_pipeline.curators import (
    BoundsFilter,
    Curator,
    CuratorConfigError,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    TagFilter,
    UniformSampler,
    curator_from_dict,
    validate_catalog,
)

UTC = dt.timezone.utc
LOW_CONFIDENCE = Selector(
    method=OrderedSampler(field="outputs.confidence", sort="ascending"),
    limit=50,
    filters=[BoundsFilter(field="outputs.confidence", upper=0.3)],
    tags=[TagFilter(name="env", value="prod")],
)
BY_FEEDBACK = Selector(method=StratifiedSampler(field="feedback.label", mode="balanced"), limit=20)


def make(**overrides: object) -> Curator:
    arguments = {"name": "review-queue", "application_name": "demo", "selectors": [LOW_CONFIDENCE]}
    arguments.update(overrides)
    return Curator(**arguments)  # type: ignore[arg-type]


def test_gantry_defaults() -> None:
    curator = make()
    assert curator.name == "review-queue"
    assert curator.application_name == "demo"
    assert curator.curated_dataset_name == "review-queue"
    assert curator.dataset_name == "review-queue"
    assert curator.start_on is None
    assert curator.curation_interval == dt.timedelta(days=1)
    assert curator.curation_delay == dt.timedelta(0)
    assert curator.curate_past_intervals is True
    assert curator.enabled is True
    assert curator.selectors == (LOW_CONFIDENCE,)


def test_positional_arguments_in_gantry_order() -> None:
    curator = Curator(
        "a", "demo", "a-data", dt.datetime(2024, 1, 1), dt.timedelta(hours=6), dt.timedelta(minutes=30), False, [BY_FEEDBACK], False
    )
    assert curator.curated_dataset_name == "a-data"
    assert curator.start_on == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert (curator.curation_interval, curator.curation_delay) == (dt.timedelta(hours=6), dt.timedelta(minutes=30))
    assert (curator.curate_past_intervals, curator.enabled) == (False, False)


def test_selectors_may_be_mappings() -> None:
    curator = make(selectors=[{"method": {"type": "uniform"}, "limit": 7}])
    assert curator.selectors == (Selector(method=UniformSampler(), limit=7),)


def test_fields_cover_every_selector() -> None:
    curator = make(selectors=[LOW_CONFIDENCE, BY_FEEDBACK])
    assert curator.fields() == {"outputs.confidence", "tags.env", "feedback.label"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (dt.datetime(2024, 3, 1, 12, 30), dt.datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        (
            dt.datetime(2024, 3, 1, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            dt.datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
        ),
        (dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T12:30:00Z", dt.datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        (None, None),
    ],
)
def test_start_on_is_utc(given: object, expected: dt.datetime | None) -> None:
    start = make(start_on=given).start_on
    assert start == expected
    assert start is None or start.tzinfo == UTC


def test_intervals_accept_text() -> None:
    curator = make(curation_interval="1h30m", curation_delay="PT15M")
    assert curator.curation_interval == dt.timedelta(minutes=90)
    assert curator.curation_delay == dt.timedelta(minutes=15)


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"name": " Review"}, "name", "invalid curator name ' Review': must be 1 to 255 characters of text without control characters, '/', '\\' or surrounding blanks"),
        ({"name": "review/queue"}, "name", "invalid curator name 'review/queue'"),
        ({"name": "x" * 256}, "name", "invalid curator name"),
        ({"name": ""}, "name", "invalid curator name ''"),
        ({"application_name": "Demo\n"}, "application_name", "invalid application name 'Demo\\n'"),
        ({"curated_dataset_name": "My/Data"}, "curated_dataset_name", "invalid dataset name 'My/Data'"),
        ({"curation_interval": dt.timedelta(seconds=90)}, "curation_interval", "whole number of minutes, at least 1 minute"),
        ({"curation_interval": dt.timedelta(seconds=30)}, "curation_interval", "whole number of minutes, at least 1 minute"),
        ({"curation_interval": dt.timedelta(0)}, "curation_interval", "an interval must be positive"),
        ({"curation_interval": "1 day"}, "curation_interval", "not an interval: '1 day'"),
        ({"curation_delay": dt.timedelta(minutes=-5)}, "curation_delay", "an interval must be zero or positive"),
        ({"start_on": "yesterday"}, "start_on", "start_on must be an ISO-8601 date or datetime, got 'yesterday'"),
        ({"start_on": 1700000000}, "start_on", "start_on must be a datetime, a date or None"),
        ({"curate_past_intervals": "yes"}, "curate_past_intervals", "curate_past_intervals must be true or false, got 'yes'"),
        ({"enabled": 1}, "enabled", "enabled must be true or false, got 1"),
        ({"selectors": []}, "selectors", "selectors must be a non-empty list of Selector: a curator needs at least one"),
        ({"selectors": None}, "selectors", "selectors must be a non-empty list of Selector, got None"),
        ({"selectors": ["newest"]}, "selectors[0]", "a selector must be a Selector or a mapping of its fields, got 'newest'"),
        ({"selectors": [BY_FEEDBACK, {"limit": 10_001}]}, "selectors[1].limit", "Input should be less than or equal to 10000"),
        ({"selectors": [{"limit": 5, "filters": [{"type": "bounds", "field": "x"}]}]}, "selectors[0].filters[0]", "at least one of"),
        ({"selectors": [{"limit": 5, "method": {"type": "stratified", "field": "x", "mode": "even"}}]}, "selectors[0].method.mode", "Input should be 'proportional', 'strict' or 'balanced'"),
        ({"selectors": [{"limit": 5, "sample": 3}]}, "selectors[0].sample", "Extra inputs are not permitted"),
    ],
)
def test_validation_names_curator_and_field(overrides: dict, field: str, problem: str) -> None:
    with pytest.raises(CuratorConfigError) as caught:
        make(**overrides)
    error = caught.value
    assert (error.curator, error.field) == (overrides.get("name", "review-queue") or None, field)
    assert problem in error.problem
    assert str(error).startswith(f"curator {error.curator!r}, field {field!r}: " if error.curator else f"field {field!r}: ")


def test_error_message_format() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        make(name="x", selectors=[BY_FEEDBACK, {"limit": 0}])
    assert str(caught.value) == "curator 'x', field 'selectors[1].limit': Input should be greater than or equal to 1 (got 0)"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        make(name="x", application_name="", curation_interval="0m", selectors=[])
    assert [p.field for p in caught.value.split()] == ["application_name", "curation_interval", "selectors"]
    assert all(p.curator == "x" for p in caught.value.split())
    assert str(caught.value).startswith("curator 'x': 3 problems: application_name: invalid application name ''")


def test_an_invalid_name_is_reported_once() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        make(name="Bad/")
    assert [p.field for p in caught.value.split()] == ["name"]


def test_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Curator("a", "demo", selectors=[BY_FEEDBACK], schedule="daily")  # type: ignore[call-arg]


def test_immutable() -> None:
    curator = make()
    with pytest.raises(AttributeError, match="immutable"):
        curator.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        curator.limit = 3  # type: ignore[attr-defined]


def test_value_semantics() -> None:
    a = make(start_on=dt.datetime(2024, 1, 1))
    b = make(start_on=dt.datetime(2024, 1, 1, tzinfo=UTC), curated_dataset_name="review-queue")
    assert a == b
    assert hash(a) == hash(b)
    assert a != make(start_on=dt.datetime(2024, 1, 2))
    assert a != make(start_on=dt.datetime(2024, 1, 1), enabled=False)
    assert len({a, b}) == 1


def test_copies_and_pickles_are_equal_values() -> None:
    curator = make(selectors=[LOW_CONFIDENCE, BY_FEEDBACK], start_on=dt.datetime(2024, 1, 1))
    assert copy.deepcopy(curator) == curator
    assert copy.copy(curator) == curator
    assert pickle.loads(pickle.dumps(curator)) == curator


def test_repr_reads_like_the_constructor() -> None:
    curator = make(selectors=[Selector(method=UniformSampler(), limit=3)])
    assert repr(curator) == (
        "Curator(name='review-queue', application_name='demo', curated_dataset_name='review-queue', "
        "start_on=None, curation_interval='1d', curation_delay='0m', curate_past_intervals=True, enabled=True, "
        "selectors=[{'method': {'type': 'uniform'}, 'limit': 3, 'filters': [], 'tags': []}])"
    )


def test_description() -> None:
    curator = make(selectors=[LOW_CONFIDENCE, BY_FEEDBACK], curation_interval="6h")
    assert curator.description == (
        "50 records with the lowest outputs.confidence where outputs.confidence < 0.3 and tags.env == 'prod'"
        " or 20 records stratified by feedback.label (balanced) per 6 hours"
    )


def test_to_dict_and_back() -> None:
    curator = make(
        selectors=[LOW_CONFIDENCE, BY_FEEDBACK],
        start_on=dt.datetime(2024, 5, 1, 6),
        curation_interval="1h30m",
        curation_delay="10m",
        enabled=False,
    )
    data = curator.to_dict()
    assert data == {
        "type": "Curator",
        "name": "review-queue",
        "application_name": "demo",
        "curated_dataset_name": "review-queue",
        "start_on": "2024-05-01T06:00:00+00:00",
        "curation_interval": "1h30m",
        "curation_delay": "10m",
        "curate_past_intervals": True,
        "enabled": False,
        "selectors": [
            {
                "method": {"type": "ordered", "field": "outputs.confidence", "sort": "ascending"},
                "limit": 50,
                "filters": [{"type": "bounds", "field": "outputs.confidence", "upper": 0.3}],
                "tags": [{"name": "env", "value": "prod"}],
            },
            {"method": {"type": "stratified", "field": "feedback.label", "mode": "balanced"}, "limit": 20, "filters": [], "tags": []},
        ],
    }
    assert curator_from_dict(data) == curator


def test_datetime_bounds_round_trip() -> None:
    bounds = BoundsFilter(field="__time", inclusive_lower=dt.datetime(2024, 1, 1, tzinfo=UTC))
    curator = make(selectors=[Selector(limit=5, filters=[bounds])])
    assert curator_from_dict(curator.to_dict()) == curator


def test_validate_catalog_accepts_unique_names_and_datasets() -> None:
    curators = [make(name="a"), make(name="b")]
    assert validate_catalog(curators) == curators
    assert validate_catalog([]) == []


def test_validate_catalog_reports_duplicates() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        validate_catalog([make(name="a"), make(name="b", curated_dataset_name="a"), make(name="a"), "c"])
    assert [str(p) for p in caught.value.split()] == [
        "curator 'b', field 'curated_dataset_name': dataset 'a' is already curated by 'a'; two curators may not share a dataset",
        "curator 'a', field 'name': duplicate curator name 'a' (also curators[0])",
        "curators[3] is not a Curator: 'c'",
    ]


def test_the_curators_package_stays_below_dagster_and_storage() -> None:
    code = (
        "import sys, curation_pipeline.curators\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'dagster', 'boto3', 'botocore'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
