"""Results that are this project's typed values and also read like Gantry's dicts.

Gantry's datasets API returns dicts (``{"version_id": ..., "is_latest_version":
True, ...}``); this project returns typed values (:class:`CommitResult`,
:class:`Version`, :class:`PullResult`, :class:`WorkingCopyDiff`). Each class
here subclasses one of ours and adds Gantry's keys: ``result["version_id"]``,
``result.get("created_by")``, ``dict(result)`` and ``"new_files" in diff`` work
as on Gantry's dicts, and every attribute of our value stays.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from curation_pipeline.store import CommitResult, PullResult, Version, WorkingCopyDiff

#: The keys of Gantry's version records, in Gantry's order.
VERSION_KEYS = ("version_id", "dataset", "message", "created_at", "created_by", "is_latest_version")
DIFF_KEYS = ("new_files", "modified_files", "deleted_files")
DATASET_KEYS = ("name", "dataset_id", "created_at")


def gantry_time(when: datetime) -> str:
    """A time as Gantry's records write it: ``Thu, 16 Feb 2023 00:16:54 GMT``."""
    return format_datetime(when.replace(microsecond=0), usegmt=True)


class GantryRecord:
    """Mixin: read-only mapping access with Gantry's keys (``_gantry`` gives them)."""

    def _gantry(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        record = self._gantry()
        if key not in record:
            raise KeyError(f"{key!r} is not a key of {type(self).__name__}; its keys are {', '.join(record)}")
        return record[key]

    def __contains__(self, key: object) -> bool:
        return key in self._gantry()

    def __iter__(self) -> Iterator[str]:
        return iter(self._gantry())

    def __len__(self) -> int:
        return len(self._gantry())

    def keys(self) -> Any:
        """Gantry's keys."""
        return self._gantry().keys()

    def values(self) -> Any:
        """The values under Gantry's keys."""
        return self._gantry().values()

    def items(self) -> Any:
        """``(key, value)`` pairs under Gantry's keys."""
        return self._gantry().items()

    def get(self, key: str, default: Any = None) -> Any:
        """The value under Gantry's ``key``, else ``default``."""
        return self._gantry().get(key, default)

    def as_gantry_dict(self) -> dict[str, Any]:
        """The plain dict Gantry would have returned."""
        return dict(self._gantry())


@dataclass(frozen=True)
class VersionRecord(Version, GantryRecord):
    """A :class:`Version` with Gantry's version keys (``list_versions`` items)."""

    dataset: str = ""
    is_latest_version: bool = False

    @classmethod
    def of(cls, version: Version, dataset: str, head: str | None) -> VersionRecord:
        """``version`` of ``dataset``, latest when it is ``head``."""
        return cls(
            version.version_id,
            version.parent,
            version.message,
            version.created_at,
            version.author,
            version.files,
            version.metadata,
            dataset=dataset,
            is_latest_version=version.version_id == head,
        )

    def _gantry(self) -> dict[str, Any]:
        return _version_keys(self.version_id, self.dataset, self.message, self.created_at, self.author, self.is_latest_version)


def _version_keys(
    version_id: str, dataset: str, message: str, created_at: datetime, author: str, latest: bool
) -> dict[str, Any]:
    values = (version_id, dataset, message, gantry_time(created_at), author, latest)
    return dict(zip(VERSION_KEYS, values))


@dataclass(frozen=True)
class CommitRecord(CommitResult, GantryRecord):
    """A :class:`CommitResult` with Gantry's version keys (``push_*`` and ``rollback`` results).

    ``version`` is the version the commit landed on (HEAD's, for a no-op).
    """

    version: VersionRecord | None = None

    @classmethod
    def of(cls, result: CommitResult, version: VersionRecord) -> CommitRecord:
        """``result`` with the version it landed on."""
        values = {name: getattr(result, name) for name in result.__dataclass_fields__}
        return cls(**values, version=version)

    def _gantry(self) -> dict[str, Any]:
        assert self.version is not None  # always set by `of`
        return self.version._gantry()


@dataclass(frozen=True)
class PullRecord(PullResult, GantryRecord):
    """A :class:`PullResult` with Gantry's version keys (the version pulled)."""

    version: VersionRecord | None = None

    @classmethod
    def of(cls, result: PullResult, version: VersionRecord) -> PullRecord:
        """``result`` with the version it pulled."""
        values = {name: getattr(result, name) for name in result.__dataclass_fields__}
        return cls(**values, version=version)

    def _gantry(self) -> dict[str, Any]:
        assert self.version is not None
        return self.version._gantry()


@dataclass(frozen=True)
class DiffRecord(WorkingCopyDiff, GantryRecord):
    """A :class:`WorkingCopyDiff` with Gantry's keys ``new_files``, ``modified_files``, ``deleted_files``."""

    @classmethod
    def of(cls, diff: WorkingCopyDiff) -> DiffRecord:
        """``diff`` with Gantry's keys."""
        return cls(diff.new, diff.modified, diff.deleted)

    def _gantry(self) -> dict[str, Any]:
        return dict(zip(DIFF_KEYS, (list(self.new), list(self.modified), list(self.deleted))))


@dataclass(frozen=True)
class DatasetRecord(GantryRecord):
    """One dataset of ``list_datasets``: its name as written, its key, when and by whom it was created.

    Gantry's ``dataset_id`` (a UUID there) is the key here: the stable,
    unique identifier of the dataset in its store.
    """

    name: str
    key: str
    created_at: datetime | None
    author: str | None
    deleted: bool = False

    def _gantry(self) -> dict[str, Any]:
        created = gantry_time(self.created_at) if self.created_at else None
        return dict(zip(DATASET_KEYS, (self.name, self.key, created)))


def record_time(record: Mapping[str, Any]) -> datetime | None:
    """The ``created_at`` of a dataset's creation record, as a datetime (None when absent)."""
    from curation_pipeline.store.manifest import parse_time

    value = record.get("created_at")
    return parse_time(value) if isinstance(value, str) else None
