"""What a curated window file remembers of its curation, so that late records can be added to it later.

Each window file carries, in its Parquet key-value metadata, a small record:
the curator definition hash and the selection rules' version
(:data:`~curation_pipeline.selection.version.RULES_VERSION`) it was selected
under, the stream files of its
first curation and every file seen by its latest one
(:class:`~curation_pipeline.stream.lineage.WindowLineage`). A later curation
of the same window reads it back (:func:`previous_window`): files not in the
first lineage hold the late records, whose picks
:func:`~curation_pipeline.selection.reselect` makes against the first
curation's (stable priorities: the same late records give the same picks
however many batches brought them); a window without a file beyond those
seen is unchanged.

The record travels with the file, so a dataset copied, pulled or rolled back
keeps it; a window file without one (written before it existed, or pushed by
hand) is curated afresh, and its records are still compared with the new
ones for the kept/added/dropped figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from curation_pipeline.fields import RECORD_ID
from curation_pipeline.selection.version import RULES_VERSION
from curation_pipeline.store import DatasetDeletedError, DatasetNotFoundError, DatasetStore, FileEntry, StoreError
from curation_pipeline.store.tabular import native_file
from curation_pipeline.stream.lineage import InvalidLineageError, WindowLineage

#: The key of the record in a window file's Parquet metadata.
WINDOW_RECORD_KEY = b"curation.window"


@dataclass(frozen=True)
class PreviousWindow:
    """A window as the dataset's HEAD holds it.

    ``definition`` and ``lineage`` are None for a file without a (readable) record.
    """

    version_id: str
    entry: FileEntry
    table: pa.Table
    definition: str | None
    lineage: WindowLineage | None
    seen: WindowLineage | None = None
    rules: int | None = None

    @property
    def record_ids(self) -> list[str]:
        """The ``record_id`` of every record held."""
        if RECORD_ID not in self.table.column_names:
            return []
        return [value for value in self.table.column(RECORD_ID).to_pylist() if value is not None]

    def continues(self, definition: str) -> bool:
        """Whether a curation under ``definition`` can keep this window's picks and add late records."""
        return (
            self.lineage is not None
            and self.seen is not None
            and self.definition == definition
            and self.rules == RULES_VERSION
        )


def previous_window(store: DatasetStore, dataset_name: str, path: str) -> PreviousWindow | None:
    """The window file ``path`` of ``dataset_name``'s HEAD, or None when there is none.

    Raises:
        StoreError: the store could not be read.
    """
    try:
        dataset = store.get_dataset(dataset_name)
    except (DatasetNotFoundError, DatasetDeletedError):
        return None
    head = dataset.head()
    entry = dataset.files(head).get(path) if head is not None else None
    if entry is None:
        return None
    try:
        with dataset.open_file(path, head) as stored:
            parquet = pq.ParquetFile(native_file(stored))
            table = parquet.read()
    except (OSError, pa.ArrowException) as error:
        raise StoreError(
            f"dataset {dataset_name!r}: the window file {path} of version {head} is not readable Parquet ({error}); "
            "curating the window again would replace it: restore it (curation datasets rollback) or remove it first"
        ) from error
    definition, lineage, seen, rules = _read_record((parquet.schema_arrow.metadata or {}).get(WINDOW_RECORD_KEY))
    held = table.replace_schema_metadata(_without_record(table.schema.metadata))
    return PreviousWindow(head, entry, held, definition, lineage, seen, rules)


def with_window_record(table: pa.Table, definition: str, lineage: WindowLineage, seen: WindowLineage) -> pa.Table:
    """``table`` carrying the record of its curation: the first curation's files (``lineage``) and all ``seen``."""
    record = json.dumps(
        {
            "definition": definition,
            "lineage": json.loads(lineage.to_json()),
            "seen": json.loads(seen.to_json()),
            "rules": RULES_VERSION,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    metadata = {**(table.schema.metadata or {}), WINDOW_RECORD_KEY: record.encode()}
    return table.replace_schema_metadata(metadata)


def _read_record(raw: bytes | None) -> tuple[str | None, WindowLineage | None, WindowLineage | None, int | None]:
    if raw is None:
        return None, None, None, None
    try:
        record = json.loads(raw)
        definition = record["definition"]
        lineage = WindowLineage.from_json(json.dumps(record["lineage"]))
        seen = WindowLineage.from_json(json.dumps(record["seen"]))
        rules = record["rules"]
    except (ValueError, KeyError, TypeError, InvalidLineageError):
        return None, None, None, None  # unreadable: curate the window afresh rather than trust it
    definition = definition if isinstance(definition, str) else None
    return definition, lineage, seen, (rules if isinstance(rules, int) else None)


def _without_record(metadata: dict | None) -> dict | None:
    if not metadata:
        return metadata
    return {key: value for key, value in metadata.items() if key != WINDOW_RECORD_KEY} or None
