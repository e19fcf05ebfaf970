"""Curating one window: read it, select, commit one dataset version.

:func:`curate_window` is what a curator's asset runs for each partition; it
knows nothing about Dagster, so notebooks and tests can call it too. Library
errors pass through unchanged; the asset turns them into
:class:`dagster.Failure` at its boundary.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation_pipeline.curators import Curator
from curation_pipeline.fields import RECORD_ID, TIME
from curation_pipeline.location import Location
from curation_pipeline.selection import SelectionResult, derive_seed, run_selection
from curation_pipeline.store import DatasetHeadOutOfDateError, RetryPolicy
from curation_pipeline.stream import open_window
from curation_pipeline.windows.grid import Window, file_safe_key
from curation_pipeline.windows.overlap import WINDOWS_KEY, held_windows, refuse_overlap, windows_record

DATA_DIR = "data"
#: Commits pinned to a HEAD that another writer moved are checked and tried again this many times.
_COMMIT_ATTEMPTS = 32
_BACKOFF = RetryPolicy()


@dataclass(frozen=True)
class WindowResult:
    """What curating one window did.

    ``version_id`` is None only when nothing was committed because nothing was
    selected (an empty window). ``created`` is False when the selected rows
    equalled what the dataset already held: ``version_id`` is then the
    existing version (HEAD) holding them.
    """

    curator: str
    dataset: str
    partition_key: str
    window: Window
    path: str
    seed: int
    candidate_rows: int
    limit: int
    limit_hit: bool
    table: pa.Table
    stream_schema: pa.Schema
    strata: dict[str, int] | None = None
    version_id: str | None = None
    parent: str | None = None
    created: bool = False
    message: str = ""
    manifest_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def selected_rows(self) -> int:
        """Rows committed for this window."""
        return self.table.num_rows

    @property
    def committed(self) -> bool:
        """True when a version holds this window's file (new or existing)."""
        return self.version_id is not None


def data_path(partition_key: str) -> str:
    """Where a window's records live in the dataset: ``data/<key>.parquet``."""
    return f"{DATA_DIR}/{file_safe_key(partition_key)}.parquet"


#: Fields that do not change what a window selects: editing them keeps the definition hash.
_NOT_SELECTION = ("enabled", "curation_delay", "curate_past_intervals", "start_on")


def definition_hash(curator: Curator) -> str:
    """A short sha256 of what decides a window's records: type, application, dataset, interval, selectors.

    Every version's metadata carries it (``definition``) and the Dagster asset's
    ``code_version`` follows it, so a change of selection rules shows per version.
    Switching the curator on or off, its delay or ``start_on`` leave it unchanged.
    """
    spec = {k: v for k, v in curator.to_dict().items() if k not in _NOT_SELECTION}
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def commit_message(curator: str, window: Window, selected: int, candidates: int) -> str:
    """Gantry's wording: ``<curator>: <start> to <end> - N records added from interval of size M``."""
    return (
        f"{curator}: {window.start.isoformat()} to {window.end.isoformat()} - "
        f"{selected} records added from interval of size {candidates}"
    )


def curate_window(
    curator: Curator, window: Window, partition_key: str, store: Any, location: Location
) -> WindowResult:
    """Select ``window``'s records for ``curator`` and commit them as ``data/<key>.parquet``.

    Args:
        curator: the curator.
        window: the window ``[start, end)`` of ``partition_key``.
        partition_key: the Dagster partition key (names the file and seeds the selection).
        store: the :class:`~curation_pipeline.store.DatasetStore` holding the curator's dataset.
        location: where the application's stream is read from.

    Returns:
        A :class:`WindowResult`. Nothing is committed when no record is selected.

    Raises:
        OverlappingWindowError: another window file in the dataset's HEAD covers part of ``window``
            (nothing is committed).
        StreamError, SelectionError (e.g. ``MissingFieldError``), StoreError: from the libraries.
    """
    # The window's files and filter, apart: the engine reads its row groups directly.
    data = open_window(curator.application_name, window.start, window.end, location=location)
    seed = derive_seed(curator.name, partition_key)
    if data.count_rows() == 0:
        # Nothing to select from: the stream may not even have the curator's columns yet.
        return _result(curator, window, partition_key, seed, data.schema, selection=None)
    selection = run_selection(data, curator.selectors, seed=seed)
    result = _result(curator, window, partition_key, seed, data.schema, selection=selection)
    if result.selected_rows == 0:
        return result
    dataset = store.create_dataset(curator.dataset_name, exist_ok=True)
    commit = _commit_window(dataset, result)
    return replace(result, version_id=commit.version_id, parent=commit.parent, created=commit.created)


