"""Errors of the window layer."""

from __future__ import annotations

from curation_pipeline.errors import CurationError


class WindowGridError(CurationError, ValueError):
    """A window grid cannot be built (bad interval), or a key names no window of the grid."""


class CuratorStartError(CurationError):
    """The start of a curator could not be read from, or recorded in, the store."""


class CuratorEditError(CurationError):
    """A change to a deployed curator is refused: it would move its dataset or rewrite its history."""


class OverlappingWindowError(CurationError):
    """A window's file would sit beside another window's file covering some of the same time.

    Raised before anything is committed; the dataset is left as it was.
    """


class WindowChangedError(CurationError):
    """A window's file was replaced by another run while this one selected; nothing was committed."""
