"""The commit protocol: upload objects, write the manifest, swap HEAD.

1. Upload the objects that are not already stored (dedup).
2. Write the manifest, write-once (its key is its own hash).
3. Compare-and-swap HEAD from the version the manifest names as parent.

Before step 3 a commit honours gc's fence (:mod:`curation_pipeline.store.gc`):
it waits while a gc run holds HEAD, and if gc's epoch moved since the
commit started, it checks that the objects it links still exist and uploads
again any that were collected, so it never links a deleted object.

A crash before step 3 changes nothing visible (the manifest and objects are
orphans until ``gc``). On a lost race the change — "put these paths, delete
those, keep the rest" — is re-applied to the new HEAD's files and retried
with jittered exponential backoff, unless the caller pinned
``parent_version_id``: then the lost CAS means the caller's view is stale
and the commit fails with :class:`DatasetHeadOutOfDateError`.

A swap whose reply was lost is retried by the S3 client and then refused
(HEAD already moved -- to this very version). Every refused or failed swap
is therefore checked against history: if HEAD moved to a version this call
wrote (ids are content hashes, so no other commit has one), the commit
landed and is reported as created, pinned or not.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from curation_pipeline import parallel
from curation_pipeline.store import layout, objects
from curation_pipeline.store.backends.base import ObjectBackend
from curation_pipeline.store.errors import (
    CommitConflictError,
    DatasetHeadOutOfDateError,
    MissingObjectError,
    StoreAccessError,
    StoreError,
    WriteConflictError,
)
from curation_pipeline.store.head import Head, read_head, read_head_state, swap_head, wait_while_locked
from curation_pipeline.store.manifest import FileEntry, Manifest
from curation_pipeline.store.paths import check_creatable, check_path, check_tree


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a commit retries a lost race for HEAD.

    Attempt ``n`` (from 1) that loses waits a random time in
    ``[0, min(max_delay, base_delay * 2**n)]`` ("full jitter").
    """

    max_attempts: int = 20
    base_delay: float = 0.01
    max_delay: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("max_attempts must be >= 1 and delays >= 0")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after losing attempt ``attempt``."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(frozen=True)
class Change:
    """What a commit does to the files of whatever HEAD it lands on."""

    put: Mapping[str, FileEntry] = field(default_factory=dict)
    delete: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for path in self.put:
            check_creatable(path)
        for path in self.delete:
            check_path(path)  # a path too long to pull can still be deleted
        both = set(self.put) & self.delete
        if both:
            raise ValueError(f"paths both added and deleted: {sorted(both)}")
        object.__setattr__(self, "put", MappingProxyType(dict(self.put)))

    def apply(self, files: Mapping[str, FileEntry]) -> dict[str, FileEntry]:
        """Return ``files`` with this change applied (deleting an absent path is a no-op).

        Raises:
            UnsafePathError: the result holds a path no filesystem could pull:
                one also a folder of another (``x`` and ``x/y``), or one kept
                from an older version with a segment over 255 bytes.
        """
        result = {path: entry for path, entry in files.items() if path not in self.delete}
        result.update(self.put)
        for path in result.keys() - self.put.keys():
            check_creatable(path)
        check_tree(result)
        return result


@dataclass(frozen=True)
class CommitResult:
    """The outcome of a commit.

    ``created`` is False when the commit was a no-op (the files already
    equalled HEAD's); ``version_id`` is then HEAD and ``parent`` its parent.
    ``removed`` lists the paths the new version dropped from its parent,
    sorted (read from the version the commit landed on, which is newer than
    the caller's base if the change was re-applied after a lost race; empty
    for a no-op).
    """

    dataset: str
    version_id: str
    parent: str | None
    created: bool
    objects_uploaded: int = 0
    objects_skipped: int = 0
    bytes_uploaded: int = 0
    attempts: int = 1
    removed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dataset": self.dataset,
            "version_id": self.version_id,
            "parent": self.parent,
            "created": self.created,
            "objects_uploaded": self.objects_uploaded,
            "objects_skipped": self.objects_skipped,
            "bytes_uploaded": self.bytes_uploaded,
            "attempts": self.attempts,
            "removed": list(self.removed),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> CommitResult:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**value, "removed": tuple(value.get("removed", ()))})


@dataclass(frozen=True)
class Landed:
    """Where the CAS loop landed: the version, its parent, whether new, attempts used, paths dropped."""

    version_id: str
    parent: str | None
    created: bool
    attempts: int
    removed: tuple[str, ...] = ()


@dataclass
class Fence:
    """What a commit knows about gc: the epoch its objects were checked at, and their bytes.

    ``epoch`` is None when nothing is known (HEAD was locked when the commit
    started), which makes the first attempt check. ``sources`` maps sha256 to
    content for objects the commit can upload again; a collected object it
    has no bytes for (a rollback's) fails the commit with
    :class:`MissingObjectError`.
    """

    epoch: int | None
    sources: Mapping[str, bytes | Path] = field(default_factory=dict)

    def ensure(self, backend: ObjectBackend, dataset: str, files: Mapping[str, FileEntry], head: Head) -> None:
        """Make sure every object of ``files`` is stored, if gc ran since the last check.

        Against a HEAD still locked by a run whose lease ran out, the check is
        made but not remembered: that run may have deleted more since.
        """
        if self.epoch == head.epoch and head.lock is None:
            return
        ensure_stored(backend, dataset, files, self.sources)
        self.epoch = head.epoch if head.lock is None else None


