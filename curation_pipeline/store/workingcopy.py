"""Working copies: a version pulled into a local folder, edited, pushed back.

The folder holds the version's files plus a small state folder,
``.curation/``, which no version may contain::

    .curation/state.json    dataset, store URL (no credentials), version id,
                            and each pulled file's sha256, size and mtime
    .curation/stash/        changes set aside by stash(), until restore()

A file whose size and mtime still match the state is taken as unchanged
(like git's index); any other file is re-hashed.

Pulls are all-or-nothing: every file to download is fetched into a staging
folder inside ``.curation/``, verified against its sha256 and fsynced before
anything in the working copy is touched, then renamed into place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curation_pipeline import parallel
from curation_pipeline.store import objects
from curation_pipeline.store.commit import CommitResult
from curation_pipeline.store.errors import (
    LocalChangesError,
    UnsafePathError,
    WorkingCopyError,
)
from curation_pipeline.store.manifest import FileEntry
from curation_pipeline.store.paths import STATE_DIR, check_path, resolve_inside

if TYPE_CHECKING:
    from curation_pipeline.store.dataset import Dataset

STATE_FORMAT = 1


@dataclass(frozen=True)
class WorkingCopyDiff:
    """Local changes against the pulled version (relative paths, sorted)."""

    new: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True if the working copy equals the pulled version."""
        return not (self.new or self.modified or self.deleted)

    @property
    def paths(self) -> tuple[str, ...]:
        """Every changed path, sorted."""
        return tuple(sorted((*self.new, *self.modified, *self.deleted)))

    def to_dict(self) -> dict[str, list[str]]:
        """A JSON-ready dict."""
        return {"new": list(self.new), "modified": list(self.modified), "deleted": list(self.deleted)}

    @classmethod
    def from_dict(cls, value: Mapping[str, Iterable[str]]) -> WorkingCopyDiff:
        """Inverse of :meth:`to_dict`."""
        return cls(*(tuple(sorted(value.get(k, ()))) for k in ("new", "modified", "deleted")))


@dataclass(frozen=True)
class PullResult:
    """What a pull did: files downloaded and deleted, files already up to date, bytes fetched."""

    version_id: str
    downloaded: tuple[str, ...]
    deleted: tuple[str, ...]
    unchanged: int
    bytes_downloaded: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "version_id": self.version_id,
            "downloaded": list(self.downloaded),
            "deleted": list(self.deleted),
            "unchanged": self.unchanged,
            "bytes_downloaded": self.bytes_downloaded,
        }


@dataclass(frozen=True)
class StashResult:
    """The changes a stash set aside, or a restore brought back."""

    version_id: str
    changes: WorkingCopyDiff

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"version_id": self.version_id, "changes": self.changes.to_dict()}


@dataclass(frozen=True)
class _Tracked:
    entry: FileEntry
    mtime_ns: int


@dataclass(frozen=True)
class _State:
    dataset: str
    store_url: str
    version_id: str
    files: Mapping[str, _Tracked]

    def entries(self) -> dict[str, FileEntry]:
        return {path: tracked.entry for path, tracked in self.files.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "dataset": self.dataset,
            "store_url": self.store_url,
            "version_id": self.version_id,
            "files": {
                path: {**t.entry.to_json(), "mtime_ns": t.mtime_ns} for path, t in sorted(self.files.items())
            },
        }

    @classmethod
    def from_json(cls, value: Any) -> _State:
        files = {
            check_path(path): _Tracked(FileEntry(f["sha256"], f["size"]), int(f["mtime_ns"]))
            for path, f in value["files"].items()
        }
        return cls(value["dataset"], value["store_url"], value["version_id"], files)


