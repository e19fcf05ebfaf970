"""The curator registry: curators created through the Python API, kept in the store beside their datasets.

The YAML catalogue stays the way to keep curators in code review; the
registry holds the curators created with Gantry's calls
(:mod:`curation_pipeline.lifecycle`). The code location loads both
(:func:`curation_pipeline.defs.catalog_loading.load_catalog`); a name in both
is an error naming both sources.

Nothing here imports Dagster.
"""

from curation_pipeline.registry.entries import (
    CuratorExistsError,
    CuratorNotFoundError,
    CuratorRegistry,
    RegistryEntry,
)

__all__ = ["CuratorExistsError", "CuratorNotFoundError", "CuratorRegistry", "RegistryEntry"]
