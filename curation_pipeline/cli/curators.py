"""``curation curators``: check and list curator catalogues."""

from __future__ import annotations

from typing import NoReturn

import click

from curation_pipeline.cli.output import CurationGroup, echo_json, echo_table, with_keys
from curation_pipeline.curators import (
    Curator,
    CuratorConfigError,
    format_interval,
    load_curators,
)
from curation_pipeline.environment import CURATORS_FILE_ENV, curators_file
from curation_pipeline.location import resolve_location
from curation_pipeline.store import DatasetStore, StoreError
from curation_pipeline.windows import NOT_YET_DEPLOYED, known_start

_COLUMNS = ("NAME", "TYPE", "APPLICATION", "DATASET", "INTERVAL", "DELAY", "START", "ENABLED", "DESCRIPTION")


@click.group("curators", cls=CurationGroup)
def curators() -> None:
    """Check and list curator catalogues (YAML files or the built-in demo)."""


@curators.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file: str) -> None:
    """Check every curator in FILE; print each problem, exit 1 if any."""
    found = load_curators(file)
    click.echo(f"OK: {len(found)} curator{'' if len(found) == 1 else 's'}")


@curators.command("list")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the curators as JSON instead of a table.")
def list_(file: str | None, as_json: bool) -> None:
    """List the curators of FILE, else of $CURATION_CURATORS_FILE, else the built-in demo catalogue.

    START is the first window and where it comes from: ``start_on``, or the
    first deployment recorded in the store ($CURATION_STORE_URL, else
    ./.curation), or "not yet deployed".
    """
    if file is None:
        file = curators_file()
    found = load_curators(file) if file is not None else _builtin_catalog()
    if as_json:
        echo_json([{**c.to_dict(), "description": c.description} for c in found])
        return
    starts = _starts(found)
    echo_table(*with_keys(_COLUMNS, [_row(c, starts[c.name]) for c in found], [c.name for c in found]))


def _builtin_catalog() -> list[Curator]:
    try:
        from curation_pipeline.demo import demo_curators
    except ImportError:  # a distribution without the demo package
        _fail(f"no curator file given, {CURATORS_FILE_ENV} is not set, and there is no built-in catalogue")
    try:
        return list(demo_curators())
    except CuratorConfigError as error:
        _fail(f"the built-in catalogue is invalid: {error}")


def _starts(found: list[Curator]) -> dict[str, str]:
    """Each curator's START cell; the store is opened only when a curator has no ``start_on``."""
    labels = {}
    try:
        needed = any(c.start_on is None for c in found)
        store = DatasetStore.open(location=resolve_location()) if needed else None
        for curator in found:
            start = known_start(curator, store)
            labels[curator.name] = start.label(curator.curation_interval) if start else NOT_YET_DEPLOYED
    except StoreError as error:
        _fail(f"cannot read curator starts from the store: {error}")
    return labels


def _row(curator: Curator, start: str) -> tuple[str, ...]:
    return (
        curator.name,
        type(curator).__name__,
        curator.application_name,
        curator.curated_dataset_name,
        format_interval(curator.curation_interval),
        format_interval(curator.curation_delay),
        start,
        "yes" if curator.enabled else "no",
        curator.description,
    )


def _fail(message: str) -> NoReturn:
    """A catalogue problem: the command line's boundary reports it whole and exits 1."""
    raise CuratorConfigError(message)
