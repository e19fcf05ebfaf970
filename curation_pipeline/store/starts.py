"""Curator start records: when a curator without ``start_on`` was first deployed, written once.

A curator that names no ``start_on`` starts at the window in which it was
first deployed. That moment must not move when the code location reloads,
restarts or runs on another machine, so it is recorded once in the store::

    curators/<curator>/start.json
    {"author": "ci", "curator": "reviews", "format": 1,
     "recorded_at": "2026-11-27T12:03:28.000000Z", "start": "2026-11-27T00:00:00.000000Z"}

``start`` is the start of the first window (already aligned to the curator's
grid by the caller); ``recorded_at`` and ``author`` say when and by whom it
was recorded. The record is created with the backend's create-if-absent
write (the primitive that guards dataset creation), so when two code servers
record at once exactly one record wins and both return it. Nothing ever
rewrites or deletes it: purging the curator's dataset leaves it in place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from curation_pipeline.store.errors import InvalidManifestError
from curation_pipeline.store.manifest import canonical_json, format_time, parse_time

START_RECORD_FORMAT = 1


@dataclass(frozen=True)
class CuratorStartRecord:
    """The recorded start of one curator.

    Attributes:
        curator: the curator's name.
        start: the start of its first window (UTC).
        recorded_at: when the record was written (UTC).
        author: who wrote it (``$CURATION_AUTHOR`` or the OS user).
    """

    curator: str
    start: datetime
    recorded_at: datetime
    author: str

    def to_json(self) -> bytes:
        """The record as canonical JSON."""
        return canonical_json(
            {
                "author": self.author,
                "curator": self.curator,
                "format": START_RECORD_FORMAT,
                "recorded_at": format_time(self.recorded_at),
                "start": format_time(self.start),
            }
        )

    @classmethod
    def from_json(cls, data: bytes, *, key: str) -> CuratorStartRecord:
        """Parse a record read from ``key``.

        Raises:
            InvalidManifestError: the bytes are not a curator start record.
        """
        try:
            value = json.loads(data.decode("utf-8"))
            return cls(
                curator=str(value["curator"]),
                start=parse_time(value["start"]),
                recorded_at=parse_time(value["recorded_at"]),
                author=str(value.get("author", "unknown")),
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise InvalidManifestError(f"{key} is not a curator start record: {exc}") from None
