"""A backend that runs a test's action just before chosen operations of another backend.

Interleavings are made deterministic this way: a commit runs on a
:class:`HookedBackend`, and a test (or a Hypothesis state machine) arranges
for ``gc`` to run at exactly the step it picked, for example between the
manifest write and the HEAD swap.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from curation_pipeline.store.backends.base import Leftover, ObjectBackend, ObjectInfo, Ref, RefToken

Hook = Callable[[str, str], None]


class HookedBackend(ObjectBackend):
    """Delegates to ``inner``; ``hook(operation, key)`` runs before every write, stat and ref access."""

    def __init__(self, inner: ObjectBackend, hook: Hook | None = None) -> None:
        self.inner = inner
        self.hook: Hook = hook or (lambda _op, _key: None)
        self.calls: list[tuple[str, str]] = []

    def _before(self, operation: str, key: str) -> None:
        self.calls.append((operation, key))
        self.hook(operation, key)

    @property
    def url(self) -> str:
        return self.inner.url

    def get_bytes(self, key: str) -> bytes:
        self._before("get_bytes", key)
        return self.inner.get_bytes(key)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self.inner.get_range(key, start, length)

    def get_file(self, key: str, dest: Path) -> None:
        self.inner.get_file(key, dest)

    def get_fileobj(self, key: str, out: BinaryIO, *, size: int | None = None) -> None:
        self._before("get_fileobj", key)
        self.inner.get_fileobj(key, out, size=size)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._before("put_bytes", key)
        self.inner.put_bytes(key, data)

    def put_file(self, key: str, src: Path) -> None:
        self._before("put_file", key)
        self.inner.put_file(key, src)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self._before("put_if_absent", key)
        return self.inner.put_if_absent(key, data)

    def stat(self, key: str) -> ObjectInfo | None:
        self._before("stat", key)
        return self.inner.stat(key)

    def stat_many(self, keys: Collection[str]) -> dict[str, ObjectInfo | None]:
        return self.inner.stat_many(keys)

    def stored_crc32(self, key: str) -> int | None:
        return self.inner.stored_crc32(key)

    @property
    def reads_are_cheap(self) -> bool:
        return self.inner.reads_are_cheap

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def list_children(self, prefix: str) -> list[str]:
        return self.inner.list_children(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._before("delete_many", keys[0] if keys else "")
        self.inner.delete_many(keys)

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        return self.inner.list_leftovers(prefix)

    def remove_leftover(self, leftover: Leftover) -> None:
        self.inner.remove_leftover(leftover)

    def read_ref(self, key: str) -> Ref | None:
        self._before("read_ref", key)
        return self.inner.read_ref(key)

    def swap_ref(self, key: str, data: bytes, expected: RefToken | None) -> RefToken:
        self._before("swap_ref", key)
        return self.inner.swap_ref(key, data, expected)


def run_once_before(operation: str, key_part: str, action: Callable[[], Any]) -> Hook:
    """A hook that runs ``action`` once, before the first ``operation`` on a key containing ``key_part``."""
    done = False

    def hook(op: str, key: str) -> None:
        nonlocal done
        if not done and op == operation and key_part in key:
            done = True
            action()

    return hook
