"""What the stream holds for each day, as a data version; and a window split by when its files arrived.

Records arrive late: a mobile client flushes hours later, a batch upload
fills in yesterday. Every file of the stream is immutable once published and
lives in the folder of the one UTC day its records belong to, so what a day
holds is exactly the list of its published files. A day's *version* is a
hash of that list (names and sizes): it changes when a file lands in the
day, late or not, and never when another day changes. Computing it costs one
listing of the day's folder (no data is read); row counts, when asked for,
come from the files' footers.

A day is coarse for a window of an hour: a window's own version
(:func:`window_version`) hashes only the files whose row groups' ``__time``
statistics reach into it, so a file landing later in the day changes the
day's version but not that of a window it holds no records of.

A curated window records which files it was selected from
(:class:`WindowLineage`); when the window is curated again,
:func:`split_window` reads it as two parts: the records of those files, and
the records of files that arrived since.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from curation_pipeline.location import Location
from curation_pipeline.parallel import ordered_map
from curation_pipeline.stream.batches import pending_batches, published_footers
from curation_pipeline.stream.errors import StreamError
from curation_pipeline.stream.filesystems import Store, open_store, require_stream_root, storage_errors
from curation_pipeline.stream.layout import (
    TIME,
    batch_of,
    check_application,
    date_dir,
    days_overlapping,
    is_data_file,
    parse_date_dir,
)
from curation_pipeline.stream.parquet_files import Footer, footers_dataset, list_dir, read_footer
from curation_pipeline.stream.reader import StreamWindow, latest_time_of, window_bounds
from curation_pipeline.stream.schema import unify_stream_schema

_IO_THREADS = 16
#: The Parquet key-value metadata key under which a curated window file records its lineage.
LINEAGE_METADATA_KEY = b"curation.lineage"


class InvalidLineageError(StreamError, ValueError):
    """A recorded window lineage cannot be read back."""


@dataclass(frozen=True)
class DayFiles:
    """The published files of one day of a stream: names and sizes, sorted by name.

    ``rows`` is the sum of their footers' row counts, or None when not read.
    """

    day: date
    files: tuple[tuple[str, int], ...]
    rows: int | None = None
    latest: datetime | None = None

    @property
    def version(self) -> str:
        """16 hex characters of the sha256 of the day's ``name<TAB>size`` lines: its data version."""
        text = "".join(f"{name}\t{size}\n" for name, size in self.files)
        return hashlib.sha256(f"{self.day.isoformat()}\n{text}".encode()).hexdigest()[:16]


def observe_days(
    application: str,
    days: Sequence[date],
    store_url: str | None = None,
    *,
    location: Location | None = None,
) -> list[DayFiles]:
    """What each of ``days`` holds in ``application``'s stream, in the order given.

    One listing per day plus one of the pending batches (rows: :func:`with_rows`).
    A day without a folder holds no files.

    Raises:
        InvalidApplicationNameError: bad ``application``.
        StreamStorageError: the store could not be listed or read.
    """
    application = check_application(application)
    store = open_store(store_url, location=location)
    require_stream_root(store)
    return _observe(store, application, days)


def _observe(store: Store, application: str, days: Sequence[date]) -> list[DayFiles]:
    listings = list(
        ordered_map(
            lambda day: list_dir(store, date_dir(store.root, application, day)),
            list(days),
            max_workers=_IO_THREADS,
            name="stream",
        )
    )
    pending = pending_batches(store, application)
    observed = []
    for day, infos in zip(days, listings):
        files = tuple(
            sorted(
                (info.base_name, int(info.size or 0))
                for info in infos
                if info.type == pafs.FileType.File
                and is_data_file(info.base_name)
                and batch_of(info.base_name) not in pending
            )
        )
        observed.append(DayFiles(day, files))
    return observed


def with_rows(
    application: str, days: Sequence[DayFiles], store_url: str | None = None, *, location: Location | None = None
) -> list[DayFiles]:
    """``days`` with their rows and newest record time, from the footers of their files."""
    store = open_store(store_url, location=location)
    return [_with_rows(store, check_application(application), day) for day in days]


