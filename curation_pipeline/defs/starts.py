"""A curator's start as the Dagster UI shows it: in the asset's description and metadata.

Where the start comes from (``start_on`` or the recorded first deployment) is
decided by :func:`curation_pipeline.windows.resolve_start`; this module only
words it.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from curation_pipeline.curators import Curator
from curation_pipeline.names import name_key
from curation_pipeline.windows import CuratorStart


def start_description(curator: Curator, start: CuratorStart | None) -> str:
    """The curator's description, followed by where its windows start (when known)."""
    if start is None:
        return curator.description
    return f"{curator.description}; starts {start.label(curator.curation_interval)}"


def name_metadata(curator: Curator) -> dict[str, Any]:
    """The curator's and its dataset's names as written and their keys (what asset keys, jobs and folders use)."""
    return {
        "curator_name": dg.MetadataValue.text(curator.name),
        "curator_key": dg.MetadataValue.text(name_key(curator.name)),
        "dataset_name": dg.MetadataValue.text(curator.dataset_name),
        "dataset_key": dg.MetadataValue.text(name_key(curator.dataset_name)),
    }


def start_metadata(start: CuratorStart | None) -> dict[str, Any]:
    """``start`` (the first window's start) and ``start_source`` (``start_on`` or ``first deployed``)."""
    if start is None:
        return {}
    return {"start": dg.MetadataValue.text(start.start.isoformat()), "start_source": dg.MetadataValue.text(start.source)}
