"""The code location's single wiring point: every Dagster definition is merged here.

Nothing is read at import time: Dagster calls :func:`defs` when it loads the
code location, and the catalogue, store settings and backfill batch size are
read from the environment then. Curators without ``start_on`` start at the
window of their first deployment: the first load records it in the store
(:func:`~curation_pipeline.windows.resolve_start`), later loads read it back.
Every curator's dataset and window grid are recorded too
(:func:`~curation_pipeline.windows.resolve_grid`): a load after an edit
appends a grid segment for a new interval, and refuses a silent move to
another dataset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import dagster as dg

from curation_pipeline.clock import Clock, utc_now
from curation_pipeline.curators import Curator
from curation_pipeline.defs.catalog_loading import catalog_source, load_catalog, with_registry
from curation_pipeline.defs.factory import (
    DEFAULT_PARTITIONS_PER_RUN,
    build_application_defs,
    build_curator_defs,
    days_to_observe,
    stream_start,
)
from curation_pipeline.defs.resources import store_resource_from_env
from curation_pipeline.environment import partitions_per_run
from curation_pipeline.location import resolve_location
from curation_pipeline.registry import CuratorRegistry
from curation_pipeline.store import DatasetStore
from curation_pipeline.windows import CuratorStart, resolve_grid, resolve_start


def build_definitions(environ: Mapping[str, str] | None = None, *, clock: Clock = utc_now) -> dg.Definitions:
    """Every curator of the catalogue and of the store's registry, each application's stream, the store, the executor.

    Args:
        environ: the environment to read settings from (default ``os.environ``).
        clock: the current time: a curator deployed for the first time starts at
            the window holding it; the sensors read it too (tests pin it).
    """
    environ = os.environ if environ is None else environ
    where = resolve_location(environ=environ)
    store = DatasetStore.open(location=where)
    curators = with_registry(load_catalog(environ), CuratorRegistry(store), catalog_source(environ))
    storage_kind = "s3" if where.is_s3 else "local"
    per_run = partitions_per_run(environ, default=DEFAULT_PARTITIONS_PER_RUN)
    starts = _deployment_starts(curators, store, clock)
    grids = {c.name: resolve_grid(c, store, starts[c.name], clock=clock) for c in curators}
    applications = sorted({c.application_name for c in curators})
    first_days = {
        app: stream_start([grids[c.name].segments[0].anchor for c in curators if c.application_name == app])
        for app in applications
    }
    return dg.Definitions.merge(
        *(
            build_curator_defs(
                c,
                storage_kind=storage_kind,
                max_partitions_per_run=per_run,
                clock=clock,
                start=starts[c.name],
                grid=grids[c.name],
                stream_start=first_days[c.application_name],
            )
            for c in curators
        ),
        *(
            build_application_defs(
                app,
                storage_kind=storage_kind,
                start=first_days[app],
                observed_days=days_to_observe([c for c in curators if c.application_name == app]),
                clock=clock,
            )
            for app in applications
        ),
        dg.Definitions(resources={"store": store_resource_from_env(environ)}, executor=dg.in_process_executor),
    )


def _deployment_starts(curators: Sequence[Curator], store: DatasetStore, clock: Clock) -> dict[str, CuratorStart]:
    """Each curator's start: its ``start_on``, else its recorded (or now recorded) first deployment."""
    return {c.name: resolve_start(c, store, clock=clock) for c in curators}


@dg.definitions
def defs() -> dg.Definitions:
    """What Dagster loads (``workspace.yaml`` points at this module)."""
    return build_definitions()
