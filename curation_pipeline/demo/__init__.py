"""The demo: a generated stream of product reviews and a catalogue of curators over it.

Not part of the library's API: ``curation stream demo`` writes the stream,
and the Dagster code location serves :func:`demo_curators` when no curator
file is configured. Both are deterministic for a given seed and moment.
"""

from curation_pipeline.demo.catalog import BACKFILL_DAYS, demo_curators, demo_start
from curation_pipeline.demo.stream import DEMO_APPLICATION, LABELS, demo_batch, demo_day, write_demo_stream

__all__ = [
    "BACKFILL_DAYS",
    "DEMO_APPLICATION",
    "LABELS",
    "demo_batch",
    "demo_curators",
    "demo_day",
    "demo_start",
    "write_demo_stream",
]