def ensure_stored(
    backend: ObjectBackend, dataset: str, files: Mapping[str, FileEntry], sources: Mapping[str, bytes | Path]
) -> int:
    """Upload again each object of ``files`` that is missing (or of the wrong size); return how many.

    Raises:
        MissingObjectError: an object is missing and ``sources`` has no bytes for it.
    """
    distinct = {entry.sha256: (path, entry) for path, entry in files.items()}
    keys = [layout.object_key(dataset, sha) for sha in distinct]
    known = backend.stat_many(keys) if keys else {}
    restored = 0
    for key, (sha, (path, entry)) in zip(keys, distinct.items()):
        info = known[key] if key in known else backend.stat(key)
        if info is not None and info.size == entry.size:
            continue
        if sha not in sources:
            raise MissingObjectError(
                f"dataset {dataset!r}: object {sha} of file {path!r} is no longer stored "
                "(collected by gc); nothing was committed"
            )
        objects.upload(backend, dataset, entry, sources[sha])
        restored += 1
    return restored


@dataclass(frozen=True)
class CommitRequest:
    """Everything the manifest needs besides the files."""

    message: str
    author: str
    metadata: Mapping[str, Any]
    parent_version_id: str | None


def land(
    backend: ObjectBackend,
    dataset: str,
    change: Change,
    request: CommitRequest,
    *,
    policy: RetryPolicy,
    load_manifest: Callable[[str], Manifest],
    check_live: Callable[[], None],
    now: Callable[[], datetime],
    fence: Fence,
) -> Landed:
    """Steps 2 and 3: write the manifest and move HEAD, retrying lost races.

    Objects named by ``change`` must already be stored (checked at
    ``fence.epoch``); they are checked again if gc ran since.

    Raises:
        DatasetHeadOutOfDateError: ``request.parent_version_id`` is not HEAD
            (when read, or when the CAS ran).
        CommitConflictError: every one of ``policy.max_attempts`` attempts lost.
        DatasetDeletedError: (from ``check_live``) the dataset was soft-deleted.
    """
    pinned = request.parent_version_id
    tried: dict[str, Landed] = {}  # every version this call tried to move HEAD to -> its outcome if it landed
    last_base: str | None = None  # HEAD as the last attempt read it
    for attempt in range(1, policy.max_attempts + 1):
        check_live()
        state = wait_while_locked(backend, dataset, read_head_state(backend, dataset))
        head = state.version_id
        # An earlier attempt may have landed after all (its write was still in flight, S3's 409).
        ours = _ours_since(head, last_base, tried, load_manifest) if tried else None
        if ours is not None:
            return ours
        if pinned is not None and head != pinned:
            raise _out_of_date(dataset, pinned, head)
        base = load_manifest(head) if head else None
        files = change.apply(base.files if base else {})
        if base is not None and files == dict(base.files):
            return Landed(head, base.parent, False, attempt)  # type: ignore[arg-type]
        # The base's objects are reachable from HEAD, which gc never collects; the others may be gone.
        in_base = {entry.sha256 for entry in base.files.values()} if base else set()
        fence.ensure(backend, dataset, {p: e for p, e in files.items() if e.sha256 not in in_base}, state)
        manifest = Manifest(head, request.message, now(), request.author, files, request.metadata)
        removed = tuple(sorted(change.delete & base.files.keys())) if base else ()
        tried[manifest.version_id] = Landed(manifest.version_id, head, True, attempt, removed)
        last_base = head
        backend.put_if_absent(layout.manifest_key(dataset, manifest.version_id), manifest.to_bytes())
        try:
            swap_head(backend, dataset, manifest.version_id, state.token, epoch=state.epoch)
        except WriteConflictError as exc:
            # Lost the race -- or won it and lost only the reply: the retried swap is then
            # refused because HEAD already names this version. History says which.
            now_head = read_head(backend, dataset)[0]
            ours = _ours_since(now_head, head, tried, load_manifest)
            if ours is not None:
                return ours
            # gc rewrites HEAD (its lock, renewals, release) without moving it: only a HEAD that
            # names another version breaks a pinned parent; a rewritten one is retried.
            if pinned is not None and not exc.in_flight and now_head != pinned:
                raise _out_of_date(dataset, pinned, now_head) from None
            time.sleep(policy.delay(attempt))
            continue
        except StoreAccessError as exc:
            # The swap failed past every retry, maybe after it landed: say which if HEAD can be read.
            ours = _outcome_after_failure(backend, dataset, head, tried, load_manifest, exc)
            if ours is not None:
                return ours
            raise
        return tried[manifest.version_id]
    raise CommitConflictError(
        f"dataset {dataset!r}: commit lost the race for HEAD {policy.max_attempts} times; giving up"
    )


