"""Values by key, each made at most once at a time, different keys in parallel.

The engine's readers share what is costly to make per file: a remote file
opened (a request for its size), a file's decoded footer (a ranged read and
a parse). Pieces of one file are read at the same time, so several threads
miss the same file at once; they must not each make it, nor must a file
being made hold up the other files. :class:`KeyedOnce` does that;
what is kept, and for how long, is up to its :class:`Held` store:
:class:`KeepAll` keeps everything, :class:`LeastRecentlyUsed` drops the least
recently used past a budget of weight.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K")
V = TypeVar("V")
K_contra = TypeVar("K_contra", contravariant=True)


class Held(Protocol[K_contra, V]):
    """Where a :class:`KeyedOnce` keeps what it made.

    Called only under the :class:`KeyedOnce`'s lock: a store needs no lock of
    its own and must not call back into it. Values are never None (None says
    "not held").
    """

    def find(self, key: K_contra) -> V | None:
        """The value held for ``key``, or None (a cache may count this as a use)."""

    def keep(self, key: K_contra, value: V) -> None:
        """Hold ``value`` for ``key`` (a key not held: :class:`KeyedOnce` makes a key only when it is missing)."""


class KeepAll(Generic[K, V]):
    """Everything made, for the life of the store."""

    def __init__(self) -> None:
        self._values: dict[K, V] = {}

    def __len__(self) -> int:
        return len(self._values)

    def find(self, key: K) -> V | None:
        return self._values.get(key)

    def keep(self, key: K, value: V) -> None:
        self._values[key] = value


class LeastRecentlyUsed(Generic[K, V]):
    """Values up to ``budget`` in total weight (``weigh(value)``, at least 1); the least recently used out first.

    The newest value stays even when it alone weighs more than the budget:
    it was made to be used. Weighing rather than counting holds many light
    values as cheaply as a few heavy ones (``functools.lru_cache`` bounds
    entries, not their weight).
    """

    def __init__(self, budget: int, weigh: Callable[[V], int]) -> None:
        self._budget = budget
        self._weigh = weigh
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._held = 0

    def __len__(self) -> int:
        return len(self._entries)

    def weight(self) -> int:
        """The weight held now."""
        return self._held

    def find(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def keep(self, key: K, value: V) -> None:
        weight = max(1, self._weigh(value))
        self._entries[key] = (value, weight)
        self._held += weight
        while self._held > self._budget and len(self._entries) > 1:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._held -= dropped


class _Making(Generic[V]):
    """One key being made: its maker's value once made; ``done`` set when it is made or failed."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: V | None = None


class KeyedOnce(Generic[K, V]):
    """Values by key from ``held``, made on a miss by one caller at a time per key.

    Callers missing a key another caller is making wait for it and share its
    value; keys are made in parallel (no lock is held while making). A make
    that fails raises in its caller and leaves the key missing: a waiting
    caller, or the next one, makes it anew. Safe across threads.
    """

    def __init__(self, held: Held[K, V]) -> None:
        self._held = held
        self._lock = threading.Lock()
        self._making: dict[K, _Making[V]] = {}

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value for ``key``: held, made by another caller meanwhile, or made here by ``make()``."""
        while True:
            with self._lock:
                found = self._held.find(key)
                if found is not None:
                    return found
                making = self._making.get(key)
                if making is None:
                    making = self._making[key] = _Making()
                    break  # this caller makes it
            making.done.wait()
            with self._lock:
                # Found again if still held (a use, for a cache); else the value made, if the make succeeded.
                found = self._held.find(key)
            if found is not None:
                return found
            if making.value is not None:
                return making.value
            # The make failed: try again (this caller may make it).
        return self._make(key, making, make)

    def _make(self, key: K, making: _Making[V], make: Callable[[], V]) -> V:
        try:
            value = make()
        except BaseException:
            with self._lock:
                del self._making[key]
            making.done.set()
            raise
        making.value = value
        with self._lock:
            self._held.keep(key, value)
            del self._making[key]
        making.done.set()
        return value
