"""Registry entries: one ref per curator, ``curators/<name>/spec.json``, written with compare-and-swap.

The same discipline as a dataset's HEAD: creating writes only if the key is
absent (two creators of one name: one wins, the other gets
:class:`CuratorExistsError`); updating writes only if the entry is still the
one read (a concurrent update makes the second one retry on the newer entry).
An entry holds the curator's definition (``Curator.to_dict()``, the YAML
vocabulary) and when and by whom it was created.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

from curation_pipeline.clock import utc_now
from curation_pipeline.curators import Curator, curator_from_dict
from curation_pipeline.errors import CurationError
from curation_pipeline.names import check_name
from curation_pipeline.store import DatasetStore, InvalidManifestError, WriteConflictError
from curation_pipeline.store.dataset import default_author
from curation_pipeline.store.layout import CURATORS, curator_spec_key
from curation_pipeline.store.manifest import canonical_json, format_time, parse_time

ENTRY_FORMAT = 1
_ATTEMPTS = 5


class CuratorNotFoundError(CurationError, LookupError):
    """No curator of that name is registered (Gantry raises the same name)."""


class CuratorExistsError(CurationError):
    """A curator of that name is registered already."""


@dataclass(frozen=True)
class RegistryEntry:
    """One registered curator.

    Attributes:
        curator: its definition; ``enabled`` is its initial state when first deployed.
        created_at: when it was created (UTC).
        author: who created it.
    """

    curator: Curator
    created_at: dt.datetime
    author: str

    def to_json(self) -> bytes:
        """The entry as canonical JSON."""
        return canonical_json(
            {"author": self.author, "created_at": format_time(self.created_at), "curator": self.curator.to_dict(),
             "format": ENTRY_FORMAT}
        )

    @classmethod
    def from_json(cls, data: bytes, *, key: str) -> RegistryEntry:
        """Parse the entry read from ``key``.

        Raises:
            InvalidManifestError: the bytes are not a registry entry, or its curator is invalid.
        """
        try:
            value = json.loads(data.decode("utf-8"))
            return cls(curator_from_dict(value["curator"]), parse_time(value["created_at"]), str(value["author"]))
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, CurationError) as exc:
            raise InvalidManifestError(f"{key} is not a curator registry entry: {exc}") from None


class CuratorRegistry:
    """The registered curators of one store."""

    def __init__(self, store: DatasetStore, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        self._store = store
        self._backend = store.backend
        self._clock = clock or utc_now

    @property
    def store(self) -> DatasetStore:
        """The store holding the registry."""
        return self._store

    def where(self, name: str) -> str:
        """Where the entry of ``name`` lives, for messages."""
        return f"{self._store.url}/{curator_spec_key(name)}"

    def create(self, curator: Curator) -> RegistryEntry:
        """Register ``curator``.

        Raises:
            CuratorExistsError: a curator of that name is registered.
        """
        entry = RegistryEntry(curator, self._clock(), default_author())
        try:
            self._backend.swap_ref(self._key(curator.name), entry.to_json(), None)
        except WriteConflictError:
            raise CuratorExistsError(f"curator {curator.name!r} is registered already ({self.where(curator.name)})") from None
        return entry

    def get(self, name: str) -> RegistryEntry:
        """The entry of ``name``.

        Raises:
            CuratorNotFoundError: no such curator.
        """
        ref = self._backend.read_ref(self._key(name))
        if ref is None:
            raise CuratorNotFoundError(f"no curator {name!r} in the registry of {self._store.url}")
        return RegistryEntry.from_json(ref.data, key=self._key(name))

    def change(self, name: str, edit: Callable[[Curator], Curator]) -> RegistryEntry:
        """Replace the definition of ``name`` by ``edit(current)``, re-applied if another writer went first.

        Raises:
            CuratorNotFoundError: no such curator.
            WriteConflictError: the entry kept changing.
        """
        key = self._key(name)
        for _ in range(_ATTEMPTS):
            ref = self._backend.read_ref(key)
            if ref is None:
                raise CuratorNotFoundError(f"no curator {name!r} in the registry of {self._store.url}")
            entry = RegistryEntry.from_json(ref.data, key=key)
            updated = RegistryEntry(edit(entry.curator), entry.created_at, entry.author)
            try:
                self._backend.swap_ref(key, updated.to_json(), ref.token)
            except WriteConflictError:
                continue
            return updated
        raise WriteConflictError(f"the registry entry of {name!r} kept changing; try again")

    def delete(self, name: str) -> None:
        """Remove ``name`` from the registry (its dataset and start/grid records stay).

        Raises:
            CuratorNotFoundError: no such curator.
        """
        self.get(name)
        self._backend.delete(self._key(name))

    def list(self) -> list[RegistryEntry]:
        """Every registered curator, by name."""
        entries = []
        for child in self._backend.list_children(CURATORS):
            name = child.rstrip("/")
            ref = self._backend.read_ref(self._key(name))
            if ref is not None:
                entries.append(RegistryEntry.from_json(ref.data, key=self._key(name)))
        return sorted(entries, key=lambda e: e.curator.name)

    def _key(self, name: str) -> str:
        return curator_spec_key(check_name(name, "curator"))
