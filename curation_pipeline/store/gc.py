"""Garbage collection of unreachable manifests and objects, fenced against commits in flight.

What is kept: every manifest reachable from HEAD through parent links (the
whole visible history) and every object those manifests name. Nothing else
is needed — orphans come from crashed commits, lost races, and files no
version references.

Safety does not rest on timing. A run plans what to delete (unreachable,
older than ``grace_period``), then takes HEAD with a compare-and-swap that
writes a lock and raises gc's epoch (see :mod:`curation_pipeline.store.head`),
deletes, renewing the lock every quarter of its lease, and releases HEAD.
That fences every commit:

- a commit that read HEAD before the lock fails its compare-and-swap (the
  text of HEAD changed) and tries again;
- a commit that meets the lock waits until HEAD is released;
- a commit that finds gc's epoch raised since it started checks that every
  object it is about to link still exists, uploading again what is gone
  (it has the bytes), before it swaps HEAD.

So a commit that lands either landed before the lock (its version is in the
history the run keeps) or checked its objects after the run's deletions. A
manifest or object a landing commit links is never deleted, whatever the
grace period; the grace period only spares commits in flight the re-upload.
A run that dies holding HEAD is overridden by writers after the lease
(:data:`~curation_pipeline.store.head.DEFAULT_LEASE_SECONDS`).

A run with nothing to delete does not touch HEAD. A dataset with no version
yet is left alone (there is no HEAD to fence with); its orphans are
collected once it has one. If HEAD's history cannot be read completely, gc
raises instead of deleting.

Crash leftovers — local ``.tmp-*`` files and unfinished S3 multipart
uploads under the dataset's folder — are removed once older than the grace
period and at least :data:`LEFTOVER_MIN_AGE`, so a write still in progress
is never cut.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from curation_pipeline.store import layout
from curation_pipeline.store.backends.base import ObjectBackend, ObjectInfo, RefToken
from curation_pipeline.store.errors import (
    CommitConflictError,
    KeyNotFoundError,
    StoreError,
    VersionNotFoundError,
    WriteConflictError,
)
from curation_pipeline.store.head import (
    DEFAULT_LEASE_SECONDS,
    GcLock,
    Head,
    read_head_state,
    swap_head,
    wait_while_locked,
)
from curation_pipeline.store.manifest import Manifest

DEFAULT_GRACE_PERIOD = timedelta(hours=1)
#: Leftovers younger than this are kept whatever the grace period: their write may still be going on.
LEFTOVER_MIN_AGE = timedelta(minutes=10)
_LOCK_ATTEMPTS = 50
_DELETE_BATCH = 1000


@dataclass(frozen=True)
class GcReport:
    """What gc removed (or, with ``dry_run``, would remove).

    ``manifests`` and ``objects`` are store keys; ``leftovers`` name crash
    debris (temporary files, unfinished multipart uploads); ``bytes`` is the
    total size of all three; ``kept_recent`` counts unreachable items kept
    because they are younger than the grace period.
    """

    dry_run: bool
    grace_period: timedelta
    datasets: tuple[str, ...] = ()
    manifests: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    bytes: int = 0
    kept_recent: int = 0
    leftovers: tuple[str, ...] = field(default=())

    def __add__(self, other: GcReport) -> GcReport:
        return GcReport(
            self.dry_run,
            self.grace_period,
            self.datasets + other.datasets,
            self.manifests + other.manifests,
            self.objects + other.objects,
            self.bytes + other.bytes,
            self.kept_recent + other.kept_recent,
            self.leftovers + other.leftovers,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dry_run": self.dry_run,
            "grace_period_seconds": self.grace_period.total_seconds(),
            "datasets": list(self.datasets),
            "manifests": list(self.manifests),
            "objects": list(self.objects),
            "leftovers": list(self.leftovers),
            "bytes": self.bytes,
            "kept_recent": self.kept_recent,
        }


@dataclass
class _Plan:
    """What one run means to delete, shrunk whenever HEAD's history grows."""

    reachable: dict[str, Manifest]
    recent: list[Manifest]
    manifests: list[ObjectInfo]
    objects: list[ObjectInfo]

    def refresh(self, backend: ObjectBackend, name: str, head: Head) -> None:
        """Keep everything reachable from ``head`` (commits landed since the plan was made)."""
        self.reachable = _history(backend, name, head.version_id, self.reachable)
        needed = _needed(self.reachable.values(), self.recent)
        self.manifests = [
            i for i in self.manifests if layout.version_from_manifest_key(name, i.key) not in self.reachable
        ]
        self.objects = [i for i in self.objects if layout.sha_from_object_key(name, i.key) not in needed]


