"""Which curators the code location serves, decided when definitions load.

``CURATION_CURATORS_FILE`` names a YAML catalogue; without it the demo
catalogue (:func:`curation_pipeline.demo.demo_curators`) is served. Either
way the catalogue is validated: a broken curator fails loading with an error
naming the curator and the field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from curation_pipeline.curators import Curator, CuratorConfigError, load_curators, validate_catalog
from curation_pipeline.defs.partitions import python_name
from curation_pipeline.demo import demo_curators
from curation_pipeline.environment import curators_file
from curation_pipeline.registry import CuratorRegistry


def load_catalog(environ: Mapping[str, str] | None = None) -> list[Curator]:
    """The curators named by ``$CURATION_CURATORS_FILE``, else the demo catalogue.

    Raises:
        CuratorConfigError: a curator is invalid, or two curators share a name or a dataset.
    """
    environ = os.environ if environ is None else environ
    path = curators_file(environ)
    if path:
        curators = list(load_curators(path))
    else:
        curators = demo_curators()
    return check_catalog(curators)


def with_registry(curators: Sequence[Curator], registry: CuratorRegistry, source: str) -> list[Curator]:
    """``curators`` (from ``source``) and the curators of ``registry``, validated together.

    Raises:
        CuratorConfigError: a name is defined in both, naming both sources; or the union is invalid.
    """
    registered = [entry.curator for entry in registry.list()]
    mine = {c.name for c in curators}
    for curator in registered:
        if curator.name in mine:
            raise CuratorConfigError(
                f"defined twice: in {source} and in the curator registry ({registry.where(curator.name)}); "
                f"remove it from one (`curation curators delete {curator.name}` removes the registered one)",
                curator=curator.name,
                field="name",
            )
    return check_catalog([*curators, *registered])


def catalog_source(environ: Mapping[str, str] | None = None) -> str:
    """Where :func:`load_catalog` reads: the YAML file's path, or "the demo catalogue"."""
    environ = os.environ if environ is None else environ
    return curators_file(environ) or "the demo catalogue"


def check_catalog(curators: Sequence[Curator]) -> list[Curator]:
    """``curators`` once validated for Dagster: unique names and datasets, also as Dagster names."""
    validate_catalog(curators)
    seen: dict[str, str] = {}
    for curator in curators:
        dagster_name = python_name(curator.name)
        if dagster_name in seen:
            raise CuratorConfigError(
                f"its Dagster name {dagster_name!r} (jobs and schedules use '_' for '-') clashes with "
                f"curator {seen[dagster_name]!r}",
                curator=curator.name,
                field="name",
            )
        seen[dagster_name] = curator.name
    return list(curators)
