"""``curation curators``: check and list curator catalogues; switch curators on and off; their status.

``enable``/``disable``/``status`` talk to the Dagster instance through
:mod:`curation_pipeline.cli.automation`, imported only by those commands
(it imports Dagster, which the other commands do not need).
"""

from __future__ import annotations

from typing import NoReturn

import click

from curation_pipeline.cli.output import CurationGroup, echo_json, echo_table, with_keys
from curation_pipeline.clock import utc_now
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

_COLUMNS = ("NAME", "TYPE", "APPLICATION", "DATASET", "INTERVAL", "DELAY", "START", "ENABLED (YAML)", "DESCRIPTION")


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
    ./.curation), or "not yet deployed". ENABLED (YAML) is the catalogue's
    ``enabled``: the initial state of a new curator only; the live switch is
    in the Dagster instance, which `curation curators status` reads.
    """
    if file is None:
        file = curators_file()
    found = load_curators(file) if file is not None else _builtin_catalog()
    if as_json:
        echo_json([{**c.to_dict(), "description": c.description} for c in found])
        return
    starts = _starts(found)
    echo_table(*with_keys(_COLUMNS, [_row(c, starts[c.name]) for c in found], [c.name for c in found]))


@curators.command("enable")
@click.argument("name")
@click.option("--workspace", default="workspace.yaml", show_default=True, help="The workspace file of the code location.")
def enable(name: str, workspace: str) -> None:
    """Switch curator NAME on: start its schedule in the Dagster instance ($DAGSTER_HOME).

    Its sensors follow: the windows that closed while it was off are curated
    within minutes, then each window once due.
    """
    from curation_pipeline.automation import set_enabled

    changed = set_enabled(name, True, workspace=workspace)
    click.echo(f"{name}: enabled" + ("" if changed else " (already)"))


@curators.command("disable")
@click.argument("name")
@click.option("--workspace", default="workspace.yaml", show_default=True, help="The workspace file of the code location.")
def disable(name: str, workspace: str) -> None:
    """Switch curator NAME off: stop its schedule; no automation requests a run for it until enabled."""
    from curation_pipeline.automation import set_enabled

    changed = set_enabled(name, False, workspace=workspace)
    click.echo(f"{name}: disabled" + ("" if changed else " (already)"))


@curators.command("status")
@click.argument("name", required=False)
@click.option("--file", "file", type=click.Path(dir_okay=False), help="A catalogue file (default $CURATION_CURATORS_FILE, else the demo).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(name: str | None, file: str | None, as_json: bool) -> None:
    """Each curator: enabled (live, from $DAGSTER_HOME), start, interval, delay, last curated window,
    HEAD version of its dataset, windows missing and the next window due; then retired curators
    (recorded in the store, gone from the catalogue: their datasets stay)."""
    from curation_pipeline.automation import curated_windows, dagster_instance, is_enabled
    from curation_pipeline.cli.curator_status import COLUMNS, curator_status, retired_status

    found = _catalog(file)
    if name is not None:
        found = [c for c in found if c.name == name]
    store = DatasetStore.open(location=resolve_location())
    now = utc_now()
    with dagster_instance() as instance:
        rows = [
            curator_status(
                c, store, enabled=is_enabled(instance, c.name, default=c.enabled),
                curated=curated_windows(instance, c.dataset_name), now=now,
            )
            for c in found
        ]
    known = {c.name for c in _catalog(file)}
    retired = [n for n in store.recorded_curators() if n not in known and name in (None, n)]
    rows += [retired_status(n, store) for n in retired]
    if name is not None and not rows:
        _fail(f"no curator {name!r} in the catalogue or the store")
    if as_json:
        echo_json([r.to_dict() for r in rows])
        return
    echo_table(COLUMNS, [r.row() for r in rows])
    if retired:
        click.echo(f"retired (in the store, not in the catalogue; datasets kept): {', '.join(retired)}")


@curators.command("backfill")
@click.argument("name")
@click.option("--old-grid", is_flag=True, help="Curate the missing windows of the grids used before an interval change.")
@click.option("--file", "file", type=click.Path(dir_okay=False), help="A catalogue file (default $CURATION_CURATORS_FILE, else the demo).")
@click.option("--dry-run", is_flag=True, help="Only list the windows that would be curated.")
def backfill(name: str, old_grid: bool, file: str | None, dry_run: bool) -> None:
    """Curate the windows of curator NAME's old grids that hold no file in its dataset's HEAD.

    After a change of curation_interval the Dagster partitions are the new
    grid's windows only; windows of the old grid still missing then (the
    curator was off) have no partition. This curates them, one version each,
    as the asset would (same file names, seeds and checks on overlap).
    Windows of the current grid are backfilled in Dagster (Materialize...).
    """
    from curation_pipeline.windows import curate_window, data_path, known_grid

    if not old_grid:
        _fail("backfills of the current grid run in Dagster (the asset's Materialize... or Backfills); "
              "pass --old-grid for the windows of the grids used before an interval change")
    found = [c for c in _catalog(file) if c.name == name]
    if not found:
        _fail(f"no curator {name!r} in the catalogue")
    curator = found[0]
    location = resolve_location()
    store = DatasetStore.open(location=location)
    grid = known_grid(curator.name, store)
    if grid is None:
        _fail(f"curator {name!r} was never deployed: it has no grid record in {store.url}")
    held = set(_head_files(store, grid.dataset))
    windows = grid.old_grid_windows(
        delay=curator.curation_delay, now=utc_now(),
        curate_past_intervals=curator.curate_past_intervals,
    )
    missing = [(key, window) for key, window in windows if data_path(key) not in held]
    if not missing:
        click.echo(f"{name}: no window of an old grid is missing")
        return
    for key, window in missing:
        if dry_run:
            click.echo(f"{key}  {window}")
            continue
        result = curate_window(curator, window, key, store, location)
        done = f"version {result.version_id[:12]}" if result.version_id else "empty: nothing selected"
        click.echo(f"{key}  {result.selected_rows} records  {done}")


def _head_files(store: DatasetStore, dataset: str) -> list[str]:
    try:
        return list(store.get_dataset(dataset).files())
    except StoreError:  # no version yet, or no dataset: nothing is held
        return []


@curators.command("move")
@click.argument("name")
@click.argument("dataset")
def move(name: str, dataset: str) -> None:
    """Bind deployed curator NAME to DATASET (Gantry's create_new_dataset); the old dataset stays as is.

    Then change curated_dataset_name in the catalogue and reload the code location.
    """
    from curation_pipeline.windows import move_curator

    move_curator(name, dataset, DatasetStore.open(location=resolve_location()))
    click.echo(f"{name}: now writes dataset {dataset}; set curated_dataset_name: {dataset} and reload")


@curators.command("reload")
@click.option("--url", default="http://127.0.0.1:3000", show_default=True, help="The Dagster webserver.")
@click.option("--location", default="curation_pipeline", show_default=True, help="The code location's name.")
def reload(url: str, location: str) -> None:
    """Reload the code location of a running Dagster UI: it then shows curators created, updated or deleted."""
    from curation_pipeline.cli.reload import reload_location

    reload_location(url, location)
    click.echo(f"reloaded {location} at {url}")


@curators.command("delete")
@click.argument("name")
@click.option("--purge-dataset", is_flag=True, help="Also remove the curator's dataset, every version (irreversible).")
def delete(name: str, purge_dataset: bool) -> None:
    """Remove curator NAME from the store's registry (curators created with the Python API).

    Its dataset stays, listed and readable, unless --purge-dataset. Curators of
    the YAML catalogue are retired by removing them from the file.
    """
    from curation_pipeline import lifecycle

    click.echo(lifecycle.delete(name, purge_dataset=purge_dataset))
    if not purge_dataset:
        click.echo("its dataset stays (curation datasets list); reload the code location to drop the curator")


def _catalog(file: str | None) -> list[Curator]:
    if file is None:
        file = curators_file()
    return list(load_curators(file)) if file is not None else _builtin_catalog()


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
