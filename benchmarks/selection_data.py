"""The selection benchmark's days of data, in the layouts users' streams have, generated file by file.

One day (2024-05-01) of demo records in a layout, at ``<data-dir>/<layout>-rows-<n>/streams/bench/date=2024-05-01/``:

- ``ours``: what the stream writes: files of 1M rows in time order, our encoder
  (zstd, 65,536-row groups, 8,192-row pages, page index, statistics);
- ``overlap``: ten writers, each writing its tenth of the records over the whole
  day in files of up to 1M rows (our encoder), so ten files overlap at any time;
- ``small``: a delivery service's 1,440 files a day, one per minute (our encoder);
- ``foreign``: another writer's files: plain ``pyarrow.parquet.write_table``
  defaults (dictionaries, 1 MB pages, statistics, no page index) with snappy and
  one row group of about 128 MB per file.

Every file is generated on its own (never the whole day in memory), in as many
processes as there are CPUs and memory for one file each: its rows
have times drawn in its own slice of the day's traffic (quiet at 06:00 UTC,
busiest at 18:00, as the demo stream), sorted, with record ids numbered across
the whole day, so ids are distinct at every size; the other columns are
:func:`curation_pipeline.demo.stream.demo_day`'s. A ``_complete`` marker tells
later runs that a day is whole; a lock keeps two runs from writing the same day.
"""

from __future__ import annotations

import fcntl
import json
import math
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

DAY = date(2024, 5, 1)
APPLICATION = "bench"
LAYOUTS = ("ours", "overlap", "small", "foreign")
ROWS_PER_FILE = 1_000_000
WRITERS = 10
MINUTES = 1440
# Rows in a 128 MiB snappy row group of demo records (20.6 bytes a row, measured at 1M rows).
FOREIGN_ROWS_PER_FILE = 6_500_000
# Bytes on disk a row, measured at 1M rows, plus what each file adds (footer, page index, small pages).
BYTES_PER_ROW = {"ours": 14.5, "overlap": 14.5, "small": 15.0, "foreign": 20.6}
BYTES_PER_FILE = 16_000
# Peak memory of a process writing one file, a row of it: 450 MB for our 1M-row file, 1.45 GB for a
# foreign 6.5M-row file (measured), rounded up.
GENERATING_BYTES_PER_ROW = 500
# Generation version: bump it when the generated data changes, so cached days are rewritten.
VERSION = 2
_MICROS_PER_HOUR = 3_600_000_000
_DAY_START_MICROS = int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=timezone.utc).timestamp()) * 1_000_000


@dataclass(frozen=True)
class FileSpec:
    """One file of a layout: its name, its slice of the day's traffic (quantiles), rows and first record id."""

    name: str
    lower: float
    upper: float
    rows: int
    first_id: int
    seed: int


# --- where ------------------------------------------------------------------------


def store_dir(data_dir: Path, layout: str, rows: int) -> Path:
    """The store root of ``layout`` at ``rows`` rows (what ``read_window`` is given)."""
    return data_dir / f"{layout}-rows-{rows}"


def relative_day_dir() -> str:
    """The day's folder inside a store root."""
    return f"streams/{APPLICATION}/date={DAY:%Y-%m-%d}"


def day_dir(data_dir: Path, layout: str, rows: int) -> Path:
    return store_dir(data_dir, layout, rows) / relative_day_dir()


def is_complete(data_dir: Path, layout: str, rows: int) -> bool:
    marker = store_dir(data_dir, layout, rows) / "_complete"
    try:
        return json.loads(marker.read_text()).get("version") == VERSION
    except (OSError, ValueError):
        return False


# --- what ------------------------------------------------------------------------


def file_specs(layout: str, rows: int) -> list[FileSpec]:
    """The files of ``layout`` for a day of ``rows`` rows, in the order they are written."""
    if layout == "ours":
        return _time_ordered(rows, ROWS_PER_FILE, "part", 0, 0)
    if layout == "foreign":
        return _time_ordered(rows, FOREIGN_ROWS_PER_FILE, "foreign", 0, 0)
    if layout == "overlap":
        specs: list[FileSpec] = []
        for writer in range(WRITERS):
            first = writer * rows // WRITERS
            share = (writer + 1) * rows // WRITERS - first
            specs += _time_ordered(share, ROWS_PER_FILE, f"writer-{writer:02d}", first, len(specs))
        return specs
    if layout == "small":
        edges = [round(rows * _traffic_share(minute * 60_000_000)) for minute in range(MINUTES + 1)]
        edges[-1] = rows
        return [
            FileSpec(
                f"minute-{minute:04d}.parquet",
                _traffic_share(minute * 60_000_000),
                _traffic_share((minute + 1) * 60_000_000),
                edges[minute + 1] - edges[minute],
                edges[minute],
                minute + 1,
            )
            for minute in range(MINUTES)
            if edges[minute + 1] > edges[minute]
        ]
    raise ValueError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")


