"""``curation store check``: can this location hold a store? One verdict per capability.

Probes, all under ``<prefix>/_probe/`` and removed afterwards:

* ``write``, ``read``, ``list``, ``delete``: the plain operations under the prefix
  (the permissions docs/deploy.md asks for);
* ``if-none-match``: a create-if-absent (``If-None-Match: *``) of an existing key is refused;
* ``stale-if-match``: a compare-and-swap (``If-Match``) with a stale ETag is refused (412);
* ``atomic``: ``racers`` writers race each round, all with the same condition
  (a create-if-absent of a fresh key, then a swap from one ETag, alternately);
  exactly one must win every race. A server that checks the condition and
  writes in two steps lets several win, which is how two commits would each
  believe they moved HEAD.

The commit path runs only the two cheap probes
(:func:`curation_pipeline.store.capabilities.ensure_conditional_writes`).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from curation_pipeline.parallel import ordered_map
from curation_pipeline.store.backends.base import ObjectBackend, RefToken
from curation_pipeline.store.capabilities import PROBE_PREFIX, probe_conditional_writes, probe_key
from curation_pipeline.store.errors import StoreError, WriteConflictError
from curation_pipeline.store.url import open_backend

DEFAULT_RACERS = 16
DEFAULT_ROUNDS = 8
DEFAULT_PAYLOAD_BYTES = 1 << 20


@dataclass(frozen=True)
class Verdict:
    """One capability: passed (True), failed (False) or not checked (None: an earlier probe failed)."""

    capability: str
    passed: bool | None
    detail: str


@dataclass(frozen=True)
class StoreCheck:
    """Every verdict for one location."""

    url: str
    verdicts: tuple[Verdict, ...]

    @property
    def passed(self) -> bool:
        """Whether every capability passed."""
        return all(v.passed for v in self.verdicts)

    def to_dict(self) -> dict:
        return {"url": self.url, "passed": self.passed, "verdicts": [asdict(v) for v in self.verdicts]}


def check_store(
    url: str | None = None,
    *,
    racers: int = DEFAULT_RACERS,
    rounds: int = DEFAULT_ROUNDS,
    payload_bytes: int = DEFAULT_PAYLOAD_BYTES,
    **backend_options: Any,
) -> StoreCheck:
    """Probe the store location ``url`` (see :func:`~curation_pipeline.store.url.open_backend`)."""
    backend = open_backend(url, **backend_options)
    return check_backend(backend, racers=racers, rounds=rounds, payload_bytes=payload_bytes)


def check_backend(
    backend: ObjectBackend,
    *,
    racers: int = DEFAULT_RACERS,
    rounds: int = DEFAULT_ROUNDS,
    payload_bytes: int = DEFAULT_PAYLOAD_BYTES,
) -> StoreCheck:
    """Run every probe against ``backend``; a failed capability is a verdict, not an exception.

    Args:
        racers: concurrent writers per race (at least 2).
        rounds: races at most (the first with several winners ends them).
        payload_bytes: what each racer writes. A server that stores the body
            between checking the condition and making the write visible
            (spooling large bodies to disk, say) races only above its
            in-memory buffer: raise this to expose it.
    """
    if racers < 2 or rounds < 1 or payload_bytes < 1:
        raise ValueError(f"need racers >= 2, rounds >= 1, payload_bytes >= 1; got {racers}, {rounds}, {payload_bytes}")
    verdicts: list[Verdict] = []
    try:
        verdicts += _plain_operations(backend)
        if all(v.passed for v in verdicts):
            verdicts += _conditions(backend)
            verdicts.append(_atomicity(backend, racers, rounds, payload_bytes))
    finally:
        try:
            backend.remove_prefix(PROBE_PREFIX)
        except StoreError:
            pass  # the delete verdict already says so
    named = {v.capability for v in verdicts}
    skipped = [Verdict(name, None, "not checked: an earlier probe failed") for name in CAPABILITIES if name not in named]
    return StoreCheck(backend.url, tuple(verdicts + skipped))


CAPABILITIES = ("write", "read", "list", "delete", "if-none-match", "stale-if-match", "atomic")


def _plain_operations(backend: ObjectBackend) -> list[Verdict]:
    """write, read, list, delete of one probe key, in that order; stop at the first failure."""
    key, data = probe_key(), b"curation store check"

    def write() -> str | None:
        backend.put_bytes(key, data)
        return None

    def read() -> str | None:
        return None if backend.get_bytes(key) == data else "read back different bytes"

    def list_() -> str | None:
        return None if any(info.key == key for info in backend.list(PROBE_PREFIX)) else "the key is not listed"

    def delete() -> str | None:
        backend.delete(key)
        return None if backend.stat(key) is None else "the key is still there"

    verdicts = []
    for name, step in (("write", write), ("read", read), ("list", list_), ("delete", delete)):
        try:
            problem = step()
        except StoreError as error:
            problem = str(error)
        verdicts.append(Verdict(name, problem is None, problem or "ok"))
        if problem is not None:
            break
    return verdicts


def _conditions(backend: ObjectBackend) -> list[Verdict]:
    # The same probe the store runs before its first commit through a location.
    try:
        found = probe_conditional_writes(backend)
    except StoreError as error:
        return [Verdict("if-none-match", False, f"probe failed: {error}")]
    none_match, stale = found.if_none_match, found.stale_if_match
    return [
        Verdict("if-none-match", none_match, "refused" if none_match else "ignored: an existing key was overwritten"),
        Verdict("stale-if-match", stale, "refused" if stale else "ignored: a stale ETag replaced the current version"),
    ]


def _atomicity(backend: ObjectBackend, racers: int, rounds: int, payload_bytes: int) -> Verdict:
    """Up to ``rounds`` races of ``racers`` writers (alternately create and swap); each must have one winner.

    Stops at the first race with several winners: one is proof enough.
    """
    results: list[tuple[int, int]] = []  # (winners, errors) per race
    for round_ in range(rounds):
        key = probe_key()
        expected: RefToken | None = None
        if round_ % 2:
            expected = backend.swap_ref(key, b"base", None)
        results.append(_race(backend, key, expected, racers, payload_bytes))
        if results[-1][0] > 1:
            break
    winners = [won for won, _ in results]
    errors = sum(failed for _, failed in results)
    what = f"{len(results)} races of {racers} writers of {payload_bytes} bytes (create-if-absent, compare-and-swap)"
    note = f"; {errors} writes failed outright" if errors else ""
    if all(won == 1 for won in winners):
        return Verdict("atomic", True, f"{what}: one winner each{note}")
    return Verdict("atomic", False, f"{what}: winners per race {winners}{note}")


def _race(backend: ObjectBackend, key: str, expected: RefToken | None, racers: int, payload_bytes: int) -> tuple[int, int]:
    """(winners, errors) of ``racers`` simultaneous conditional writes of ``key``."""
    start = threading.Barrier(racers)

    def write(index: int) -> str:
        start.wait(timeout=60)
        try:
            backend.swap_ref(key, f"racer {index}\n".encode().ljust(payload_bytes, b"."), expected)
        except WriteConflictError:
            return "lost"
        except StoreError:
            return "error"
        return "won"

    outcomes = list(ordered_map(write, range(racers), max_workers=racers))
    return outcomes.count("won"), outcomes.count("error")
