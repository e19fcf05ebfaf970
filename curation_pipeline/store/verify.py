"""Full verification of a dataset's stored objects, and their repair from local files.

Every object named by any version reachable from HEAD is read back and
re-hashed (sha256 and size). A damaged or missing object can be repaired
from a folder holding the right bytes (a working copy pulled earlier, the
original files): each file there whose content hashes to a damaged or
missing object is uploaded over it, then read back and verified again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation_pipeline.store import layout, objects
from curation_pipeline.store.backends.base import ObjectBackend
from curation_pipeline.store.manifest import FileEntry

#: A working copy's own folder: its files are bookkeeping, never dataset content.
_STATE_FOLDER = ".curation"


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`Dataset.verify <curation_pipeline.store.dataset.Dataset.verify>` found and did.

    ``objects``/``bytes`` count distinct objects read back; ``damaged`` and
    ``missing`` list the problems still there at the end as
    ``"<sha256> <a path naming it> (version <id>)"``; ``repaired`` those
    fixed from ``repair_from``.
    """

    dataset: str
    versions: int
    objects: int
    bytes: int
    damaged: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    repaired: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every object is stored intact."""
        return not self.damaged and not self.missing

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "dataset": self.dataset,
            "versions": self.versions,
            "objects": self.objects,
            "bytes": self.bytes,
            "damaged": list(self.damaged),
            "missing": list(self.missing),
            "repaired": list(self.repaired),
            "ok": self.ok,
        }


def verify_objects(
    backend: ObjectBackend,
    dataset: str,
    named: Mapping[str, tuple[FileEntry, str]],
    versions: int,
    repair_from: Path | None = None,
) -> VerifyReport:
    """Re-hash every object of ``named`` (sha256 -> (entry, description)); repair from ``repair_from``."""
    bad = {sha: pair for sha, pair in sorted(named.items()) if not objects.rehash_matches(backend, dataset, pair[0])}
    sources = sources_in(repair_from, [entry for entry, _ in bad.values()]) if repair_from and bad else {}
    damaged, missing, repaired = [], [], []
    for sha, (entry, described) in bad.items():
        if sha in sources:
            objects.upload(backend, dataset, entry, sources[sha])
            if objects.rehash_matches(backend, dataset, entry):
                repaired.append(described)
                continue
        absent = backend.stat(layout.object_key(dataset, sha)) is None
        (missing if absent else damaged).append(described)
    total = sum(entry.size for entry, _ in named.values())
    return VerifyReport(dataset, versions, len(named), total, tuple(damaged), tuple(missing), tuple(repaired))


def sources_in(folder: Path, wanted: Iterable[FileEntry]) -> dict[str, Path]:
    """Files under ``folder`` (symlinks not followed, ``.curation/`` skipped) holding a ``wanted`` content.

    Returns sha256 -> path. Only files of the size of some wanted entry are hashed.
    """
    by_size: dict[int, set[str]] = {}
    for entry in wanted:
        by_size.setdefault(entry.size, set()).add(entry.sha256)
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != _STATE_FOLDER]
        for filename in filenames:
            path = Path(dirpath) / filename
            if path.is_symlink() or not path.is_file() or path.stat().st_size not in by_size:
                continue
            sha = objects.hash_file(path).sha256
            if sha in by_size[path.stat().st_size]:
                found.setdefault(sha, path)
    return found
