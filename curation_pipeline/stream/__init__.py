"""The production stream: records logged by ML applications, stored as Parquet by UTC day.

    <store>/streams/<application>/date=YYYY-MM-DD/<file>.parquet

Write with :func:`log_records`, read one time window with :func:`read_window`.
"""

from curation_pipeline.stream.errors import (
    CorruptStreamFileError,
    InvalidApplicationNameError,
    InvalidRecordsError,
    InvalidStoreUrlError,
    InvalidWindowError,
    StreamError,
    StreamNotFoundError,
    StreamStorageError,
)
from curation_pipeline.stream.layout import PREFIXES, RECORD_ID, TIME, TIME_TYPE
from curation_pipeline.stream.limits import RecordLimits
from curation_pipeline.stream.reader import StreamStats, list_applications, read_window, stream_stats
from curation_pipeline.stream.writer import LogResult, log_records

__all__ = [
    "PREFIXES",
    "RECORD_ID",
    "TIME",
    "TIME_TYPE",
    "CorruptStreamFileError",
    "InvalidApplicationNameError",
    "InvalidRecordsError",
    "InvalidStoreUrlError",
    "InvalidWindowError",
    "LogResult",
    "RecordLimits",
    "StreamError",
    "StreamNotFoundError",
    "StreamStats",
    "StreamStorageError",
    "list_applications",
    "log_records",
    "read_window",
    "stream_stats",
]
