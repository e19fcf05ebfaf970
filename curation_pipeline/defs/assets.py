"""A curator as a partitioned asset ``curated/<dataset>``: one dataset version per window.

The asset is thin: for each partition of its run it calls
:func:`~curation_pipeline.windows.curate_window` and logs what happened.

Ranged runs (backfills batched by the ``BackfillPolicy``) cover several
windows in one run. Dagster would copy a returned result onto every partition
of the range, so the asset returns nothing (its output is optional) and logs
one :class:`dagster.AssetMaterialization` per window instead, each with its
own partition, metadata and data version (the version id), followed by that
window's :class:`dagster.AssetCheckEvaluation` events.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg
import pyarrow as pa
from dagster import AssetExecutionContext

from curation_pipeline.curators import Curator
from curation_pipeline.defs.checks import build_check_specs, evaluate_checks
from curation_pipeline.defs.partitions import CuratorPartitions, python_name
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.defs.starts import name_metadata, start_description, start_metadata
from curation_pipeline.defs.stream_assets import DATA_VERSION_TAG, input_versions_observed, stream_asset_key
from curation_pipeline.errors import CurationError, redact
from curation_pipeline.names import name_key
from curation_pipeline.selection import MissingFieldError
from curation_pipeline.windows import (
    CuratorGrid,
    CuratorStart,
    WindowResult,
    curate_window,
    definition_hash,
)
from curation_pipeline.windows.checks import committed_table, stored_window

DATA_VERSION_IS_USER_PROVIDED_TAG = "dagster/data_version_is_user_provided"
# Dagster's provenance tags, written by hand because the windows are logged as events, not returned.
CODE_VERSION_TAG = "dagster/code_version"
INPUT_DATA_VERSION_TAG = "dagster/input_data_version"
INPUT_EVENT_POINTER_TAG = "dagster/input_event_pointer"
PREVIEW_ROWS = 10
PREVIEW_COLUMNS = 6
T = TypeVar("T")


def curated_asset_key(dataset: str) -> dg.AssetKey:
    """``curated/<dataset's key>`` (the key is the name unless the name is no valid key)."""
    return dg.AssetKey(["curated", name_key(dataset)])


def curator_pool(curator_name: str) -> str:
    """``curator/<key>``, the concurrency pool of the curator's asset: each run materializing it takes a slot.

    A pool, not a run tag, because the pool is the asset's own: runs of the curator's job and of
    Dagster's asset job (the UI's Materialize and backfills) count alike. The instance sets the limit
    (``concurrency.pools`` in ``deploy/dagster.yaml``).
    """
    return f"curator/{name_key(curator_name)}"


def build_curator_asset(
    *,
    curator: Curator,
    partitions: CuratorPartitions,
    storage_kind: str,
    max_partitions_per_run: int,
    start: CuratorStart | None = None,
    grid: CuratorGrid | None = None,
    stream_start: dt.date | None = None,
) -> dg.AssetsDefinition:
    """The partitioned asset of ``curator`` with its per-partition checks (``start`` and ``grid`` are shown).

    Its ``code_version`` is the curator's definition hash, which every version's metadata carries too.
    Each window depends on the stream's days it covers (``stream_start`` is the stream's first
    partition): a window is stale in the UI once one of those days changed after it was curated.
    """
    key = curated_asset_key(curator.dataset_name)
    metadata: dict[str, Any] = {"curator": dg.MetadataValue.json(curator.to_dict()), **start_metadata(start)}
    metadata["definition"] = dg.MetadataValue.text(definition_hash(curator))
    if grid is not None:
        metadata["grid_history"] = dg.MetadataValue.json(grid.describe())
        metadata["first_deployed"] = dg.MetadataValue.text(grid.first_deployed.isoformat())
    spec = dg.AssetSpec(
        key,
        deps=[dg.AssetDep(stream_asset_key(curator.application_name), partition_mapping=_stream_mapping(partitions))],
        group_name=python_name(curator.application_name),
        description=start_description(curator, start),
        kinds={"parquet", storage_kind},
        # Dagster tags take 63 characters of [A-Za-z0-9_.-]: the key; the name as written is metadata.
        tags={"curation/curator": name_key(curator.name), "curation/type": type(curator).__name__},
        metadata={**metadata, **name_metadata(curator)},
        code_version=definition_hash(curator),
        skippable=True,
    )

    @dg.multi_asset(
        name=f"curate_{python_name(curator.name)}",
        specs=[spec],
        check_specs=build_check_specs(key, partitions.partitions_def),
        can_subset=True,
        partitions_def=partitions.partitions_def,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run),
        op_tags={"curation/curator": name_key(curator.name)},
        pool=curator_pool(curator.name),
    )
    def _curate(context: AssetExecutionContext, store: CurationStore):
        datasets = _at_boundary(curator, None, store.open)
        selected_checks = set(context.selected_asset_check_keys)
        for partition_key in context.partition_keys:
            window = partitions.window(partition_key)
            if key in context.selected_asset_keys:
                result = _at_boundary(
                    curator, partition_key, lambda: curate_window(curator, window, partition_key, datasets, store.location())
                )
                pointer = input_versions_observed(
                    context.instance, curator.application_name, result.stream_versions, stream_start, result.read_at
                )
                context.log_event(materialization(key, result, store, pointer=pointer))
                table, stream_schema = committed_table(datasets, result), result.stream_schema
            else:  # only checks were selected: check what the dataset holds now
                table, stream_schema = _at_boundary(
                    curator, partition_key, lambda: stored_window(curator, window, partition_key, datasets, store.location())
                )
            for evaluation in evaluate_checks(
                asset_key=key,
                partition_key=partition_key,
                curator=curator,
                window=window,
                table=table,
                stream_schema=stream_schema,
            ):
                if evaluation.asset_check_key in selected_checks:
                    context.log_event(evaluation)
        yield from ()

    return _curate


