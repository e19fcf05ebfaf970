"""Dagster wiring: curator specs become partitioned assets, checks, jobs, schedules and sensors.

``curation_pipeline/definitions.py`` merges :func:`build_curator_defs` over
the catalogue; :func:`curate_window` is the plain function each partition runs.
"""

from curation_pipeline.defs.curation import WindowResult, curate_window
from curation_pipeline.defs.factory import build_application_defs, build_curator_defs
from curation_pipeline.defs.partitions import CuratorPartitions, Window, curator_partitions
from curation_pipeline.defs.resources import CurationStore

__all__ = [
    "CurationStore",
    "CuratorPartitions",
    "Window",
    "WindowResult",
    "build_application_defs",
    "build_curator_defs",
    "curate_window",
    "curator_partitions",
]
