"""The checks every curated window must pass, evaluated on the records as stored. No Dagster.

Every check looks at the records the version holds (read back from the
store), not at what the engine returned, so a check guards the version
itself:

* ``row_count_within_limit``: no more rows than the selectors' limits allow
  (Gantry's proportional stratification may round each stratum up by half a
  row, so it may exceed its limit by at most half the strata picked from);
* ``records_inside_window``: every ``__time`` lies in ``[start, end)``;
* ``filters_hold``: every record passes the filters of at least one selector;
* ``unique_record_ids``: no ``record_id`` twice;
* ``schema_matches_stream``: the file's columns and types are the stream's.

:func:`check_window` runs them all; the Dagster layer reports each outcome as
an asset check evaluation of the window's partition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from curation_pipeline.curators import Curator
from curation_pipeline.curators.selectors import StratificationMode, StratifiedSampler
from curation_pipeline.fields import RECORD_ID, TIME
from curation_pipeline.location import Location
from curation_pipeline.selection.filters import selector_expression
from curation_pipeline.store import Dataset, DatasetDeletedError, DatasetNotFoundError, DatasetStore
from curation_pipeline.store.tabular import read_table
from curation_pipeline.stream import read_window
from curation_pipeline.windows.curate import WindowResult, data_path
from curation_pipeline.windows.grid import Window

CHECK_DESCRIPTIONS = {
    "row_count_within_limit": "The window holds no more records than the selectors' limits allow.",
    "records_inside_window": "Every record's __time lies inside the window [start, end).",
    "filters_hold": "Every record passes the filters and tags of at least one selector.",
    "unique_record_ids": "No record_id appears twice.",
    "schema_matches_stream": "The stored columns and types equal the stream's.",
}


@dataclass(frozen=True)
class CheckOutcome:
    """One check of one window: its name, whether it passed, figures and a sentence saying why."""

    name: str
    passed: bool
    metadata: dict[str, object] = field(default_factory=dict)
    description: str = ""


def check_window(curator: Curator, window: Window, table: pa.Table, stream_schema: pa.Schema) -> list[CheckOutcome]:
    """Every check of :data:`CHECK_DESCRIPTIONS` on one window's stored ``table``, in that order."""
    checks: dict[str, Callable[[], tuple[bool, dict[str, object], str]]] = {
        "row_count_within_limit": lambda: _row_count(curator, table),
        "records_inside_window": lambda: _inside_window(window, table),
        "filters_hold": lambda: _filters_hold(curator, table),
        "unique_record_ids": lambda: _unique_ids(table),
        "schema_matches_stream": lambda: _schema_matches(table.schema, stream_schema),
    }
    return [CheckOutcome(name, *run()) for name, run in checks.items()]


def committed_table(store: DatasetStore, result: WindowResult) -> pa.Table:
    """The records a curated window's version holds (what the engine selected when nothing was committed)."""
    if result.version_id is None:
        return result.table
    return _stored_table(store.get_dataset(result.dataset), result.path, result.version_id)


def stored_window(
    curator: Curator, window: Window, partition_key: str, store: DatasetStore, location: Location
) -> tuple[pa.Table, pa.Schema]:
    """What the curator's dataset holds for a window now (empty if nothing), with the stream's schema."""
    stream_schema = read_window(curator.application_name, window.start, window.end, location=location).schema
    path = data_path(partition_key)
    try:
        dataset = store.get_dataset(curator.dataset_name)
    except (DatasetNotFoundError, DatasetDeletedError):
        return stream_schema.empty_table(), stream_schema  # no live dataset: nothing stored for this window
    if path in dataset.files():
        return _stored_table(dataset, path), stream_schema
    return stream_schema.empty_table(), stream_schema


def _stored_table(dataset: Dataset, path: str, version_id: str | None = None) -> pa.Table:
    """A window file of ``dataset`` (HEAD unless ``version_id``), read by pyarrow itself (see ``native_file``)."""
    with dataset.open_file(path, version_id) as stored:
        return read_table(stored, "parquet")


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


def _row_count(curator: Curator, table: pa.Table) -> tuple[bool, dict[str, object], str]:
    allowed = allowed_rows(curator, table)
    rows = table.num_rows
    return rows <= allowed, {"rows": rows, "allowed": allowed}, f"{rows} records, at most {allowed} allowed"


def _inside_window(window: Window, table: pa.Table) -> tuple[bool, dict[str, object], str]:
    if table.num_rows == 0:
        return True, {"outside": 0}, "no records"
    times = table[TIME]
    outside = pc.sum(pc.or_(pc.less(times, pa.scalar(window.start, times.type)),
                            pc.greater_equal(times, pa.scalar(window.end, times.type)))).as_py() or 0
    bounds = pc.min_max(times).as_py()
    metadata = {"outside": outside, "min_time": str(bounds["min"]), "max_time": str(bounds["max"])}
    return outside == 0, metadata, f"{outside} records outside {window}"


def _filters_hold(curator: Curator, table: pa.Table) -> tuple[bool, dict[str, object], str]:
    if table.num_rows == 0:
        return True, {"failing": 0}, "no records"
    expressions = [selector_expression(s, table.schema, f"selector {i}") for i, s in enumerate(curator.selectors)]
    if any(e is None for e in expressions):
        return True, {"failing": 0}, "every record passes (a selector without filters accepts all)"
    passing = ds.dataset(table).count_rows(filter=reduce(lambda a, b: a | b, expressions))
    failing = table.num_rows - passing
    return failing == 0, {"failing": failing}, f"{failing} records pass no selector's filters"


def _unique_ids(table: pa.Table) -> tuple[bool, dict[str, object], str]:
    distinct = pc.count_distinct(table[RECORD_ID], mode="all").as_py() if table.num_rows else 0
    duplicates = table.num_rows - distinct
    return duplicates == 0, {"duplicates": duplicates}, f"{duplicates} duplicate record_id values"


def _schema_matches(stored: pa.Schema, stream: pa.Schema) -> tuple[bool, dict[str, object], str]:
    stored_fields = {f.name: str(f.type) for f in stored}
    stream_fields = {f.name: str(f.type) for f in stream}
    differences = sorted(
        f"{name}: {stored_fields.get(name, 'missing')} stored, {stream_fields.get(name, 'missing')} in stream"
        for name in stored_fields.keys() | stream_fields.keys()
        if stored_fields.get(name) != stream_fields.get(name)
    )
    text = "; ".join(differences) or "the stored schema equals the stream's"
    return not differences, {"differences": len(differences)}, text
