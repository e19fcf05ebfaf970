"""What a caller hands the engine to select from a filtered Parquet dataset: the dataset and the filter, apart.

pyarrow's ``Dataset.filter`` returns a dataset that hides both its files and
its filter from the public API, so the engine could only read it as one
opaque piece (the slow path). A caller that knows the filter hands it over
beside the unfiltered dataset instead; the engine then reads row group by
row group, skipping groups the filter's statistics rule out. The stream's
:class:`~curation_pipeline.stream.StreamWindow` is one: the selection layer
cannot import the stream (it sits below it), so the hand-off is this
structural type, which any object with the two attributes satisfies.

An object may also say ``footers_held = True`` when every fragment of its
dataset already holds its parsed footer (the stream's windows do, up to a
budget): the engine then reads them from the fragments rather than again
from the files. Otherwise the engine reads footers into its own bounded cache
and never loads them into the dataset's fragments, which would keep them for
the dataset's life.

An object may also say ``time_range = (field, start, end)`` (timezone-aware
datetimes) when its filter keeps exactly the rows with
``start <= field < end``, as a stream window's does. The engine then tells
the row groups the window keeps whole, cuts or rules out from the field's
min/max in the footers (:class:`TimeRange`), rather than evaluating the
filter against every column's statistics of every row group.

An object may also say ``file_chunks``: a callable ``(path, chunk_bytes)``
giving the bytes of a remote file of its dataset, in order, ``chunk_bytes`` a
request, without first asking the file's size as pyarrow's remote reads do (a
stream window on S3 has one). The engine copies remote files to local disk
through it (:mod:`~curation_pipeline.selection.staging`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.dataset as ds

from curation_pipeline.selection.errors import SelectionError


@runtime_checkable
class FilteredParquet(Protocol):
    """The rows of ``dataset`` (unfiltered, Parquet files) for which ``filter`` holds (every row if None)."""

    @property
    def dataset(self) -> ds.Dataset:
        """The dataset, without any filter of its own."""

    @property
    def filter(self) -> ds.Expression | None:
        """The rows to keep."""


@dataclass(frozen=True)
class TimeRange:
    """A window's filter as bounds: it keeps exactly the rows with ``start <= field < end``.

    ``start`` and ``end`` are microseconds since the epoch, the unit of the
    stream's time column (``timestamp[us, tz=UTC]``), in which the filter compares.
    """

    field: str
    start: int
    end: int

    def judge(self, low: int, high: int, nulls: int | None) -> tuple[bool, bool]:
        """``(kept, whole)`` for a row group whose ``field`` spans ``[low, high]`` microseconds with ``nulls`` nulls (None: unknown).

        ``kept``: some of its rows may pass; ``whole``: every row passes (a
        null time never does).
        """
        kept = high >= self.start and low < self.end
        whole = kept and nulls == 0 and low >= self.start and high < self.end
        return kept, whole


def time_range(data: Any, schema: pa.Schema) -> TimeRange | None:
    """``data.time_range`` as a :class:`TimeRange`, if it says one on a microsecond timestamp column of ``schema`` (else None).

    Raises:
        SelectionError: ``time_range`` is not ``(field, start, end)`` with
            timezone-aware datetimes in whole microseconds, ``start <= end``.
    """
    found = getattr(data, "time_range", None)
    if found is None:
        return None
    if not (
        isinstance(found, tuple)
        and len(found) == 3
        and isinstance(found[0], str)
        and all(isinstance(bound, datetime) and bound.tzinfo is not None for bound in found[1:])
        and found[1] <= found[2]
    ):
        raise SelectionError(
            f"the filtered data's time_range must be (field, start, end) with timezone-aware datetimes, start <= end; got {found!r}"
        )
    if any(getattr(bound, "nanosecond", 0) for bound in found[1:]):
        # A pandas Timestamp: microseconds would cut its nanoseconds, and the bounds would judge rows wrongly.
        raise SelectionError(f"the filtered data's time_range must be whole microseconds; got {found!r}")
    field, start, end = found
    type_ = schema.field(field).type if field in schema.names else None
    if type_ is None or not pa.types.is_timestamp(type_) or type_.unit != "us":
        return None  # compared in another unit: the filter's statistics decide, as without a range
    return TimeRange(field, pa.scalar(start, type_).value, pa.scalar(end, type_).value)