def _with_rows(store: Store, application: str, day: DayFiles) -> DayFiles:
    footers = day_footers(store, application, day)
    return DayFiles(day.day, day.files, sum(footer.rows for footer in footers), latest_time_of(store, footers))


class _FooterCache:
    """Footers already read, by file URI and size: a published stream file never changes.

    Sensors observe the same days every minute; with this, a tick reads the
    footers of new files only. Bounded (least recently used out) so a long-lived
    code server holds at most :data:`FOOTER_CACHE_SIZE` of them. A dict rather
    than ``functools.lru_cache``: the key is not the reading function's argument
    list (the store is not hashable) and entries are shared across stores.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], Footer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> Footer | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], footer: Footer) -> None:
        with self._lock:
            self._entries[key] = footer
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


FOOTER_CACHE_SIZE = 50_000
_FOOTERS = _FooterCache(FOOTER_CACHE_SIZE)


def day_footers(store: Store, application: str, day: DayFiles) -> list[Footer]:
    """The footers of ``day``'s files, in its order; those read before come from memory."""
    folder = date_dir(store.root, application, day.day)

    def footer(item: tuple[str, int]) -> Footer:
        path = f"{folder}/{item[0]}"
        key = (store.uri(path), item[1])
        found = _FOOTERS.get(key)
        if found is None:
            found = read_footer(store, path)
            _FOOTERS.put(key, found)
        return found

    return list(ordered_map(footer, list(day.files), max_workers=_IO_THREADS, name="stream"))


def window_version(footers: Iterable[Footer], start: datetime, end: datetime) -> str:
    """16 hex characters naming the files that may hold records of ``[start, end)``, with their row counts.

    The same files give the same version; a file landing in the window's days
    changes it only if its ``__time`` statistics reach into the window.
    """
    names = sorted(
        f"{footer.path.rpartition('/')[0].rpartition('/')[2]}/{footer.path.rpartition('/')[2]}\t{footer.rows}"
        for footer in footers
        if footer.may_hold(start, end)
    )
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def window_versions(
    application: str,
    windows: Sequence[tuple[datetime, datetime]],
    store_url: str | None = None,
    *,
    location: Location | None = None,
) -> list[str]:
    """:func:`window_version` of each ``(start, end)`` as the stream is now (footers read once per file)."""
    application = check_application(application)
    store = open_store(store_url, location=location)
    require_stream_root(store)
    days = sorted({day for start, end in windows for day in days_overlapping(start, end)})
    by_day = {d.day: day_footers(store, application, d) for d in _observe(store, application, days)}
    return [
        window_version([f for day in days_overlapping(start, end) for f in by_day.get(day, [])], start, end)
        for start, end in windows
    ]


