"""The selection engine against DuckDB and polars, on one day of the stream, in every layout, local and on S3.

Generates a day of demo records per (layout, size) under ``--data-dir``
(default ``/tmp/curation_selection_bench``, outside the repository), file by
file, never the whole day in memory, with record ids distinct across the day
(see ``selection_data.py``), and keeps it for later runs. Layouts:

- ``ours``:    the stream's own: 1M-row files in time order, our encoder (zstd,
               65,536-row groups, 8,192-row pages, page index, statistics);
- ``overlap``: ten writers, each over the whole day, files overlapping in time;
- ``small``:   1,440 small files a day, one a minute (a delivery service);
- ``foreign``: another writer's files: one ~128 MB row group each, snappy, no
               page index, written with plain ``pyarrow.parquet``.

A size whose estimated bytes do not fit the free disk (``shutil.disk_usage``
of the data folder) is skipped with a message; on S3 (moto keeps objects in
memory) so is one that does not fit in half the available memory.

Then every (rule, k, rows, layout, location, engine) runs in a fresh
subprocess under the same memory cap (``--cap-gib``, 2 GiB: a watchdog kills a
child whose anonymous RSS passes it, see ``memory_cap.py``); the time is the
median wall time of ``--repeats`` runs after one warm-up (a warm-up longer
than ``--long-run`` seconds, 10, is the one run measured), each returning the
full records as a materialised pyarrow Table (ours, DuckDB) or polars
DataFrame; the peak RSS is the child's own (VmHWM). An engine that exceeds the
cap, fails or times out is reported as such in the table, not skipped.

Engines, each as its documentation recommends for large data:

- ours:   ``curation_pipeline.stream.open_window`` + ``curation_pipeline.selection.select``
          (the store URL resolved by the project's Location: on S3 through
          ``CURATION_S3_ENDPOINT_URL``);
- polars: ``scan_parquet`` (lazy; on S3 natively, ``storage_options``) and
          ``collect(engine="streaming")``;
- DuckDB: ``read_parquet`` with ``memory_limit`` (60% of the cap),
          a ``temp_directory`` of its own to spill to (removed when the child
          ends, however it ends) and ``preserve_insertion_order=false``;
          on S3 its httpfs extension cannot be installed offline, so DuckDB's
          own Parquet reader reads through a registered fsspec filesystem
          (``fsspec``'s ``ArrowFSWrapper`` over pyarrow's S3 filesystem).

With ``--s3`` the day is also uploaded to a moto S3 server on 127.0.0.1
behind a proxy adding ``--latency-ms`` (20) to every request, which counts the
requests and bytes each engine's measured run makes (median of the repeats).

Every engine does the same selection over the window [day, day + 1):

- uniform:      k records uniformly at random;
- newest:       top k by ``__time`` descending (ties by record_id);
- top_conf:     top k by ``outputs.confidence`` descending (ties by record_id);
- bounded:      0.45 < confidence < 0.55, lowest k by confidence (BoundedRangeCurator);
- equality:     ``outputs.label == 'question'``, k uniformly at random (EqualityCurator);
- strat_prop:   proportional stratification by ``outputs.label``;
- strat_bal:    balanced stratification by ``outputs.label``.

Run (``make bench`` is the first line):

    .venv/bin/python benchmarks/selection_bench.py                         # 1M and 10M rows, ours, local
    .venv/bin/python benchmarks/selection_bench.py --quick                 # 1M rows, k=100, one run
    .venv/bin/python benchmarks/selection_bench.py --layouts ours,overlap,small,foreign --s3
    .venv/bin/python benchmarks/selection_bench.py --sizes 100000000 --layouts all --s3
    .venv/bin/python benchmarks/selection_bench.py --large                 # 10M, 100M and 1B rows

Flags: ``--sizes`` (row counts), ``--large`` (10M,100M,1B), ``--layouts``
(comma-separated or ``all``), ``--s3`` (also on S3; ``--s3-only``: only there),
``--latency-ms``, ``--engines``, ``--rules``, ``--ks``, ``--repeats``,
``--cap-gib``, ``--timeout`` (seconds per engine process), ``--long-run``, ``--data-dir``,
``--assume-free-bytes`` (pretend the disk has this much free: tries the skip
path without filling the disk), ``--results-name`` (default ``selection``;
``--quick`` writes ``selection-quick``, which the report does not render),
``--merge`` (keep the rows of the results file this run does not measure
again: a big comparison is run a layout and a location at a time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import memory_cap
import selection_data as data
import selection_merge
from results_io import RESULTS_DIR, git_commit, table, write_results

START = datetime(data.DAY.year, data.DAY.month, data.DAY.day, tzinfo=timezone.utc)
END = START + timedelta(days=1)
APPLICATION = data.APPLICATION
SEED = 20240501
ENGINES = ("ours", "duckdb", "polars")
RULES = ("uniform", "newest", "top_conf", "bounded", "equality", "strat_prop", "strat_bal")
RULE_LABELS = {
    "uniform": "uniform",
    "newest": "newest",
    "top_conf": "top confidence",
    "bounded": "bounded range",
    "equality": "equality",
    "strat_prop": "stratified proportional",
    "strat_bal": "stratified balanced",
}
ENGINE_LABELS = {"ours": "ours", "duckdb": "DuckDB", "polars": "polars"}
LOCATIONS = ("local", "s3")
BOUNDS = (0.45, 0.55)
EQUALS = "question"
STRATUM = "outputs.label"
TITLE = "Selection engine against DuckDB and polars"
DEFAULT_SIZES = (1_000_000, 10_000_000)
LARGE_SIZES = (10_000_000, 100_000_000, 1_000_000_000)
BASE_ROWS = 10_000_000  # growth is measured against this size
DUCKDB_MEMORY_SHARE = 0.6  # of the cap: DuckDB's limit covers its buffer manager, not every allocation


# --- the three engines (in the child) -----------------------------------------------


def run_ours(store_url: str, rule: str, k: int):
    from curation_pipeline.curators.selectors import (
        BoundsFilter,
        EqualsFilter,
        OrderedSampler,
        Selector,
        StratifiedSampler,
        UniformSampler,
    )
    from curation_pipeline.selection import select
    from curation_pipeline.stream import open_window

    selectors = {
        "uniform": Selector(method=UniformSampler(), limit=k),
        "newest": Selector(method=OrderedSampler(field="__time", sort="descending"), limit=k),
        "top_conf": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=k),
        "bounded": Selector(
            method=OrderedSampler(field="outputs.confidence", sort="ascending"),
            limit=k,
            filters=[BoundsFilter(field="outputs.confidence", lower=BOUNDS[0], upper=BOUNDS[1])],
        ),
        "equality": Selector(
            method=UniformSampler(), limit=k, filters=[EqualsFilter(field="outputs.label", equals=EQUALS)]
        ),
        "strat_prop": Selector(method=StratifiedSampler(field=STRATUM, mode="proportional"), limit=k),
        "strat_bal": Selector(method=StratifiedSampler(field=STRATUM, mode="balanced"), limit=k),
    }
    # The window's files and filter apart (a StreamWindow), keeping the statistics of the columns
    # the rule reads, as curators hand it to the engine.
    selector = selectors[rule]
    window = open_window(APPLICATION, START, END, store_url=store_url, statistics_of=selector.fields())
    return select(window, [selector], seed=SEED)


def _duckdb_sql(source: str, rule: str, k: int) -> str:
    window = f"SELECT * FROM {source} WHERE __time >= TIMESTAMPTZ '{START.isoformat()}' AND __time < TIMESTAMPTZ '{END.isoformat()}'"
    sample = f"SELECT * FROM ({{inner}}) USING SAMPLE reservoir({k} ROWS) REPEATABLE ({SEED % 2**31})"
    strata = f"""
        WITH w AS ({window}),
        counts AS (SELECT "{STRATUM}" AS s, count(*) AS n_s FROM w GROUP BY ALL),
        quotas AS (SELECT s, {{quota}} AS q FROM counts)
        SELECT w.* FROM w JOIN quotas ON w."{STRATUM}" IS NOT DISTINCT FROM quotas.s
        QUALIFY row_number() OVER (PARTITION BY w."{STRATUM}" ORDER BY hash(w.record_id, {SEED})) <= any_value(q) OVER (PARTITION BY w."{STRATUM}")
    """
    if rule == "uniform":
        return sample.format(inner=window)
    if rule == "newest":
        return f"{window} ORDER BY __time DESC NULLS LAST, record_id LIMIT {k}"
    if rule == "top_conf":
        return f'{window} ORDER BY "outputs.confidence" DESC NULLS LAST, record_id LIMIT {k}'
    if rule == "bounded":
        return (
            f'{window} AND "outputs.confidence" > {BOUNDS[0]} AND "outputs.confidence" < {BOUNDS[1]} '
            f'ORDER BY "outputs.confidence" ASC NULLS LAST, record_id LIMIT {k}'
        )
    if rule == "equality":
        return sample.format(inner=f"{window} AND \"outputs.label\" = '{EQUALS}'")
    if rule == "strat_prop":
        quota = f"least(n_s, round_even({k} * n_s / (SELECT sum(n_s) FROM counts), 0))"
        return strata.format(quota=quota)
    if rule == "strat_bal":
        quota = f"least((SELECT min(n_s) FROM counts), {k} // (SELECT count(*) FROM counts))"
        return strata.format(quota=quota)
    raise ValueError(rule)


def _files_glob(store_url: str) -> str:
    return f"{store_url}/{data.relative_day_dir()}/*.parquet"


def run_duckdb(store_url: str, rule: str, k: int, *, cap_bytes: int, temp_dir: Path):
    import duckdb

    connection = duckdb.connect(
        config={
            "memory_limit": f"{int(cap_bytes * DUCKDB_MEMORY_SHARE) // 2**20}MB",
            "temp_directory": str(temp_dir),
            "preserve_insertion_order": False,
        }
    )
    connection.execute("SET TimeZone = 'UTC'")
    if store_url.startswith("s3://"):
        # httpfs cannot be installed offline: DuckDB's reader over an fsspec view of pyarrow's S3 filesystem.
        from s3_window import duckdb_filesystem

        connection.register_filesystem(duckdb_filesystem(store_url))
    source = f"read_parquet('{_files_glob(store_url)}', hive_partitioning = false)"
    return connection.sql(_duckdb_sql(source, rule, k)).to_arrow_table()


def _polars_storage_options() -> dict[str, str]:
    return {
        "aws_endpoint_url": os.environ["CURATION_S3_ENDPOINT_URL"],
        "aws_region": os.environ["CURATION_S3_REGION"],
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "aws_allow_http": "true",
    }


def run_polars(store_url: str, rule: str, k: int):
    import polars as pl

    options = _polars_storage_options() if store_url.startswith("s3://") else None
    lazy = pl.scan_parquet(_files_glob(store_url), hive_partitioning=False, storage_options=options).filter(
        (pl.col("__time") >= START) & (pl.col("__time") < END)
    )
    # Uniform sampling as "ORDER BY a seeded hash LIMIT k": streams with a bounded top-k.
    hashed = pl.col("record_id").hash(SEED)
    if rule == "uniform":
        query = lazy.with_columns(_h=hashed).bottom_k(k, by="_h").drop("_h")
    elif rule == "newest":
        query = lazy.sort(["__time", "record_id"], descending=[True, False], nulls_last=True).head(k)
    elif rule == "top_conf":
        query = lazy.sort(["outputs.confidence", "record_id"], descending=[True, False], nulls_last=True).head(k)
    elif rule == "bounded":
        query = (
            lazy.filter((pl.col("outputs.confidence") > BOUNDS[0]) & (pl.col("outputs.confidence") < BOUNDS[1]))
            .sort(["outputs.confidence", "record_id"], nulls_last=True)
            .head(k)
        )
    elif rule == "equality":
        query = lazy.filter(pl.col("outputs.label") == EQUALS).with_columns(_h=hashed).bottom_k(k, by="_h").drop("_h")
    elif rule in ("strat_prop", "strat_bal"):
        n_s = pl.len().over(STRATUM)
        if rule == "strat_prop":
            # Float arithmetic: k * n_s overflows pl.len()'s u32 at 10M rows.
            share = pl.lit(float(k)) * n_s.cast(pl.Float64) / pl.len().cast(pl.Float64)
            quota = pl.min_horizontal(n_s.cast(pl.Float64), share.round(0, mode="half_to_even"))
        else:
            quota = pl.min_horizontal(n_s.min(), pl.lit(k) // pl.col(STRATUM).n_unique())
        rank = hashed.rank("ordinal").over(STRATUM)
        query = lazy.filter(rank <= quota)
    else:
        raise ValueError(rule)
    return query.collect(engine="streaming")


def child(args: argparse.Namespace) -> None:
    """One engine, one rule: warm up, time ``repeats`` runs between marks, print JSON on stdout."""
    def run():  # type: ignore[no-untyped-def]
        if args.child == "duckdb":
            return run_duckdb(args.store, args.rule, args.k, cap_bytes=_cap_bytes(args), temp_dir=args.temp_dir)
        return {"ours": run_ours, "polars": run_polars}[args.child](args.store, args.rule, args.k)

    memory_cap.mark()
    started = time.perf_counter()
    result = run()  # warm-up: imports, page cache, allocator
    timings = [time.perf_counter() - started]
    # A run this long is measured by its warm-up alone: what warming up saves (imports, a first read of
    # the files) is a small part of it, and repeating it would keep `make bench` from ending in minutes.
    measured_from = 0 if timings[0] > args.long_run else 1
    for _ in range(args.repeats if measured_from else 0):
        memory_cap.mark()
        started = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - started)
    memory_cap.mark()
    figures = {
        "ms": statistics.median(timings[measured_from:]) * 1000,
        "rss_mb": memory_cap.peak_rss_mb(),
        "rows": len(result),
        "measured_from": measured_from,
    }
    print(json.dumps(figures), flush=True)


# --- measuring (in the parent) ------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """Where one measurement reads: a layout at a size, locally or on S3."""

    layout: str
    rows: int
    location: str
    store: str  # a local store path or s3:// URL


@dataclass
class Figures:
    """One engine's measurement: figures, or the status saying why there are none."""

    status: str
    ms: float | None = None
    rss_mb: float | None = None
    rows: int | None = None
    requests: int | None = None
    mb_read: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def measure(engine: str, case: Case, rule: str, k: int, args: argparse.Namespace, s3: Any) -> Figures:
    command = [sys.executable, __file__, "--child", engine, "--store", case.store, "--data-dir", str(args.data_dir)]
    command += ["--rule", rule, "--k", str(k), "--repeats", str(args.repeats), "--cap-gib", str(args.cap_gib)]
    command += ["--long-run", str(args.long_run)]
    env = dict(os.environ)
    if case.location == "s3":
        env.update(s3.env())
    on_mark = s3.proxy.traffic if case.location == "s3" else None
    if case.location == "local" and day_bytes(Path(case.store)) < _available_memory():
        warm_page_cache(Path(case.store))
    # Each child spills to a folder of its own, removed here: a child killed at the cap or the timeout
    # leaves its spill files behind (DuckDB: 18 GB from one timed-out stratified query at 100M rows).
    args.data_dir.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix=f"{engine}-spill-", dir=args.data_dir))
    env["POLARS_TEMP_DIR"] = str(spill)
    try:
        command += ["--temp-dir", str(spill)]
        outcome = memory_cap.run_capped(
            command, cap_bytes=_cap_bytes(args), timeout=args.timeout, env=env, on_mark=on_mark
        )
    finally:
        shutil.rmtree(spill, ignore_errors=True)
        # The next engine starts with the disk written out: 2 GB of pages were dirty after DuckDB's
        # strata at 100M rows, and their writeback would slow whatever ran next.
        os.sync()
    if outcome.result is None:
        if outcome.stderr:
            print(f"{engine} failed on {rule}, k={k}, {case.layout}, {case.location}:\n{outcome.stderr}", file=sys.stderr)
        return Figures(outcome.status)
    figures = Figures("ok", outcome.result["ms"], outcome.result["rss_mb"], outcome.result["rows"])
    if on_mark is not None and len(outcome.marks) >= 2:
        runs = [later - earlier for earlier, later in itertools.pairwise(outcome.marks)]
        runs = runs[outcome.result.get("measured_from", 1) :]
        figures.requests = int(statistics.median(run.requests for run in runs))
        figures.mb_read = statistics.median(run.bytes_out for run in runs) / 1e6
    return figures