def _ours_since(
    head: str | None, base: str | None, tried: Mapping[str, Landed], load_manifest: Callable[[str], Manifest]
) -> Landed | None:
    """The version of ``tried`` among those from ``head`` back to ``base`` (excluded), if one is.

    History is linear and HEAD only moves forward, so walking back from a
    later HEAD reaches ``base`` (or the first version) after exactly the
    versions that landed since ``base`` was read; a version id is the hash of
    its manifest, so one of ours among them is this call's commit and no other's.
    """
    version = head
    while version is not None and version != base:
        if version in tried:
            return tried[version]
        version = load_manifest(version).parent
    return None


def _outcome_after_failure(
    backend: ObjectBackend,
    dataset: str,
    base: str | None,
    tried: Mapping[str, Landed],
    load_manifest: Callable[[str], Manifest],
    failure: StoreAccessError,
) -> Landed | None:
    """After a failed swap: the version of ours that landed, None if none did; raise if HEAD cannot be read."""
    try:
        return _ours_since(read_head(backend, dataset)[0], base, tried, load_manifest)
    except StoreError:
        raise StoreAccessError(
            f"dataset {dataset!r}: moving HEAD failed ({failure}) and HEAD could not be read back, so "
            f"whether version {next(reversed(tried))} landed is unknown; `versions` shows it once the store answers"
        ) from None


def _out_of_date(dataset: str, pinned: str, head: str | None) -> DatasetHeadOutOfDateError:
    now_at = f"HEAD is {head}" if head else "HEAD moved"
    return DatasetHeadOutOfDateError(
        f"dataset {dataset!r}: parent version {pinned} is no longer HEAD ({now_at}); "
        "pull the latest version and try again"
    )


def paths_to_delete(delete: Collection[str]) -> frozenset[str]:
    """Validate and freeze the ``delete`` argument of a commit."""
    if isinstance(delete, str):
        raise TypeError("delete must be a collection of paths, not a string")
    return frozenset(check_path(path) for path in delete)


@dataclass(frozen=True)
class UploadStats:
    """What step 1 did: objects uploaded, objects already present, bytes sent."""

    uploaded: int = 0
    skipped: int = 0
    bytes: int = 0


def upload_missing(
    backend: ObjectBackend,
    dataset: str,
    sources: Mapping[str, tuple[FileEntry, bytes | Path]],
    *,
    in_head: Collection[str],
    refresh_before: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_workers: int = 1,
) -> UploadStats:
    """Step 1: store every object of ``sources`` that is not already stored intact.

    ``sources`` maps paths to (entry, content as bytes or a file path).
    Objects whose sha256 is in ``in_head`` (HEAD's files) are part of the
    current version and are not looked at. Any other object that exists is
    reused only if its size matches and a cheap check vouches for its
    content (:func:`~curation_pipeline.store.objects.stored_intact`: the
    storage's CRC32, or a re-hash where reads are cheap); otherwise the
    commit's bytes are uploaded over it, which also repairs a damaged object.
    An object last written before ``refresh_before`` is written again too:
    gc may soon collect it, and refreshing its age now spares the commit a
    check and re-upload when it swaps HEAD (safety does not depend on it:
    see :class:`Fence`).

    The other objects are looked up together where the backend can do that
    cheaply (one listing on S3) and one by one otherwise, and up to
    ``max_workers`` of them are checked and uploaded at once. If an upload
    fails, the others finish or are dropped, and the first error is raised
    (objects already uploaded are orphans until ``gc``, as after a crash).

    ``progress``, if given, is called as ``progress(done_bytes, total_bytes)``
    before the first object and after each distinct object, uploaded or reused,
    always from the calling thread.
    """
    distinct: dict[str, tuple[FileEntry, bytes | Path]] = {}
    for entry, content in sources.values():
        distinct.setdefault(entry.sha256, (entry, content))
    uploaded = skipped = sent = 0
    done, total = 0, sum(entry.size for entry, _ in distinct.values())
    if progress is not None:
        progress(0, total)
    to_check = []
    for sha, (entry, _) in distinct.items():
        if sha in in_head:
            skipped += 1
            done += entry.size
            if progress is not None:
                progress(done, total)
        else:
            to_check.append(sha)
    known = backend.stat_many([layout.object_key(dataset, sha) for sha in to_check]) if to_check else {}

    token = parallel.CancelToken()

    def store_one(sha: str) -> bool:
        entry, content = distinct[sha]
        key = layout.object_key(dataset, sha)
        info = known[key] if key in known else backend.stat(key)
        fresh = info is not None and (refresh_before is None or info.modified >= refresh_before)
        if fresh and info.size == entry.size and objects.stored_intact(backend, dataset, entry, content, token):
            return False
        token.check()
        objects.upload(backend, dataset, entry, content)
        return True

    with parallel.ordered_map(store_one, to_check, max_workers=max_workers, token=token, name="store") as results:
        for sha, was_uploaded in zip(to_check, results):
            size = distinct[sha][0].size
            if was_uploaded:
                uploaded += 1
                sent += size
            else:
                skipped += 1
            done += size
            if progress is not None:
                progress(done, total)
    return UploadStats(uploaded, skipped, sent)
