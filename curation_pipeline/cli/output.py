"""What every ``curation`` command shares at the shell: the error boundary, tables and JSON.

Library errors end here, and only here. Every command group is a
:class:`CurationGroup`: a :class:`~curation_pipeline.errors.CurationError`
escaping a verb becomes a message on stderr and the exit code
:func:`exit_code` picks from :data:`EXIT_CODES` (a local ``OSError``, such as
an unreadable file to push, exits 1). Verbs therefore just call the library.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import IO, Any

import click

from curation_pipeline.curators import CuratorConfigError
from curation_pipeline.errors import CurationError, redact, safe_cause
from curation_pipeline.names import NameCollisionError, name_key
from curation_pipeline.store import (
    AmbiguousVersionError,
    CommitConflictError,
    CorruptObjectError,
    DatasetDeletedError,
    DatasetExistsError,
    DatasetNotDeletedError,
    InvalidDatasetNameError,
    InvalidManifestError,
    InvalidStoreUrlError,
    LocalChangesError,
    MissingObjectError,
    NotFoundError,
    UnmatchedPathError,
    UnsafePathError,
    WorkingCopyError,
    WriteConflictError,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_CORRUPT = 5
EXIT_LOCAL_CHANGES = 6

#: Most specific first: the first matching class decides the exit code. Every
#: other library error (stream, selection, curator configuration, an unreachable
#: store...) exits :data:`EXIT_FAILURE`.
EXIT_CODES: tuple[tuple[type[CurationError], int], ...] = (
    (LocalChangesError, EXIT_LOCAL_CHANGES),
    (WorkingCopyError, EXIT_LOCAL_CHANGES),
    (CorruptObjectError, EXIT_CORRUPT),
    (InvalidManifestError, EXIT_CORRUPT),
    (MissingObjectError, EXIT_CORRUPT),
    (CommitConflictError, EXIT_CONFLICT),
    (WriteConflictError, EXIT_CONFLICT),
    (DatasetExistsError, EXIT_CONFLICT),
    (NameCollisionError, EXIT_CONFLICT),
    (DatasetNotDeletedError, EXIT_CONFLICT),
    (NotFoundError, EXIT_NOT_FOUND),
    (DatasetDeletedError, EXIT_NOT_FOUND),
    (InvalidDatasetNameError, EXIT_USAGE),
    (InvalidStoreUrlError, EXIT_USAGE),
    (UnsafePathError, EXIT_USAGE),
    (UnmatchedPathError, EXIT_USAGE),
    (AmbiguousVersionError, EXIT_USAGE),
)

#: The table above as ``--help`` shows it (the ``datasets`` group's epilog).
EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  other failure (store unreachable, access denied, ...)
  2  usage: bad option or argument, invalid dataset name, unsafe path,
     a path to remove that matches nothing, ambiguous version prefix,
     malformed store URL
  3  not found: dataset (or it is deleted), version or file
  4  conflict: dataset exists (or another name has its key), HEAD moved
     past --parent, commit race lost, purge of a dataset that is not deleted
  5  integrity: corrupt or missing object, invalid manifest
  6  local changes: pull would overwrite local edits (use --force), or the
     folder is a working copy of another dataset"""

#: Errors whose message is a report to read whole (a header line, then one
#: line per problem): printed as they are, without the ``Error:`` prefix.
REPORTS: tuple[type[CurationError], ...] = (CuratorConfigError,)

#: Command-line advice replacing the library's Python-API advice (the text after
#: its last "; "), given the dataset the command was about.
ADVICE: dict[type[CurationError], str] = {
    DatasetDeletedError: "restore it with 'curation datasets restore {name}'",
    DatasetNotDeletedError: "delete it first with 'curation datasets delete {name}'",
    LocalChangesError: "use --force to discard them",
}

#: Where a verb records the dataset it works on, for :data:`ADVICE` (``ctx.meta``
#: is shared by every context of one command line).
_DATASET = "curation.dataset"


