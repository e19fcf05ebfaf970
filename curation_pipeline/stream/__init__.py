"""The production stream: records logged by ML applications, stored as Parquet by UTC day.

    <store>/streams/<application>/date=YYYY-MM-DD/<file>.parquet

Write with :func:`log_records`, read one time window with :func:`open_window`
(files and filter, what the selection engine takes) or :func:`read_window` (a lazy dataset).
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
from curation_pipeline.stream.reader import (
    StreamStats,
    StreamWindow,
    list_applications,
    open_window,
    read_window,
    stream_stats,
)
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
    "StreamWindow",
    "list_applications",
    "log_records",
    "open_window",
    "read_window",
    "stream_stats",
]