def _stream_mapping(partitions: CuratorPartitions) -> dg.PartitionMapping:
    """A window reads the stream's days it overlaps; a dynamic window has no time Dagster can map."""
    return dg.AllPartitionMapping() if partitions.is_dynamic else dg.TimeWindowPartitionMapping()


def materialization(
    key: dg.AssetKey, result: WindowResult, store: CurationStore, *, pointer: int | None = None
) -> dg.AssetMaterialization:
    """The materialization event of one window, with its metadata, data version and provenance.

    The provenance (code version, the stream's data version and ``pointer``, the storage id of the
    stream observations it read) is what Dagster compares to show the window stale.
    """
    tags = provenance_tags(result, pointer)
    if result.version_id is not None:
        tags.update({DATA_VERSION_TAG: result.version_id, DATA_VERSION_IS_USER_PROVIDED_TAG: "true"})
    return dg.AssetMaterialization(
        asset_key=key,
        partition=result.partition_key,
        description=result.message,
        metadata=materialization_metadata(result, store),
        tags=tags,
    )


def provenance_tags(result: WindowResult, pointer: int | None) -> dict[str, str]:
    """Dagster's provenance tags of a window: the code version and the stream input it read.

    Also for an empty window (nothing committed): records landing in it later make it stale too.
    For a partitioned input Dagster compares observations after the pointer; the input data
    version (a hash of the day versions read) is informational.
    """
    stream = stream_asset_key(result.manifest_metadata.get("application", "")).to_user_string()
    versions = json.dumps(result.stream_versions, sort_keys=True)
    return {
        CODE_VERSION_TAG: str(result.manifest_metadata.get("definition", "")),
        f"{INPUT_DATA_VERSION_TAG}/{stream}": hashlib.sha256(versions.encode()).hexdigest()[:16],
        f"{INPUT_EVENT_POINTER_TAG}/{stream}": str(pointer) if pointer is not None else "NULL",
    }


def materialization_metadata(result: WindowResult, store: CurationStore) -> dict[str, Any]:
    """Metadata shown for one window in the UI."""
    if result.version_id is None:
        status = "empty window: nothing selected, nothing committed"
    elif result.created:
        status = "committed a new version"
    else:
        status = "unchanged: the dataset already holds these records"
    metadata: dict[str, Any] = {
        "status": status,
        "dataset": result.dataset,
        "version_id": result.version_id or "",
        "parent_version": result.parent or "",
        "new_version": result.created,
        "path": result.path if result.version_id else "",
        "rows_selected": result.selected_rows,
        "candidate_rows": result.candidate_rows,
        "limit": result.limit,
        "limit_hit": result.limit_hit,
        "window_start": dg.MetadataValue.timestamp(result.window.start),
        "window_end": dg.MetadataValue.timestamp(result.window.end),
        "seed": str(result.seed),
        "definition": str(result.manifest_metadata.get("definition", "")),
        "message": result.message,
        "preview": dg.MetadataValue.md(preview_markdown(result.table)),
        "dagster/row_count": result.selected_rows,
        "dagster/column_schema": table_schema(result.table.schema),
    }
    if result.version_id is not None:
        uri = store.version_uri(result.dataset, result.version_id)
        metadata["version_uri"] = dg.MetadataValue.url(uri) if uri.startswith("http") else dg.MetadataValue.path(uri)
    if result.strata is not None:
        metadata["strata"] = dg.MetadataValue.json(result.strata)
    if result.stream_versions:
        metadata["stream_versions"] = dg.MetadataValue.json(result.stream_versions)
    if result.window_version is not None:
        metadata["window_version"] = result.window_version
    if result.late is not None:
        late = result.late
        if late.late_rows is not None:
            metadata["late_rows"] = late.late_rows
        metadata["late_files"] = late.late_files
        metadata["kept"] = late.kept
        metadata["added"] = late.added
        metadata["dropped"] = late.dropped
    return metadata


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    """A pyarrow schema as Dagster's :class:`TableSchema`."""
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def preview_markdown(table: pa.Table, rows: int = PREVIEW_ROWS, columns: int = PREVIEW_COLUMNS) -> str:
    """The first ``rows`` records as a markdown table of at most ``columns`` columns."""
    if table.num_rows == 0:
        return "*no records*"
    names = table.column_names[:columns]
    lines = ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    for record in table.select(names).slice(0, rows).to_pylist():
        lines.append("| " + " | ".join(_cell(record[name]) for name in names) + " |")
    if table.num_rows > rows or table.num_columns > columns:
        lines.append(f"\n{table.num_rows} records, {table.num_columns} columns; first {rows} shown")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 40 else text[:39] + "…"


def _at_boundary(curator: Curator, partition_key: str | None, action: Callable[[], T]) -> T:
    """Run ``action``; a library error becomes a :class:`dagster.Failure` naming the curator and window."""
    where = f"curator {curator.name!r}" + (f", window {partition_key}" if partition_key else "")
    try:
        return action()
    except MissingFieldError as error:
        raise dg.Failure(
            description=(
                f"{where}: the {curator.application_name!r} stream has no field {error.field!r}, "
                f"which the curator needs ({error})"
            ),
            metadata={"curator": curator.name, "partition": partition_key or "", "field": error.field},
        ) from error
    except CurationError as error:  # every library error; anything else is a bug and keeps its traceback
        raise dg.Failure(
            description=redact(f"{where}: {type(error).__name__}: {error}"),
            metadata={"curator": curator.name, "partition": partition_key or "", "error": type(error).__name__},
        ) from error
