"""Does the store's server honour conditional writes? Probed once per location per process.

The commit protocol (docs/store.md) rests on two conditional writes: a
create-if-absent (``If-None-Match: *``) and a compare-and-swap of HEAD
(``If-Match: <etag>``). A server that ignores those headers answers 200 to
both, and two concurrent commits then silently lose a version. Amazon S3
honours them; some S3-compatible servers do not, or only partly.

:func:`ensure_conditional_writes` is called before a commit writes anything.
On an S3 location not yet probed by this process it writes a probe ref under
``_probe/`` with five requests (create, create again, swap, stale swap,
delete) and raises :class:`~curation_pipeline.store.errors.UnsafeStoreError`
naming what is missing. A local folder needs no probe: its backend makes both
writes atomic with the file system (``link``, a lock file).

The full report, with atomicity under concurrency, is
:func:`curation_pipeline.store.check.check_store` (``curation store check``).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from curation_pipeline.store.backends.base import ObjectBackend, RefToken
from curation_pipeline.store.backends.local import LocalBackend
from curation_pipeline.store.errors import UnsafeStoreError, WriteConflictError

#: Probe keys live under this folder of the store root (removed after each probe).
PROBE_PREFIX = "_probe/"
IF_NONE_MATCH = "If-None-Match: * refused on an existing key"
STALE_IF_MATCH = "If-Match with a stale ETag refused (412)"

_checked: set[str] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class ConditionalWrites:
    """What one probe found: each condition honoured or not."""

    if_none_match: bool
    stale_if_match: bool

    @property
    def missing(self) -> tuple[str, ...]:
        """The capabilities the server lacks, as :data:`IF_NONE_MATCH` / :data:`STALE_IF_MATCH`."""
        checks = ((IF_NONE_MATCH, self.if_none_match), (STALE_IF_MATCH, self.stale_if_match))
        return tuple(name for name, honoured in checks if not honoured)


def probe_key() -> str:
    """A fresh key under :data:`PROBE_PREFIX`."""
    return f"{PROBE_PREFIX}{uuid.uuid4().hex}"


def refused(backend: ObjectBackend, key: str, data: bytes, expected: RefToken | None) -> bool:
    """Whether a conditional write of ``key`` is refused (it must be, for the caller's ``expected``).

    A refusal that answered a retried request may hide a first attempt that
    landed (its reply lost): the key then holds ``data``, and the write was not refused.
    """
    try:
        backend.swap_ref(key, data, expected)
    except WriteConflictError as exc:
        return not (exc.retried and _holds(backend, key, data))
    return False


def _swap(backend: ObjectBackend, key: str, data: bytes, expected: RefToken | None) -> RefToken:
    """A conditional write that must succeed; one whose reply was lost and whose retry was refused is ours."""
    try:
        return backend.swap_ref(key, data, expected)
    except WriteConflictError as exc:
        current = backend.read_ref(key) if (exc.retried or exc.in_flight) else None
        if current is not None and current.data == data:
            return current.token
        raise


def _holds(backend: ObjectBackend, key: str, data: bytes) -> bool:
    current = backend.read_ref(key)
    return current is not None and current.data == data


def probe_conditional_writes(backend: ObjectBackend) -> ConditionalWrites:
    """Write, rewrite and delete one probe ref: does the server refuse what it must?"""
    key = probe_key()
    try:
        first = _swap(backend, key, b"1", None)  # If-None-Match: * on a new key
        if_none_match = refused(backend, key, b"2", None)  # ... and again: must be refused
        current = backend.read_ref(key)
        token = current.token if current is not None else first
        _swap(backend, key, b"3", token)  # If-Match with the current ETag (which then goes stale)
        stale_if_match = refused(backend, key, b"4", token)  # the same, now stale: must be refused
    finally:
        backend.delete(key)
    return ConditionalWrites(if_none_match, stale_if_match)


def ensure_conditional_writes(backend: ObjectBackend) -> None:
    """Raise unless ``backend``'s server refuses stale conditional writes (probed once per location).

    Raises:
        UnsafeStoreError: a condition was ignored; nothing but the probe key was written.
        StoreAccessError: the probe could not write, read or delete under the prefix.
    """
    if isinstance(backend, LocalBackend):
        return
    location = _location_key(backend)
    with _lock:
        if location in _checked:
            return
    found = probe_conditional_writes(backend)
    if found.missing:
        raise UnsafeStoreError(
            f"refusing to commit to {backend.url}: the server ignores conditional writes "
            f"({'; '.join(found.missing)} failed), so concurrent commits could lose versions. "
            f"Run 'curation store check {backend.url}' for a full report.",
            missing=found.missing,
        )
    with _lock:
        _checked.add(location)


def forget_checked_locations() -> None:
    """Probe every location again on its next commit (after a server was reconfigured)."""
    with _lock:
        _checked.clear()


def _location_key(backend: ObjectBackend) -> str:
    """The URL plus the endpoint: one bucket name may live on several servers."""
    client = getattr(backend, "client", None)
    endpoint = getattr(getattr(client, "meta", None), "endpoint_url", "")
    return f"{endpoint} {backend.url}"
