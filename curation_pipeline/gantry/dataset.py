"""Gantry's datasets API (``gantry.dataset``) over this project's store.

Gantry code ports by changing one import::

    import gantry.dataset as gdataset                    # Gantry
    import curation_pipeline.gantry.dataset as gdataset  # here

The module functions (:func:`create_dataset`, :func:`get_dataset`,
:func:`list_datasets`, :func:`list_dataset_versions`, :func:`delete_dataset`,
:func:`set_working_directory`) and :class:`GantryDataset`'s methods take
Gantry's arguments in Gantry's order and return Gantry's records; each record
is also this project's typed value (see :mod:`curation_pipeline.gantry.records`).

The store is ``$CURATION_STORE_URL`` (else ``./.curation``), or the one
:func:`init` names. A dataset's working copy is ``<working directory>/<dataset key>``.

Where Gantry warns and carries on, so does this module (a
:class:`GantryCompatWarning`; this project's own API raises instead):

* ``pull`` or ``rollback`` with local changes and ``forced=False``: nothing is
  changed and None is returned (ours: :class:`LocalChangesError`);
* ``push_version`` with no local change: no version is made and the current
  version's record is returned (ours: a no-op :class:`CommitResult`).
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import warnings
from pathlib import Path
from typing import IO, Any

from curation_pipeline.gantry import hf
from curation_pipeline.gantry.exceptions import (
    DataSchemaMismatchError,
    DatasetCommitNotFoundError,
    DatasetDeletedException,
    DatasetHeadOutOfDateException,
    DatasetNotFoundError,
    GantryCompatWarning,
    HuggingFaceNotInstalledError,
    NoTabularDataError,
)
from curation_pipeline.gantry.records import (
    CommitRecord,
    DatasetRecord,
    DiffRecord,
    PullRecord,
    VersionRecord,
    record_time,
)
from curation_pipeline.names import name_key
from curation_pipeline.store import CommitResult, Dataset, DatasetStore
from curation_pipeline.store.tabular import check_tabular

#: Gantry's folder for tabular files inside a dataset.
TABULAR_FOLDER = "tabular_manifests"

_lock = threading.Lock()
_settings: dict[str, Any] = {"store": None, "working_directory": None}


# --- configuration ----------------------------------------------------------------


def init(store_url: str | os.PathLike[str] | None = None, **store_options: Any) -> DatasetStore:
    """Use the store at ``store_url`` (None: ``$CURATION_STORE_URL``, else ``./.curation``) from now on.

    Gantry's ``gantry.init(api_key=...)`` names a server; here the store is the
    server. ``store_options`` go to :meth:`DatasetStore.open` (S3 ``endpoint_url`` ...).
    """
    store = DatasetStore.open(store_url, **store_options)
    with _lock:
        _settings["store"] = store
    return store


def _store() -> DatasetStore:
    with _lock:
        if _settings["store"] is None:
            _settings["store"] = DatasetStore.open()
        return _settings["store"]


def set_working_directory(working_dir: str | os.PathLike[str]) -> None:
    """Set the folder under which datasets are pulled (each into ``<working_dir>/<dataset key>``).

    As Gantry's: the default is the current directory when a dataset is opened.
    """
    with _lock:
        _settings["working_directory"] = Path(working_dir)


def _working_directory() -> Path:
    with _lock:
        folder = _settings["working_directory"]
    return Path(folder) if folder is not None else Path.cwd()


# --- module functions ---------------------------------------------------------------


def create_dataset(name: str, bucket_name: str | None = None, app_name: str | None = None) -> GantryDataset:
    """Create an empty dataset ``name`` and return it.

    ``bucket_name`` and ``app_name`` are Gantry's: the store decides where
    data lives, and datasets carry no application schema here, so both are
    refused when given rather than silently ignored.

    Raises:
        DatasetExistsError: it exists. NameCollisionError: another name has its key.
        InvalidDatasetNameError: the name breaks the naming rule.
    """
    _refuse(
        "bucket_name", bucket_name, "the store URL (init(store_url) or $CURATION_STORE_URL) decides where data lives"
    )
    _refuse("app_name", app_name, "datasets have no application schema here; curators write datasets from streams")
    store = _store()
    return GantryDataset(store.create_dataset(name), store=store)


def get_dataset(name: str, app_name: str | None = None) -> GantryDataset:
    """The dataset ``name``.

    Raises:
        DatasetNotFoundError: no such dataset. DatasetDeletedException: it is deleted.
    """
    _refuse("app_name", app_name, "datasets have no application schema here")
    store = _store()
    return GantryDataset(store.get_dataset(name), store=store)


def list_datasets(include_deleted: bool = False) -> list[DatasetRecord]:
    """Every dataset as Gantry's record (``name``, ``dataset_id``, ``created_at``), sorted by key.

    Each record also has ``key`` (where it is stored), ``author`` and ``deleted``.
    """
    store = _store()
    records = []
    live = set(store.list_datasets())
    for name in store.list_datasets(include_deleted=include_deleted):
        created = store.dataset_record(name) or {}
        author = created.get("author")
        records.append(
            DatasetRecord(
                name, name_key(name), record_time(created), author if isinstance(author, str) else None, name not in live
            )
        )
    return records


def list_dataset_versions(dataset_name: str) -> list[VersionRecord]:
    """The versions of ``dataset_name``, newest first, as Gantry's records; see :meth:`GantryDataset.list_versions`."""
    return get_dataset(dataset_name).list_versions()