def _cap_bytes(args: argparse.Namespace) -> int:
    return int(args.cap_gib * memory_cap.GIB)


def free_bytes(folder: Path, assumed: int | None) -> int:
    """Free bytes on the disk holding ``folder`` (or ``assumed``, to try the skip path)."""
    if assumed is not None:
        return assumed
    existing = folder
    while not existing.exists():
        existing = existing.parent
    return shutil.disk_usage(existing).free


def prepare(layout: str, rows: int, args: argparse.Namespace) -> bool:
    """Generate ``layout``'s day of ``rows`` rows unless cached; False (with a message) when it does not fit."""
    if data.is_complete(args.data_dir, layout, rows):
        return True
    needed = data.estimated_bytes(layout, rows)
    free = free_bytes(args.data_dir, args.assume_free_bytes)
    if needed * 1.1 > free:
        print(
            f"skipping {layout} at {rows:,} rows: it needs about {needed / 1e9:.1f} GB in {args.data_dir},"
            f" the disk has {free / 1e9:.1f} GB free",
            flush=True,
        )
        return False
    # In a child process: a child inherits its parent's peak RSS, and generating would set it.
    generate = [sys.executable, __file__, "--generate", layout, "--rows", str(rows), "--data-dir", str(args.data_dir)]
    subprocess.run(generate, check=True)
    return True


