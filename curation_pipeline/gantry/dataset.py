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
  version's record is returned (ours: a no-op :class:`CommitResult`);
* ``get_dataset`` of a deleted dataset: it is returned, and what it is asked
  to do raises :class:`DatasetDeletedException` (ours: ``get_dataset`` raises);
* ``restore`` with nothing stashed: nothing happens (ours: :class:`WorkingCopyError`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import IO, Any

from curation_pipeline.environment import gantry_dataset_working_dir
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
from curation_pipeline.store import (
    CommitResult,
    Dataset,
    DatasetDeletedError,
    DatasetStore,
)
from curation_pipeline.store.tabular import check_tabular, tabular_format

#: Gantry's folder for tabular files inside a dataset.
TABULAR_FOLDER = "tabular_manifests"

logger = logging.getLogger(__name__)

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

    As Gantry's: a relative path is made absolute (with a logged warning), so a
    later ``os.chdir`` does not move it, and the folder is created. Without a
    call, the current directory when a dataset is opened is used.
    """
    folder = Path(working_dir)
    if not folder.is_absolute():
        logger.warning("%s is not an absolute path, will use %s instead.", folder, folder.resolve())
    folder = folder.resolve()
    folder.mkdir(exist_ok=True)
    with _lock:
        _settings["working_directory"] = folder


def _working_directory() -> Path:
    """The folder set by :func:`set_working_directory`, else ``$GANTRY_DATASET_WORKING_DIR`` (as Gantry), else the cwd."""
    with _lock:
        folder = _settings["working_directory"]
    if folder is None:
        folder = gantry_dataset_working_dir()
    return Path(folder).resolve() if folder is not None else Path.cwd()


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
        "bucket_name",
        bucket_name,
        "the store URL (init(store_url) or $CURATION_STORE_URL) decides where data lives",
    )
    _refuse(
        "app_name",
        app_name,
        "datasets have no application schema here; curators write datasets from streams",
    )
    store = _store()
    return GantryDataset(store.create_dataset(name), store=store)


def get_dataset(name: str, app_name: str | None = None) -> GantryDataset:
    """The dataset ``name``.

    As Gantry's: a deleted dataset is returned with a warning, and each call on
    it that reads or writes its data raises :class:`DatasetDeletedException`.

    Raises:
        DatasetNotFoundError: no such dataset.
    """
    _refuse("app_name", app_name, "datasets have no application schema here")
    store = _store()
    try:
        return GantryDataset(store.get_dataset(name), store=store)
    except DatasetDeletedError:
        _warn(f"dataset {name!r} is marked as deleted")
        return GantryDataset(name, store=store)


def list_datasets(include_deleted: bool = False, model_node_id: str | None = None) -> list[DatasetRecord]:
    """Every dataset as Gantry's record (``name``, ``dataset_id``, ``created_at``), sorted by key.

    Each record also has ``key`` (where it is stored), ``author`` and ``deleted``.
    ``model_node_id`` (Gantry's application filter) is refused: datasets carry
    no application here.
    """
    _refuse("model_node_id", model_node_id, "datasets have no application here")
    store = _store()
    records = []
    live = set(store.list_datasets())
    for name in store.list_datasets(include_deleted=include_deleted):
        created = store.dataset_record(name) or {}
        author = created.get("author")
        records.append(
            DatasetRecord(
                name,
                name_key(name),
                record_time(created),
                author if isinstance(author, str) else None,
                name not in live,
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
        dataset: Dataset | str,
        working_directory: str | os.PathLike[str] | None = None,
        store: DatasetStore | None = None,
    ) -> None:
        self._store = store or _store()
        self.dataset_name = dataset if isinstance(dataset, str) else dataset.name
        folder = Path(working_directory) if working_directory is not None else _working_directory()
        #: The working directory, as Gantry's ``workspace``: the dataset is pulled into a folder under it.
        self.workspace = str(folder)
        #: The dataset's working copy: ``<workspace>/<dataset key>`` (Gantry: ``<workspace>/<dataset name>``).
        self.dataset_folder = str(folder / name_key(self.dataset_name))

    def __repr__(self) -> str:
        return f"GantryDataset({self.dataset_name!r}, dataset_folder={self.dataset_folder!r})"

    @property
    def store_dataset(self) -> Dataset:
        """This project's :class:`Dataset`, opened for each call.

        Raises:
            DatasetDeletedException: the dataset was deleted (as Gantry's calls raise then).
        """
        return self._store.get_dataset(self.dataset_name)

    def _pulled_copy(self) -> Any:
        """The workspace's working copy; Gantry's DatasetNotFoundError when nothing was pulled there."""
        copy = self.store_dataset.working_copy(self.dataset_folder)
        if copy.version_id is None:
            raise DatasetNotFoundError(
                f"Can't find dataset {self.dataset_name} locally in {self.dataset_folder}; please run pull() "
                "to download the dataset into your local workspace."
            )
        return copy

    # --- versions ---------------------------------------------------------------------

    def list_versions(self) -> list[VersionRecord]:
        """Every version, newest first: ``version_id``, ``dataset``, ``message``, ``created_at``,
        ``created_by``, ``is_latest_version`` (and every attribute of :class:`Version`)."""
        versions = self._store.get_dataset(self.dataset_name).list_versions()
        head = versions[0].version_id if versions else None
        return [VersionRecord.of(version, self.dataset_name, head) for version in versions]

    def _record(self, version_id: str) -> VersionRecord:
        return VersionRecord.of(
            self.store_dataset.get_version(version_id),
            self.dataset_name,
            self.store_dataset.head(),
        )

    def _committed(self, result: CommitResult) -> CommitRecord:
        return CommitRecord.of(result, self._record(result.version_id))

    # --- the working copy -------------------------------------------------------------

    def _warn_of_local_changes(self, copy: Any, advice: str) -> bool:
        """Warn (as Gantry does) and return True when the pulled workspace holds local changes."""
        if copy.version_id is None:
            return False
        changes = copy.get_diff()
        if changes.is_empty:
            return False
        _warn(f"{self.dataset_folder} has local changes ({', '.join(changes.paths)}); {advice}")
        return True

    def pull(self, version_id: str | None = None, forced: bool = False) -> PullRecord | None:
        """Make the workspace hold ``version_id`` (None: the latest); Gantry's ``pull(version_id, forced)``.

        Returns the version's record, or None (with a warning, as Gantry) when
        local changes would be lost and ``forced`` is False.
        """
        copy = self.store_dataset.working_copy(self.dataset_folder)
        if not forced and self._warn_of_local_changes(copy, "push or stash them, or pull(forced=True) to discard them"):
            return None
        result = copy.pull(version_id, forced=forced)
        return PullRecord.of(result, self._record(result.version_id))

    def get_diff(self) -> DiffRecord:
        """Local changes: ``new_files``, ``modified_files``, ``deleted_files`` (and ``new``, ``modified``, ``deleted``).

        Raises:
            DatasetNotFoundError: nothing was pulled into the workspace (as Gantry).
        """
        return DiffRecord.of(self._pulled_copy().get_diff())

    def push_version(self, message: str) -> CommitRecord:
        """Commit the workspace's changes as a new version; its record is returned.

        Raises:
            DatasetHeadOutOfDateException: someone pushed since this workspace was pulled.
            DatasetNotFoundError: nothing was pulled into the workspace (as Gantry).
        """
        copy = self._pulled_copy()
        if copy.get_diff().is_empty:
            _warn(f"{self.dataset_folder} has no local change: no version was created")
        return self._committed(copy.push_version(message))

    def stash(self) -> None:
        """Set the workspace's local changes aside (Gantry's ``stash``).

        Raises:
            WorkingCopyError: a stash exists already (Gantry drops it; here it is kept: restore it first).
        """
        self._pulled_copy().stash()

    def restore(self) -> None:
        """Bring stashed changes back (Gantry's ``restore``); with nothing stashed, a warning, as Gantry.

        Raises:
            LocalChangesError: changes made since the stash would be overwritten.
        """
        copy = self._pulled_copy()
        if not copy.has_stash:
            _warn(f"{self.dataset_folder}: no stashed files were found")
            return
        copy.restore()

    def rollback(self, version_id: str, forced: bool = False) -> CommitRecord | None:
        """Make a new latest version equal to ``version_id``, then pull it into the workspace.

        As Gantry: with local changes and ``forced`` False nothing happens (a
        warning, None returned); ``forced=True`` discards them. The pull after
        the rollback means the next :meth:`push_version` builds on it.
        """
        copy = self.store_dataset.working_copy(self.dataset_folder)
        if not forced and self._warn_of_local_changes(copy, "rollback(version_id, forced=True) discards them"):
            return None
        dataset = self.store_dataset
        target = dataset.get_version(version_id).version_id  # a prefix names it in full, as Gantry's message does
        result = dataset.rollback(target, message=f"Rollback dataset to version: {target}")
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

        ``message`` defaults to Gantry's ``"Uploaded <filename> to dataset"``.

        Raises:
            DatasetHeadOutOfDateException: ``parent_version_id`` is not the latest version.
        """
        name = _base_name(file, filename)
        return self._committed(self.store_dataset.push_file(file, name, message or _uploaded(name), parent_version_id))

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
            self.store_dataset.push_tabular_file(
                file,
                f"{TABULAR_FOLDER}/{name}",
                message or _uploaded(name),
                parent_version_id,
            )
        )

    def push_dataframe(
        self,
        dataframe: Any,
        filename: str | None = None,
        message: str | None = None,
        parent_version_id: str | None = None,
    ) -> CommitRecord:
        """Add a pandas DataFrame under ``tabular_manifests/`` as a new version: CSV for ``.csv``, Parquet for ``.parquet``.

        As Gantry's: a ``filename`` ending in neither gets ``.csv`` appended
        (``"frame"`` is ``frame.csv``); without one, the file is
        ``dataframe-<md5 of pandas' hash of the frame>.csv`` (pushing the same
        frame twice adds nothing); ``message`` defaults to ``"Uploaded <filename> to dataset"``.
        """
        import pandas as pd
        import pyarrow as pa

        table = pa.Table.from_pandas(dataframe, preserve_index=False)
        if not filename:
            digest = hashlib.md5(pd.util.hash_pandas_object(dataframe).values, usedforsecurity=False).hexdigest()
            filename = f"dataframe-{digest}.csv"
        elif tabular_format(filename) is None:
            filename = f"{filename}.csv"
        check_tabular(filename)
        return self._committed(
            self.store_dataset.push_table(
                table,
                f"{TABULAR_FOLDER}/{filename}",
                message or _uploaded(filename),
                parent_version_id,
            )
        )

    def delete(self) -> None:
        """Delete this dataset (soft; see :func:`delete_dataset`)."""
        self._store.delete_dataset(self.dataset_name)

    # --- HuggingFace ------------------------------------------------------------------

    def get_huggingface_dataset(
        self,
        hf_dataset_name: str | None = None,
        streaming: bool = False,
        version_id: str | None = None,
    ) -> Any:
        """The workspace's version as a ``datasets.Dataset`` (``IterableDataset`` when ``streaming``).

        Gantry's signature: ``get_huggingface_dataset(hf_dataset_name=None, streaming=False)``.
        Gantry loads the pulled folder; here the version the workspace holds is
        read from the store (its committed files, not uncommitted edits), the
        latest version when nothing was pulled, or ``version_id`` when given.
        One schema across the files; see :func:`curation_pipeline.gantry.hf.load`.

        Raises:
            ValueError: ``hf_dataset_name`` is not a Python identifier (Gantry logs it and returns None).
            NoTabularDataError, DataSchemaMismatchError, HuggingFaceNotInstalledError: see ``hf.load``.
        """
        name = hf.dataset_name(self.dataset_name, hf_dataset_name)
        dataset = self.store_dataset
        if version_id is None:
            version_id = dataset.working_copy(self.dataset_folder).version_id
        return hf.load(dataset, version_id, streaming, name=name)

    def pull_huggingface_dataset_by_version(
        self,
        version_id: str | None = None,
        hf_dataset_name: str | None = None,
        streaming: bool = False,
    ) -> Any:
        """A version (None: the latest) as a ``datasets.Dataset`` (``IterableDataset`` when ``streaming``).

        As Gantry's: read from the store; the workspace is not touched. One
        schema across the files, as :meth:`get_huggingface_dataset`.
        """
        name = hf.dataset_name(self.dataset_name, hf_dataset_name)
        return hf.load(self.store_dataset, version_id, streaming, name=name)


def _base_name(file: Any, filename: str | None) -> str:
    if filename:
        return filename
    if isinstance(file, (str, os.PathLike)):
        return Path(file).name
    name = Path(str(getattr(file, "name", ""))).name
    if not name:
        raise ValueError("filename is required for a file object without a name")
    return name


def _uploaded(filename: str) -> str:
    """Gantry's default message of a single-file push."""
    return f"Uploaded {filename} to dataset"


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