def delete_dataset(name: str) -> None:
    """Delete ``name`` (soft: ``curation datasets restore`` brings it back; ``purge`` removes it)."""
    _store().delete_dataset(name)


def _refuse(argument: str, value: object, why: str) -> None:
    if value is not None:
        raise ValueError(f"{argument}={value!r} is not supported: {why}")


# --- the dataset ----------------------------------------------------------------------


class GantryDataset:
    """A dataset with Gantry's methods; :attr:`store_dataset` is this project's :class:`Dataset`."""

    def __init__(
        self,
        dataset: Dataset,
        working_directory: str | os.PathLike[str] | None = None,
        store: DatasetStore | None = None,
    ) -> None:
        self.store_dataset = dataset
        self._store = store or _store()
        self.dataset_name = dataset.name
        folder = Path(working_directory) if working_directory is not None else _working_directory()
        #: The dataset's working copy (Gantry's ``workspace``): ``<working directory>/<dataset key>``.
        self.workspace = str(folder / name_key(dataset.name))

    def __repr__(self) -> str:
        return f"GantryDataset({self.dataset_name!r}, workspace={self.workspace!r})"

    # --- versions ---------------------------------------------------------------------

    def list_versions(self) -> list[VersionRecord]:
        """Every version, newest first: ``version_id``, ``dataset``, ``message``, ``created_at``,
        ``created_by``, ``is_latest_version`` (and every attribute of :class:`Version`)."""
        versions = self.store_dataset.list_versions()
        head = versions[0].version_id if versions else None
        return [VersionRecord.of(version, self.dataset_name, head) for version in versions]

    def _record(self, version_id: str) -> VersionRecord:
        return VersionRecord.of(self.store_dataset.get_version(version_id), self.dataset_name, self.store_dataset.head())

    def _committed(self, result: CommitResult) -> CommitRecord:
        return CommitRecord.of(result, self._record(result.version_id))

    # --- the working copy -------------------------------------------------------------

    def pull(self, version_id: str | None = None, forced: bool = False) -> PullRecord | None:
        """Make the workspace hold ``version_id`` (None: the latest); Gantry's ``pull(version_id, forced)``.

        Returns the version's record, or None (with a warning, as Gantry) when
        local changes would be lost and ``forced`` is False.
        """
        copy = self.store_dataset.working_copy(self.workspace)
        if not forced and copy.version_id is not None:
            changes = copy.get_diff()
            if not changes.is_empty:
                _warn(
                    f"{self.workspace} has local changes ({', '.join(changes.paths)}); "
                    "push or stash them, or pull(forced=True) to discard them"
                )
                return None
        result = copy.pull(version_id, forced=forced)
        return PullRecord.of(result, self._record(result.version_id))

    def get_diff(self) -> DiffRecord:
        """Local changes: ``new_files``, ``modified_files``, ``deleted_files`` (and ``new``, ``modified``, ``deleted``)."""
        return DiffRecord.of(self.store_dataset.working_copy(self.workspace).get_diff())

    def push_version(self, message: str) -> CommitRecord:
        """Commit the workspace's changes as a new version; its record is returned.

        Raises:
            DatasetHeadOutOfDateException: someone pushed since this workspace was pulled.
        """
        copy = self.store_dataset.working_copy(self.workspace)
        if copy.get_diff().is_empty:
            _warn(f"{self.workspace} has no local change: no version was created")
        return self._committed(copy.push_version(message))

    def stash(self) -> None:
        """Set the workspace's local changes aside (Gantry's ``stash``)."""
        self.store_dataset.working_copy(self.workspace).stash()

    def restore(self) -> None:
        """Bring stashed changes back (Gantry's ``restore``)."""
        self.store_dataset.working_copy(self.workspace).restore()

    def rollback(self, version_id: str, forced: bool = False) -> CommitRecord | None:
        """Make a new latest version equal to ``version_id``, then pull it into the workspace.

        As Gantry: with local changes and ``forced`` False nothing happens (a
        warning, None returned); ``forced=True`` discards them. The pull after
        the rollback means the next :meth:`push_version` builds on it.
        """
        copy = self.store_dataset.working_copy(self.workspace)
        if not forced and copy.version_id is not None:
            changes = copy.get_diff()
            if not changes.is_empty:
                _warn(
                    f"{self.workspace} has local changes ({', '.join(changes.paths)}); "
                    "rollback(version_id, forced=True) discards them"
                )
                return None
        result = self.store_dataset.rollback(version_id)
        copy.pull(result.version_id, forced=True)
        return self._committed(result)

    # --- pushing without a checkout ---------------------------------------------------

    def push_file(
        self,
        file: IO[bytes] | IO[str] | str | os.PathLike[str],
        filename: str | None = None,
        message: str | None = None,
        parent_version_id: str | None = None,
    ) -> CommitRecord:
        """Add or replace one file (binary or text file object, or a path) as a new version.

        Raises:
            DatasetHeadOutOfDateException: ``parent_version_id`` is not the latest version.
        """
        return self._committed(self.store_dataset.push_file(file, filename, message, parent_version_id))

    def push_tabular_file(
        self,
        file: IO[bytes] | IO[str] | str | os.PathLike[str],
        filename: str | None = None,
        message: str | None = None,
        parent_version_id: str | None = None,
    ) -> CommitRecord:
        """Add a ``.csv`` or ``.parquet`` file under ``tabular_manifests/`` as a new version.

        Raises:
            TabularFormatError: the name ends in neither ``.csv`` nor ``.parquet``.
        """
        name = _base_name(file, filename)
        check_tabular(name)
        return self._committed(
            self.store_dataset.push_tabular_file(file, f"{TABULAR_FOLDER}/{name}", message, parent_version_id)
        )

    def push_dataframe(
        self,
        dataframe: Any,
        filename: str | None = None,
        message: str | None = None,
        parent_version_id: str | None = None,
    ) -> CommitRecord:
        """Add a pandas DataFrame under ``tabular_manifests/`` as a new version: CSV for ``.csv``, Parquet for ``.parquet``.

        Without ``filename``, the file is ``<16 hex of its content's sha256>.csv``
        (pushing the same frame twice adds nothing).

        Raises:
            TabularFormatError: ``filename`` ends in neither ``.csv`` nor ``.parquet``.
        """
        import pyarrow as pa

        table = pa.Table.from_pandas(dataframe, preserve_index=False)
        if filename is None:
            text = io.BytesIO()
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, text)
            filename = f"{hashlib.sha256(text.getvalue()).hexdigest()[:16]}.csv"
        check_tabular(filename)
        return self._committed(
            self.store_dataset.push_table(table, f"{TABULAR_FOLDER}/{filename}", message, parent_version_id)
        )

    def delete(self) -> None:
        """Delete this dataset (soft; see :func:`delete_dataset`)."""
        self._store.delete_dataset(self.dataset_name)

    # --- HuggingFace ------------------------------------------------------------------

    def get_huggingface_dataset(self, version_id: str | None = None, streaming: bool = False) -> Any:
        """The version's tabular files as a ``datasets.Dataset`` (``IterableDataset`` when ``streaming``).

        Read from the store, no pull needed; one schema across the files. See
        :func:`curation_pipeline.gantry.hf.load`.
        """
        return hf.load(self.store_dataset, version_id, streaming)

    def pull_huggingface_dataset_by_version(self, version_id: str | None = None, streaming: bool = False) -> Any:
        """Pull the version (None: the latest) into the workspace, then load the pulled files as
        :meth:`get_huggingface_dataset` loads the stored ones (one schema across the files).

        Raises:
            LocalChangesError: the workspace has local changes the pull would lose.
            and what :meth:`get_huggingface_dataset` raises.
        """
        hf.require_datasets()
        copy = self.store_dataset.working_copy(self.workspace)
        pulled = copy.pull(version_id)
        version = self.store_dataset.get_version(pulled.version_id)
        return hf.load(hf.PulledVersion(self.dataset_name, copy.root, version), pulled.version_id, streaming)


def _base_name(file: Any, filename: str | None) -> str:
    if filename:
        return filename
    if isinstance(file, (str, os.PathLike)):
        return Path(file).name
    name = Path(str(getattr(file, "name", ""))).name
    if not name:
        raise ValueError("filename is required for a file object without a name")
    return name


def _warn(message: str) -> None:
    warnings.warn(message, GantryCompatWarning, stacklevel=3)


__all__ = [
    "DataSchemaMismatchError",
    "DatasetCommitNotFoundError",
    "DatasetDeletedException",
    "DatasetHeadOutOfDateException",
    "DatasetNotFoundError",
    "GantryCompatWarning",
    "GantryDataset",
    "HuggingFaceNotInstalledError",
    "NoTabularDataError",
    "create_dataset",
    "delete_dataset",
    "get_dataset",
    "init",
    "list_dataset_versions",
    "list_datasets",
    "set_working_directory",
]
