"""The stream's naming and storage layout, in one place.

    <store>/streams/<application key>/date=YYYY-MM-DD/<file>.parquet  (key: names.name_key)
    <store>/streams/<application key>/_pending/<batch>.json

A file in ``date=D`` holds only records whose ``__time`` falls on the UTC day
``D``; readers rely on that to prune folders outside a window.

A batch of :func:`~curation_pipeline.stream.log_records` spanning several days
writes ``part-<batch>.parquet`` in each day's folder while the marker
``_pending/<batch>.json`` exists; readers skip the files of a pending batch, so
the batch appears whole when its marker is removed, or never (a killed
writer's marker stays, hiding its files). Files with any other name (another
writer's) are read as soon as they exist.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta

import pyarrow as pa

from curation_pipeline.fields import PREFIXES, RECORD_ID, TIME
from curation_pipeline.names import InvalidNameError, check_name, name_key
from curation_pipeline.stream.errors import InvalidApplicationNameError

TIME_TYPE = pa.timestamp("us", tz="UTC")
STREAMS_DIR = "streams"
PENDING_DIR = "_pending"
#: Footer key of a batch file: JSON ``{"batch": id, "days": [...]}``, every day the batch wrote.
BATCH_METADATA_KEY = b"curation.batch"

_PREFIXED_COLUMN = re.compile(r"^(?:%s)\.(.+)$" % "|".join(PREFIXES), re.DOTALL)
_BATCH_FILE = re.compile(r"\Apart-([0-9a-f]{32})\.parquet\Z")
_PENDING_MARKER = re.compile(r"\A([0-9a-f]{32})\.json\Z")
_DATE_DIR = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


def check_application(application: object) -> str:
    """Return ``application`` if it is a valid name, else raise InvalidApplicationNameError."""
    try:
        return check_name(application, "application")
    except InvalidNameError as exc:
        raise InvalidApplicationNameError(str(exc)) from None


def is_record_column(name: object) -> bool:
    """True for ``record_id``, ``__time`` and ``<prefix>.<non-empty name>``."""
    if not isinstance(name, str):
        return False
    return name in (RECORD_ID, TIME) or _PREFIXED_COLUMN.match(name) is not None


def stream_dir(root: str, application: str) -> str:
    """The folder holding every ``date=`` folder of ``application`` (named by its key)."""
    return f"{root}/{STREAMS_DIR}/{name_key(application)}"


def date_dir(root: str, application: str, day: date) -> str:
    """The folder of one UTC day of ``application``."""
    return f"{stream_dir(root, application)}/date={day.isoformat()}"


def parse_date_dir(basename: str) -> date | None:
    """The day a ``date=YYYY-MM-DD`` folder name stands for, None for anything else."""
    match = _DATE_DIR.fullmatch(basename)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def is_data_file(basename: str) -> bool:
    """Parquet files count; hidden ('.', '_') names are temp files or markers of other writers."""
    return basename.endswith(".parquet") and not basename.startswith((".", "_"))


def new_batch_id() -> str:
    """A fresh batch id (32 hex digits), so concurrent writers never clobber each other's files."""
    return uuid.uuid4().hex


def new_file_name(batch: str | None = None) -> str:
    """The name of a batch's file in each day folder: ``part-<batch>.parquet`` (a fresh batch if None)."""
    return f"part-{batch or new_batch_id()}.parquet"


def batch_of(basename: str) -> str | None:
    """The batch id of a file named by :func:`new_file_name`, None for other names."""
    match = _BATCH_FILE.match(basename)
    return match.group(1) if match else None


def pending_dir(root: str, application: str) -> str:
    """The folder of the markers of ``application``'s batches still being written."""
    return f"{stream_dir(root, application)}/{PENDING_DIR}"


def pending_marker(root: str, application: str, batch: str) -> str:
    """The marker that hides ``batch``'s files while it exists."""
    return f"{pending_dir(root, application)}/{batch}.json"


def pending_batch(basename: str) -> str | None:
    """The batch id a marker's file name stands for, None for other names."""
    match = _PENDING_MARKER.match(basename)
    return match.group(1) if match else None


def days_overlapping(start: datetime, end: datetime) -> list[date]:
    """UTC days that intersect ``[start, end)``; both bounds must be UTC-aware."""
    if end <= start:
        return []
    last = (end - timedelta(microseconds=1)).date()
    return [start.date() + timedelta(days=i) for i in range((last - start.date()).days + 1)]
