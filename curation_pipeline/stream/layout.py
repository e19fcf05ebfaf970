"""The stream's naming and storage layout, in one place.

    <store>/streams/<application>/date=YYYY-MM-DD/<file>.parquet

A file in ``date=D`` holds only records whose ``__time`` falls on the UTC day
``D``; readers rely on that to prune folders outside a window.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta

import pyarrow as pa

from curation_pipeline.fields import PREFIXES, RECORD_ID, TIME
from curation_pipeline.names import InvalidNameError, check_name
from curation_pipeline.stream.errors import InvalidApplicationNameError

TIME_TYPE = pa.timestamp("us", tz="UTC")
STREAMS_DIR = "streams"

_PREFIXED_COLUMN = re.compile(r"^(?:%s)\.(.+)$" % "|".join(PREFIXES), re.DOTALL)
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
    """The folder holding every ``date=`` folder of ``application``."""
    return f"{root}/{STREAMS_DIR}/{application}"


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


def new_file_name() -> str:
    """A fresh name, so concurrent writers never clobber each other's files."""
    return f"part-{uuid.uuid4().hex}.parquet"


def days_overlapping(start: datetime, end: datetime) -> list[date]:
    """UTC days that intersect ``[start, end)``; both bounds must be UTC-aware."""
    if end <= start:
        return []
    last = (end - timedelta(microseconds=1)).date()
    return [start.date() + timedelta(days=i) for i in range((last - start.date()).days + 1)]
