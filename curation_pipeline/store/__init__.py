"""The versioned dataset store: content-addressed objects, manifests and HEAD refs.

Layout under one root (a local folder or ``s3://bucket/prefix``)::

    datasets/<name>/objects/<sha[:2]>/<sha[2:]>   file contents, by sha256
    datasets/<name>/versions/<version_id>.json    one manifest per version
    datasets/<name>/HEAD                          the latest version id
    curators/<curator>/start.json                 a curator's first-deployment start (write-once)
    curators/<curator>/grid.json                  a curator's dataset and grid history (compare-and-swap)

Start with :meth:`DatasetStore.open`. This package does not import Dagster.
"""

from curation_pipeline.store.backends import LocalBackend, ObjectBackend, S3Backend
from curation_pipeline.store.commit import CommitResult, RetryPolicy
from curation_pipeline.store.dataset import Dataset
from curation_pipeline.store.diff import FileDiff, VersionDiff
from curation_pipeline.store.errors import (
    AmbiguousVersionError,
    CommitConflictError,
    CorruptHeadError,
    CorruptObjectError,
    DataSchemaMismatchError,
    DatasetDeletedError,
    DatasetExistsError,
    DatasetHeadOutOfDateError,
    DatasetNotDeletedError,
    DatasetNotFoundError,
    InvalidDatasetNameError,
    InvalidManifestError,
    InvalidStoreUrlError,
    KeyNotFoundError,
    LocalChangesError,
    MissingObjectError,
    NoTabularDataError,
    NotFoundError,
    PathNotFoundError,
    StoreAccessError,
    StoreError,
    TabularFormatError,
    UnmatchedPathError,
    UnsafePathError,
    UnsafeStoreError,
    VersionNotFoundError,
    WorkingCopyError,
    WriteConflictError,
)
from curation_pipeline.store.gc import GcReport
from curation_pipeline.store.manifest import FileEntry, Manifest, Version
from curation_pipeline.store.grids import CuratorGridRecord, GridSegment
from curation_pipeline.store.starts import CuratorStartRecord
from curation_pipeline.store.store import DatasetStore
from curation_pipeline.store.verify import VerifyReport
from curation_pipeline.store.workingcopy import PullResult, StashResult, WorkingCopy, WorkingCopyDiff

__all__ = [
    "AmbiguousVersionError",
    "CommitConflictError",
    "CommitResult",
    "CorruptHeadError",
    "CorruptObjectError",
    "CuratorGridRecord",
    "CuratorStartRecord",
    "DataSchemaMismatchError",
    "Dataset",
    "DatasetDeletedError",
    "DatasetExistsError",
    "DatasetHeadOutOfDateError",
    "DatasetNotDeletedError",
    "DatasetNotFoundError",
    "DatasetStore",
    "FileDiff",
    "FileEntry",
    "GcReport",
    "GridSegment",
    "InvalidDatasetNameError",
    "InvalidManifestError",
    "InvalidStoreUrlError",
    "KeyNotFoundError",
    "LocalBackend",
    "LocalChangesError",
    "Manifest",
    "MissingObjectError",
    "NoTabularDataError",
    "NotFoundError",
    "ObjectBackend",
    "PathNotFoundError",
    "PullResult",
    "RetryPolicy",
    "S3Backend",
    "StashResult",
    "StoreAccessError",
    "StoreError",
    "TabularFormatError",
    "UnmatchedPathError",
    "UnsafePathError",
    "UnsafeStoreError",
    "VerifyReport",
    "Version",
    "VersionDiff",
    "VersionNotFoundError",
    "WorkingCopy",
    "WorkingCopyDiff",
    "WorkingCopyError",
    "WriteConflictError",
]
