"""The command line's one boundary: each error family's exit code and message; tables; JSON."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from curation_pipeline.cli import main
from curation_pipeline.cli.output import (
    EXIT_CODES,
    CurationGroup,
    about_dataset,
    echo_fields,
    echo_json,
    echo_table,
    exit_code,
    table,
)
from curation_pipeline.curators import CuratorConfigError
from curation_pipeline.errors import CurationError
from curation_pipeline.names import InvalidNameError
from curation_pipeline.selection import FieldTypeError, MissingFieldError, SelectionError
from curation_pipeline.store import (
    DatasetDeletedError,
    DatasetNotFoundError,
    LocalChangesError,
    StoreAccessError,
    UnmatchedPathError,
    UnsafePathError,
    WriteConflictError,
)
from curation_pipeline.stream import InvalidApplicationNameError, StreamError, StreamStorageError


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (CurationError("x"), 1),
        (InvalidNameError("x"), 1),
        (StreamError("x"), 1),
        (StreamStorageError("x"), 1),
        (InvalidApplicationNameError("x"), 1),  # the stream's errors all exit 1, as documented
        (SelectionError("x"), 1),
        (MissingFieldError("f", ["g"]), 1),
        (FieldTypeError("x"), 1),
        (CuratorConfigError("x"), 1),
        (StoreAccessError("x"), 1),
        (UnmatchedPathError("x", ["p"]), 2),
        (UnsafePathError("x"), 2),
        (DatasetNotFoundError("x"), 3),
        (WriteConflictError("x"), 4),
        (LocalChangesError("x", ["a"]), 6),
    ],
)
def test_exit_code_of_each_error_family(error: CurationError, code: int) -> None:
    assert exit_code(error) == code


def test_the_table_lists_library_errors_only() -> None:
    assert all(issubclass(cls, CurationError) for cls, _ in EXIT_CODES)


def _cli(error: BaseException, *, dataset: str | None = None) -> click.Group:
    """A group like the real ones with one verb raising ``error``."""

    @click.group(cls=CurationGroup)
    def group() -> None:
        pass

    @group.command()
    def verb() -> None:
        if dataset:
            about_dataset(dataset)
        raise error

    return group


def _run(group: click.Group) -> tuple[int, str, str]:
    result = CliRunner().invoke(group, ["verb"])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (StreamStorageError("bucket\n  unreachable"), 1),
        (FieldTypeError("wrong type"), 1),
        (UnsafePathError("unsafe path '/a'"), 2),
        (DatasetNotFoundError("dataset 'x' not found"), 3),
        (OSError("disk full"), 1),
    ],
)
def test_a_failure_is_one_line_on_stderr_with_its_exit_code(error: BaseException, code: int) -> None:
    exit_status, stdout, stderr = _run(_cli(error))
    assert (exit_status, stdout) == (code, "")
    assert stderr == f"Error: {' '.join(str(error).split())}\n"


def test_a_curator_report_is_printed_whole_without_prefix() -> None:
    report = CuratorConfigError("f.yaml: 2 problems in curator file\n  f.yaml:1: one\n  f.yaml:2: two")
    assert _run(_cli(report)) == (1, "", f"{report}\n")


def test_python_advice_becomes_the_command_to_type() -> None:
    error = DatasetDeletedError("dataset 'x' is deleted; restore_dataset('x') to write to it again")
    _, _, stderr = _run(_cli(error, dataset="x"))
    assert stderr == "Error: dataset 'x' is deleted; restore it with 'curation datasets restore x'\n"
    _, _, stderr = _run(_cli(error))  # not known which dataset: the library's text stays
    assert stderr == f"Error: {error}\n"


def test_other_exceptions_are_not_swallowed() -> None:
    result = CliRunner().invoke(_cli(RuntimeError("bug")), ["verb"])
    assert isinstance(result.exception, RuntimeError)


def test_every_group_is_a_boundary() -> None:
    groups = [main, *(command for command in main.commands.values() if isinstance(command, click.Group))]
    assert {g.name for g in groups} >= {"main", "datasets", "stream", "curators"}
    assert all(isinstance(group, CurationGroup) for group in groups)


def test_one_table_printer() -> None:
    rows = [("a", "1", "free text"), ("longer", "22", "")]
    assert table(("NAME", "N", "NOTE"), rows).splitlines() == [
        "NAME    N   NOTE",
        "a       1   free text",
        "longer  22",
    ]

    @click.command()
    def show() -> None:
        echo_table(("NAME", "N", "NOTE"), rows)

    assert CliRunner().invoke(show).stdout == table(("NAME", "N", "NOTE"), rows) + "\n"


def test_one_json_format() -> None:
    @click.command()
    def show() -> None:
        echo_json({"b": [1], "a": None})

    out = CliRunner().invoke(show).stdout
    assert out == '{\n  "a": null,\n  "b": [\n    1\n  ]\n}\n'
    assert json.loads(out) == {"a": None, "b": [1]}


def test_one_field_printer() -> None:
    @click.command()
    def show() -> None:
        echo_fields([("rows", "600"), ("latest record", "-")])

    assert CliRunner().invoke(show).stdout == "rows           600\nlatest record  -\n"
