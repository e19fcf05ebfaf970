"""HEAD, the ref naming a dataset's latest version: read, parsed and swapped here only.

The ref is ASCII text. Its first line is the version id (64 lowercase hex).
Once ``gc`` has deleted something, a second line carries gc's fence (see
:mod:`curation_pipeline.store.gc`)::

    <version id>
    gc <epoch>                                  after gc run number <epoch> finished
    gc <epoch> locked <nonce> <lease seconds>   while that run deletes

Commits copy the epoch forward, so the text of HEAD never repeats (every
version id is new, and every gc run raises the epoch): a compare-and-swap
token read before a gc run can never match after it, even on S3 where the
token is an ETag, the MD5 of the text. Surrounding whitespace is ignored on
read; anything else that does not parse is a tampered HEAD
(:class:`CorruptHeadError`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from curation_pipeline.store import layout
from curation_pipeline.store.backends.base import ObjectBackend, RefToken
from curation_pipeline.store.errors import CorruptHeadError

_VERSION = re.compile(r"[0-9a-f]{64}")
_FENCE = re.compile(r"gc (?P<epoch>[0-9]{1,18})(?: locked (?P<nonce>[0-9a-f]{8,64}) (?P<lease>[0-9]{1,6}))?")


@dataclass(frozen=True)
class GcLock:
    """A gc run holding HEAD while it deletes: its ``nonce`` and lease in seconds."""

    nonce: str
    lease_seconds: int


@dataclass(frozen=True)
class Head:
    """HEAD as read: the version (None before the first), gc's fence, and the token to swap it."""

    version_id: str | None
    token: RefToken | None
    epoch: int = 0
    lock: GcLock | None = None


def read_head_state(backend: ObjectBackend, dataset: str) -> Head:
    """HEAD with its gc fence and its token for :func:`swap_head`.

    Raises:
        CorruptHeadError: the ref is not a version id (optionally followed by a gc fence line).
    """
    ref = backend.read_ref(layout.head_key(dataset))
    if ref is None:
        return Head(None, None)
    version_id, epoch, lock = parse_head(ref.data, dataset)
    return Head(version_id, ref.token, epoch, lock)


def read_head(backend: ObjectBackend, dataset: str) -> tuple[str | None, RefToken | None]:
    """HEAD's version id (None before the first version) and the ref's token for :func:`swap_head`."""
    head = read_head_state(backend, dataset)
    return head.version_id, head.token


def parse_head(data: bytes, dataset: str) -> tuple[str, int, GcLock | None]:
    """(version id, gc epoch, gc lock or None) from the ref's bytes; raise :class:`CorruptHeadError`."""
    try:
        lines = data.decode("ascii").strip().split("\n")
    except UnicodeDecodeError:
        lines = []
    if not 1 <= len(lines) <= 2 or not _VERSION.fullmatch(lines[0].strip()):
        raise CorruptHeadError(
            f"dataset {dataset!r}: HEAD is not a version id ({len(data)} bytes: {data[:80]!r}); "
            "the ref was damaged or edited by hand"
        )
    if len(lines) == 1:
        return lines[0].strip(), 0, None
    fence = _FENCE.fullmatch(lines[1].strip())
    if fence is None:
        raise CorruptHeadError(
            f"dataset {dataset!r}: HEAD is not a version id and a gc fence (second line {lines[1][:80]!r})"
        )
    lock = GcLock(fence["nonce"], int(fence["lease"])) if fence["nonce"] else None
    return lines[0].strip(), int(fence["epoch"]), lock


def format_head(version_id: str, epoch: int = 0, lock: GcLock | None = None) -> bytes:
    """The ref's bytes (the inverse of :func:`parse_head`); no fence line while ``epoch`` is 0."""
    if not epoch and lock is None:
        return version_id.encode("ascii")
    fence = f"gc {epoch}" + (f" locked {lock.nonce} {lock.lease_seconds}" if lock else "")
    return f"{version_id}\n{fence}\n".encode("ascii")


def swap_head(
    backend: ObjectBackend,
    dataset: str,
    version_id: str,
    expected: RefToken | None,
    *,
    epoch: int = 0,
    lock: GcLock | None = None,
) -> RefToken:
    """Point HEAD at ``version_id`` if the ref is still at token ``expected`` (None: absent).

    ``epoch`` is gc's epoch to carry forward (commits pass the one they read);
    ``lock`` is set only by gc. Returns the new token.

    Raises:
        WriteConflictError: HEAD changed (or appeared) since it was read.
    """
    return backend.swap_ref(layout.head_key(dataset), format_head(version_id, epoch, lock), expected)


#: How long a gc run may hold HEAD without renewing its lock before writers take HEAD back.
DEFAULT_LEASE_SECONDS = 120
_POLL_FIRST, _POLL_MAX = 0.02, 1.0


def wait_while_locked(
    backend: ObjectBackend,
    dataset: str,
    head: Head,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Head:
    """Return HEAD once no gc run holds it: ``head`` itself if unlocked, else a newer read.

    A lock whose text stays unchanged for its whole lease (timed here, with
    this process's monotonic clock, so clocks of different machines never
    meet) belongs to a gc run that died or stalled: the locked HEAD is
    returned, and the caller's compare-and-swap from it takes HEAD back (the
    run, if alive, fails to renew and stops deleting).
    """
    seen_token, seen_at, delay = None, 0.0, _POLL_FIRST
    while head.lock is not None:
        if head.token != seen_token:
            seen_token, seen_at = head.token, monotonic()
        elif monotonic() - seen_at >= head.lock.lease_seconds:
            return head
        sleep(delay)
        delay = min(_POLL_MAX, delay * 2)
        head = read_head_state(backend, dataset)
    return head
