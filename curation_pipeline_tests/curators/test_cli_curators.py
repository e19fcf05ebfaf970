"""``curation curators validate`` and ``curation curators list``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_pipeline.cli import main
from curation_pipeline.curators import curator_from_dict
from curation_pipeline.demo import demo_curators
from curation_pipeline.store import DatasetStore

NOW = dt.datetime(2024, 6, 10, 15, 45, tzinfo=dt.timezone.utc)

GOOD = """\
- {type: UniformCurator, name: sample, application_name: demo, limit: 100}
- {type: NewestCurator, name: latest, application_name: demo, limit: 5, curation_interval: 6h, enabled: false}
"""
BAD = """\
- {type: UniformCurator, name: sample, application_name: demo, limit: 0}
- {type: Wrong, name: other, application_name: demo}
"""


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("CURATION_CURATORS_FILE", raising=False)
    return CliRunner()


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    return path


def test_validate_ok(runner: CliRunner, good: Path) -> None:
    result = runner.invoke(main, ["curators", "validate", str(good)])
    assert result.exit_code == 0
    assert result.stdout == "OK: 2 curators\n"


def test_validate_prints_every_problem_and_fails(runner: CliRunner, bad: Path) -> None:
    result = runner.invoke(main, ["curators", "validate", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{bad}: 2 problems in curator file"
    assert lines[1] == f"  {bad}:1: curator 'sample', field 'limit': Input should be greater than or equal to 1 (got 0)"
    assert lines[2].startswith(f"  {bad}:2: curator 'other', field 'type': unknown curator type 'Wrong'; valid types: Curator, ")


def test_validate_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["curators", "validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert "cannot read file: No such file or directory" in result.stderr


def test_list_table(runner: CliRunner, good: Path, tmp_path: Path) -> None:
    result = runner.invoke(main, ["curators", "list", str(good)], env={"CURATION_STORE_URL": str(tmp_path / "store")})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "NAME    TYPE            APPLICATION  DATASET  INTERVAL  DELAY  START             ENABLED (YAML)  DESCRIPTION",
        "sample  UniformCurator  demo         sample   1d        0m     not yet deployed  yes             100 uniformly random records per 1 day",
        "latest  NewestCurator   demo         latest   6h        0m     not yet deployed  no              5 newest records per 6 hours",
    ]


def test_list_shows_where_each_start_comes_from(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "starts.yaml"
    path.write_text(
        GOOD + "- {type: UniformCurator, name: fixed, application_name: demo, limit: 1, start_on: 2026-03-01}\n"
    )
    store = DatasetStore.open(tmp_path / "store")
    store.record_curator_start("sample", dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc))
    result = runner.invoke(main, ["curators", "list", str(path)], env={"CURATION_STORE_URL": str(tmp_path / "store")})
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    start, end = header.index("START"), header.index("ENABLED")
    assert {row.split()[0]: row[start:end].strip() for row in rows} == {
        "sample": "2026-11-27 (first deployed)",
        "latest": "not yet deployed",
        "fixed": "2026-03-01 (start_on)",
    }


def test_list_json(runner: CliRunner, good: Path) -> None:
    result = runner.invoke(main, ["curators", "list", str(good), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [item["description"] for item in data] == ["100 uniformly random records per 1 day", "5 newest records per 6 hours"]
    rebuilt = [curator_from_dict({k: v for k, v in item.items() if k != "description"}) for item in data]
    assert [c.name for c in rebuilt] == ["sample", "latest"]
    assert data[1]["curation_interval"] == "6h"


def test_list_reads_the_environment_file(runner: CliRunner, good: Path) -> None:
    result = runner.invoke(main, ["curators", "list"], env={"CURATION_CURATORS_FILE": str(good)})
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["sample", "latest"]


def test_list_bad_file_fails(runner: CliRunner, bad: Path) -> None:
    result = runner.invoke(main, ["curators", "list", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{bad}: 2 problems in curator file\n")


def test_list_defaults_to_the_demo_catalogue(runner: CliRunner) -> None:
    result = runner.invoke(main, ["curators", "list", "--json"])
    assert result.exit_code == 0
    # Names do not depend on the day, so the catalogue built here need not share the command's clock.
    assert [item["name"] for item in json.loads(result.stdout)] == [c.name for c in demo_curators(NOW)]


def test_list_without_any_catalogue(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "curation_pipeline.demo", None)  # importing it now fails
    result = runner.invoke(main, ["curators", "list"])
    assert result.exit_code == 1
    assert result.stderr == "no curator file given, CURATION_CURATORS_FILE is not set, and there is no built-in catalogue\n"


def test_list_shows_the_key_of_a_gantry_name(tmp_path) -> None:
    catalogue = tmp_path / "gantry.yaml"
    catalogue.write_text("- {type: UniformCurator, name: Review Queue, application_name: demo, limit: 5, start_on: 2026-01-01}\n")
    result = CliRunner().invoke(main, ["curators", "list", str(catalogue)])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "KEY", "TYPE"]
    assert row.startswith("Review Queue  review-queue  UniformCurator")