class Failure(click.ClickException):
    """A failed command: its message on stderr and its exit code.

    ``prefixed`` messages read ``Error: <message>``; the others (reports) are
    printed as they are.
    """

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE, *, prefixed: bool = True) -> None:
        super().__init__(redact(message))  # whatever reaches the terminal: never a credential
        self.exit_code = exit_code
        self.prefixed = prefixed

    def show(self, file: IO[Any] | None = None) -> None:
        if self.prefixed:
            super().show(file)
        else:
            click.echo(self.format_message(), err=file is None, file=file)


class CurationGroup(click.Group):
    """A command group whose verbs' library errors end as a :class:`Failure` (see :func:`failure`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CurationError as error:
            raise failure(error, dataset=ctx.meta.get(_DATASET)) from error
        except BrokenPipeError:
            raise  # the reader went away (``| head``): click ends quietly
        except OSError as error:  # a local file to push, a folder to pull into...
            raise Failure(_one_line(str(error)), EXIT_FAILURE) from safe_cause(error)


def exit_code(error: CurationError) -> int:
    """The exit code for a library error (1 if no class in :data:`EXIT_CODES` matches)."""
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), EXIT_FAILURE)


def failure(error: CurationError, where: str | None = None, *, dataset: str | None = None) -> Failure:
    """The :class:`Failure` reporting ``error``: its exit code and message.

    ``where`` (a file and row, say) is put before the message. ``dataset``,
    the dataset the command was about, turns the library's Python advice into
    the command to type (see :data:`ADVICE`). Messages are one line, except
    :data:`REPORTS`.
    """
    if isinstance(error, REPORTS):
        return Failure(str(error), exit_code(error), prefixed=False)
    text = _one_line(str(error)) or type(error).__name__
    advice = next((a for cls, a in ADVICE.items() if isinstance(error, cls)), None)
    if advice and dataset and "; " in text:
        text = f"{text.rsplit('; ', 1)[0]}; {advice.format(name=dataset)}"
    return Failure(f"{where}: {text}" if where else text, exit_code(error))


def about_dataset(name: str | None) -> None:
    """Record that the running command is about dataset ``name`` (for advice in error messages)."""
    click.get_current_context().meta[_DATASET] = name


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- output ---------------------------------------------------------------------------------


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``rows`` under ``columns``, each column as wide as its widest cell, two spaces apart.

    The last column is free text: no padding after it.
    """
    return "\n".join(_table_lines(columns, rows))


def echo_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print :func:`table` on stdout."""
    for line in _table_lines(columns, rows):
        click.echo(line)


def _table_lines(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Iterator[str]:
    lines = [[str(cell) for cell in row] for row in [columns, *rows]]
    widths = [max(len(row[i]) for row in lines) for i in range(len(columns))]
    for row in lines:
        yield "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()


def echo_fields(fields: Sequence[tuple[str, Any]]) -> None:
    """Print one ``label  value`` line per field, values aligned after the longest label."""
    width = max((len(label) for label, _ in fields), default=0)
    for label, value in fields:
        click.echo(f"{label.ljust(width)}  {value}")


def echo_json(value: Any) -> None:
    """Print ``value`` as one JSON document for scripts: indented, keys sorted."""
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def with_keys(
    columns: Sequence[str], rows: Sequence[Sequence[str]], names: Sequence[str]
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """``columns`` and ``rows`` with a KEY column after the first (the names) when a name differs from its key.

    Names as Gantry writes them (``My Data``) are stored under a key
    (``my-data``, see :func:`~curation_pipeline.names.name_key`); the table
    shows both only when that happens, so listings of plain names stay as they were.
    """
    keys = [name_key(name) for name in names]
    if keys == list(names):
        return tuple(columns), [tuple(row) for row in rows]
    return (columns[0], "KEY", *columns[1:]), [(row[0], key, *row[1:]) for row, key in zip(rows, keys)]