def collect_dataset(
    backend: ObjectBackend,
    name: str,
    *,
    grace_period: timedelta,
    now: datetime,
    dry_run: bool,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
) -> GcReport:
    """Remove (or list, if ``dry_run``) the unreachable, old manifests and objects and the leftovers of ``name``.

    Raises:
        VersionNotFoundError / CorruptObjectError: HEAD's history is broken (nothing is removed).
        CommitConflictError: HEAD could not be taken, or the lock was lost while deleting.
    """
    cutoff = now - grace_period
    head = wait_while_locked(backend, name, read_head_state(backend, name))
    plan, kept_recent = _plan(backend, name, head, cutoff)
    leftovers = [
        item
        for item in backend.list_leftovers(layout.dataset_prefix(name))
        if item.modified <= min(cutoff, now - LEFTOVER_MIN_AGE)
    ]
    if not dry_run:
        if plan.manifests or plan.objects:
            _delete_fenced(backend, name, head, plan, lease_seconds)
        for item in leftovers:
            backend.remove_leftover(item)
    return GcReport(
        dry_run,
        grace_period,
        (name,),
        tuple(sorted(info.key for info in plan.manifests)),
        tuple(sorted(info.key for info in plan.objects)),
        sum(info.size for info in [*plan.manifests, *plan.objects]) + sum(item.size for item in leftovers),
        kept_recent,
        tuple(sorted(item.name for item in leftovers)),
    )


def _plan(backend: ObjectBackend, name: str, head: Head, cutoff: datetime) -> tuple[_Plan, int]:
    if head.version_id is None:
        return _Plan({}, [], [], []), 0  # no HEAD to fence commits with: delete nothing
    reachable = _history(backend, name, head.version_id, {})
    infos = list(backend.list(layout.versions_prefix(name)))
    old_manifests, recent_roots, recent_manifests = _split_manifests(backend, name, infos, reachable, cutoff)
    needed = _needed(reachable.values(), recent_roots)
    old_objects, recent_objects = _split_objects(backend.list(layout.objects_prefix(name)), name, needed, cutoff)
    return _Plan(reachable, recent_roots, old_manifests, old_objects), recent_manifests + recent_objects


def _delete_fenced(backend: ObjectBackend, name: str, head: Head, plan: _Plan, lease_seconds: int) -> None:
    """Take HEAD, delete the plan (what is still unreachable), release HEAD."""
    for _ in range(_LOCK_ATTEMPTS):
        assert head.version_id is not None
        epoch, lock = head.epoch + 1, GcLock(uuid.uuid4().hex, lease_seconds)
        try:
            token = swap_head(backend, name, head.version_id, head.token, epoch=epoch, lock=lock)
            break
        except WriteConflictError:
            head = wait_while_locked(backend, name, read_head_state(backend, name))
            plan.refresh(backend, name, head)
            if not plan.manifests and not plan.objects:
                return
    else:
        raise CommitConflictError(f"dataset {name!r}: gc could not take HEAD in {_LOCK_ATTEMPTS} attempts")
    renewed = time.monotonic()
    try:
        # Manifests first: a manifest never outlives the objects it names.
        for batch in _batches([info.key for info in [*plan.manifests, *plan.objects]]):
            if time.monotonic() - renewed > lease_seconds / 4:
                token = _renew(backend, name, head.version_id, token, epoch, lease_seconds)
                renewed = time.monotonic()
            backend.delete_many(batch)
    finally:
        # Released even after an error; if a writer took HEAD back meanwhile, it is theirs.
        with contextlib.suppress(WriteConflictError):
            swap_head(backend, name, head.version_id, token, epoch=epoch)


def _renew(
    backend: ObjectBackend, name: str, version_id: str, token: RefToken, epoch: int, lease_seconds: int
) -> RefToken:
    try:
        return swap_head(backend, name, version_id, token, epoch=epoch, lock=GcLock(uuid.uuid4().hex, lease_seconds))
    except WriteConflictError:
        raise CommitConflictError(
            f"dataset {name!r}: gc held HEAD longer than its {lease_seconds} s lease and writers took it back; "
            "it stopped deleting (run gc again)"
        ) from None


def _batches(keys: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(keys), _DELETE_BATCH):
        yield keys[start : start + _DELETE_BATCH]


def _needed(*manifest_groups: Iterable[Manifest]) -> set[str]:
    return {entry.sha256 for group in manifest_groups for m in group for entry in m.files.values()}


def _history(
    backend: ObjectBackend, name: str, version_id: str | None, known: dict[str, Manifest]
) -> dict[str, Manifest]:
    """``known`` plus every manifest from ``version_id`` down its parent links (stopping at a known one)."""
    history = dict(known)
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
        # A young orphan may be a commit in flight: keeping what it names spares it a re-upload.
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

