"""Dagster wiring: curator specs become partitioned assets, checks, jobs, schedules and sensors.

``curation_pipeline/definitions.py`` merges :func:`build_curator_defs` over
the catalogue; each partition runs :func:`curation_pipeline.windows.curate_window`.
"""

from curation_pipeline.defs.factory import build_application_defs, build_curator_defs
from curation_pipeline.defs.partitions import CuratorPartitions, curator_partitions
from curation_pipeline.defs.resources import CurationStore

__all__ = [
    "CurationStore",
    "CuratorPartitions",
    "build_application_defs",
    "build_curator_defs",
    "curator_partitions",
]
