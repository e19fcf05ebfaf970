"""The store: a root URL holding named datasets."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

from curation_pipeline.clock import Clock, utc_now
from curation_pipeline.location import Location
from curation_pipeline.names import NAME_PATTERN, InvalidNameError, check_name, collision, name_key
from curation_pipeline.parallel import check_max_workers
from curation_pipeline.store import layout
from curation_pipeline.store.backends.base import ObjectBackend, RefToken
from curation_pipeline.store.commit import RetryPolicy
from curation_pipeline.store.dataset import DEFAULT_MAX_WORKERS, Dataset, default_author
from curation_pipeline.store.errors import (
    DatasetDeletedError,
    DatasetExistsError,
    DatasetNotDeletedError,
    DatasetNotFoundError,
    InvalidDatasetNameError,
    InvalidManifestError,
    KeyNotFoundError,
)
from curation_pipeline.store.gc import DEFAULT_GRACE_PERIOD, GcReport, collect_dataset
from curation_pipeline.store.manifest import canonical_json, format_time
from curation_pipeline.store.grids import CuratorGridRecord
from curation_pipeline.store.starts import CuratorStartRecord
from curation_pipeline.store.url import open_backend


class DatasetStore:
    """Named, versioned datasets under one root (a local folder or ``s3://bucket/prefix``)."""

    def __init__(
        self,
        backend: ObjectBackend,
        *,
        retry: RetryPolicy | None = None,
        gc_grace_period: timedelta = DEFAULT_GRACE_PERIOD,
        clock: Clock = utc_now,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        """Wrap ``backend``.

        Args:
            backend: where the bytes live.
            retry: how commits retry a lost race for HEAD (default 20 attempts).
            gc_grace_period: unreachable items younger than this are never
                collected (protects commits in flight; default one hour).
            clock: returns the current UTC time (for manifests and gc).
            max_workers: how many files a commit or pull hashes and
                transfers at once (default 8; 1 moves one file at a time).
        """
        if gc_grace_period < timedelta(0):
            raise ValueError("gc_grace_period must not be negative")
        self._backend = backend
        self._retry = retry or RetryPolicy()
        self._grace = gc_grace_period
        self._clock = clock
        self._max_workers = check_max_workers(max_workers)

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str] | None = None,
        *,
        location: Location | None = None,
        retry: RetryPolicy | None = None,
        gc_grace_period: timedelta = DEFAULT_GRACE_PERIOD,
        max_workers: int = DEFAULT_MAX_WORKERS,
        deadline: float | None = None,
        **backend_options: Any,
    ) -> DatasetStore:
        """Open the store at ``url``.

        Args:
            url: ``s3://bucket/prefix``, ``file:///path`` or a plain path;
                None means ``$CURATION_STORE_URL``, else ``./.curation``
                (resolved now, not at import time).
            location: an already resolved
                :class:`~curation_pipeline.location.Location`, instead of
                ``url`` and the S3 options.
            retry, gc_grace_period, max_workers: see :class:`DatasetStore`.
            deadline: for S3, the seconds each request keeps being retried
                (through 5xx, throttling, resets, timeouts) before the
                operation fails; default ``$CURATION_S3_DEADLINE``, else 60.
                A request to an endpoint that never answers fails within
                the deadline plus one attempt's connect and read timeouts
                (5 + 20 s), see :class:`~curation_pipeline.location.S3Limits`.
                It shapes the clients the store builds, not an injected one.
            backend_options: for S3: ``client`` (a boto3 client),
                ``endpoint_url``, ``region_name``, ``aws_access_key_id``,
                ``aws_secret_access_key``, ``aws_session_token``,
                ``profile_name``; otherwise the settings of
                :func:`~curation_pipeline.location.resolve_location` apply.

        Raises:
            InvalidStoreUrlError: the URL is unsupported or embeds credentials,
                or the deadline is not a positive number of seconds.
        """
        return cls(
            open_backend(url, location=location, deadline=deadline, **backend_options),
            retry=retry,
            gc_grace_period=gc_grace_period,
            max_workers=max_workers,
        )

    def __repr__(self) -> str:
        return f"DatasetStore({self.url!r})"

    @property
    def url(self) -> str:
        """The store root URL, safe to show (never holds credentials)."""
        return self._backend.url

    @property
    def backend(self) -> ObjectBackend:
        """The storage backend."""
        return self._backend

    # -- datasets --------------------------------------------------------------

    def create_dataset(self, name: str, exist_ok: bool = False) -> Dataset:
        """Create an empty dataset and return it.

        Raises:
            InvalidDatasetNameError: ``name`` breaks the naming rule.
            DatasetExistsError: it exists (unless ``exist_ok``).
            DatasetDeletedError: a soft-deleted dataset has that name (restore or purge it).
        """
        _check(name)
        self._check_same_name(name)
        if self._backend.exists(layout.deleted_key(name)):
            raise DatasetDeletedError(f"dataset {name!r} exists but is deleted; restore or purge it first")
        record = canonical_json({"name": name, "created_at": format_time(self._clock()), "author": default_author()})
        if not self._backend.put_if_absent(layout.created_key(name), record):
            self._check_same_name(name)  # another name may have taken the key meanwhile
            if not exist_ok:
                raise DatasetExistsError(f"dataset {name!r} already exists in {self.url}")
        return self._dataset(name)

    def dataset_record(self, name: str) -> dict[str, Any] | None:
        """The creation record of the dataset stored under ``name``'s key (None: no dataset there).

        Its ``name`` is the name the dataset was created with, which may differ
        from ``name`` when two names share a key.
        """
        try:
            data = self._backend.get_bytes(layout.created_key(name))
        except KeyNotFoundError:
            return None
        try:
            record = json.loads(data)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("name"), str):
            raise InvalidManifestError(f"dataset {name!r}: the creation record {layout.created_key(name)} is unreadable")
        return record

    def _check_same_name(self, name: str) -> None:
        """Raise NameCollisionError when the dataset under ``name``'s key was created with another name."""
        record = self.dataset_record(name)
        if record is not None and record["name"] != name:
            raise collision("dataset", record["name"], name, name_key(name))

    def get_dataset(self, name: str, workdir: str | os.PathLike[str] | None = None) -> Dataset:
        """Return the dataset ``name``.

        Args:
            workdir: the default working-copy folder for pull/get_diff/push_version.

        Raises:
            InvalidDatasetNameError, DatasetNotFoundError,
            DatasetDeletedError: it is soft-deleted.
        """
        self._require_exists(name)
        if self._backend.exists(layout.deleted_key(name)):
            raise DatasetDeletedError(f"dataset {name!r} is deleted; restore_dataset({name!r}) to use it")
        return self._dataset(name, workdir)

    def list_datasets(self, include_deleted: bool = False) -> list[str]:
        """Return the names of the datasets (as created), sorted by key; soft-deleted ones only if asked."""
        names = []
        for key in self._backend.list_children(layout.DATASETS):
            if not NAME_PATTERN.fullmatch(key):
                continue  # not ours
            record = self.dataset_record(key)
            if record is None:
                continue
            if include_deleted or not self._backend.exists(layout.deleted_key(key)):
                names.append(record["name"])
        return names

    def delete_dataset(self, name: str) -> None:
        """Soft-delete ``name``: hidden from listings, refuses writes, recoverable.

        Raises:
            DatasetNotFoundError: no such dataset.
        """
        self._require_exists(name)
        record = canonical_json({"deleted_at": format_time(self._clock()), "author": default_author()})
        self._backend.put_if_absent(layout.deleted_key(name), record)

    def restore_dataset(self, name: str) -> Dataset:
        """Undo :meth:`delete_dataset` (a no-op for a live dataset) and return the dataset.

        Raises:
            DatasetNotFoundError: no such dataset (or it was purged).
        """
        self._require_exists(name)
        self._backend.delete(layout.deleted_key(name))
        return self._dataset(name)

    def purge_dataset(self, name: str) -> None:
        """Remove every object, manifest and ref of a soft-deleted dataset. Irreversible.

        Raises:
            DatasetNotDeletedError: the dataset is not soft-deleted.
            DatasetNotFoundError: no such dataset.
        """
        _check(name)
        if not self._backend.exists(layout.deleted_key(name)):
            self._require_exists(name)
            raise DatasetNotDeletedError(f"dataset {name!r} is not deleted; delete_dataset() it first")
        keys = [info.key for info in self._backend.list(layout.dataset_prefix(name))]
        # The DELETED marker goes last: an interrupted purge stays a deleted dataset and can be re-run.
        self._backend.delete_many(k for k in keys if k != layout.deleted_key(name))
        self._backend.delete(layout.deleted_key(name))
        self._backend.remove_prefix(layout.dataset_prefix(name))

    def gc(
        self, name: str | None = None, dry_run: bool = False, grace_period: timedelta | None = None
    ) -> GcReport:
        """Remove manifests and objects that no version reachable from HEAD needs.

        Args:
            name: one dataset, or None for every dataset (deleted ones too).
            dry_run: only report what would be removed.
            grace_period: override the store's grace period; unreachable
                items younger than this are kept (they may belong to a commit
                in flight). See :mod:`curation_pipeline.store.gc`.

        Returns:
            A :class:`GcReport`.
        """
        grace = self._grace if grace_period is None else grace_period
        if grace < timedelta(0):
            raise ValueError("grace_period must not be negative")
        names = [name] if name is not None else self.list_datasets(include_deleted=True)
        if name is not None:
            self._require_exists(name)
        now = self._clock()
        report = GcReport(dry_run, grace)
        for dataset in names:
            report = report + collect_dataset(self._backend, dataset, grace_period=grace, now=now, dry_run=dry_run)
        return report

    # -- curator starts --------------------------------------------------------

    def curator_start(self, curator: str) -> CuratorStartRecord | None:
        """The recorded first-deployment start of ``curator``, None when none is recorded yet.

        Raises:
            InvalidNameError: ``curator`` breaks the naming rule.
            InvalidManifestError: the record is unreadable.
        """
        key = layout.curator_start_key(check_name(curator, "curator"))
        try:
            data = self._backend.get_bytes(key)
        except KeyNotFoundError:
            return None
        return CuratorStartRecord.from_json(data, key=key)

    def record_curator_start(self, curator: str, start: datetime) -> CuratorStartRecord:
        """Record ``start`` as the start of ``curator`` unless a start is recorded already.

        The write is create-if-absent: of two callers recording at once, one
        wins and both get the winner's record. A recorded start never changes.

        Args:
            curator: the curator's name.
            start: the start of its first window (timezone-aware).

        Returns:
            The record that holds: this call's, or the one recorded before it.

        Raises:
            InvalidNameError: ``curator`` breaks the naming rule.
            InvalidManifestError: ``start`` is naive, or the existing record is unreadable.
        """
        key = layout.curator_start_key(check_name(curator, "curator"))
        record = CuratorStartRecord(curator, start, self._clock(), default_author())
        self._backend.put_if_absent(key, record.to_json())
        # Read back rather than trust who won: the stored record is the one every reader sees.
        held = self.curator_start(curator)
        if held is None:  # nothing deletes a start record: someone removed it by hand meanwhile
            raise KeyNotFoundError(f"{key} vanished right after it was written")
        return held

    # -- curator grids ---------------------------------------------------------

    def curator_grid(self, curator: str) -> tuple[CuratorGridRecord, RefToken] | None:
        """The grid record of ``curator`` and its token for :meth:`write_curator_grid`, None if none.

        Raises:
            InvalidNameError: ``curator`` breaks the naming rule.
            InvalidManifestError: the record is unreadable.
        """
        key = layout.curator_grid_key(check_name(curator, "curator"))
        ref = self._backend.read_ref(key)
        if ref is None:
            return None
        return CuratorGridRecord.from_json(ref.data, key=key), ref.token

    def write_curator_grid(self, record: CuratorGridRecord, expected: RefToken | None) -> None:
        """Replace the grid record of ``record.curator`` only if it is still as read (compare-and-swap).

        Args:
            record: the new record.
            expected: the token :meth:`curator_grid` returned, None to require that no record exists.

        Raises:
            WriteConflictError: the record changed (or appeared) since it was read.
        """
        key = layout.curator_grid_key(check_name(record.curator, "curator"))
        self._backend.swap_ref(key, record.to_json(), expected)

    def recorded_curators(self) -> list[str]:
        """Names of the curators with a start or grid record in this store, sorted."""
        return sorted(name.rstrip("/") for name in self._backend.list_children(layout.CURATORS))

    # -- helpers ---------------------------------------------------------------

    def _dataset(self, name: str, workdir: str | os.PathLike[str] | None = None) -> Dataset:
        return Dataset(
            self._backend,
            name,
            retry=self._retry,
            gc_grace_period=self._grace,
            clock=self._clock,
            workdir=workdir,
            max_workers=self._max_workers,
        )

    def _require_exists(self, name: str) -> None:
        _check(name)
        record = self.dataset_record(name)
        if record is None:
            raise DatasetNotFoundError(f"dataset {name!r} not found in {self.url}")
        if record["name"] != name:
            raise collision("dataset", record["name"], name, name_key(name))


def _check(name: str) -> None:
    try:
        check_name(name, "dataset")
    except InvalidNameError as exc:
        raise InvalidDatasetNameError(str(exc)) from None
