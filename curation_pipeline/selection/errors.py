"""Errors raised by the selection engine.

One base, :class:`SelectionError` (a
:class:`~curation_pipeline.errors.CurationError`); each subclass also
inherits the matching builtin so callers that only know Python's exceptions
still catch them.
"""

from __future__ import annotations

from collections.abc import Iterable

from curation_pipeline.errors import CurationError


class SelectionError(CurationError):
    """Base of every error the selection engine raises."""


class MissingFieldError(SelectionError, LookupError):
    """A selector names a field that is not a column of the data."""

    def __init__(self, field: str, columns: Iterable[str], *, where: str = "") -> None:
        self.field = field
        self.columns = tuple(columns)
        prefix = f"{where}: " if where else ""
        listed = ", ".join(repr(c) for c in self.columns) or "(none)"
        super().__init__(f"{prefix}field {field!r} is not a column of the data; columns are: {listed}")

    def __str__(self) -> str:
        # KeyError-style quoting would wrap the whole message in quotes; keep it readable.
        return str(self.args[0])


class FieldTypeError(SelectionError, TypeError):
    """A filter value or a sampling field does not fit the column's type."""


class SchemaMismatchError(SelectionError, TypeError):
    """Two parts of one window (records already curated, records that arrived late) disagree on column types."""
