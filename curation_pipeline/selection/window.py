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
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pyarrow.dataset as ds


@runtime_checkable
class FilteredParquet(Protocol):
    """The rows of ``dataset`` (unfiltered, Parquet files) for which ``filter`` holds (every row if None)."""

    @property
    def dataset(self) -> ds.Dataset:
        """The dataset, without any filter of its own."""

    @property
    def filter(self) -> ds.Expression | None:
        """The rows to keep."""
