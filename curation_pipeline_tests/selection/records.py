"""Small synthetic streams for the selection tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from curation_pipeline.curators.selectors import BoundsFilter, EqualsFilter

DAY = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)

# Each comparison a filter makes (filters.Comparison.function), as a filter on the column "x" with a given value.
COMPARISON_FILTERS = {
    "greater": lambda value: BoundsFilter(field="x", lower=value),
    "greater_equal": lambda value: BoundsFilter(field="x", inclusive_lower=value),
    "less": lambda value: BoundsFilter(field="x", upper=value),
    "less_equal": lambda value: BoundsFilter(field="x", inclusive_upper=value),
    "equal": lambda value: EqualsFilter(field="x", equals=value),
}


def records(n: int, *, seed: int = 0) -> pa.Table:
    """``n`` records shaped like the stream, sorted by ``__time``, one per second from ``DAY``."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(DAY.replace(tzinfo=None), "us")
    times = start + np.arange(n).astype("timedelta64[s]")
    labels = np.array(["cat", "dog", "bird"])[rng.integers(0, 3, n)]
    feedback = pa.array(np.where(np.arange(n) % 5 == 0, None, labels).tolist(), pa.string())
    return pa.table(
        {
            "record_id": pa.array([f"rec-{i:07d}" for i in range(n)]),
            "__time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "inputs.text": pa.array([f"text {i} about {label}" for i, label in enumerate(labels)]),
            "inputs.n": pa.array(np.arange(n) % 100, pa.int64()),
            "outputs.label": pa.array(labels),
            "outputs.confidence": pa.array(rng.random(n)),
            "feedback.label": feedback,
            "tags.env": pa.array(np.where(np.arange(n) % 2 == 0, "prod", "staging")),
        }
    )


def write_stream(root: Path, table: pa.Table, *, rows_per_group: int, rows_per_file: int | None = None) -> ds.Dataset:
    """Write ``table`` as the stream's Parquet layout (one ``date=`` directory) and open it."""
    folder = root / "streams" / "app" / "date=2024-05-01"
    folder.mkdir(parents=True, exist_ok=True)
    per_file = rows_per_file or max(table.num_rows, 1)
    for number, start in enumerate(range(0, max(table.num_rows, 1), per_file)):
        path = folder / f"part-{number:04d}.parquet"
        pq.write_table(table.slice(start, per_file), path, row_group_size=rows_per_group)
    return ds.dataset(root / "streams" / "app", format="parquet", partitioning="hive")


def window(dataset: ds.Dataset, start: dt.datetime, end: dt.datetime) -> ds.Dataset:
    """The stream's rows with ``start <= __time < end``, as the stream layer filters them."""
    time = pc.field("__time")
    utc = pa.timestamp("us", tz="UTC")
    return dataset.filter((time >= pa.scalar(start, utc)) & (time < pa.scalar(end, utc)))


def ids(table: pa.Table) -> list[str]:
    """The record ids of a result, in order."""
    return table.column("record_id").to_pylist()