def cases(args: argparse.Namespace, s3: Any) -> list[Case]:
    """The (layout, size, location) cases to measure, generating and uploading what they need."""
    found = []
    for rows in args.sizes:
        for layout in args.layouts:
            if not prepare(layout, rows, args):
                continue
            root = data.store_dir(args.data_dir, layout, rows)
            if "local" in args.locations:
                found.append(Case(layout, rows, "local", str(root)))
            if "s3" in args.locations:
                size = data.disk_bytes(args.data_dir, layout, rows)
                available = _available_memory()
                if size > available / 2:
                    print(
                        f"skipping {layout} at {rows:,} rows on S3: moto would hold {size / 1e9:.1f} GB in memory,"
                        f" {available / 1e9:.1f} GB is available",
                        flush=True,
                    )
                    continue
                found.append(Case(layout, rows, "s3", s3.upload(root, root.name)))
    return found


def day_bytes(root: Path) -> int:
    """Bytes of the day's files under ``root``."""
    return sum(path.stat().st_size for path in root.rglob("*.parquet"))


def warm_page_cache(root: Path) -> None:
    """Read every file of the day once, so no engine's first run pays for reading it from disk.

    Done before each engine's process: a warm-up over ``--long-run`` seconds
    is the one run measured, and without this, an engine coming after another
    day's reads, or after a peer's spill pushed the day out of the page cache
    (DuckDB spills tens of GB on the strata at 100M rows), would be timed
    reading the disk, the others the page cache. The strata k=10,000 at 100M
    rows took ours 11.7 s after DuckDB's spill, 8.4 s alone. A day larger
    than the memory available is not read: it would not stay cached.
    """
    for path in sorted(root.rglob("*.parquet")):
        with open(path, "rb") as handle:
            while handle.read(8 << 20):
                pass


