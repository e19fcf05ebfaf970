"""Gantry's exception names, as aliases of this project's classes (one hierarchy).

``except DatasetHeadOutOfDateException`` catches exactly what ``except
DatasetHeadOutOfDateError`` does: each name below *is* our class, so every
error still derives from :class:`~curation_pipeline.errors.CurationError` and
the builtins it already extends (``LookupError``, ``ValueError`` ...).
"""

from __future__ import annotations

from curation_pipeline.errors import CurationError
from curation_pipeline.registry import CuratorNotFoundError
from curation_pipeline.store import (
    DataSchemaMismatchError,
    DatasetDeletedError,
    DatasetExistsError,
    DatasetHeadOutOfDateError,
    DatasetNotFoundError,
    LocalChangesError,
    NoTabularDataError,
    StoreError,
    VersionNotFoundError,
)

#: Gantry's root of every SDK error: here, the root of every library error.
GantryException = CurationError
#: A push whose parent is no longer HEAD (Gantry's name).
DatasetHeadOutOfDateException = DatasetHeadOutOfDateError
#: The dataset is (soft-)deleted (Gantry's name).
DatasetDeletedException = DatasetDeletedError
#: No version with that id (Gantry calls a version a commit here).
DatasetCommitNotFoundError = VersionNotFoundError


class GantryCompatWarning(CurationError, UserWarning):
    """Issued where Gantry warns and carries on (see :mod:`curation_pipeline.gantry.dataset`).

    A :class:`CurationError` too, so ``warnings.simplefilter("error")`` turns it
    into an error the usual boundaries catch.
    """


class HuggingFaceNotInstalledError(CurationError, ImportError):
    """The HuggingFace ``datasets`` package is missing; the message says how to install it."""


__all__ = [
    "CurationError",
    "CuratorNotFoundError",
    "DataSchemaMismatchError",
    "DatasetCommitNotFoundError",
    "DatasetDeletedError",
    "DatasetDeletedException",
    "DatasetExistsError",
    "DatasetHeadOutOfDateError",
    "DatasetHeadOutOfDateException",
    "DatasetNotFoundError",
    "GantryCompatWarning",
    "GantryException",
    "HuggingFaceNotInstalledError",
    "LocalChangesError",
    "NoTabularDataError",
    "StoreError",
    "VersionNotFoundError",
]
