"""A dataset: its versions, commits, reads, diffs and working copies."""

from __future__ import annotations

import contextlib
import getpass
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Union

from curation_pipeline import environment, parallel
from curation_pipeline.clock import Clock, utc_now
from curation_pipeline.names import name_key
from curation_pipeline.store import layout, objects, pathsets
from curation_pipeline.store.backends.base import ObjectBackend
from curation_pipeline.store.capabilities import ensure_conditional_writes
from curation_pipeline.store.commit import (
    Change,
    CommitRequest,
    CommitResult,
    Fence,
    Landed,
    RetryPolicy,
    land,
    paths_to_delete,
    upload_missing,
)
from curation_pipeline.store.diff import VersionDiff, diff_files
from curation_pipeline.store.errors import (
    AmbiguousVersionError,
    CorruptObjectError,
    DatasetDeletedError,
    DatasetNotFoundError,
    KeyNotFoundError,
    PathNotFoundError,
    UnmatchedPathError,
    VersionNotFoundError,
)
from curation_pipeline.store.head import read_head, read_head_state
from curation_pipeline.store.manifest import FileEntry, Manifest, Version
from curation_pipeline.store.paths import check_creatable
from curation_pipeline.store.tabular import check_tabular, concat, read_table, tabular_format, write_table

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from curation_pipeline.store.verify import VerifyReport
    from curation_pipeline.store.workingcopy import (
        PullResult,
        StashResult,
        WorkingCopy,
        WorkingCopyDiff,
    )

#: Concurrent transfers unless the store is opened with another ``max_workers``:
#: enough to keep a network-bound S3 link busy, small enough for a two-core machine.
DEFAULT_MAX_WORKERS = 8
MIN_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]+")

#: What :meth:`Dataset.commit` accepts as a file's content: bytes, or the path of a local file.
FileSource = Union[bytes, bytearray, memoryview, "os.PathLike[str]"]


def default_author() -> str:
    """``$CURATION_AUTHOR``, else the OS user name, else ``"unknown"`` (read at call time)."""
    author = environment.author()
    if author:
        return author
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name in some containers
        return "unknown"


