"""The store-level guard against overlapping windows in one dataset.

The grid history (:mod:`curation_pipeline.windows.history`) keeps a
curator's edits from ever curating the same time twice. This guard does not
rely on it: when a window's file is committed, the windows of the files
already in the dataset's HEAD are read from the versions' own metadata, and
a file whose ``[start, end)`` overlaps another window file (another key) is
refused. It catches what the grid history cannot see: a record lost or
reset, a curator renamed while keeping its dataset, a window curated by hand.

Every curated version records the window of each window file it holds
(``windows``: path -> ``[start, end]``), so the check reads one manifest.
Versions without it (a push, a rollback, a dataset curated before this
record existed) are walked back to the newest version that has it, taking
each version's own ``window`` on the way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from curation_pipeline.windows.errors import OverlappingWindowError
from curation_pipeline.windows.grid import Window

#: The manifest metadata key holding the window of every window file of the version.
WINDOWS_KEY = "windows"


def held_windows(dataset: Any, path_of: Callable[[str], str]) -> tuple[str | None, dict[str, Window]]:
    """HEAD of ``dataset`` and the window of each of its files whose window is known.

    Args:
        dataset: a :class:`~curation_pipeline.store.Dataset`.
        path_of: a window's file path from its partition key (``data/<key>.parquet``).

    Raises:
        StoreError: the store could not be read.
    """
    head = dataset.head()
    if head is None:
        return None, {}
    files = set(dataset.files(head))
    known: dict[str, Window] = {}
    version_id: str | None = head
    while version_id is not None and not files <= known.keys():
        version = dataset.get_version(version_id)
        recorded = version.metadata.get(WINDOWS_KEY)
        if isinstance(recorded, Mapping):  # every window file of that version: older versions add nothing
            for path, span in recorded.items():
                if path in files and path not in known:
                    known[path] = _window(span)
            break
        own = version.metadata.get("window")
        key = version.metadata.get("partition_key")
        if isinstance(own, Mapping) and isinstance(key, str) and path_of(key) in files:
            known.setdefault(path_of(key), _window([own["start"], own["end"]]))
        version_id = version.parent
    return head, known


def refuse_overlap(dataset_name: str, path: str, window: Window, held: Mapping[str, Window]) -> None:
    """Raise :class:`OverlappingWindowError` when a file of ``held`` other than ``path`` overlaps ``window``."""
    for other_path, other in sorted(held.items()):
        if other_path != path and other.start < window.end and window.start < other.end:
            raise OverlappingWindowError(
                f"dataset {dataset_name!r}: window {window} ({path}) overlaps window {other} ({other_path}) "
                "already in HEAD; nothing was committed. A dataset holds each moment in one window only: "
                "was the curator renamed or its grid record (curators/<name>/grid.json) removed? "
                "Curate on the grid the dataset already uses, or write to another dataset"
            )


def windows_record(held: Mapping[str, Window], path: str, window: Window) -> dict[str, list[str]]:
    """The ``windows`` metadata of a version holding ``held`` plus ``window`` at ``path``."""
    spans = {**held, path: window}
    return {p: [w.start.isoformat(), w.end.isoformat()] for p, w in sorted(spans.items())}


def _window(span: Any) -> Window:
    start, end = span
    return Window(dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end))
