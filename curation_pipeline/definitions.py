"""The code location's single wiring point: every Dagster definition is merged here.

Nothing is read at import time: Dagster calls :func:`defs` when it loads the
code location, and the catalogue, store settings and backfill batch size are
read from the environment then. Curators without ``start_on`` start at the
window of their first deployment: the first load records it in the store
(:func:`~curation_pipeline.windows.resolve_start`), later loads read it back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import dagster as dg

from curation_pipeline.clock import Clock, utc_now
from curation_pipeline.curators import Curator
from curation_pipeline.defs.catalog_loading import load_catalog
from curation_pipeline.defs.factory import (
    DEFAULT_PARTITIONS_PER_RUN,
    build_application_defs,
    build_curator_defs,
)
from curation_pipeline.defs.resources import store_resource_from_env
from curation_pipeline.environment import partitions_per_run
from curation_pipeline.location import Location, resolve_location
from curation_pipeline.store import DatasetStore
from curation_pipeline.windows import CuratorStart, resolve_start


def build_definitions(environ: Mapping[str, str] | None = None, *, clock: Clock = utc_now) -> dg.Definitions:
    """Every curator of the catalogue, the stream of each application, the store and the executor.

    Args:
        environ: the environment to read settings from (default ``os.environ``).
        clock: the current time: a curator deployed for the first time starts at
            the window holding it; the sensors read it too (tests pin it).
    """
    environ = os.environ if environ is None else environ
    curators = load_catalog(environ)
    where = resolve_location(environ=environ)
    storage_kind = "s3" if where.is_s3 else "local"
    per_run = partitions_per_run(environ, default=DEFAULT_PARTITIONS_PER_RUN)
    starts = _deployment_starts(curators, where, clock)
    return dg.Definitions.merge(
        *(
            build_curator_defs(
                c, storage_kind=storage_kind, max_partitions_per_run=per_run, clock=clock, start=starts.get(c.name)
            )
            for c in curators
        ),
        *(build_application_defs(app, storage_kind=storage_kind) for app in sorted({c.application_name for c in curators})),
        dg.Definitions(resources={"store": store_resource_from_env(environ)}, executor=dg.in_process_executor),
    )


def _deployment_starts(curators: Sequence[Curator], where: Location, clock: Clock) -> dict[str, CuratorStart]:
    """The recorded (or now recorded) start of each curator without ``start_on``; the store is opened only then."""
    pending = [c for c in curators if c.start_on is None]
    if not pending:
        return {}
    store = DatasetStore.open(location=where)
    return {c.name: resolve_start(c, store, clock=clock) for c in pending}


@dg.definitions
def defs() -> dg.Definitions:
    """What Dagster loads (``workspace.yaml`` points at this module)."""
    return build_definitions()