@dataclass(frozen=True)
class WindowLineage:
    """The files a window's records were selected from: day -> file names.

    Stored with a curated window (:meth:`to_json`), it tells a later
    curation of the window which records are late: those of any other file.
    """

    files: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, footers: Iterable[Footer]) -> WindowLineage:
        """The lineage of a window read from ``footers``."""
        files: dict[str, list[str]] = {}
        for footer in footers:
            day, name = _day_and_name(footer)
            files.setdefault(day, []).append(name)
        return cls({day: tuple(sorted(names)) for day, names in sorted(files.items())})

    def holds(self, footer: Footer) -> bool:
        """Whether ``footer``'s file is one of the lineage's."""
        day, name = _day_and_name(footer)
        return name in self.files.get(day, ())

    def to_json(self) -> str:
        """Canonical JSON: ``{"files": {"YYYY-MM-DD": [names...]}}``."""
        return json.dumps({"files": {d: list(n) for d, n in self.files.items()}}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> WindowLineage:
        """Read :meth:`to_json`'s output back.

        Raises:
            InvalidLineageError: not a lineage record.
        """
        try:
            record = json.loads(text)
            files = record["files"]
            if not isinstance(files, dict) or not all(
                isinstance(day, str) and isinstance(names, list) and all(isinstance(n, str) for n in names)
                for day, names in files.items()
            ):
                raise TypeError("files must map days to lists of names")
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidLineageError(f"not a window lineage record: {error}") from error
        return cls({day: tuple(sorted(names)) for day, names in sorted(files.items())})


def _day_and_name(footer: Footer) -> tuple[str, str]:
    """The ISO day of ``footer``'s ``date=`` folder ("" outside one) and its file name."""
    folder, _, name = footer.path.rpartition("/")
    day = parse_date_dir(folder.rpartition("/")[2])
    return (day.isoformat() if day else ""), name


@dataclass(frozen=True)
class SplitWindow:
    """A window read in two parts: records of the files of an earlier lineage, and those that arrived since.

    Both parts are :class:`~curation_pipeline.stream.StreamWindow` s (their
    files and the window's filter apart, as the selection engine reads them
    fastest) on one schema. ``lineage`` lists every file of the window now.
    """

    earlier: StreamWindow
    late: StreamWindow
    lineage: WindowLineage
    late_files: int
    _footers: tuple[Footer, ...]
    _store: Store

    @property
    def version(self) -> str:
        """:func:`window_version` of the window as read."""
        return window_version(self._footers, self.earlier.start, self.earlier.end)

    def arrived_since(self, seen: WindowLineage) -> tuple[int, int]:
        """``(files, rows in the window)`` of the files not in ``seen``: what arrived since it was recorded."""
        new = [f for f in self._footers if not seen.holds(f)]
        if not new:
            return 0, 0
        with storage_errors("cannot read the stream files"):
            return len(new), _part(self._store, new, self.earlier).count_rows()


def _part(store: Store, footers: Sequence[Footer], like: StreamWindow) -> StreamWindow:
    """The window ``like`` (its application, bounds, filter and schema) over ``footers``' files only."""
    return _window_over(store, footers, like.application, like.start, like.end, like.filter, like.schema)


def _window_over(
    store: Store,
    footers: Sequence[Footer],
    application: str,
    start: datetime,
    end: datetime,
    window: ds.Expression,
    schema: pa.Schema,
) -> StreamWindow:
    dataset = footers_dataset(store, footers, schema)
    return StreamWindow(application, start, end, dataset, window, tuple(footers), store)


def split_window(
    application: str,
    start: datetime,
    end: datetime,
    earlier: WindowLineage | None,
    store_url: str | None = None,
    *,
    location: Location | None = None,
    statistics_of: Collection[str] = (),
) -> SplitWindow:
    """``application``'s records with ``start <= __time < end``, split by ``earlier``'s files.

    With ``earlier`` None every file is in ``earlier`` (nothing is late): the
    first curation of a window. Files listed in ``earlier`` but gone now
    (a stream rewritten under the same day) are simply not read.
    ``statistics_of``: as for :func:`~curation_pipeline.stream.open_window`.

    Raises:
        as :func:`~curation_pipeline.stream.read_window`.
    """
    application = check_application(application)
    start, end = window_bounds(start, end)
    store = open_store(store_url, location=location)
    require_stream_root(store)
    days = days_overlapping(start, end)
    folders = [date_dir(store.root, application, day) for day in days]
    kept = {"keep_fragments": True, "statistics_of": statistics_of}
    footers = published_footers(store, application, folders, (days[0], days[-1]), **kept) if days else []
    before = footers if earlier is None else [f for f in footers if earlier.holds(f)]
    after = [] if earlier is None else [f for f in footers if not earlier.holds(f)]
    schema = unify_stream_schema([(store.uri(f.path), f.schema) for f in footers])
    time_type = schema.field(TIME).type
    window = (ds.field(TIME) >= pa.scalar(start, time_type)) & (ds.field(TIME) < pa.scalar(end, time_type))
    with storage_errors("cannot open the stream files"):
        earlier_part = _window_over(store, before, application, start, end, window, schema)
        late_part = _window_over(store, after, application, start, end, window, schema)
    return SplitWindow(
        earlier_part,
        late_part,
        WindowLineage.of(footers),
        len(after),
        tuple(footers),
        store,
    )
