"""Curating one window: read it, select, commit one dataset version.

:func:`curate_window` is what a curator's asset runs for each partition; it
knows nothing about Dagster, so notebooks and tests can call it too. Library
errors pass through unchanged; the asset turns them into
:class:`dagster.Failure` at its boundary.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation_pipeline.clock import utc_now
from curation_pipeline.curators import Curator
from curation_pipeline.fields import RECORD_ID, TIME
from curation_pipeline.location import Location
from curation_pipeline.selection import SelectionResult, derive_seed, reselect, run_selection
from curation_pipeline.store import DatasetHeadOutOfDateError, FileEntry, RetryPolicy
from curation_pipeline.stream.layout import days_overlapping
from curation_pipeline.stream.lineage import WindowLineage, observe_days, split_window
from curation_pipeline.windows.errors import WindowChangedError
from curation_pipeline.windows.grid import Window, file_safe_key
from curation_pipeline.windows.late import PreviousWindow, previous_window, with_window_record
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
    late: LateFigures | None = None
    stream_versions: dict[str, str] = field(default_factory=dict)
    window_version: str | None = None  # the stream files that may hold the window's records, as read
    read_at: dt.datetime | None = None  # when the stream's days were listed for this curation
    lineage: WindowLineage | None = None  # the stream files of the window's first curation
    seen: WindowLineage | None = None  # every stream file of the window when it was curated

    @property
    def selected_rows(self) -> int:
        """Rows committed for this window."""
        return self.table.num_rows

    @property
    def committed(self) -> bool:
        """True when a version holds this window's file (new or existing)."""
        return self.version_id is not None


@dataclass(frozen=True)
class LateFigures:
    """What curating a window again did to the records it held.

    ``late_rows`` and ``late_files`` count the window's records, and the
    stream files holding them, that arrived after the previous curation
    (``late_rows`` is None when the window was curated afresh: its curator's
    definition changed, or its file had no record of its stream files).
    ``kept``, ``added`` and ``dropped`` compare the new records with those
    held before, by ``record_id``.
    """

    late_rows: int | None
    late_files: int
    kept: int
    added: int
    dropped: int

    def to_dict(self) -> dict[str, int | None]:
        """JSON-ready figures."""
        return {
            "late_rows": self.late_rows,
            "late_files": self.late_files,
            "kept": self.kept,
            "added": self.added,
            "dropped": self.dropped,
        }


def data_path(partition_key: str) -> str:
    """Where a window's records live in the dataset: ``data/<key>.parquet``."""
    return f"{DATA_DIR}/{file_safe_key(partition_key)}.parquet"


#: Fields that do not change what a window selects: editing them keeps the definition hash.
_NOT_SELECTION = ("enabled", "curation_delay", "curate_past_intervals", "start_on", "recurate_late_within")


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
    seed = derive_seed(curator.name, partition_key)
    path = data_path(partition_key)
    definition = definition_hash(curator)
    previous = previous_window(store, curator.dataset_name, path)
    continuing = previous is not None and previous.continues(definition)
    days = days_overlapping(window.start, window.end)
    # Observed before reading, so a file landing meanwhile shows as a newer version, never an older one.
    read_at = utc_now()
    versions = {d.day.isoformat(): d.version for d in observe_days(curator.application_name, days, location=location)}
    split = split_window(
        curator.application_name,
        window.start,
        window.end,
        previous.lineage if continuing else None,
        location=location,
        statistics_of=curator.fields(),
    )
    read = {"stream_versions": versions, "window_version": split.version, "read_at": read_at}
    first = split.lineage
    if continuing:
        new_files, new_rows = split.arrived_since(previous.seen)
        if new_rows == 0:  # nothing new, or new files holding none of this window's records
            return _unchanged(curator, window, partition_key, seed, split, previous, new_files, read)
        outcome = reselect(split.earlier, split.late, curator.selectors, seed=seed, previous_ids=previous.record_ids)
        selection = outcome.selection
        late = LateFigures(new_rows, new_files, outcome.kept, outcome.added, outcome.dropped)
        first = previous.lineage
    else:
        data = split.earlier
        if data.count_rows() == 0:
            # Nothing to select from: the stream may not even have the curator's columns yet.
            return replace(_result(curator, window, partition_key, seed, data.schema, selection=None), **read)
        selection = run_selection(data, curator.selectors, seed=seed)
        late = _compared(previous, selection) if previous is not None else None
    result = _result(curator, window, partition_key, seed, split.earlier.schema, selection=selection, late=late)
    result = replace(result, lineage=first, seen=split.lineage, **read)
    if result.selected_rows == 0:
        return result
    dataset = store.create_dataset(curator.dataset_name, exist_ok=True)
    commit = _commit_window(dataset, result, definition, previous.entry if previous is not None else None)
    return replace(result, version_id=commit.version_id, parent=commit.parent, created=commit.created)