class WorkingCopy:
    """Dataset ``dataset`` checked out in folder ``root`` (Gantry's pull/push workflow)."""

    def __init__(self, dataset: Dataset, root: str | os.PathLike[str]) -> None:
        self._dataset = dataset
        self._root = Path(root).absolute()

    def __repr__(self) -> str:
        return f"WorkingCopy({self._dataset.name!r}, {str(self._root)!r})"

    @property
    def root(self) -> Path:
        """The working-copy folder."""
        return self._root

    @property
    def version_id(self) -> str | None:
        """The pulled version, or None if nothing was pulled here yet."""
        state = self._read_state()
        return state.version_id if state else None

    # -- operations --------------------------------------------------------------

    def pull(
        self,
        version_id: str | None = None,
        forced: bool = False,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> PullResult:
        """Make the folder hold ``version_id`` (HEAD by default), downloading only what differs.

        Args:
            version_id: full id, unique prefix (>= 8 hex) or None for HEAD.
            forced: discard local changes (modified, new and deleted files)
                instead of refusing; the folder then mirrors the version.
            progress: called as ``progress(done_bytes, total_bytes)`` of the
                files to download, before the first one and after each.

        Returns:
            A :class:`PullResult`.

        Raises:
            LocalChangesError: local changes would be lost (names the files).
            CorruptObjectError: an object does not match its hash (nothing
                in the folder is changed).
            UnsafePathError: the version holds an unsafe path, or a path would
                resolve outside the folder.
            WorkingCopyError: the folder is a working copy of another dataset.
            VersionNotFoundError: unknown version.
        """
        version = self._dataset.get_version(version_id)
        target = dict(version.files)
        state = self._read_state()
        local, mtimes = self._scan(state)
        base = state.entries() if state else {}
        at_risk = [p for p in _changed(local, base) if local.get(p) != target.get(p)]
        if at_risk and not forced:
            raise LocalChangesError(self._changes_message(at_risk, "pull"), at_risk)
        to_fetch = sorted(p for p, entry in target.items() if local.get(p) != entry)
        to_delete = sorted(local.keys() - target.keys())
        destinations = {p: resolve_inside(self._root, p) for p in to_fetch}
        staged = self._stage(version.version_id, target, to_fetch, progress)
        try:
            self._delete(to_delete)
            for path, tmp in staged.items():
                destinations[path].parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, destinations[path])
        finally:
            self._clear_staging()
        mtimes.update({p: destinations[p].stat().st_mtime_ns for p in to_fetch})
        self._write_state(version.version_id, {p: _Tracked(e, mtimes[p]) for p, e in target.items()})
        return PullResult(
            version.version_id,
            tuple(to_fetch),
            tuple(to_delete),
            len(target) - len(to_fetch),
            sum(target[p].size for p in to_fetch),
        )

    def get_diff(self) -> WorkingCopyDiff:
        """Return the local changes (new, modified, deleted files) against the pulled version.

        Raises:
            WorkingCopyError: nothing was pulled into this folder.
            UnsafePathError: the folder holds a symbolic link or an unsafe file name.
        """
        state = self._require_state()
        local, _ = self._scan(state)
        return _diff(local, state.entries())

    def push_version(self, message: str, metadata: Mapping[str, Any] | None = None) -> CommitResult:
        """Commit the local changes as a new version whose parent is the pulled version.

        Returns:
            The :class:`CommitResult`; the working copy then tracks the new version.

        Raises:
            DatasetHeadOutOfDateError: HEAD is no longer the pulled version
                (pull again — local changes are kept only if they do not conflict).
            WorkingCopyError: nothing was pulled into this folder.
            and everything :meth:`Dataset.commit` raises.
        """
        state = self._require_state()
        local, mtimes = self._scan(state)
        changes = _diff(local, state.entries())
        files = {p: resolve_inside(self._root, p) for p in (*changes.new, *changes.modified)}
        result = self._dataset.commit(
            files, message, metadata, parent_version_id=state.version_id, delete=changes.deleted
        )
        self._write_state(result.version_id, {p: _Tracked(e, mtimes[p]) for p, e in local.items()})
        return result

    def stash(self) -> StashResult:
        """Set local changes aside and bring the folder back to the pulled version.

        Returns:
            The changes stashed (empty if there were none; nothing is stored then).

        Raises:
            WorkingCopyError: nothing was pulled here, or a stash already exists.
        """
        state = self._require_state()
        changes = self.get_diff()
        if changes.is_empty:
            return StashResult(state.version_id, changes)
        if self._stash_dir.exists():
            raise WorkingCopyError(f"{self._root} already has stashed changes; restore() them first")
        building = self._state_dir / f"stash-tmp-{uuid.uuid4().hex}"
        for path in (*changes.new, *changes.modified):
            copy = building / "files" / path
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(resolve_inside(self._root, path), copy)
        building.mkdir(parents=True, exist_ok=True)
        _write_json(building / "stash.json", {"version_id": state.version_id, "changes": changes.to_dict()})
        os.replace(building, self._stash_dir)  # the stash appears whole or not at all
        self.pull(state.version_id, forced=True)
        return StashResult(state.version_id, changes)

    def restore(self, forced: bool = False) -> StashResult:
        """Bring back the changes set aside by :meth:`stash`, then drop the stash.

        Args:
            forced: overwrite local changes made since the stash instead of refusing.

        Raises:
            WorkingCopyError: there is no stash.
            LocalChangesError: the folder has local changes (unless ``forced``).
        """
        if not self._stash_dir.exists():
            raise WorkingCopyError(f"{self._root} has no stashed changes")
        current = self.get_diff()
        if not current.is_empty and not forced:
            raise LocalChangesError(self._changes_message(current.paths, "restore"), current.paths)
        record = json.loads((self._stash_dir / "stash.json").read_text("utf-8"))
        changes = WorkingCopyDiff.from_dict(record["changes"])
        for path in (*changes.new, *changes.modified):
            dest = resolve_inside(self._root, path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._stash_dir / "files" / path, dest)
        self._delete(changes.deleted)
        shutil.rmtree(self._stash_dir)
        return StashResult(record["version_id"], changes)

    # -- state ---------------------------------------------------------------------

    @property
    def _state_dir(self) -> Path:
        return self._root / STATE_DIR

    @property
    def _stash_dir(self) -> Path:
        return self._state_dir / "stash"

    def _read_state(self) -> _State | None:
        path = self._state_dir / "state.json"
        try:
            value = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise WorkingCopyError(f"unreadable working-copy state {path}: {exc}") from None
        try:
            state = _State.from_json(value)
        except (KeyError, TypeError, ValueError) as exc:
            raise WorkingCopyError(f"malformed working-copy state {path}: {exc}") from None
        if state.dataset != self._dataset.name:
            raise WorkingCopyError(
                f"{self._root} is a working copy of dataset {state.dataset!r}, not {self._dataset.name!r}"
            )
        return state

    def _require_state(self) -> _State:
        state = self._read_state()
        if state is None:
            raise WorkingCopyError(
                f"{self._root} is not a working copy of dataset {self._dataset.name!r}; pull() first"
            )
        return state

    def _write_state(self, version_id: str, files: Mapping[str, _Tracked]) -> None:
        state = _State(self._dataset.name, self._dataset.store_url, version_id, files)
        _write_json(self._state_dir / "state.json", state.to_json())

    # -- files ---------------------------------------------------------------------

    def _scan(self, state: _State | None) -> tuple[dict[str, FileEntry], dict[str, int]]:
        """Hash the folder's files (reusing the state's hash when size and mtime match)."""
        tracked = state.files if state else {}
        entries: dict[str, FileEntry] = {}
        mtimes: dict[str, int] = {}
        for path, full in self._walk():
            st = full.stat()
            known = tracked.get(path)
            if known and known.entry.size == st.st_size and known.mtime_ns == st.st_mtime_ns:
                entries[path] = known.entry
            else:
                entries[path] = objects.hash_file(full)
            mtimes[path] = st.st_mtime_ns
        return entries, mtimes

    def _walk(self) -> Iterable[tuple[str, Path]]:
        if not self._root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self._root):
            folder = Path(dirpath)
            if folder == self._root and STATE_DIR in dirnames:
                dirnames.remove(STATE_DIR)
            for name in [*dirnames, *filenames]:
                if (folder / name).is_symlink():
                    raise UnsafePathError(f"{folder / name} is a symbolic link; working copies hold plain files")
            for name in filenames:
                full = folder / name
                path = full.relative_to(self._root).as_posix()
                check_path(path)
                yield path, full

    def _stage(
        self,
        version_id: str,
        target: Mapping[str, FileEntry],
        paths: list[str],
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Path]:
        """Download and verify ``paths`` into the staging folder; nothing else is touched."""
        staging = self._state_dir / "staging"
        self._clear_staging()
        staging.mkdir(parents=True)
        staged: dict[str, Path] = {}
        done, total = 0, sum(target[path].size for path in paths)
        if progress is not None:
            progress(0, total)

        token = parallel.CancelToken()

        def fetch(path: str) -> Path:
            where = f"dataset {self._dataset.name!r} version {version_id} file {path!r}"
            return objects.download_verified(
                self._dataset.backend, self._dataset.name, target[path], staging, where, token
            )

        try:
            # Several files at once; the first failure stops the rest, and every
            # download has finished (or been removed) before the staging folder goes.
            with parallel.ordered_map(
                fetch, paths, max_workers=self._dataset.max_workers, token=token, name="store"
            ) as results:
                for path, tmp in zip(paths, results):
                    staged[path] = tmp
                    done += target[path].size
                    if progress is not None:
                        progress(done, total)
        except BaseException:
            self._clear_staging()
            raise
        return {path: staged[path] for path in paths}

    def _clear_staging(self) -> None:
        shutil.rmtree(self._state_dir / "staging", ignore_errors=True)

    def _delete(self, paths: Iterable[str]) -> None:
        for path in paths:
            full = resolve_inside(self._root, path)
            with contextlib.suppress(FileNotFoundError):
                full.unlink()
            _prune_empty_parents(full.parent, self._root)

    def _changes_message(self, paths: Iterable[str], action: str) -> str:
        listed = sorted(paths)
        shown = ", ".join(listed[:10]) + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")
        return (
            f"{action} would overwrite local changes in {self._root} "
            f"(dataset {self._dataset.name!r}): {shown}; stash() them or use forced=True"
        )


def _changed(local: Mapping[str, FileEntry], base: Mapping[str, FileEntry]) -> set[str]:
    return {p for p in local.keys() | base.keys() if local.get(p) != base.get(p)}


def _diff(local: Mapping[str, FileEntry], base: Mapping[str, FileEntry]) -> WorkingCopyDiff:
    return WorkingCopyDiff(
        new=tuple(sorted(local.keys() - base.keys())),
        modified=tuple(sorted(p for p in local.keys() & base.keys() if local[p] != base[p])),
        deleted=tuple(sorted(base.keys() - local.keys())),
    )


def _prune_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, sort_keys=True, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