def _available_memory() -> int:
    import psutil

    return psutil.virtual_memory().available


# --- results ---------------------------------------------------------------------------


def ratio_to_best_peer(figures: dict[str, Figures]) -> float | None:
    """Ours over the fastest peer that completed; None if ours failed or no peer completed."""
    ours = figures.get("ours")
    peers = [f.ms for engine, f in figures.items() if engine != "ours" and f.ok and f.ms]
    if ours is None or not ours.ok or not peers or ours.ms is None:
        return None
    return ours.ms / min(peers)


def _rounded(value: float | None, places: int | None = None) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, places)


def results_row(
    rule: str, k: int, case: Case, figures: dict[str, Figures], growth: float | None, with_s3: bool
) -> list[Any]:
    """One line of the results table; an engine without figures shows its status in its time column."""
    engines = list(figures)
    row: list[Any] = [RULE_LABELS[rule], k, case.rows, case.layout, "S3" if case.location == "s3" else "local"]
    row += [_rounded(f.ms) if f.ok else f.status for f in figures.values()]
    row += [_rounded(ratio_to_best_peer(figures), 2), _rounded(growth, 2)]
    row += [_rounded(figures[e].rss_mb) for e in engines]
    if with_s3:
        row += [figures[e].requests for e in engines]
        row += [_rounded(figures[e].mb_read, 1) for e in engines]
    row += ["/".join(str(figures[e].rows) if figures[e].ok else "-" for e in engines)]
    return row


