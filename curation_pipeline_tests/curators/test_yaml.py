"""YAML catalogues: the accepted shapes, and every kind of bad file rejected whole with located problems."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from curation_pipeline.curators import (
    BoundedRangeCurator,
    Curator,
    CuratorConfigError,
    CuratorFileError,
    EqualsFilter,
    ProportionalStratificationCurator,
    UniformCurator,
    curator_from_dict,
    load_curators,
    load_curators_text,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "curators.yaml"

GOOD = """\
curators:
  - type: UniformCurator
    name: sample
    application_name: demo
    limit: 100
    start_on: 2024-06-01
    curation_interval: 6h
  - type: Curator
    name: staging-spam
    application_name: demo
    curation_interval: PT30M
    curation_delay: 5m
    enabled: false
    selectors:
      - method: {type: uniform}
        limit: 10
        filters:
          - {type: equals, field: outputs.label, equals: spam}
        tags:
          - {name: env, value: staging}
"""


def load_problems(text: str, source: str = "cat.yaml") -> list[str]:
    with pytest.raises(CuratorFileError) as caught:
        load_curators_text(text, source=source)
    assert isinstance(caught.value, CuratorConfigError)
    return [str(p) for p in caught.value.problems]


def test_good_file() -> None:
    sample, spam = load_curators_text(GOOD)
    assert sample == UniformCurator(
        "sample", "demo", 100, start_on=dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc), curation_interval=dt.timedelta(hours=6)
    )
    assert type(spam) is Curator
    assert spam.curation_interval == dt.timedelta(minutes=30)
    assert spam.curation_delay == dt.timedelta(minutes=5)
    assert spam.enabled is False
    assert spam.selectors[0].filters == (EqualsFilter(field="outputs.label", equals="spam"),)
    assert spam.fields() == {"outputs.label", "tags.env"}


def test_top_level_list_is_accepted() -> None:
    text = "- {type: NewestCurator, name: n, application_name: demo, limit: 5}\n"
    assert [c.name for c in load_curators_text(text)] == ["n"]


def test_empty_list_is_an_empty_catalogue() -> None:
    assert load_curators_text("curators: []\n") == []


def test_file_round_trip_through_to_dict(tmp_path: Path) -> None:
    curators = load_curators_text(GOOD)
    path = tmp_path / "again.yaml"
    path.write_text(yaml.safe_dump({"curators": [c.to_dict() for c in curators]}, sort_keys=False))
    assert load_curators(path) == curators


def test_example_file_is_valid() -> None:
    curators = load_curators(EXAMPLE)
    assert [(type(c).__name__, c.name) for c in curators] == [
        ("UniformCurator", "reviews-sample"),
        ("BoundedRangeCurator", "reviews-borderline"),
        ("ProportionalStratificationCurator", "reviews-by-category"),
        ("Curator", "reviews-to-label"),
    ]
    borderline = curators[1]
    assert isinstance(borderline, BoundedRangeCurator)
    assert (borderline.lower_bound, borderline.upper_bound) == (0.4, 0.6)
    assert borderline.start_on == dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
    assert borderline.curation_delay == dt.timedelta(minutes=30)
    weekly = curators[2]
    assert isinstance(weekly, ProportionalStratificationCurator)
    assert (weekly.dataset_name, weekly.curation_interval, weekly.enabled) == ("reviews-by-category-weekly", dt.timedelta(weeks=1), False)
    assert len(curators[3].selectors) == 2


def test_syntax_error_reports_file_and_line() -> None:
    text = "curators:\n  - type: UniformCurator\n    name: [sample\n"
    problems = load_problems(text)
    assert len(problems) == 1
    assert problems[0].startswith("cat.yaml:4: YAML syntax error: ")


def test_unknown_type_lists_the_valid_ones() -> None:
    assert load_problems("- {type: RandomCurator, name: r, application_name: demo, limit: 5}\n") == [
        "cat.yaml:1: curator 'r', field 'type': unknown curator type 'RandomCurator'; valid types: Curator, "
        "UniformCurator, NewestCurator, OldestCurator, AscendedSortCurator, DescendedSortCurator, "
        "BoundedRangeCurator, EqualityCurator, StrictStratificationCurator, ProportionalStratificationCurator, "
        "BalancedStratificationCurator"
    ]


def test_missing_type() -> None:
    problems = load_problems("- {name: r, application_name: demo, limit: 5}\n")
    assert problems[0].startswith("cat.yaml:1: curator 'r', field 'type': missing curator type; valid types: Curator, ")


def test_duplicate_curator_name() -> None:
    text = """\
- {type: UniformCurator, name: a, application_name: demo, limit: 5, curated_dataset_name: a1}
- {type: NewestCurator, name: a, application_name: demo, limit: 5, curated_dataset_name: a2}
"""
    assert load_problems(text) == ["cat.yaml:2: curator 'a', field 'name': duplicate curator name 'a' (also curators[0])"]


def test_duplicate_dataset() -> None:
    text = """\
