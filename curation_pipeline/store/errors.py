"""The store's one exception hierarchy.

Every error raised by :mod:`curation_pipeline.store` derives from
:class:`StoreError`, itself a
:class:`~curation_pipeline.errors.CurationError` (except a bad store URL:
:data:`InvalidStoreUrlError` is the location layer's one URL error); where a builtin exception
means the same thing, the store's class inherits it too, so
``except LookupError`` or ``except ValueError`` keep working. Wire errors (boto3/botocore, OSError from
the local folder) are translated into these classes in one place per
backend. Messages name the dataset, version and/or path, and never carry
credentials.
"""

from __future__ import annotations

from collections.abc import Iterable

from curation_pipeline.location import InvalidLocationError
from curation_pipeline.errors import CurationError
from curation_pipeline.names import InvalidNameError


class StoreError(CurationError):
    """Base class of every dataset store error."""


class StoreAccessError(StoreError, OSError):
    """The storage backend could not be reached or refused the request."""


#: A store URL is malformed, has an unsupported scheme or embeds credentials: the
#: one class of :mod:`curation_pipeline.location`, under the name this package has always used.
InvalidStoreUrlError = InvalidLocationError


class InvalidDatasetNameError(StoreError, InvalidNameError):
    """A dataset name breaks the project's naming rule."""


class NotFoundError(StoreError, LookupError):
    """Something that was asked for does not exist."""


class KeyNotFoundError(NotFoundError, FileNotFoundError):
    """A backend key does not exist (raised by backends)."""


class DatasetNotFoundError(NotFoundError):
    """No dataset with that name exists in the store."""


class VersionNotFoundError(NotFoundError):
    """No version with that id (or unique prefix) exists in the dataset."""


class PathNotFoundError(NotFoundError, FileNotFoundError):
    """A version has no file at that path."""


class MissingObjectError(NotFoundError):
    """A version references an object that is not in the store."""


class AmbiguousVersionError(StoreError, LookupError):
    """A version id prefix matches more than one version."""


class DatasetExistsError(StoreError, FileExistsError):
    """A dataset with that name already exists."""


class DatasetDeletedError(StoreError):
    """The dataset is soft-deleted: it refuses writes until restored."""


class DatasetNotDeletedError(StoreError):
    """An operation reserved for soft-deleted datasets (purge) was asked of a live one."""


class WriteConflictError(StoreError):
    """A conditional write lost: the key changed (or appeared) since it was read.

    Raised by backends (S3 412 PreconditionFailed / 409
    ConditionalRequestConflict, or a changed ref on the local folder). The
    commit loop catches it and retries; users normally see
    :class:`CommitConflictError` or :class:`DatasetHeadOutOfDateError`.
    ``in_flight`` is True when the write was refused because another
    conditional write to the key was in progress (S3's 409), not because the
    condition failed. ``retried`` is True when the refusal answered a retry
    of the request: the first attempt may have landed and its reply been
    lost, so the key may hold this very write.
    """

    def __init__(self, message: str, *, in_flight: bool = False, retried: bool = False) -> None:
        super().__init__(message)
        self.in_flight = in_flight
        self.retried = retried


class CommitConflictError(StoreError):
    """A commit kept losing the race for HEAD and gave up after its retry bound."""


class DatasetHeadOutOfDateError(CommitConflictError):
    """``parent_version_id`` was given but HEAD is (or moved to) another version."""


class CorruptObjectError(StoreError):
    """Stored bytes do not match their sha256 (an object or a manifest)."""


class CorruptHeadError(CorruptObjectError):
    """A dataset's HEAD ref is not a version id (damaged, or edited by hand)."""


class InvalidManifestError(StoreError, ValueError):
    """A manifest (or its metadata) is malformed or not canonical JSON-serialisable."""


class UnsafePathError(StoreError, ValueError):
    """A file path is absolute, escapes its folder or uses a reserved/unsafe form."""


class UnsafeStoredPathError(InvalidManifestError, UnsafePathError):
    """A stored manifest names an unsafe path: the store was tampered with (an integrity error)."""


class UnmatchedPathError(StoreError, ValueError):
    """Paths given to :meth:`Dataset.remove` match no file or folder of the base version.

    ``paths`` lists them, in the order given; nothing was written.
    """

    def __init__(self, message: str, paths: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.paths: tuple[str, ...] = tuple(paths)


class TabularFormatError(StoreError, ValueError):
    """A tabular call (push a table or DataFrame, a tabular file) was given a file that is neither ``.csv`` nor ``.parquet``."""


class NoTabularDataError(StoreError, LookupError):
    """A version has no tabular file (``.csv`` or ``.parquet``) where one is needed (loading it as a table)."""


class DataSchemaMismatchError(StoreError, ValueError):
    """The tabular files of a version give one column types that cannot be unified (names the files)."""


class WorkingCopyError(StoreError):
    """A folder is not a working copy of this dataset, or its state is unusable."""


class LocalChangesError(StoreError):
    """An operation would overwrite local changes in a working copy.

    ``paths`` lists the changed files (relative, sorted).
    """

    def __init__(self, message: str, paths: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.paths: tuple[str, ...] = tuple(sorted(paths))


class UnsafeStoreError(StoreError):
    """The store's server does not honour conditional writes, so a commit could silently lose a version.

    Raised before the first commit through such a location writes anything.
    ``missing`` names the capabilities it lacks (see
    :mod:`curation_pipeline.store.capabilities`).
    """

    def __init__(self, message: str, missing: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.missing: tuple[str, ...] = tuple(missing)