class Dataset:
    """A named, versioned set of files in a store.

    Obtain one from :meth:`DatasetStore.get_dataset` or
    :meth:`DatasetStore.create_dataset`. Instances are cheap and hold no open
    resources; manifests they read are cached (they are immutable).
    """

    def __init__(
        self,
        backend: ObjectBackend,
        name: str,
        *,
        retry: RetryPolicy | None = None,
        gc_grace_period: timedelta = timedelta(hours=1),
        clock: Clock = utc_now,
        workdir: str | os.PathLike[str] | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        self._backend = backend
        self._max_workers = parallel.check_max_workers(max_workers)
        self._name = name
        self._retry = retry or RetryPolicy()
        self._grace = gc_grace_period
        self._clock = clock
        self._manifests: dict[str, Manifest] = {}
        self.workdir = Path(workdir) if workdir is not None else None

    def __repr__(self) -> str:
        return f"Dataset({self._name!r}, store={self._backend.url!r})"

    @property
    def name(self) -> str:
        """The dataset name."""
        return self._name

    @property
    def store_url(self) -> str:
        """The store root URL (safe to show: never holds credentials)."""
        return self._backend.url

    @property
    def backend(self) -> ObjectBackend:
        """The storage backend."""
        return self._backend

    @property
    def max_workers(self) -> int:
        """How many files a commit or pull hashes and transfers at once."""
        return self._max_workers

    # -- versions ------------------------------------------------------------

    def head(self) -> str | None:
        """Return the latest version id, or None if the dataset has no version yet."""
        return read_head(self._backend, self._name)[0]

    def list_versions(self) -> list[Version]:
        """Return every version reachable from HEAD, newest first (following parent links).

        Raises:
            VersionNotFoundError: a manifest in the history is missing.
        """
        versions = []
        version_id = self.head()
        while version_id is not None:
            manifest = self._manifest(version_id)
            versions.append(Version.from_manifest(version_id, manifest))
            version_id = manifest.parent
        return versions

    def get_version(self, version_id: str | None = None) -> Version:
        """Return one version.

        Args:
            version_id: a full version id, a unique prefix of at least 8 hex
                characters, or None for HEAD.

        Raises:
            VersionNotFoundError: no such version (or no version at all).
            AmbiguousVersionError: the prefix matches several versions.
            CorruptObjectError: the stored manifest does not match its id.
        """
        resolved = self.resolve_version(version_id)
        return Version.from_manifest(resolved, self._manifest(resolved))

    def resolve_version(self, version_id: str | None = None) -> str:
        """Return the full id for ``version_id`` (full id, unique prefix, or None for HEAD).

        Raises the same errors as :meth:`get_version`.
        """
        if version_id is None:
            head = self.head()
            if head is None:
                raise VersionNotFoundError(f"dataset {self._name!r} has no versions yet")
            return head
        version_id = version_id.lower()
        if not _HEX.fullmatch(version_id) or not MIN_PREFIX <= len(version_id) <= 64:
            raise VersionNotFoundError(
                f"dataset {self._name!r}: {version_id!r} is not a version id or a prefix of "
                f"at least {MIN_PREFIX} hex characters"
            )
        if len(version_id) == 64:
            self._manifest(version_id)
            return version_id
        prefix = layout.versions_prefix(self._name)
        matches = sorted(
            layout.version_from_manifest_key(self._name, info.key)
            for info in self._backend.list(prefix + version_id)
            if info.key.endswith(".json")
        )
        if not matches:
            raise VersionNotFoundError(f"dataset {self._name!r} has no version {version_id}")
        if len(matches) > 1:
            raise AmbiguousVersionError(
                f"dataset {self._name!r}: version prefix {version_id} matches {len(matches)} versions"
            )
        return matches[0]

    def _manifest(self, version_id: str) -> Manifest:
        manifest = self._manifests.get(version_id)
        if manifest is None:
            try:
                data = self._backend.get_bytes(layout.manifest_key(self._name, version_id))
            except KeyNotFoundError:
                raise VersionNotFoundError(f"dataset {self._name!r} has no version {version_id}") from None
            manifest = Manifest.from_bytes(data, version_id)
            self._manifests[version_id] = manifest
        return manifest

    # -- writing ---------------------------------------------------------------

    def commit(
        self,
        files: Mapping[str, FileSource],
        message: str,
        metadata: Mapping[str, Any] | None = None,
        parent_version_id: str | None = None,
        delete: Collection[str] = (),
        author: str | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> CommitResult:
        """Commit a new version: add or replace ``files``, delete ``delete``, keep the rest.

        Args:
            files: path in the dataset -> content (bytes, or a local file path).
            message: the commit message.
            metadata: free JSON metadata stored in the manifest.
            parent_version_id: if given, the commit only lands if this is HEAD
                when HEAD is swapped; otherwise it lands on whatever HEAD is,
                re-applying the change after a lost race.
            delete: paths to remove (absent paths are ignored).
            author: defaults to :func:`default_author`.
            progress: called as ``progress(done_bytes, total_bytes)`` before the
                first upload and after each distinct object (uploaded or already stored).

        Returns:
            A :class:`CommitResult`; ``created`` is False (and ``version_id``
            is HEAD) when the resulting files equal HEAD's.

        Raises:
            UnsafePathError: a path is unsafe, has a segment over 255 bytes, or
                the new version would hold a path that is also a folder of
                another (``x`` and ``x/y``); see :mod:`curation_pipeline.store.paths`.
            DatasetDeletedError / DatasetNotFoundError: the dataset is soft-deleted / gone.
            DatasetHeadOutOfDateError: ``parent_version_id`` is not HEAD.
            CommitConflictError: the race for HEAD was lost too many times.
            StoreAccessError: the backend failed.
        """
        self._check_live()
        sources = self._hash_sources(files)
        change = Change({path: entry for path, (entry, _) in sources.items()}, paths_to_delete(delete))
        pinned = self.resolve_version(parent_version_id) if parent_version_id else None
        start = read_head_state(self._backend, self._name)
        base_id = pinned or start.version_id
        base_files = self._manifest(base_id).files if base_id else {}
        change.apply(base_files)  # a version no filesystem could pull is refused before any upload
        in_head = {e.sha256 for e in base_files.values()}
        stats = upload_missing(
            self._backend,
            self._name,
            sources,
            in_head=in_head,
            refresh_before=self._clock() - self._grace / 2,
            progress=progress,
            max_workers=self._max_workers,
        )
        # Objects were checked after ``start`` was read: valid at its gc epoch (unknown if gc held HEAD).
        fence = Fence(None if start.lock else start.epoch, {e.sha256: content for e, content in sources.values()})
        request = CommitRequest(message, author or default_author(), dict(metadata or {}), pinned)
        landed = self._land(change, request, fence)
        return CommitResult(
            self._name,
            landed.version_id,
            landed.parent,
            landed.created,
            stats.uploaded,
            stats.skipped,
            stats.bytes,
            landed.attempts,
            landed.removed,
        )

    def _hash_sources(self, files: Mapping[str, FileSource]) -> dict[str, tuple[FileEntry, bytes | Path]]:
        """Check every path and hash every content (several files at once), in ``files`` order."""
        checked = {check_creatable(path): _source(path, content) for path, content in files.items()}
        on_disk = {path: content for path, content in checked.items() if isinstance(content, Path)}

        token = parallel.CancelToken()

        def hash_one(path: str) -> FileEntry:
            return objects.hash_file(on_disk[path], token)

        with parallel.ordered_map(
            hash_one, on_disk, max_workers=self._max_workers, token=token, name="store"
        ) as results:
            entries = dict(zip(on_disk, results))
        for path, content in checked.items():
            if isinstance(content, bytes):
                entries[path] = objects.hash_bytes(content)
        return {path: (entries[path], content) for path, content in checked.items()}

    def mirror(
        self,
        files: Mapping[str, FileSource],
        message: str,
        folder: str = "",
        metadata: Mapping[str, Any] | None = None,
        parent_version_id: str | None = None,
        author: str | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> CommitResult:
        """Commit ``files`` and make ``folder`` hold exactly them (``""``: the whole dataset).

        The base version's files inside ``folder`` that are not in ``files``
        are deleted in the same commit; files outside it are kept. A folder
        holds a path by whole segments (``a/b`` is in ``a``, ``ab/c`` is not);
        ``folder`` is written as a user would (``/data//`` means ``data``).
        The base is ``parent_version_id``, else HEAD when the call starts:
        without a pinned parent, a lost race re-applies the change to the
        newer HEAD, so files someone else committed under ``folder`` meanwhile
        are kept. ``CommitResult.removed`` lists what was really removed.

        Args and raises: as for :meth:`commit`.
        """
        inside = pathsets.as_folder(folder)
        kept = {check_creatable(path) for path in files}
        stale = pathsets.not_mirrored(self._files_or_none(parent_version_id), inside, kept)
        return self.commit(files, message, metadata, parent_version_id, stale, author, progress=progress)

    def remove(
        self,
        paths: Iterable[str],
        message: str,
        metadata: Mapping[str, Any] | None = None,
        parent_version_id: str | None = None,
        author: str | None = None,
    ) -> CommitResult:
        """Commit a new version without ``paths``; a folder's path removes every file in it.

        A path is a file's path in the dataset (``data/a.parquet``) or a
        folder's (``data`` or ``data/``). Every path must match a file of the
        base version (``parent_version_id``, else HEAD), or nothing is
        written. ``CommitResult.removed`` lists the files removed.

        Raises:
            UnsafePathError: a path is absolute, has a ``..`` segment, etc.
            UnmatchedPathError: a path matches no file of the base version (it names each).
            VersionNotFoundError: the dataset has no version yet, or no ``parent_version_id``.
            and everything :meth:`commit` raises.
        """
        if isinstance(paths, str):
            raise TypeError("paths must be a collection of paths, not a string")
        given = [pathsets.removal_path(path) for path in paths]
        base = self.resolve_version(parent_version_id)
        doomed, unmatched = pathsets.matching(self._manifest(base).files, given)
        if unmatched:
            raise UnmatchedPathError(
                f"dataset {self._name!r} version {base} has no file or folder {', '.join(map(repr, unmatched))}",
                unmatched,
            )
        return self.commit({}, message, metadata, parent_version_id, doomed, author)

    def _files_or_none(self, version_id: str | None) -> Mapping[str, FileEntry]:
        """The files of ``version_id``, else of HEAD; none before the first version."""
        if version_id is None:
            version_id = self.head()
            if version_id is None:
                return {}
        return self._manifest(self.resolve_version(version_id)).files

    def push_file(
        self,
        path_or_fileobj: str | os.PathLike[str] | IO[bytes] | IO[str],
        filename: str | None = None,
        message: str | None = None,
        parent_version_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Commit one file (added or replaced) as a new version, without a checkout.

        Args:
            path_or_fileobj: a local path, or a file object, binary or text
                (copied to a temporary file, so memory stays bounded; text is
                written in the file object's encoding, else UTF-8).
            filename: its path in the dataset; defaults to the file's base name.
            message: defaults to ``"Add <filename>"``.
            parent_version_id, metadata: as for :meth:`commit`.

        Raises:
            ValueError: no ``filename`` given for an unnamed file object.
            and everything :meth:`commit` raises.
        """
        if isinstance(path_or_fileobj, (str, os.PathLike)):
            source = Path(path_or_fileobj)
            name = filename or source.name
            return self.commit({name: source}, message or f"Add {name}", metadata, parent_version_id)
        name = filename or Path(str(getattr(path_or_fileobj, "name", ""))).name
        if not name:
            raise ValueError("filename is required for a file object without a name")
        with _spooled_copy(path_or_fileobj) as copy:
            return self.commit({name: copy}, message or f"Add {name}", metadata, parent_version_id)

    def push_tabular_file(
        self,
        path_or_fileobj: str | os.PathLike[str] | IO[bytes] | IO[str],
        filename: str | None = None,
        message: str | None = None,
        parent_version_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Commit one tabular file, ``.csv`` or ``.parquet`` (checked by name), as :meth:`push_file` does.

        Raises:
            TabularFormatError: the file's name ends in neither ``.csv`` nor ``.parquet``.
            and everything :meth:`push_file` raises.
        """
        if filename is None and isinstance(path_or_fileobj, (str, os.PathLike)):
            filename = Path(path_or_fileobj).name
        elif filename is None:
            filename = Path(str(getattr(path_or_fileobj, "name", ""))).name or None
        if filename is None:
            raise ValueError("filename is required for a file object without a name")
        check_tabular(filename)
        return self.push_file(path_or_fileobj, filename, message, parent_version_id, metadata)

    def push_table(
        self,
        table: pa.Table,
        filename: str | None = None,
        message: str | None = None,
        parent_version_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Commit a pyarrow table as one tabular file: CSV when ``filename`` ends in ``.csv``, else Parquet.

        ``filename`` defaults to ``data/<first 16 hex of the content sha256>.parquet``,
        so pushing the same table twice is a no-op and different tables add files.
        Otherwise as :meth:`push_file`.

        Raises:
            TabularFormatError: ``filename`` ends in neither ``.csv`` nor ``.parquet``.
            and everything :meth:`commit` raises.
        """
        file_format = check_tabular(filename) if filename else "parquet"
        with tempfile.TemporaryDirectory(prefix="curation-") as folder:
            path = Path(folder) / f"table.{file_format}"
            write_table(table, path, file_format)
            name = filename or f"data/{objects.hash_file(path).sha256[:16]}.parquet"
            return self.commit({name: path}, message or f"Add {name}", metadata, parent_version_id)

    def push_dataframe(
        self,
        df: pd.DataFrame,
        filename: str | None = None,
        message: str | None = None,
        parent_version_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Commit a pandas DataFrame as one CSV or Parquet file (by ``filename``); see :meth:`push_table`."""
        import pyarrow as pa

        return self.push_table(pa.Table.from_pandas(df), filename, message, parent_version_id, metadata)

    def rollback(self, version_id: str, message: str | None = None, author: str | None = None) -> CommitResult:
        """Commit a new version whose files equal those of ``version_id``.

        History is never rewritten: the old versions stay, and the new one's
        parent is the current HEAD. A no-op if HEAD already has those files.
        The new version's metadata records ``rollback_of``.

        Raises:
            VersionNotFoundError / AmbiguousVersionError: ``version_id`` is unknown.
            and everything :meth:`commit` raises.
        """
        self._check_live()
        target = self.get_version(version_id)
        start = read_head_state(self._backend, self._name)
        current = self._manifest(start.version_id).files if start.version_id else {}
        # Nothing to upload (the target was committed), but its objects that HEAD does not share
        # are verified in full: the new version must not link a damaged one.
        self._check_intact(target, {e.sha256 for e in current.values()})
        change = Change(dict(target.files), frozenset(current.keys() - target.files.keys()))
        request = CommitRequest(
            message or f"Rollback to {target.version_id}",
            author or default_author(),
            {"rollback_of": target.version_id},
            None,
        )
        landed = self._land(change, request, Fence(None if start.lock else start.epoch))
        return CommitResult(
            self._name, landed.version_id, landed.parent, landed.created, attempts=landed.attempts, removed=landed.removed
        )

    def _check_intact(self, version: Version, skip: Collection[str]) -> None:
        seen = set(skip)
        for path, entry in version.files.items():
            if entry.sha256 in seen:
                continue
            seen.add(entry.sha256)
            if not objects.rehash_matches(self._backend, self._name, entry):
                raise CorruptObjectError(
                    f"{self._where(version, path)}: stored object {entry.sha256} is missing or damaged; "
                    f"nothing was committed (repair it with verify(repair_from=...))"
                )

    def _land(self, change: Change, request: CommitRequest, fence: Fence) -> Landed:
        return land(
            self._backend,
            self._name,
            change,
            request,
            policy=self._retry,
            load_manifest=self._manifest,
            check_live=self._check_not_deleted,
            now=self._clock,
            fence=fence,
        )

    def _check_live(self) -> None:
        # Checked before uploading anything; the CAS loop checks soft deletion again per attempt.
        # A server that ignores conditional writes would let commits lose versions: refuse it first.
        ensure_conditional_writes(self._backend)
        if not self._backend.exists(layout.created_key(self._name)):
            raise DatasetNotFoundError(f"dataset {self._name!r} does not exist")
        self._check_not_deleted()

    def _check_not_deleted(self) -> None:
        if self._backend.exists(layout.deleted_key(self._name)):
            raise DatasetDeletedError(
                f"dataset {self._name!r} is deleted; restore_dataset({self._name!r}) to write to it again"
            )

    def verify(self, repair_from: str | os.PathLike[str] | None = None) -> VerifyReport:
        """Read back and re-hash every object of every version reachable from HEAD.

        Args:
            repair_from: a folder (a working copy pulled earlier, the original
                files...); each file there whose content is that of a damaged
                or missing object is uploaded over it and verified again.

        Returns:
            A :class:`~curation_pipeline.store.verify.VerifyReport`; ``ok`` is
            False while an object stays damaged or missing.
        """
        from curation_pipeline.store.verify import verify_objects

        versions = self.list_versions()
        named: dict[str, tuple[FileEntry, str]] = {}
        for version in reversed(versions):  # oldest first: name each object by where it first appeared
            for path, entry in version.files.items():
                named.setdefault(entry.sha256, (entry, f"{entry.sha256} {path!r} (version {version.version_id[:12]})"))
        folder = Path(repair_from) if repair_from is not None else None
        return verify_objects(self._backend, self._name, named, len(versions), folder)

    # -- reading ---------------------------------------------------------------

    def files(self, version_id: str | None = None) -> Mapping[str, FileEntry]:
        """Return the files of a version (HEAD by default): path -> (sha256, size)."""
        return self.get_version(version_id).files

    @contextlib.contextmanager
    def open_file(self, path: str, version_id: str | None = None) -> Iterator[BinaryIO]:
        """Open one file of a version for reading (a context manager), verified.

        Raises:
            PathNotFoundError: the version has no such file.
            CorruptObjectError: the stored content does not match its hash.
            VersionNotFoundError: unknown version.
        """
        version = self.get_version(version_id)
        entry = self._entry(version, path)
        with objects.open_verified(self._backend, self._name, entry, self._where(version, path)) as f:
            yield f

    def read_file(self, path: str, version_id: str | None = None) -> bytes:
        """Return the verified content of one file; raises as :meth:`open_file`."""
        with self.open_file(path, version_id) as f:
            return f.read()

    def read(self, version_id: str | None = None, columns: list[str] | None = None) -> pa.Table:
        """Return all tabular files (``.parquet`` and ``.csv``) of a version as one table.

        Files are concatenated in path order; schemas are unified (missing
        columns become nulls, compatible types are promoted). A version
        without tabular files gives an empty table. CSV column types are
        inferred by pyarrow's CSV reader.

        Raises:
            CorruptObjectError: an object does not match its hash.
            DataSchemaMismatchError: two files give a column clashing types.
            VersionNotFoundError: unknown version.
        """
        import pyarrow as pa

        version = self.get_version(version_id)
        tables = []
        for path in self.tabular_paths(version.version_id):
            entry = version.files[path]
            with objects.open_verified(self._backend, self._name, entry, self._where(version, path)) as f:
                tables.append(read_table(f, check_tabular(path), columns))
        if not tables:
            return pa.table({})
        return concat(tables, f"dataset {self._name!r} version {version.version_id}")

    def tabular_paths(self, version_id: str | None = None) -> list[str]:
        """The paths of a version's tabular files (``.parquet``, ``.csv``), sorted: what :meth:`read` reads."""
        return sorted(path for path in self.files(version_id) if tabular_format(path) is not None)

    def read_pandas(self, version_id: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """Return :meth:`read` as a pandas DataFrame."""
        return self.read(version_id, columns).to_pandas()

    def diff(self, a: str | None, b: str | None = None) -> VersionDiff:
        """Compare version ``a`` (None: the empty dataset) with ``b`` (None: HEAD).

        Returns a :class:`VersionDiff` listing added, removed and changed
        files, with row counts of Parquet files read from their footers.
        """
        a_id = self.resolve_version(a) if a is not None else None
        b_id = self.resolve_version(b)
        a_files = self._manifest(a_id).files if a_id else {}
        return diff_files(self._backend, self._name, (a_id, a_files), (b_id, self._manifest(b_id).files))

    def _entry(self, version: Version, path: str) -> FileEntry:
        try:
            return version.files[path]
        except KeyError:
            raise PathNotFoundError(
                f"dataset {self._name!r} version {version.version_id} has no file {path!r}"
            ) from None

    def _where(self, version: Version, path: str) -> str:
        return f"dataset {self._name!r} version {version.version_id} file {path!r}"

    # -- working copy (Gantry's names) ---------------------------------------------

    def working_copy(self, to: str | os.PathLike[str] | None = None) -> WorkingCopy:
        """The working copy in folder ``to`` (default: :attr:`workdir`, else ``./<the name's key>``)."""
        from curation_pipeline.store.workingcopy import WorkingCopy

        folder = Path(to) if to is not None else (self.workdir or Path(name_key(self._name)))
        return WorkingCopy(self, folder)

    def pull(
        self,
        version_id: str | None = None,
        to: str | os.PathLike[str] | None = None,
        forced: bool = False,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> PullResult:
        """Download a version (HEAD by default) into a folder; see :meth:`WorkingCopy.pull`."""
        return self.working_copy(to).pull(version_id, forced=forced, progress=progress)

    def get_diff(self, to: str | os.PathLike[str] | None = None) -> WorkingCopyDiff:
        """Local changes of the working copy; see :meth:`WorkingCopy.get_diff`."""
        return self.working_copy(to).get_diff()

    def push_version(
        self,
        message: str,
        to: str | os.PathLike[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> CommitResult:
        """Commit the working copy's changes; see :meth:`WorkingCopy.push_version`."""
        return self.working_copy(to).push_version(message, metadata=metadata)

    def stash(self, to: str | os.PathLike[str] | None = None) -> StashResult:
        """Set local changes aside; see :meth:`WorkingCopy.stash`."""
        return self.working_copy(to).stash()

    def restore(self, to: str | os.PathLike[str] | None = None, forced: bool = False) -> StashResult:
        """Bring stashed changes back; see :meth:`WorkingCopy.restore`."""
        return self.working_copy(to).restore(forced=forced)


def _source(path: str, content: FileSource) -> bytes | Path:
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    if isinstance(content, os.PathLike):
        return Path(content)
    raise TypeError(
        f"file {path!r}: content must be bytes or a path (os.PathLike), not {type(content).__name__}"
    )


@contextlib.contextmanager
def _spooled_copy(fileobj: IO[bytes] | IO[str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="curation-") as folder:
        path = Path(folder) / "upload"
        if isinstance(fileobj, io.TextIOBase) or isinstance(fileobj.read(0), str):
            # A text-mode file (as Gantry's examples open files): store its text in its own encoding.
            encoding = getattr(fileobj, "encoding", None) or "utf-8"
            with open(path, "w", encoding=encoding, newline="") as text_out:
                shutil.copyfileobj(fileobj, text_out)  # type: ignore[misc]
        else:
            with open(path, "wb") as out:
                shutil.copyfileobj(fileobj, out)  # type: ignore[misc]
        yield path
