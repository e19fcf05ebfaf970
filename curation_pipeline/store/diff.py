"""Differences between two versions, with row counts for Parquet files.

Row counts come from Parquet footers (two ranged reads per file), not from
downloading the files.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from curation_pipeline.store import layout
from curation_pipeline.store.backends.base import ObjectBackend
from curation_pipeline.store.errors import StoreError
from curation_pipeline.store.manifest import FileEntry

_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class FileDiff:
    """One path that differs: ``status`` is ``added``, ``removed`` or ``changed``.

    ``old_rows``/``new_rows`` are row counts of Parquet files (None otherwise).
    """

    path: str
    status: str
    old: FileEntry | None
    new: FileEntry | None
    old_rows: int | None = None
    new_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "path": self.path,
            "status": self.status,
            "old": self.old.to_json() if self.old else None,
            "new": self.new.to_json() if self.new else None,
            "old_rows": self.old_rows,
            "new_rows": self.new_rows,
        }


@dataclass(frozen=True)
class VersionDiff:
    """What changed from version ``a`` to version ``b`` of ``dataset``."""

    dataset: str
    a: str | None
    b: str | None
    added: tuple[FileDiff, ...]
    removed: tuple[FileDiff, ...]
    changed: tuple[FileDiff, ...]
    unchanged: int

    @property
    def is_empty(self) -> bool:
        """True if both versions hold the same files."""
        return not (self.added or self.removed or self.changed)

    @property
    def rows_before(self) -> int:
        """Rows of the removed and changed Parquet files in ``a``."""
        return sum(f.old_rows or 0 for f in (*self.removed, *self.changed))

    @property
    def rows_after(self) -> int:
        """Rows of the added and changed Parquet files in ``b``."""
        return sum(f.new_rows or 0 for f in (*self.added, *self.changed))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dataset": self.dataset,
            "a": self.a,
            "b": self.b,
            "added": [f.to_dict() for f in self.added],
            "removed": [f.to_dict() for f in self.removed],
            "changed": [f.to_dict() for f in self.changed],
            "unchanged": self.unchanged,
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
        }


def diff_files(
    backend: ObjectBackend,
    dataset: str,
    a: tuple[str | None, Mapping[str, FileEntry]],
    b: tuple[str | None, Mapping[str, FileEntry]],
) -> VersionDiff:
    """Compare two file sets, ``(version_id, files)`` each."""
    (a_id, old), (b_id, new) = a, b
    rows = _RowCounter(backend, dataset)
    added = tuple(
        FileDiff(p, "added", None, new[p], None, rows(p, new[p])) for p in sorted(new.keys() - old.keys())
    )
    removed = tuple(
        FileDiff(p, "removed", old[p], None, rows(p, old[p]), None) for p in sorted(old.keys() - new.keys())
    )
    both = sorted(old.keys() & new.keys())
    changed = tuple(
        FileDiff(p, "changed", old[p], new[p], rows(p, old[p]), rows(p, new[p]))
        for p in both
        if old[p] != new[p]
    )
    return VersionDiff(dataset, a_id, b_id, added, removed, changed, len(both) - len(changed))


class _RowCounter:
    """Row count of a Parquet object from its footer, memoised by sha256."""

    def __init__(self, backend: ObjectBackend, dataset: str) -> None:
        self._backend = backend
        self._dataset = dataset
        self._cache: dict[str, int | None] = {}

    def __call__(self, path: str, entry: FileEntry) -> int | None:
        if not path.endswith(".parquet"):
            return None
        if entry.sha256 not in self._cache:
            self._cache[entry.sha256] = parquet_row_count(self._backend, self._dataset, entry)
        return self._cache[entry.sha256]


def parquet_row_count(backend: ObjectBackend, dataset: str, entry: FileEntry) -> int | None:
    """Rows of a Parquet object read from its footer; None if it is not valid Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if entry.size < 12:
        return None
    key = layout.object_key(dataset, entry.sha256)
    try:
        trailer = backend.get_range(key, entry.size - 8, 8)
        (length,) = struct.unpack("<I", trailer[:4])
        if trailer[4:] != _PARQUET_MAGIC or length > entry.size - 12:
            return None
        footer = backend.get_range(key, entry.size - 8 - length, length)
        # read_metadata only needs magic + footer + trailer, not the row groups.
        return pq.read_metadata(pa.BufferReader(_PARQUET_MAGIC + footer + trailer)).num_rows
    except StoreError:
        raise
    except Exception:  # a malformed footer means "not Parquet", not a failure
        return None
