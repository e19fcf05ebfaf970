"""Per-partition asset checks of a curated window, reported to Dagster.

The checks themselves (what each one looks at, and why) are plain library
code in :mod:`curation_pipeline.windows.checks`. Here they are declared on the
curator's asset (partitioned like it) and reported by the asset for each
window as :class:`dagster.AssetCheckEvaluation` events with the window's
partition, so ranged backfill runs get one evaluation per window too.
"""

from __future__ import annotations

import warnings

import dagster as dg
import pyarrow as pa

from curation_pipeline.curators import Curator
from curation_pipeline.windows import Window
from curation_pipeline.windows.checks import CHECK_DESCRIPTIONS, check_window


def build_check_specs(asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """The checks of one curator's asset, partitioned like the asset.

    Partitioned checks are a preview feature of Dagster 1.13; its warning is
    silenced here, where the choice is made, rather than on every load.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")
        return [
            dg.AssetCheckSpec(name, asset=asset_key, description=text, partitions_def=partitions_def)
            for name, text in CHECK_DESCRIPTIONS.items()
        ]


def evaluate_checks(
    *,
    asset_key: dg.AssetKey,
    partition_key: str,
    curator: Curator,
    window: Window,
    table: pa.Table,
    stream_schema: pa.Schema,
) -> list[dg.AssetCheckEvaluation]:
    """Every check of one window's stored ``table``, as evaluations for ``partition_key``."""
    return [
        dg.AssetCheckEvaluation(
            asset_key=asset_key,
            check_name=outcome.name,
            passed=outcome.passed,
            metadata=outcome.metadata,
            description=outcome.description,
            partition=partition_key,
        )
        for outcome in check_window(curator, window, table, stream_schema)
    ]
