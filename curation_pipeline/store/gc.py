"""Garbage collection of unreachable manifests and objects.

What is kept: every manifest reachable from HEAD through parent links (the
whole visible history) and every object those manifests name. Nothing else
is needed — orphans come from crashed commits, lost races, and files no
version references.

A commit in flight is protected by age: gc only removes an item last
written more than ``grace_period`` ago (default one hour), and also keeps
the objects named by any manifest younger than that. A commit that reuses
an existing object (dedup) not in HEAD rewrites it if it is older than half
the grace period, which refreshes its age, so gc does not remove an object a
new version is about to reference. The guarantee therefore holds for commits
that take less than half the grace period between uploading and swapping
HEAD; choose the grace period accordingly.

If HEAD's history cannot be read completely, gc raises instead of deleting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from curation_pipeline.store import layout
from curation_pipeline.store.backends.base import ObjectBackend, ObjectInfo
from curation_pipeline.store.errors import KeyNotFoundError, StoreError, VersionNotFoundError
from curation_pipeline.store.head import read_head
from curation_pipeline.store.manifest import Manifest

DEFAULT_GRACE_PERIOD = timedelta(hours=1)


@dataclass(frozen=True)
class GcReport:
    """What gc removed (or, with ``dry_run``, would remove).

    ``manifests`` and ``objects`` are store keys; ``bytes`` their total size;
    ``kept_recent`` counts unreachable items kept because they are younger
    than the grace period.
    """

    dry_run: bool
    grace_period: timedelta
    datasets: tuple[str, ...] = ()
    manifests: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    bytes: int = 0
    kept_recent: int = 0

    def __add__(self, other: GcReport) -> GcReport:
        return GcReport(
            self.dry_run,
            self.grace_period,
            self.datasets + other.datasets,
            self.manifests + other.manifests,
            self.objects + other.objects,
            self.bytes + other.bytes,
            self.kept_recent + other.kept_recent,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dry_run": self.dry_run,
            "grace_period_seconds": self.grace_period.total_seconds(),
            "datasets": list(self.datasets),
            "manifests": list(self.manifests),
            "objects": list(self.objects),
            "bytes": self.bytes,
            "kept_recent": self.kept_recent,
        }


def collect_dataset(
    backend: ObjectBackend, name: str, *, grace_period: timedelta, now: datetime, dry_run: bool
) -> GcReport:
    """Remove (or list, if ``dry_run``) the unreachable, old manifests and objects of ``name``.

    Raises:
        VersionNotFoundError / CorruptObjectError: HEAD's history is broken (nothing is removed).
    """
    cutoff = now - grace_period
    reachable = _history(backend, name)
    manifest_infos = list(backend.list(layout.versions_prefix(name)))
    old_manifests, recent_roots, recent_manifests = _split_manifests(
        backend, name, manifest_infos, reachable, cutoff
    )
    needed = {entry.sha256 for m in [*reachable.values(), *recent_roots] for entry in m.files.values()}
    old_objects, recent_objects = _split_objects(backend.list(layout.objects_prefix(name)), name, needed, cutoff)
    doomed = old_manifests + old_objects
    if not dry_run:
        # Manifests first: a manifest never outlives the objects it names.
        backend.delete_many(info.key for info in old_manifests)
        backend.delete_many(info.key for info in old_objects)
    return GcReport(
        dry_run,
        grace_period,
        (name,),
        tuple(sorted(info.key for info in old_manifests)),
        tuple(sorted(info.key for info in old_objects)),
        sum(info.size for info in doomed),
        recent_manifests + recent_objects,
    )


def _history(backend: ObjectBackend, name: str) -> dict[str, Manifest]:
    history: dict[str, Manifest] = {}
    version_id, _ = read_head(backend, name)
    while version_id is not None and version_id not in history:
        try:
            data = backend.get_bytes(layout.manifest_key(name, version_id))
        except KeyNotFoundError:
            raise VersionNotFoundError(
                f"dataset {name!r}: version {version_id} in HEAD's history is missing; gc aborted"
            ) from None
        history[version_id] = Manifest.from_bytes(data, version_id)
        version_id = history[version_id].parent
    return history


def _split_manifests(
    backend: ObjectBackend,
    name: str,
    infos: Iterable[ObjectInfo],
    reachable: dict[str, Manifest],
    cutoff: datetime,
) -> tuple[list[ObjectInfo], list[Manifest], int]:
    """Unreachable manifests: (old ones to remove, readable recent ones, count of recent ones)."""
    old: list[ObjectInfo] = []
    recent: list[Manifest] = []
    recent_count = 0
    for info in infos:
        version_id = layout.version_from_manifest_key(name, info.key)
        if version_id in reachable:
            continue
        if info.modified <= cutoff:
            old.append(info)
            continue
        recent_count += 1
        # A young orphan may be a commit in flight: keep what it names. One that
        # cannot be read names nothing we could keep (its objects are protected by age).
        with contextlib.suppress(StoreError, ValueError):
            recent.append(Manifest.from_bytes(backend.get_bytes(info.key), version_id))
    return old, recent, recent_count


def _split_objects(
    infos: Iterable[ObjectInfo], name: str, needed: set[str], cutoff: datetime
) -> tuple[list[ObjectInfo], int]:
    old: list[ObjectInfo] = []
    recent = 0
    for info in infos:
        if layout.sha_from_object_key(name, info.key) in needed:
            continue
        if info.modified <= cutoff:
            old.append(info)
        else:
            recent += 1
    return old, recent
