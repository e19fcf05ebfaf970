"""Which files of the stream a reader sees: every data file, except the files of unfinished batches.

The rule (written by :func:`~curation_pipeline.stream.writer.write_day_files`):
a batch spanning several days names its file ``part-<batch>.parquet`` in each
day's folder, and the marker ``_pending/<batch>.json`` exists from before its
first file is written until after its last. A reader

1. lists the day folders of its window;
2. then lists the markers, and drops the files of every batch still pending
   (a file seen in step 1 was written after its marker, so the marker is
   either still there, or gone because every file of the batch exists);
3. reads the footers, and for a batch file whose footer names days of the
   window in which step 1 found no file of that batch (written after that
   folder was listed), looks that file up again.

Files with other names (one-day batches, other writers such as a Firehose
delivery) are read as soon as they exist: each is atomic on its own.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import date

import pyarrow.fs as pafs

from curation_pipeline.parallel import ordered_map
from curation_pipeline.stream.filesystems import Store, storage_errors
from curation_pipeline.stream.layout import (
    BATCH_METADATA_KEY,
    batch_of,
    date_dir,
    is_data_file,
    pending_batch,
    pending_dir,
)
from curation_pipeline.stream.parquet_files import Footer, keep_within_budget, list_dir, read_footers

_IO_THREADS = 16


def published_footers(
    store: Store,
    application: str,
    folders: Sequence[str],
    days: tuple[date, date] | None = None,
    *,
    keep_fragments: bool = False,
    statistics_of: Collection[str] = (),
) -> list[Footer]:
    """Footers of the files of ``folders`` a reader may see, sorted by path (see the module docstring).

    ``days`` (first, last) is the span the folders were chosen from (None: every
    day); a batch's file on a day of that span is looked up even when its
    folder did not exist yet when the folders were chosen. ``keep_fragments``
    and ``statistics_of``: as in :func:`~curation_pipeline.stream.parquet_files.read_footers`.
    """
    listings = ordered_map(lambda folder: list_dir(store, folder), folders, max_workers=_IO_THREADS, name="stream")
    # Sizes from the listing: reading a footer then needs no request for the size.
    listed = {
        info.path: info.size
        for infos in listings
        for info in infos
        if info.type == pafs.FileType.File and is_data_file(info.base_name)
    }
    pending = pending_batches(store, application)
    visible = sorted(path for path in listed if batch_of(_basename(path)) not in pending)
    kept = {"keep_fragments": keep_fragments, "statistics_of": statistics_of}
    footers = read_footers(store, visible, listed, **kept)
    late = _late_batch_files(store, application, days, set(listed), footers)
    if late:
        late_footers = read_footers(store, list(late), late, **kept)
        footers = sorted([*footers, *late_footers], key=lambda footer: footer.path)
        footers = keep_within_budget(footers, store, statistics_of)
    return footers


def pending_batches(store: Store, application: str) -> set[str]:
    """Ids of ``application``'s batches whose pending marker exists."""
    return {
        batch
        for info in list_dir(store, pending_dir(store.root, application))
        if info.type == pafs.FileType.File and (batch := pending_batch(info.base_name)) is not None
    }


def _late_batch_files(
    store: Store, application: str, span: tuple[date, date] | None, listed: set[str], footers: list[Footer]
) -> dict[str, int]:
    """Files of published batches on days of ``span`` that the listing missed and that exist now, with their sizes."""
    wanted: set[str] = set()
    for footer in footers:
        batch = batch_of(_basename(footer.path))
        days = _batch_days(footer)
        if batch is None or days is None:
            continue
        for day in days:
            path = f"{date_dir(store.root, application, day)}/part-{batch}.parquet"
            if (span is None or span[0] <= day <= span[1]) and path not in listed:
                wanted.add(path)
    if not wanted:
        return {}
    with storage_errors("cannot look up the files of a batch"):
        infos = store.filesystem.get_file_info(sorted(wanted))
    return {info.path: info.size for info in infos if info.type == pafs.FileType.File}


def _batch_days(footer: Footer) -> list[date] | None:
    raw = (footer.schema.metadata or {}).get(BATCH_METADATA_KEY)
    if raw is None:
        return None
    try:
        return [date.fromisoformat(day) for day in json.loads(raw)["days"]]
    except (ValueError, KeyError, TypeError):
        return None  # a foreign key of the same name: not ours to interpret


def _basename(path: str) -> str:
    return path.rpartition("/")[2]
