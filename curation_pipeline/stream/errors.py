"""The stream layer's exceptions: one base class, specific subclasses.

:class:`StreamError` derives from the project's root,
:class:`~curation_pipeline.errors.CurationError`. Each subclass also inherits
the builtin it resembles, so callers that only know Python's vocabulary
(``except ValueError``) still catch it.
"""

from __future__ import annotations

from curation_pipeline.location import InvalidLocationError
from curation_pipeline.errors import CurationError
from curation_pipeline.names import InvalidNameError


class StreamError(CurationError):
    """Base class of every error raised by :mod:`curation_pipeline.stream`."""


class InvalidApplicationNameError(StreamError, InvalidNameError):
    """An application name breaks the shared naming rule."""


class InvalidRecordsError(StreamError, ValueError):
    """A batch of records does not follow the record format; nothing was written."""


class InvalidWindowError(StreamError, ValueError):
    """A time window is malformed (for example ``end`` before ``start``)."""


#: A store URL is malformed, unsupported or embeds credentials: the one class of
#: :mod:`curation_pipeline.location`, under the name this package has always used.
InvalidStoreUrlError = InvalidLocationError


class StreamStorageError(StreamError, OSError):
    """The store could not be read or written (missing bucket, permissions, network...)."""


class StreamNotFoundError(StreamStorageError, FileNotFoundError):
    """The store holds no stream at all: its S3 bucket, or its ``streams/`` folder, does not exist.

    Raised by readers instead of an empty result, so a mistyped bucket or
    prefix fails loudly; an application without data in an existing stream
    still reads as empty.
    """


class CorruptStreamFileError(StreamStorageError):
    """A file under the stream layout is unreadable or breaks the record format."""