def _time_ordered(rows: int, per_file: int, stem: str, first_id: int, first_seed: int) -> list[FileSpec]:
    """``rows`` in files of at most ``per_file`` rows, as equal as can be, each the next slice of the day."""
    count = max(1, math.ceil(rows / per_file))
    bounds = [i * rows // count for i in range(count + 1)]
    return [
        FileSpec(
            f"{stem}-{i:04d}.parquet", i / count, (i + 1) / count, bounds[i + 1] - bounds[i], first_id + bounds[i],
            first_seed + i + 1,
        )
        for i in range(count)
        if bounds[i + 1] > bounds[i]
    ]


def estimated_bytes(layout: str, rows: int) -> int:
    """About how many bytes the day takes on disk (or in an S3 server's memory)."""
    return int(rows * BYTES_PER_ROW[layout] + len(file_specs(layout, rows)) * BYTES_PER_FILE)


# --- traffic over the day -----------------------------------------------------------


def _hour_cdf() -> np.ndarray:
    # The demo stream's traffic: quiet around 06:00 UTC, busiest around 18:00.
    hours = np.arange(24)
    weights = 1.0 + 0.8 * np.sin((hours - 12) / 24 * 2 * np.pi)
    return np.concatenate([[0.0], np.cumsum(weights / weights.sum())])


_CDF = _hour_cdf()
_HOUR_EDGES = np.arange(25, dtype=np.float64) * _MICROS_PER_HOUR


def _traffic_share(micros_into_day: float) -> float:
    """The share of the day's records logged before ``micros_into_day``."""
    return float(np.interp(micros_into_day, _HOUR_EDGES, _CDF))


def _times(rng: np.random.Generator, spec: FileSpec) -> np.ndarray:
    """Sorted microsecond timestamps of ``spec``'s rows, within its slice of the traffic."""
    quantiles = np.sort(spec.lower + (spec.upper - spec.lower) * rng.random(spec.rows))
    micros = np.interp(quantiles, _CDF, _HOUR_EDGES).astype(np.int64)
    upper = int(np.interp(spec.upper, _CDF, _HOUR_EDGES))
    # Half-open slices: a time on the upper edge belongs to the next file.
    return _DAY_START_MICROS + np.minimum(micros, max(upper - 1, 0))


# --- writing ------------------------------------------------------------------------


def records(spec: FileSpec, max_rows: int = ROWS_PER_FILE) -> Iterator:
    """``spec``'s rows as pyarrow tables of at most ``max_rows`` rows, in time order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from curation_pipeline.demo.stream import demo_day

    rng = np.random.default_rng([VERSION, spec.seed])
    times = _times(rng, spec)
    for offset in range(0, spec.rows, max_rows):
        rows = min(max_rows, spec.rows - offset)
        table = demo_day(APPLICATION, DAY, rows, seed=spec.seed * 1000 + offset // max_rows)
        ids = np.arange(spec.first_id + offset, spec.first_id + offset + rows)
        digits = pc.utf8_lpad(pc.cast(pa.array(ids), pa.string()), width=10, padding="0")
        record_id = pc.binary_join_element_wise(f"{APPLICATION}-{DAY:%Y%m%d}-", digits, "")
        chunk_times = pa.array(times[offset : offset + rows], pa.timestamp("us", tz="UTC"))
        table = table.set_column(0, "record_id", record_id).set_column(1, "__time", chunk_times)
        yield table


def write_file(layout: str, spec: FileSpec, path: Path) -> None:
    """Write ``spec``'s file: with the stream's encoder, or plain pyarrow for ``foreign``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation_pipeline.stream.parquet_files import encode_parquet

    temp = path.with_name(f".{path.name}.tmp")
    if layout == "foreign":
        # One row group for the whole file, as a writer buffering 128 MB groups leaves it.
        table = pa.concat_tables(records(spec))
        pq.write_table(table, temp, compression="snappy", row_group_size=len(table))
    else:
        (table,) = records(spec, max_rows=spec.rows)
        temp.write_bytes(encode_parquet(table).to_pybytes())
    temp.rename(path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_day(data_dir: Path, layout: str, rows: int) -> None:
    """Write ``layout``'s day of ``rows`` rows unless a complete one is there; one file in memory at a time."""
    root = store_dir(data_dir, layout, rows)
    with _locked(root.with_name(root.name + ".lock")):
        if is_complete(data_dir, layout, rows):
            return
        shutil.rmtree(root, ignore_errors=True)  # a day left half-written by an interrupted run
        folder = day_dir(data_dir, layout, rows)
        folder.mkdir(parents=True)
        specs = file_specs(layout, rows)
        print(f"generating {layout} layout, {rows:,} rows in {len(specs):,} files under {root} ...", flush=True)
        started = time.perf_counter()
        jobs = generating_jobs(specs)
        # Spawned, not forked: a fork copies a process whose other threads (DuckDB's,
        # pyarrow's) may be inside their allocators, and the children crashed at
        # birth (a segmentation fault) after DuckDB fetches in the same process.
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            # list(): a failed file raises here, before the day is marked complete.
            list(pool.map(write_file, [layout] * len(specs), specs, [folder / spec.name for spec in specs]))
        marker = {"version": VERSION, "layout": layout, "rows": rows, "files": len(specs)}
        (root / "_complete").write_text(json.dumps(marker) + "\n")
        print(f"  done in {time.perf_counter() - started:.1f} s ({jobs} processes)", flush=True)


def generating_jobs(specs: list[FileSpec]) -> int:
    """How many files to write at once: one a CPU, as many as half the available memory holds."""
    import psutil

    per_job = max(spec.rows for spec in specs) * GENERATING_BYTES_PER_ROW
    return max(1, min(os.cpu_count() or 1, len(specs), psutil.virtual_memory().available // 2 // per_job))


def disk_bytes(data_dir: Path, layout: str, rows: int) -> int:
    """The bytes of the day's files on disk."""
    return sum(p.stat().st_size for p in day_dir(data_dir, layout, rows).glob("*.parquet"))