def _commit_window(dataset: Any, result: WindowResult) -> Any:
    """Commit the window's file on a HEAD whose window files it does not overlap.

    The commit is pinned to the HEAD that was checked: if another writer moved
    HEAD meanwhile, the check runs again on the new HEAD. (A dataset without
    any version cannot be pinned; its first commit is checked against nothing.)
    """
    content = parquet_bytes(result.table)
    for attempt in range(1, _COMMIT_ATTEMPTS + 1):
        head, held = held_windows(dataset, data_path)
        refuse_overlap(result.dataset, result.path, result.window, held)
        metadata = {**result.manifest_metadata, WINDOWS_KEY: windows_record(held, result.path, result.window)}
        try:
            return dataset.commit({result.path: content}, result.message, metadata=metadata, parent_version_id=head)
        except DatasetHeadOutOfDateError:
            time.sleep(_BACKOFF.delay(attempt))  # another writer won: let it finish before checking again
    raise DatasetHeadOutOfDateError(
        f"dataset {result.dataset!r}: HEAD kept moving while window {result.partition_key} was committed; try again"
    )


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as Parquet, byte-for-byte the same for the same rows (sorted by time, then id)."""
    ordered = table.sort_by([(TIME, "ascending"), (RECORD_ID, "ascending")])
    buffer = io.BytesIO()
    pq.write_table(ordered, buffer, compression="zstd")
    return buffer.getvalue()


def schema_summary(schema: pa.Schema) -> list[dict[str, str]]:
    """``[{"name": ..., "type": ...}]`` of a schema, JSON-ready."""
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def _result(
    curator: Curator,
    window: Window,
    partition_key: str,
    seed: int,
    stream_schema: pa.Schema,
    selection: SelectionResult | None,
) -> WindowResult:
    stats = selection.selectors if selection is not None else ()
    table = selection.table if selection is not None else stream_schema.empty_table()
    candidates = selection.candidate_rows if selection is not None else 0
    limit = sum(s.limit for s in curator.selectors)
    strata = _strata(stats)
    message = commit_message(curator.name, window, table.num_rows, candidates)
    manifest_metadata = {
        "curator": curator.name,
        "curator_type": type(curator).__name__,
        "definition": definition_hash(curator),
        "application": curator.application_name,
        "partition_key": partition_key,
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "seed": seed,
        "selected_rows": table.num_rows,
        "candidate_rows": candidates,
        "limit": limit,
        "limit_hit": bool(selection is not None and selection.limit_hit),
        "strata": strata,
        "schema": schema_summary(table.schema),
    }
    return WindowResult(
        curator=curator.name,
        dataset=curator.dataset_name,
        partition_key=partition_key,
        window=window,
        path=data_path(partition_key),
        seed=seed,
        candidate_rows=candidates,
        limit=limit,
        limit_hit=manifest_metadata["limit_hit"],
        table=table,
        stream_schema=stream_schema,
        strata=strata,
        message=message,
        manifest_metadata=manifest_metadata,
    )


def _strata(stats: tuple) -> dict[str, int] | None:
    merged: dict[str, int] = {}
    for item in stats:
        for name, count in (item.strata or {}).items():
            merged[name] = merged.get(name, 0) + count
    return merged if any(item.strata is not None for item in stats) else None
