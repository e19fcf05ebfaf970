"""Per-partition asset checks of a curated window, evaluated on the file the version holds.

Every check looks at the records as stored (read back from the committed
version), not at what the engine returned, so a check guards the version
itself:

* ``row_count_within_limit``: no more rows than the selectors' limits allow
  (Gantry's proportional stratification may round each stratum up by half a
  row, so it may exceed its limit by at most half the strata picked from);
* ``records_inside_window``: every ``__time`` lies in ``[start, end)``;
* ``filters_hold``: every record passes the filters of at least one selector;
* ``unique_record_ids``: no ``record_id`` twice;
* ``schema_matches_stream``: the file's columns and types are the stream's.

The checks are declared on the curator's asset (partitioned like it) and
reported by the asset for each window, as :class:`dagster.AssetCheckEvaluation`
events with the window's partition, so ranged backfill runs get one
evaluation per window too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import reduce

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from curation_pipeline.curators import Curator
from curation_pipeline.curators.selectors import StratificationMode, StratifiedSampler
from curation_pipeline.fields import RECORD_ID, TIME
from curation_pipeline.selection.filters import selector_expression
from curation_pipeline.windows import Window

CheckOutcome = tuple[bool, dict[str, object], str]

CHECK_DESCRIPTIONS = {
    "row_count_within_limit": "The window holds no more records than the selectors' limits allow.",
    "records_inside_window": "Every record's __time lies inside the window [start, end).",
    "filters_hold": "Every record passes the filters and tags of at least one selector.",
    "unique_record_ids": "No record_id appears twice.",
    "schema_matches_stream": "The stored columns and types equal the stream's.",
}


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
    checks: dict[str, Callable[[], CheckOutcome]] = {
        "row_count_within_limit": lambda: _row_count(curator, table),
        "records_inside_window": lambda: _inside_window(window, table),
        "filters_hold": lambda: _filters_hold(curator, table),
        "unique_record_ids": lambda: _unique_ids(table),
        "schema_matches_stream": lambda: _schema_matches(table.schema, stream_schema),
    }
    evaluations = []
    for name, run in checks.items():
        passed, metadata, text = run()
        evaluations.append(
            dg.AssetCheckEvaluation(
                asset_key=asset_key,
                check_name=name,
                passed=passed,
                metadata=metadata,
                description=text,
                partition=partition_key,
            )
        )
    return evaluations


def allowed_rows(curator: Curator, table: pa.Table) -> int:
    """The most rows ``curator`` may select: the sum of limits plus proportional rounding."""
    allowed = 0
    for selector in curator.selectors:
        allowed += selector.limit
        method = selector.method
        if isinstance(method, StratifiedSampler) and method.mode is StratificationMode.proportional:
            if method.field in table.column_names:
                allowed += pc.count_distinct(table[method.field], mode="all").as_py() // 2
    return allowed


def _row_count(curator: Curator, table: pa.Table) -> CheckOutcome:
    allowed = allowed_rows(curator, table)
    rows = table.num_rows
    return rows <= allowed, {"rows": rows, "allowed": allowed}, f"{rows} records, at most {allowed} allowed"


def _inside_window(window: Window, table: pa.Table) -> CheckOutcome:
    if table.num_rows == 0:
        return True, {"outside": 0}, "no records"
    times = table[TIME]
    outside = pc.sum(pc.or_(pc.less(times, pa.scalar(window.start, times.type)),
                            pc.greater_equal(times, pa.scalar(window.end, times.type)))).as_py() or 0
    bounds = pc.min_max(times).as_py()
    metadata = {"outside": outside, "min_time": str(bounds["min"]), "max_time": str(bounds["max"])}
    return outside == 0, metadata, f"{outside} records outside {window}"


def _filters_hold(curator: Curator, table: pa.Table) -> CheckOutcome:
    if table.num_rows == 0:
        return True, {"failing": 0}, "no records"
    expressions = [selector_expression(s, table.schema, f"selector {i}") for i, s in enumerate(curator.selectors)]
    if any(e is None for e in expressions):
        return True, {"failing": 0}, "every record passes (a selector without filters accepts all)"
    passing = ds.dataset(table).count_rows(filter=reduce(lambda a, b: a | b, expressions))
    failing = table.num_rows - passing
    return failing == 0, {"failing": failing}, f"{failing} records pass no selector's filters"


def _unique_ids(table: pa.Table) -> CheckOutcome:
    distinct = pc.count_distinct(table[RECORD_ID], mode="all").as_py() if table.num_rows else 0
    duplicates = table.num_rows - distinct
    return duplicates == 0, {"duplicates": duplicates}, f"{duplicates} duplicate record_id values"


def _schema_matches(stored: pa.Schema, stream: pa.Schema) -> CheckOutcome:
    stored_fields = {f.name: str(f.type) for f in stored}
    stream_fields = {f.name: str(f.type) for f in stream}
    differences = sorted(
        f"{name}: {stored_fields.get(name, 'missing')} stored, {stream_fields.get(name, 'missing')} in stream"
        for name in stored_fields.keys() | stream_fields.keys()
        if stored_fields.get(name) != stream_fields.get(name)
    )
    text = "; ".join(differences) or "the stored schema equals the stream's"
    return not differences, {"differences": len(differences)}, text
