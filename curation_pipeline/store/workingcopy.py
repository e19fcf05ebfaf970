"""Working copies: a version pulled into a local folder, edited, pushed back.

The folder holds the version's files plus a small state folder,
``.curation/``, which no version may contain::

    .curation/state.json    dataset, store URL (no credentials), version id,
                            and each pulled file's sha256, size and mtime
    .curation/stash/        changes set aside by stash(), until restore()

A file whose size and mtime still match the state is taken as unchanged
(like git's index); any other file is re-hashed.

    .curation/staging/      files being pulled, verified and fsynced
    .curation/pull.json     the journal of a pull that is moving files into place

A pull ends with the folder at the new version, or leaves it at the old one:

1. Every path of the target version is checked first (safe, creatable on any
   supported filesystem, no ``x`` beside ``x/y``); so is the folder, which
   may hold no link or special file. Nothing has been touched yet.
2. Every file to download is fetched into ``.curation/staging/``, verified
   against its sha256 and fsynced. The folder is still the old version.
3. The journal is written (fsynced): the files to delete, the staged files
   to move in, the new state. From here the pull is decided.
4. Files are deleted and moved in, the new state written, the journal and
   the staging folder removed.

A crash before step 3 leaves the old version (staged leftovers are cleared
by the next pull). A crash during step 4 leaves the journal, and every
operation on the working copy (pull, diff, push, stash, restore, even
reading ``version_id``) first finishes that pull from it: the folder is then
the new version, and a re-pull of any version starts from there. Every
write goes through :class:`~curation_pipeline.store.localfiles.LocalFolder`,
so a link planted in the folder (at ``.curation``, at
``.curation/staging``, at a data folder) is refused or replaced, never
written or deleted through.
"""

from __future__ import annotations

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
from curation_pipeline.store.localfiles import LocalFolder, walk_files
from curation_pipeline.store.manifest import FileEntry
from curation_pipeline.store.paths import (
    STATE_DIR,
    check_creatable,
    check_path,
    check_tree,
    resolve_inside,
)

if TYPE_CHECKING:
    from curation_pipeline.store.dataset import Dataset

STATE_FORMAT = 1
STATE_FILE = f"{STATE_DIR}/state.json"
JOURNAL_FILE = f"{STATE_DIR}/pull.json"
STAGING_DIR = f"{STATE_DIR}/staging"
#: The mtime recorded for a file moved in by a pull finished after a crash:
#: it matches no file, so the next scan re-hashes the file instead of trusting it.
UNKNOWN_MTIME = -1


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


