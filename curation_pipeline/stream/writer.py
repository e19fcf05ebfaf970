"""``log_records``: append a batch of records to an application's stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation_pipeline.location import Location
from curation_pipeline.stream.filesystems import Store, open_store, storage_errors
from curation_pipeline.stream.layout import (
    BATCH_METADATA_KEY,
    TIME,
    check_application,
    date_dir,
    new_batch_id,
    new_file_name,
    pending_marker,
)
from curation_pipeline.stream.parquet_files import delete_quietly, encode_parquet, put_file
from curation_pipeline.stream.limits import DEFAULT_LIMITS, Declared, RecordLimits
from curation_pipeline.stream.records import Records, to_record_table

_MICROS_PER_DAY = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class LogResult:
    """What one call wrote: rows, the files (URIs), and the span of ``__time`` covered."""

    application: str
    rows: int
    files: tuple[str, ...]
    first_time: datetime | None  # earliest __time written (None when nothing was written)
    last_time: datetime | None  # latest __time written, inclusive

    @classmethod
    def combine(cls, application: str, results: Sequence[LogResult]) -> LogResult:
        """One result for several calls: rows and files added up, the widest span of ``__time``."""
        firsts = [r.first_time for r in results if r.first_time is not None]
        lasts = [r.last_time for r in results if r.last_time is not None]
        return cls(
            application=application,
            rows=sum(r.rows for r in results),
            files=tuple(f for r in results for f in r.files),
            first_time=min(firsts) if firsts else None,
            last_time=max(lasts) if lasts else None,
        )


def log_records(
    application: str,
    records: Records,
    store_url: str | None = None,
    *,
    location: Location | None = None,
    allow_nested: bool = False,
    allow_binary: bool = False,
    limits: RecordLimits = DEFAULT_LIMITS,
) -> LogResult:
    """Validate ``records`` and append them to the stream of ``application``.

    ``records`` is a list of dicts, a pandas DataFrame or a pyarrow Table with
    columns ``record_id``, ``__time`` and ``inputs.*``/``outputs.*``/
    ``feedback.*``/``tags.*``. Missing ids (column absent or null values) get
    uuid4 strings; a missing ``__time`` column means now. ``__time`` may be
    timestamps of any unit or zone (naive = UTC) or ISO-8601 strings; it is
    stored as ``timestamp[us, tz=UTC]``. The batch is split by UTC day into one
    new, uniquely named file per day, and becomes visible to readers whole or
    not at all, even if the process is killed midway (a batch of several days
    is hidden by a pending marker until its last file is written; see
    :mod:`curation_pipeline.stream.layout`). An empty batch writes nothing and returns
    a result with ``rows == 0``. The store is ``location`` if given, else the
    one at ``store_url`` (see :func:`~curation_pipeline.location.resolve_location`).

    Records are untrusted input, bounded by ``limits`` (:class:`RecordLimits`:
    1,000 columns per record, 1 MiB per string or binary value, 8 levels of
    nesting). Values are flat scalars unless the batch declares more:
    ``allow_nested=True`` accepts dicts and lists (stored as Arrow structs and
    lists), ``allow_binary=True`` accepts bytes.

    Raises:
        InvalidApplicationNameError: ``application`` breaks the naming rule.
        InvalidRecordsError: the batch breaks the record format or a limit (the
            message names the limit, the record and the field); nothing is written.
        StreamStorageError: the store failed; files of this call already
            written are removed again (best effort).
    """
    application = check_application(application)
    table = to_record_table(records, Declared(allow_nested, allow_binary, limits))
    store = open_store(store_url, location=location)
    days = split_by_day(table)
    return write_day_files(store, application, days)


def split_by_day(table: pa.Table) -> list[tuple[date, pa.Table]]:
    """``table`` sorted by ``__time`` and cut into one slice per UTC day."""
    if table.num_rows == 0:
        return []
    table = table.sort_by(TIME)
    micros = pc.cast(table.column(TIME), pa.int64()).to_numpy()
    day_numbers = micros // _MICROS_PER_DAY  # floor division: correct before 1970 too
    cuts = np.flatnonzero(np.diff(day_numbers)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [table.num_rows]))
    return [
        ((_EPOCH + timedelta(days=int(day_numbers[s]))).date(), table.slice(s, e - s))
        for s, e in zip(starts, ends)
    ]


def write_day_files(
    store: Store,
    application: str,
    days: Sequence[tuple[date, pa.Table]],
    file_name: Callable[[date], str] | None = None,
) -> LogResult:
    """Write each day's table to ``date=<day>/<file_name(day)>``, visible all or nothing.

    Without ``file_name`` the files are one batch, ``part-<batch>.parquet``;
    several of them are written while a pending marker hides them, and the
    marker's removal publishes them at once. One file needs no marker: its
    upload (or rename) is atomic. With ``file_name`` (fixed names that replace
    earlier files, as the demo stream uses) each file is published on its own.
    """
    batch = new_batch_id()
    name = file_name or (lambda day: new_file_name(batch))
    marker = pending_marker(store.root, application, batch) if file_name is None and len(days) > 1 else None
    metadata = _batch_metadata(batch, days) if marker else None
    written: list[str] = []
    try:
        if marker:
            put_file(store, marker, pa.py_buffer(metadata))
        for day, table in days:
            path = f"{date_dir(store.root, application, day)}/{name(day)}"
            if metadata:
                table = table.replace_schema_metadata({BATCH_METADATA_KEY: metadata})
            put_file(store, path, encode_parquet(table))
            written.append(path)
    except BaseException:
        # A batch is one unit: do not leave the days already written behind. A
        # marker that cannot be removed keeps whatever remains hidden.
        delete_quietly(store, written)
        if marker:
            delete_quietly(store, [marker])
        raise
    if marker:
        # Not undone on failure: had the removal landed (a lost reply), the
        # batch would already be visible, and deleting its files would show
        # part of it. Either it stays hidden, or it is visible whole.
        publish_batch(store, marker)
    rows = sum(table.num_rows for _, table in days)
    first = _utc(days[0][1].column(TIME)[0]) if days else None
    last = _utc(days[-1][1].column(TIME)[-1]) if days else None
    return LogResult(application, rows, tuple(store.uri(p) for p in written), first, last)


def publish_batch(store: Store, marker: str) -> None:
    """Remove a batch's pending marker: the commit point, once every file of the batch is written."""
    with storage_errors(f"cannot publish the batch of {store.uri(marker)}"):
        store.filesystem.delete_file(marker)


def _batch_metadata(batch: str, days: Sequence[tuple[date, pa.Table]]) -> bytes:
    # In the marker (what a crashed batch left) and in each file's footer (which
    # other days a reader must find to see the batch whole).
    return json.dumps({"batch": batch, "days": [day.isoformat() for day, _ in days]}).encode()


def _utc(value: pa.TimestampScalar) -> datetime:
    # Arrow hands out ZoneInfo("UTC"); results use the plain datetime.timezone.utc.
    return value.as_py().astimezone(timezone.utc)