def growth_vs_base(measured: dict[tuple, dict[str, Figures]]) -> dict[tuple, float | None]:
    """Ours' time at each size over ours' time at 10M rows, same rule, k, layout and location."""
    base = {
        (rule, k, case.layout, case.location): figures["ours"]
        for (rule, k, case), figures in measured.items()
        if case.rows == BASE_ROWS and "ours" in figures and figures["ours"].ok
    }
    growth: dict[tuple, float | None] = {}
    for (rule, k, case), figures in measured.items():
        reference = base.get((rule, k, case.layout, case.location))
        ours = figures.get("ours")
        usable = reference is not None and reference.ms and ours is not None and ours.ok and ours.ms is not None
        growth[(rule, k, case)] = ours.ms / reference.ms if usable else None  # type: ignore[union-attr,operator]
    return growth


def columns(engines: list[str], with_s3: bool) -> list[str]:
    names = [ENGINE_LABELS[e] for e in engines]
    found = ["rule", "k", "rows", "layout", "location"] + [f"{n} ms" for n in names]
    found += ["ours / best peer", "ours time / at 10M"] + [f"{n} MB" for n in names]
    if with_s3:
        found += [f"{n} requests" for n in names] + [f"{n} MB read" for n in names]
    return found + [f"selected ({'/'.join(names)})"]


