"""The code location's single wiring point: every Dagster definition is merged here.

Nothing is read at import time: Dagster calls :func:`defs` when it loads the
code location, and the catalogue, store settings and backfill batch size are
read from the environment then.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from curation_pipeline.defs.catalog_loading import load_catalog
from curation_pipeline.defs.factory import DEFAULT_PARTITIONS_PER_RUN, build_application_defs, build_curator_defs
from curation_pipeline.defs.resources import store_resource_from_env
from curation_pipeline.environment import PARTITIONS_PER_RUN_ENV, store_url


def build_definitions(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    """Every curator of the catalogue, the stream of each application, the store and the executor."""
    environ = os.environ if environ is None else environ
    curators = load_catalog(environ)
    storage_kind = "s3" if store_url(environ).lower().startswith("s3://") else "local"
    per_run = _partitions_per_run(environ)
    return dg.Definitions.merge(
        *(build_curator_defs(c, storage_kind=storage_kind, max_partitions_per_run=per_run) for c in curators),
        *(build_application_defs(app, storage_kind=storage_kind) for app in sorted({c.application_name for c in curators})),
        dg.Definitions(resources={"store": store_resource_from_env(environ)}, executor=dg.in_process_executor),
    )


def _partitions_per_run(environ: Mapping[str, str]) -> int:
    text = environ.get(PARTITIONS_PER_RUN_ENV)
    if not text:
        return DEFAULT_PARTITIONS_PER_RUN
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{PARTITIONS_PER_RUN_ENV} must be a positive whole number, got {text!r}")
    return value


@dg.definitions
def defs() -> dg.Definitions:
    """What Dagster loads (``workspace.yaml`` points at this module)."""
    return build_definitions()
