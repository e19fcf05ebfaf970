"""The stream's field names, shared by every layer that reads records.

A record has an id, a time, and named values under four prefixes
(``inputs.<name>``, ``outputs.<name>``, ``feedback.<name>``, ``tags.<name>``).
"""

from __future__ import annotations

#: The unique id of a record.
RECORD_ID = "record_id"
#: When a record was logged (a UTC timestamp).
TIME = "__time"
#: The prefixes of a record's value columns, as in ``inputs.prompt``.
PREFIXES: tuple[str, ...] = ("inputs", "outputs", "feedback", "tags")