def _unchanged(
    curator: Curator,
    window: Window,
    partition_key: str,
    seed: int,
    split: Any,
    previous: PreviousWindow,
    new_files: int,
    read: dict[str, Any],
) -> WindowResult:
    """The window as held: no record of it arrived since it was curated, so nothing is selected again."""
    kept = len(previous.record_ids)
    result = _result(
        curator,
        window,
        partition_key,
        seed,
        split.earlier.schema,
        selection=None,
        late=LateFigures(0, new_files, kept, 0, 0),
        held=previous.table,
        candidates=split.earlier.count_rows() + split.late.count_rows(),
    )
    return replace(
        result,
        version_id=previous.version_id,
        created=False,
        lineage=previous.lineage,
        seen=previous.seen,
        message=f"{result.message} (no late records: unchanged)",
        **read,
    )


def _compared(previous: PreviousWindow, selection: SelectionResult) -> LateFigures:
    """Kept/added/dropped of a fresh selection against what the window held."""
    before = set(previous.record_ids)
    after = set(selection.table.column(RECORD_ID).to_pylist())
    return LateFigures(None, 0, len(before & after), len(after - before), len(before - after))


def _commit_window(dataset: Any, result: WindowResult, definition: str, based_on: FileEntry | None) -> Any:
    """Commit the window's file on a HEAD whose window files it does not overlap.

    The commit is pinned to the HEAD that was checked: if another writer moved
    HEAD meanwhile, the check runs again on the new HEAD. (A dataset without
    any version cannot be pinned; its first commit is checked against nothing.)

    ``based_on`` is the window's file the selection started from (None: no file):
    if another run replaced it meanwhile, committing would throw that run's
    records away, so :class:`WindowChangedError` is raised instead, unless the
    other run committed exactly these bytes.
    """
    table = result.table
    if result.lineage is not None and result.seen is not None:
        table = with_window_record(table, definition, result.lineage, result.seen)
    content = parquet_bytes(table)
    for attempt in range(1, _COMMIT_ATTEMPTS + 1):
        head, held = held_windows(dataset, data_path)
        current = dataset.files(head).get(result.path) if head is not None else None
        if current != based_on and current != _entry_of(content):
            raise WindowChangedError(
                f"dataset {result.dataset!r}: window {result.partition_key} was curated by another run meanwhile "
                f"(its file is now in version {head}); nothing was committed: curate it again"
            )
        refuse_overlap(result.dataset, result.path, result.window, held)
        metadata = {**result.manifest_metadata, WINDOWS_KEY: windows_record(held, result.path, result.window)}
        try:
            return dataset.commit({result.path: content}, result.message, metadata=metadata, parent_version_id=head)
        except DatasetHeadOutOfDateError:
            time.sleep(_BACKOFF.delay(attempt))  # another writer won: let it finish before checking again
    raise DatasetHeadOutOfDateError(
        f"dataset {result.dataset!r}: HEAD kept moving while window {result.partition_key} was committed; try again"
    )


def _entry_of(content: bytes) -> FileEntry:
    return FileEntry(hashlib.sha256(content).hexdigest(), len(content))


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
    late: LateFigures | None = None,
    held: pa.Table | None = None,
    candidates: int | None = None,
) -> WindowResult:
    stats = selection.selectors if selection is not None else ()
    if selection is not None:
        table = selection.table
        candidates = selection.candidate_rows
    else:
        table = held if held is not None else stream_schema.empty_table()
        candidates = candidates or 0
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
    if late is not None:
        manifest_metadata["late"] = late.to_dict()
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
        late=late,
    )


def _strata(stats: tuple) -> dict[str, int] | None:
    merged: dict[str, int] = {}
    for item in stats:
        for name, count in (item.strata or {}).items():
            merged[name] = merged.get(name, 0) + count
    return merged if any(item.strata is not None for item in stats) else None