@dataclass(frozen=True)
class _Journal:
    """A pull that has started moving files: enough to finish it without the store."""

    dataset: str
    store_url: str
    version_id: str
    files: Mapping[str, FileEntry]
    delete: tuple[str, ...]
    staged: Mapping[str, str]  # path -> file name in the staging folder
    kept_mtimes: Mapping[str, int]  # files left in place -> their mtime_ns when the pull began

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "dataset": self.dataset,
            "store_url": self.store_url,
            "version_id": self.version_id,
            "files": {path: entry.to_json() for path, entry in sorted(self.files.items())},
            "delete": list(self.delete),
            "staged": dict(sorted(self.staged.items())),
            "kept_mtimes": dict(sorted(self.kept_mtimes.items())),
        }

    @classmethod
    def from_json(cls, value: Any) -> _Journal:
        files = {check_path(path): FileEntry.from_json(entry) for path, entry in value["files"].items()}
        staged = {check_path(path): str(name) for path, name in value["staged"].items()}
        if any("/" in name or name in ("", ".", "..") for name in staged.values()):
            raise ValueError("a staged file name is not a plain name")
        delete = tuple(check_path(path) for path in value["delete"])
        kept = {check_path(path): int(mtime) for path, mtime in value["kept_mtimes"].items()}
        return cls(value["dataset"], value["store_url"], value["version_id"], files, delete, staged, kept)


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

    @property
    def has_stash(self) -> bool:
        """Whether :meth:`stash` set changes aside that :meth:`restore` has not brought back."""
        return self._stash_dir.exists()

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
            UnsafePathError: the version holds a path that is unsafe or that no
                supported filesystem can create (checked before anything is
                touched), or the folder holds a symbolic link or special file
                (named; nothing outside the folder is read, written or deleted).
            WorkingCopyError: the folder is a working copy of another dataset,
                or an interrupted pull cannot be finished (pull with ``forced``).
            VersionNotFoundError: unknown version.
        """
        version = self._dataset.get_version(version_id)
        target = dict(version.files)
        self._check_pullable(version.version_id, target)
        self._root.mkdir(parents=True, exist_ok=True)
        with self._open() as folder:
            state = self._recovered_state(folder)
            local, mtimes = self._scan(state)
            base = state.entries() if state else {}
            at_risk = [p for p in _changed(local, base) if local.get(p) != target.get(p)]
            if at_risk and not forced:
                raise LocalChangesError(self._changes_message(at_risk, "pull"), at_risk)
            to_fetch = sorted(p for p, entry in target.items() if local.get(p) != entry)
            to_delete = sorted(local.keys() - target.keys())
            staging = folder.fresh_folder(STAGING_DIR)
            staged = self._stage(folder, staging, version.version_id, target, to_fetch, progress)
            journal = _Journal(
                self._dataset.name,
                self._dataset.store_url,
                version.version_id,
                target,
                tuple(to_delete),
                {path: tmp.name for path, tmp in staged.items()},
                {p: mtimes[p] for p in target if p not in staged},
            )
            folder.write_json(JOURNAL_FILE, journal.to_json())  # the pull is decided: a crash now rolls forward
            self._finish(folder, journal)
        return PullResult(
            version.version_id,
            tuple(to_fetch),
            tuple(to_delete),
            len(target) - len(to_fetch),
            sum(target[p].size for p in to_fetch),
        )

    def _check_pullable(self, version_id: str, target: Mapping[str, FileEntry]) -> None:
        """Refuse, before touching the folder, a version whose files no filesystem can hold."""
        try:
            for path in target:
                check_creatable(path)
            check_tree(target)
        except UnsafePathError as exc:
            raise UnsafePathError(
                f"dataset {self._dataset.name!r} version {version_id} cannot be pulled: {exc}"
            ) from None

    def _finish(self, folder: LocalFolder, journal: _Journal) -> None:
        """Step 4 of a pull (also run to finish one a crash interrupted): idempotent."""
        for path in journal.delete:
            # After a crash, what stands there may be what this pull moved in: a folder
            # (``x`` deleted, ``x/y`` moved in) or a file where a folder was (``x/y`` deleted, ``x`` moved in).
            folder.remove_file(path, replaced_ok=True)
        mtimes = {**journal.kept_mtimes, **self._move_staged(folder, journal)}
        for parent in sorted({path.rpartition("/")[0] for path in journal.staged}):
            folder.sync_folder(parent)  # the moves reach the disk before the state that trusts them
        tracked = {p: _Tracked(entry, mtimes.get(p, UNKNOWN_MTIME)) for p, entry in journal.files.items()}
        state = _State(journal.dataset, journal.store_url, journal.version_id, tracked)
        folder.write_json(STATE_FILE, state.to_json())
        folder.remove_entry(JOURNAL_FILE)
        folder.remove_entry(STAGING_DIR)
        folder.remove_temporaries(STATE_DIR)

    def _move_staged(self, folder: LocalFolder, journal: _Journal) -> dict[str, int]:
        """Move the journal's staged files into place; the mtime to record for each."""
        staging = self._root / STAGING_DIR
        mtimes: dict[str, int] = {}
        for path, name in journal.staged.items():
            source = staging / name
            if os.path.lexists(source):
                folder.move_in(source, path)
                found = folder.lstat(path)
                mtimes[path] = found.st_mtime_ns if found else UNKNOWN_MTIME
            elif folder.lstat(path) is not None:
                mtimes[path] = UNKNOWN_MTIME  # moved in before the crash; re-hashed by the next scan
            else:
                folder.remove_entry(JOURNAL_FILE)  # cannot finish: let a forced pull start over
                raise WorkingCopyError(
                    f"{self._root}: an interrupted pull of version {journal.version_id} cannot be finished "
                    f"({path} and its staged copy are both gone); pull again with forced=True"
                )
        return mtimes

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
        name = f"{STATE_DIR}/stash-tmp-{uuid.uuid4().hex}"
        with self._open() as folder:
            building = folder.fresh_folder(name)  # a real folder: the state folder was checked by get_diff
            for path in (*changes.new, *changes.modified):
                copy = building / "files" / path
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(resolve_inside(self._root, path), copy)
            folder.write_json(f"{name}/stash.json", {"version_id": state.version_id, "changes": changes.to_dict()})
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
        with self._open() as folder:
            for path in (*changes.new, *changes.modified):
                folder.move_in(self._stash_dir / "files" / path, path)
        self._delete(changes.deleted)
        with self._open() as folder:
            folder.remove_entry(f"{STATE_DIR}/stash")
        return StashResult(record["version_id"], changes)

    # -- state ---------------------------------------------------------------------

    @property
    def _state_dir(self) -> Path:
        return self._root / STATE_DIR

    @property
    def _stash_dir(self) -> Path:
        return self._state_dir / "stash"

    def _open(self) -> LocalFolder:
        try:
            return LocalFolder(self._root)
        except OSError as exc:
            raise WorkingCopyError(f"{self._root} is not a usable folder: {exc}") from None

    def _read_state(self) -> _State | None:
        """The state, after finishing a pull a crash interrupted; None if nothing was pulled here."""
        if not os.path.lexists(self._root):
            return None
        with self._open() as folder:
            return self._recovered_state(folder)

    def _recovered_state(self, folder: LocalFolder) -> _State | None:
        journal = self._load(folder, JOURNAL_FILE, _Journal.from_json, "interrupted-pull journal")
        if journal is not None:
            self._check_dataset(journal.dataset)
            self._finish(folder, journal)
        state = self._load(folder, STATE_FILE, _State.from_json, "working-copy state")
        if state is not None:
            self._check_dataset(state.dataset)
        return state

    def _load(self, folder: LocalFolder, path: str, parse: Callable[[Any], Any], what: str) -> Any:
        full = self._root / path
        try:
            value = folder.read_json(path)
        except UnsafePathError:
            raise
        except (OSError, ValueError) as exc:
            raise WorkingCopyError(f"unreadable {what} {full}: {exc}") from None
        if value is None:
            return None
        try:
            return parse(value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WorkingCopyError(f"malformed {what} {full}: {exc}") from None

    def _check_dataset(self, dataset: str) -> None:
        if dataset != self._dataset.name:
            raise WorkingCopyError(
                f"{self._root} is a working copy of dataset {dataset!r}, not {self._dataset.name!r}"
            )

    def _require_state(self) -> _State:
        state = self._read_state()
        if state is None:
            raise WorkingCopyError(
                f"{self._root} is not a working copy of dataset {self._dataset.name!r}; pull() first"
            )
        return state

    def _write_state(self, version_id: str, files: Mapping[str, _Tracked]) -> None:
        state = _State(self._dataset.name, self._dataset.store_url, version_id, files)
        with self._open() as folder:
            folder.write_json(STATE_FILE, state.to_json())

    # -- files ---------------------------------------------------------------------

    def _scan(self, state: _State | None) -> tuple[dict[str, FileEntry], dict[str, int]]:
        """Hash the folder's files (reusing the state's hash when size and mtime match)."""
        tracked = state.files if state else {}
        entries: dict[str, FileEntry] = {}
        mtimes: dict[str, int] = {}
        for path, full in self._walk():
            st = os.lstat(full)
            known = tracked.get(path)
            if known and known.entry.size == st.st_size and known.mtime_ns == st.st_mtime_ns:
                entries[path] = known.entry
            else:
                entries[path] = objects.hash_file(full)
            mtimes[path] = st.st_mtime_ns
        return entries, mtimes

    def _walk(self) -> Iterable[tuple[str, Path]]:
        if not self._root.is_dir():
            return iter(())
        return walk_files(self._root)

    def _stage(
        self,
        folder: LocalFolder,
        staging: Path,
        version_id: str,
        target: Mapping[str, FileEntry],
        paths: list[str],
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Path]:
        """Download and verify ``paths`` into the (fresh) staging folder; nothing else is touched."""
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
            folder.remove_entry(STAGING_DIR)
            raise
        return {path: staged[path] for path in paths}

    def _delete(self, paths: Iterable[str]) -> None:
        with self._open() as folder:
            for path in paths:
                folder.remove_file(path)

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