- {type: UniformCurator, name: a, application_name: demo, limit: 5}
- {type: NewestCurator, name: b, application_name: demo, limit: 5, curated_dataset_name: a}
"""
    assert load_problems(text) == [
        "cat.yaml:2: curator 'b', field 'curated_dataset_name': dataset 'a' is already curated by 'a'; two curators may not share a dataset"
    ]


def test_bad_interval_string() -> None:
    assert load_problems("- {type: UniformCurator, name: a, application_name: demo, limit: 5, curation_interval: P1M}\n") == [
        "cat.yaml:1: curator 'a', field 'curation_interval': months and years have no fixed length; use weeks or days, got 'P1M'"
    ]


def test_bare_number_interval_is_refused() -> None:
    problems = load_problems("- {type: UniformCurator, name: a, application_name: demo, limit: 5, curation_interval: 3600}\n")
    assert problems == [
        "cat.yaml:1: curator 'a', field 'curation_interval': a bare number is ambiguous as an interval, give a unit "
        "(e.g. '1d', '6h', '1h30m' or ISO-8601 'PT30M', 'P1DT6H'), got 3600"
    ]


def test_several_problems_are_reported_together_in_file_order() -> None:
    text = """\
curators:
  - type: UniformCurator
    name: ok
    application_name: demo
    limit: 5
  - type: UniformCurator
    application_name: demo
    limit: 0
  - type: Curator
    name: Bad/
    application_name: demo
    curation_interval: 90s
    selectors:
      - {limit: 5, method: {type: ordered, sort: sideways}}
  - type: NewestCurator
    name: ok
    application_name: demo
    limit: 5
    colour: blue
  - type: UniformCurator
    name: twice
    application_name: demo
    limit: 5
    limit: 6
"""
    with pytest.raises(CuratorFileError) as caught:
        load_curators_text(text, source="catalog.yaml")
    error = caught.value
    assert [str(p) for p in error.problems] == [
        "catalog.yaml:6: curators[1], field 'name': required field of UniformCurator is missing",
        "catalog.yaml:9: curator 'Bad/', field 'name': invalid curator name 'Bad/': must be 1 to 255 characters of text without control characters, '/', '\\' or surrounding blanks",
        "catalog.yaml:9: curator 'Bad/', field 'curation_interval': curation_interval must be a whole number of minutes, at least 1 minute, got '90s'",
        "catalog.yaml:9: curator 'Bad/', field 'selectors[0].method.sort': Input should be 'ascending' or 'descending' (got 'sideways')",
        "catalog.yaml:15: curator 'ok', field 'colour': unknown field for NewestCurator; valid fields: name, application_name, "
        "limit, curated_dataset_name, start_on, curation_interval, curate_past_intervals, curation_delay, enabled, recurate_late_within, selectors",
        "catalog.yaml:24: curator 'twice', field 'limit': given twice; each field may appear once",
    ]
    assert str(error).splitlines()[0] == "catalog.yaml: 6 problems in curator file"
    assert str(error).splitlines()[1:] == [f"  {p}" for p in error.problems]
    assert len(error.split()) == 6


def test_stock_curator_with_selectors_in_yaml() -> None:
    text = "- {type: UniformCurator, name: u, application_name: demo, limit: 5, selectors: [{limit: 3}]}\n"
    assert load_problems(text) == [
        "cat.yaml:1: curator 'u', field 'selectors': UniformCurator builds its own selector; use Curator(selectors=[...]) for custom selection"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "cat.yaml: no curators: expected a list of curators, or a mapping with a 'curators:' list"),
        ("curators: 3\n", "cat.yaml:1: expected a list of curators, or a mapping with a 'curators:' list, got int"),
        ("curator: []\n", "cat.yaml:1: expected a list of curators, or a mapping with a 'curators:' list; unexpected top-level keys: curator"),
        ("- just a string\n", "cat.yaml:1: curators[0]: a curator must be a mapping of its fields, got 'just a string'"),
    ],
)
def test_wrong_shapes(text: str, problem: str) -> None:
    assert load_problems(text) == [problem]


def test_impossible_date_is_a_problem_not_a_crash() -> None:
    text = "- {type: UniformCurator, name: a, application_name: demo, limit: 5, start_on: 2024-02-30}\n"
    assert load_problems(text) == ["cat.yaml: invalid value: day is out of range for month"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CuratorFileError) as caught:
        load_curators(tmp_path / "nope.yaml")
    assert str(caught.value.problems[0]) == f"{tmp_path / 'nope.yaml'}: cannot read file: No such file or directory"


def test_curator_from_dict_reports_unknown_type_without_a_file() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        curator_from_dict({"type": "Nope", "name": "n"})
    assert (caught.value.curator, caught.value.field) == ("n", "type")
