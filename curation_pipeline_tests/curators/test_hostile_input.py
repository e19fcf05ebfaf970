"""Hostile curator input is refused as a located CuratorConfigError.

Strings where Gantry wants integers, and text that is not Unicode: each is
refused with the curator and field named, never as a raw exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_pipeline.cli import main
from curation_pipeline.curators import (
    AscendedSortCurator,
    Curator,
    CuratorConfigError,
    CuratorFileError,
    Selector,
    UniformCurator,
    load_curators_text,
)

@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("CURATION_CURATORS_FILE", raising=False)
    return CliRunner()


def only_problem(text: str, source: str = "cat.yaml") -> str:
    with pytest.raises(CuratorFileError) as caught:
        load_curators_text(text, source=source)
    assert isinstance(caught.value, CuratorConfigError)
    assert len(caught.value.problems) == 1, caught.value
    return str(caught.value.problems[0])


# --- strict types --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["'10'", '"10"', "!!str 10", "true", "2.5", "'1e1'"])
def test_yaml_limit_must_be_an_integer(value: str) -> None:
    text = f"- {{type: UniformCurator, name: a, application_name: demo, limit: {value}}}\n"
    problem = only_problem(text)
    assert problem.startswith("cat.yaml:1: curator 'a', field 'limit': ")
    assert "integer" in problem or "whole number" in problem


def test_yaml_selector_limit_must_be_an_integer() -> None:
    text = "- {type: Curator, name: a, application_name: demo, selectors: [{limit: '10'}]}\n"
    assert only_problem(text) == (
        "cat.yaml:1: curator 'a', field 'selectors[0].limit': Input should be a valid integer (got '10')"
    )


def test_python_limit_must_be_an_integer() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        UniformCurator("a", "demo", "10")  # type: ignore[arg-type]
    assert (caught.value.curator, caught.value.field) == ("a", "limit")
    assert str(caught.value) == "curator 'a', field 'limit': Input should be a valid integer (got '10')"
    with pytest.raises(CuratorConfigError, match=r"field 'selectors\[0\].limit': Input should be a valid integer"):
        Curator("a", "demo", selectors=[{"limit": "10"}])
    with pytest.raises(CuratorConfigError, match=r"field 'limit': Input should be a valid integer"):
        Selector(limit="10")  # type: ignore[arg-type]


def test_a_whole_float_limit_is_still_an_integer() -> None:
    assert Selector(limit=10.0).limit == 10  # type: ignore[arg-type]
    assert type(Selector(limit=10.0).limit) is int  # type: ignore[arg-type]
    (curator,) = load_curators_text("- {type: UniformCurator, name: a, application_name: demo, limit: 10.0}\n")
    assert curator.selectors[0].limit == 10


# --- text that is not Unicode --------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ('{type: AscendedSortCurator, name: a, application_name: demo, limit: 5, sort_field: "\\ud800"}', "sort_field"),
        ('{type: EqualityCurator, name: a, application_name: demo, limit: 5, field: f, equals: "x\\udfff"}', "equals"),
        ('{type: EqualityCurator, name: a, application_name: demo, limit: 5, field: "\\ud800", equals: 1}', "field"),
        (
            '{type: Curator, name: a, application_name: demo, selectors: [{limit: 1, tags: [{name: "\\ud800", value: v}]}]}',
            "selectors[0].tags[0].name",
        ),
        (
            '{type: Curator, name: a, application_name: demo, selectors: [{limit: 1, tags: [{name: n, value: "\\ud800"}]}]}',
            "selectors[0].tags[0].value",
        ),
        (
            '{type: Curator, name: a, application_name: demo, selectors: [{limit: 1, filters: [{type: contains, field: f, contains: "\\ud800"}]}]}',
            "selectors[0].filters[0].contains",
        ),
        (
            '{type: Curator, name: a, application_name: demo, selectors: [{limit: 1, method: {type: stratified, field: "\\ud800"}}]}',
            "selectors[0].method.field",
        ),
    ],
)
def test_yaml_lone_surrogates_are_refused_per_field(item: str, field: str) -> None:
    problem = only_problem(f"- {item}\n")
    assert problem.startswith(f"cat.yaml:1: curator 'a', field '{field}': must be valid Unicode text; ")
    assert "lone surrogate" in problem


@pytest.mark.parametrize(
    ("field", "kind"), [("name", "curator"), ("application_name", "application"), ("curated_dataset_name", "dataset")]
)
def test_yaml_lone_surrogate_names_are_invalid_names(field: str, kind: str) -> None:
    values = {"name": "a", "application_name": "demo", "curated_dataset_name": "a", field: '"a\\ud800"'}
    text = "- {type: UniformCurator, limit: 5, " + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}\n"
    problem = only_problem(text)
    assert f"field '{field}': invalid {kind} name 'a\\ud800': must be 1 to 63 characters" in problem


def test_python_lone_surrogates_are_config_errors() -> None:
    with pytest.raises(CuratorConfigError) as caught:
        AscendedSortCurator("a", "demo", 5, "\ud800")
    assert (caught.value.curator, caught.value.field) == ("a", "sort_field")
    with pytest.raises(CuratorConfigError) as caught:
        UniformCurator("\ud800", "demo", 5)
    assert caught.value.field == "name"
    assert "invalid curator name '\\ud800'" in str(caught.value)


def test_errors_about_lone_surrogates_can_be_printed() -> None:
    with pytest.raises(CuratorFileError) as caught:
        load_curators_text(
            '- {type: UniformCurator, name: "\\ud800", application_name: "\\udfff", limit: 5, "\\ud801": 1}\n'
        )
    str(caught.value).encode("utf-8")  # no UnicodeEncodeError: the values are shown escaped


def test_cli_list_refuses_a_lone_surrogate_field(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "surrogate.yaml"
    path.write_text('- {type: AscendedSortCurator, name: a, application_name: demo, limit: 5, sort_field: "\\ud800"}\n')
    for command in ("validate", "list"):
        result = runner.invoke(main, ["curators", command, str(path)])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        assert f"{path}:1: curator 'a', field 'sort_field': must be valid Unicode text" in result.output
