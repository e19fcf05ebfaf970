"""Manifests: the canonical, content-addressed description of one version.

A manifest is canonical JSON — sorted keys, no insignificant whitespace,
UTF-8, no NaN — of::

    {"author": ..., "created_at": "2024-05-01T12:00:00.000000Z",
     "files": {"data/2024-05-01.parquet": {"sha256": ..., "size": ...}},
     "format": 1, "message": ..., "metadata": {...}, "parent": <version id or null>}

and the version id is the sha256 of those bytes, so a version id names its
whole history, as a git commit does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from curation_pipeline.store.errors import (
    CorruptObjectError,
    InvalidManifestError,
    UnsafePathError,
    UnsafeStoredPathError,
)
from curation_pipeline.store.paths import check_path

FORMAT_VERSION = 1
#: Levels of nesting allowed in a manifest's metadata (a flat dict is 1): deep
#: enough for any schema summary, shallow enough for json's recursive encoder.
MAX_METADATA_DEPTH = 32
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _short(exc: BaseException) -> str:
    return str(exc)[:200]


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` canonically (sorted keys, compact, UTF-8, no NaN)."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidManifestError(f"not canonical-JSON serialisable: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate: what Python makes of an undecodable byte in argv or a file name.
        raise InvalidManifestError(
            f"not valid Unicode: {text[max(0, exc.start - 20) : exc.end + 20]!r} holds a lone surrogate"
        ) from None


def check_depth(value: Any, limit: int = MAX_METADATA_DEPTH, where: str = "metadata") -> None:
    """Raise InvalidManifestError if ``value`` nests dicts/lists deeper than ``limit`` levels.

    Walks without recursion, so a hostile value fails here, naming the limit
    and the first key path over it, rather than as a RecursionError in json.
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, where)]
    while stack:
        item, depth, path = stack.pop()
        if not isinstance(item, (dict, list, tuple, Mapping)):
            continue
        if depth > limit:
            shown = path if len(path) <= 120 else f"{path[:100]}...{path[-15:]}"
            raise InvalidManifestError(f"{shown}: nested deeper than the limit of {limit} levels")
        pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
        for key, child in pairs:
            if isinstance(child, (dict, list, tuple, Mapping)):
                stack.append((child, depth + 1, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"))


def format_time(value: datetime) -> str:
    """Format an aware datetime as UTC ISO 8601 with microseconds and ``Z``."""
    if value.tzinfo is None:
        raise InvalidManifestError("created_at must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class FileEntry:
    """One file of a version: the sha256 of its content and its size in bytes."""

    sha256: str
    size: int

    def __post_init__(self) -> None:
        if not isinstance(self.sha256, str) or not _SHA256.fullmatch(self.sha256):
            raise InvalidManifestError(f"invalid sha256 {self.sha256!r}")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0:
            raise InvalidManifestError(f"invalid size {self.size!r}")

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``{"sha256": ..., "size": ...}``."""
        return {"sha256": self.sha256, "size": self.size}

    @classmethod
    def from_json(cls, value: Any) -> FileEntry:
        """Parse the JSON form; raise :class:`InvalidManifestError` if malformed."""
        if not isinstance(value, dict) or set(value) != {"sha256", "size"}:
            raise InvalidManifestError(f"invalid file entry {value!r}")
        return cls(value["sha256"], value["size"])


def _freeze_files(files: Mapping[str, FileEntry]) -> Mapping[str, FileEntry]:
    for path, entry in files.items():
        check_path(path)
        if not isinstance(entry, FileEntry):
            raise InvalidManifestError(f"file {path!r}: expected a FileEntry")
    return MappingProxyType(dict(sorted(files.items())))


@dataclass(frozen=True)
class Manifest:
    """The content of one version (immutable).

    ``files`` maps safe relative paths to :class:`FileEntry`; ``metadata`` is
    free JSON (curator, partition key, window, counts, schema...).
    """

    parent: str | None
    message: str
    created_at: datetime
    author: str
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.parent is not None and not _SHA256.fullmatch(str(self.parent)):
            raise InvalidManifestError(f"invalid parent version id {self.parent!r}")
        if not isinstance(self.message, str) or not isinstance(self.author, str):
            raise InvalidManifestError("message and author must be strings")
        object.__setattr__(self, "files", _freeze_files(self.files))
        if not isinstance(self.metadata, Mapping):
            raise InvalidManifestError("metadata must be a mapping")
        check_depth(self.metadata)
        canonical_json(dict(self.metadata))  # fail early, naming the problem
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to storage."""
        return {
            "author": self.author,
            "created_at": format_time(self.created_at),
            "files": {path: entry.to_json() for path, entry in self.files.items()},
            "format": FORMAT_VERSION,
            "message": self.message,
            "metadata": dict(self.metadata),
            "parent": self.parent,
        }

    def to_bytes(self) -> bytes:
        """The canonical bytes; their sha256 is the version id."""
        return canonical_json(self.to_json())

    @property
    def version_id(self) -> str:
        """sha256 of :meth:`to_bytes`."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_json(cls, value: Any) -> Manifest:
        """Parse the JSON object; paths are checked (:class:`UnsafePathError`)."""
        expected = {"author", "created_at", "files", "format", "message", "metadata", "parent"}
        if not isinstance(value, dict) or set(value) != expected:
            raise InvalidManifestError("manifest has missing or unexpected fields")
        if value["format"] != FORMAT_VERSION:
            raise InvalidManifestError(f"unsupported manifest format {value['format']!r}")
        if not isinstance(value["files"], dict) or not isinstance(value["created_at"], str):
            raise InvalidManifestError("manifest files/created_at malformed")
        try:
            created_at = parse_time(value["created_at"])
        except ValueError:
            raise InvalidManifestError(f"invalid created_at {value['created_at']!r}") from None
        return cls(
            parent=value["parent"],
            message=value["message"],
            created_at=created_at,
            author=value["author"],
            files={path: FileEntry.from_json(entry) for path, entry in value["files"].items()},
            metadata=value["metadata"],
        )

    @classmethod
    def from_bytes(cls, data: bytes, version_id: str | None = None) -> Manifest:
        """Parse stored bytes, checking they hash to ``version_id`` when given.

        Raises:
            CorruptObjectError: the bytes do not hash to ``version_id``.
            InvalidManifestError: the bytes are not a valid manifest (an
                unsafe file path included: stored bytes are not a user's input).
        """
        if version_id is not None and hashlib.sha256(data).hexdigest() != version_id:
            raise CorruptObjectError(f"manifest of version {version_id} does not match its hash")
        which = f"manifest of version {version_id}" if version_id else "manifest"
        try:
            value = json.loads(data.decode("utf-8"))
        except RecursionError:
            raise InvalidManifestError(f"{which} is nested too deeply to parse") from None
        except ValueError as exc:  # not UTF-8 / not JSON / huge numbers
            raise InvalidManifestError(f"{which} is not JSON: {_short(exc)}") from None
        try:
            return cls.from_json(value)
        except UnsafePathError as exc:
            raise UnsafeStoredPathError(f"{which}: {exc}") from None
        except (TypeError, AttributeError, RecursionError) as exc:  # wrong JSON types deep inside
            raise InvalidManifestError(f"{which} is malformed: {_short(exc)}") from None


@dataclass(frozen=True)
class Version:
    """One visible version of a dataset: its id and its manifest's content."""

    version_id: str
    parent: str | None
    message: str
    created_at: datetime
    author: str
    files: Mapping[str, FileEntry]
    metadata: Mapping[str, Any]

    @classmethod
    def from_manifest(cls, version_id: str, manifest: Manifest) -> Version:
        """The version whose manifest is ``manifest``."""
        return cls(
            version_id,
            manifest.parent,
            manifest.message,
            manifest.created_at,
            manifest.author,
            manifest.files,
            manifest.metadata,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the manifest's fields plus ``version_id``)."""
        return {
            "version_id": self.version_id,
            "parent": self.parent,
            "message": self.message,
            "created_at": format_time(self.created_at),
            "author": self.author,
            "files": {path: entry.to_json() for path, entry in self.files.items()},
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Version:
        """Inverse of :meth:`to_dict`."""
        manifest = Manifest(
            value["parent"],
            value["message"],
            parse_time(value["created_at"]),
            value["author"],
            {path: FileEntry.from_json(entry) for path, entry in value["files"].items()},
            value["metadata"],
        )
        return cls.from_manifest(value["version_id"], manifest)

    @property
    def size(self) -> int:
        """Total bytes of the version's files."""
        return sum(entry.size for entry in self.files.values())