def print_line(rule: str, k: int, case: Case, figures: dict[str, Figures]) -> None:
    cells = [f"{rule:<11} {k:>6} {case.rows:>13,} {case.layout:<8} {case.location:<5}"]
    for f in figures.values():
        cells.append(f"{f.ms:>9.0f}" if f.ok else f"{f.status[:24]:>9}")
    ratio = ratio_to_best_peer(figures)
    cells.append(f"{ratio:>6.2f}" if ratio is not None else f"{'-':>6}")
    cells += [f"{f.rss_mb:>7.0f}" if f.ok else f"{'-':>7}" for f in figures.values()]
    if case.location == "s3":
        cells += [f"{f.requests or 0:>5}r {f.mb_read or 0:>7.1f}MB" for f in figures.values()]
    print(" ".join(cells), flush=True)


# --- command line ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None, help="comma-separated row counts (default 1000000,10000000)")
    parser.add_argument("--large", action="store_true", help="sizes 10M, 100M and 1B rows (those that fit)")
    parser.add_argument("--layouts", default="ours", help=f"comma-separated, of {','.join(data.LAYOUTS)}, or all")
    parser.add_argument("--s3", action="store_true", help="also read each day from moto S3 behind a latency proxy")
    parser.add_argument("--s3-only", action="store_true", help="read only from S3")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to every S3 request (default 20)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs after a warm-up (default 3)")
    parser.add_argument("--ks", default=None, help="comma-separated limits (default 100,10000)")
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--cap-gib", type=float, default=2.0, help="memory cap of every engine process (default 2)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per engine process (default 900)")
    parser.add_argument(
        "--long-run", type=float, default=10.0, help="seconds past which the warm-up run is the one measured (10)"
    )
    parser.add_argument("--quick", action="store_true", help="1M rows, k=100, one repeat; writes selection-quick")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "curation_selection_bench")
    parser.add_argument("--assume-free-bytes", type=int, default=None, help="pretend the disk has this much free")
    parser.add_argument("--results-name", default="selection", help="results/<name>.json (default selection)")
    parser.add_argument(
        "--merge", action="store_true", help="keep the rows of the results file this run does not measure again"
    )
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--generate", choices=data.LAYOUTS, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--temp-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rule", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child or args.generate:
        args.repeats = args.repeats or 3
        return args
    if args.quick:
        args.sizes = args.sizes or "1000000"
        args.ks = args.ks or "100"
        args.repeats = args.repeats or 1
    args.repeats = args.repeats or 3
    if args.large and args.sizes:
        parser.error("--large and --sizes name sizes both: pass one")
    sizes = LARGE_SIZES if args.large else [int(s) for s in (args.sizes or "").split(",") if s] or DEFAULT_SIZES
    args.sizes = list(sizes)
    args.ks = [int(k) for k in (args.ks or "100,10000").split(",")]
    layouts = data.LAYOUTS if args.layouts == "all" else tuple(args.layouts.split(","))
    unknown = set(layouts) - set(data.LAYOUTS)
    if unknown:
        parser.error(f"unknown layouts {', '.join(sorted(unknown))}: expected {', '.join(data.LAYOUTS)} or all")
    args.layouts = list(layouts)
    args.locations = ["s3"] if args.s3_only else ["local", "s3"] if args.s3 else ["local"]
    args.engines = args.engines.split(",")
    args.rules = args.rules.split(",")
    for name, chosen, known in (("engines", args.engines, ENGINES), ("rules", args.rules, RULES)):
        if set(chosen) - set(known):
            parser.error(f"unknown {name} {', '.join(sorted(set(chosen) - set(known)))}: expected {', '.join(known)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child(args)
        return
    if args.generate:
        data.ensure_day(args.data_dir, args.generate, args.rows)
        return
    s3 = None
    if "s3" in args.locations:
        import logging

        from s3_window import S3Window

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        s3 = S3Window(args.latency_ms / 1000)
    try:
        run(args, s3)
    finally:
        if s3 is not None:
            s3.stop()


def run(args: argparse.Namespace, s3: Any) -> None:
    load = os.getloadavg()[0]
    found = cases(args, s3)
    if not found:
        print("nothing to measure: every requested size was skipped")
        return
    print(f"cpus: {os.cpu_count()}, repeats: {args.repeats} (median), cap: {args.cap_gib:g} GiB, data: {args.data_dir}")
    measured: dict[tuple, dict[str, Figures]] = {}
    for case in found:
        for rule in args.rules:
            for k in args.ks:
                figures = {engine: measure(engine, case, rule, k, args, s3) for engine in args.engines}
                print_line(rule, k, case, figures)
                measured[(rule, k, case)] = figures
                # Rewritten after every measurement: a long run stopped halfway keeps what it measured.
                path = save(args, measured, load, complete=False)
    path = save(args, measured, load, complete=True)
    print(f"results: {path}")


def save(args: argparse.Namespace, measured: dict[tuple, dict[str, Figures]], load: float, complete: bool) -> Path:
    """Write the results measured so far (``complete=False``: the note says the run is still going or stopped).

    With ``--merge``, rows of the results file this run does not measure again are kept (see
    :mod:`selection_merge`).
    """
    name = args.results_name + ("-quick" if args.quick and not args.results_name.endswith("-quick") else "")
    path = RESULTS_DIR / f"{name}.json"
    previous = json.loads(path.read_text()) if args.merge and path.exists() else None
    with_s3 = "s3" in args.locations or _has_s3_columns(previous)
    growth = growth_vs_base(measured)
    rows = [
        results_row(rule, k, case, figures, growth[(rule, k, case)], with_s3)
        for (rule, k, case), figures in measured.items()
    ]
    run_note = f"The 1-minute load average was {load:.1f} on {os.cpu_count()} CPUs when it started."
    if not complete:
        run_note += " Partial: the run had not finished when these figures were written."
    run = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": git_commit(),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "note": run_note,
    }
    names, merged_rows, runs = selection_merge.merge(previous, columns(args.engines, with_s3), rows, run, BASE_ROWS)
    cap = f"{args.cap_gib:g} GiB"
    parameters = {
        "sizes": sorted({row[names.index("rows")] for row in merged_rows}),
        "layouts": [layout for layout in data.LAYOUTS if any(row[names.index("layout")] == layout for row in merged_rows)],
        "locations": sorted({row[names.index("location")] for row in merged_rows}),
        "ks": sorted({row[names.index("k")] for row in merged_rows}),
        "engines": args.engines,
        "memory cap": cap,
    }
    if with_s3:
        parameters["S3 latency ms"] = args.latency_ms
    title = (
        f"Median ms, peak RSS MB, every engine capped at {cap}; ours / best peer below 1: ours is the fastest;"
        " ours time / at 10M: linear growth is rows / 10M; run: the run that measured the row (below)"
    )
    if with_s3:
        title += "; on S3, requests and MB read per run (median)"
    note = ""
    if with_s3:
        note += (
            "On S3, the moto server and the proxy run in the benchmark's own process, on the same CPUs as the"
            " engine measured. "
        )
    note += selection_merge.describe(runs)
    figures_table = table(title, names, merged_rows)
    return write_results(
        name, title=TITLE, parameters=parameters, tables=[figures_table], note=note, extra={"runs": runs}
    )


def _has_s3_columns(previous: dict[str, Any] | None) -> bool:
    try:
        return any(column.endswith(" requests") for column in previous["tables"][0]["columns"])  # type: ignore[index]
    except (TypeError, KeyError, IndexError):
        return False

if __name__ == "__main__":
    main()
