"""The selection engine against DuckDB and polars, on one day of the stream.

Generates a day of demo records (1M and 10M rows by default) in the stream's
layout, ``<data-dir>/rows-<n>/streams/bench/date=2024-05-01/part-NNNN.parquet``
(1M rows per file, sorted by ``__time``, written with the stream's own
encoder: zstd, 65,536-row groups, 8,192-row pages with a page index,
statistics), and keeps it for later runs.
Then every (rule, k, rows, engine) runs in a fresh subprocess, so the peak RSS
reported is that engine's alone; the time is the median wall time of
``--repeats`` runs after one warm-up, each returning the full records as a
materialised pyarrow Table (ours, DuckDB) or polars DataFrame.

Every engine does the same selection over the window [day, day + 1):

- uniform:      k records uniformly at random;
- newest:       top k by ``__time`` descending (ties by record_id);
- top_conf:     top k by ``outputs.confidence`` descending (ties by record_id);
- bounded:      0.45 < confidence < 0.55, lowest k by confidence (BoundedRangeCurator);
- equality:     ``outputs.label == 'question'``, k uniformly at random (EqualityCurator);
- strat_prop:   proportional stratification by ``outputs.label``;
- strat_bal:    balanced stratification by ``outputs.label``.

Run:  .venv/bin/python benchmarks/selection_bench.py [--sizes 1000000,10000000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from results_io import table, write_results

DAY = date(2024, 5, 1)
START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=timezone.utc)
END = START + timedelta(days=1)
APPLICATION = "bench"
ROWS_PER_FILE = 1_000_000
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
BOUNDS = (0.45, 0.55)
EQUALS = "question"
STRATUM = "outputs.label"
TITLE = "Selection engine against DuckDB and polars"


# --- data ---------------------------------------------------------------------


def store_dir(data_dir: Path, rows: int) -> Path:
    return data_dir / f"rows-{rows}"


def day_dir(data_dir: Path, rows: int) -> Path:
    return store_dir(data_dir, rows) / "streams" / APPLICATION / f"date={DAY:%Y-%m-%d}"


def ensure_data(data_dir: Path, rows: int) -> None:
    """Write the day once; a ``_complete`` marker tells later runs it is whole."""
    folder = day_dir(data_dir, rows)
    marker = store_dir(data_dir, rows) / "_complete"
    if marker.exists():
        return
    from curation_pipeline.demo import demo_day
    from curation_pipeline.stream.parquet_files import encode_parquet

    print(f"generating {rows:,} rows in {folder} ...", flush=True)
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    table = demo_day(APPLICATION, DAY, rows, seed=1)
    for number, offset in enumerate(range(0, rows, ROWS_PER_FILE)):
        data = encode_parquet(table.slice(offset, ROWS_PER_FILE))
        (folder / f"part-{number:04d}.parquet").write_bytes(data.to_pybytes())
    marker.write_text("ok\n")
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)


# --- the three engines ------------------------------------------------------------


def run_ours(data_dir: Path, rows: int, rule: str, k: int):
    from curation_pipeline.curators.selectors import (
        BoundsFilter,
        EqualsFilter,
        OrderedSampler,
        Selector,
        StratifiedSampler,
        UniformSampler,
    )
    from curation_pipeline.selection import select
    from curation_pipeline.stream import read_window

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
    window = read_window(APPLICATION, START, END, store_url=str(store_dir(data_dir, rows)))
    return select(window, [selectors[rule]], seed=SEED)


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


def run_duckdb(data_dir: Path, rows: int, rule: str, k: int):
    import duckdb

    source = f"read_parquet('{day_dir(data_dir, rows)}/*.parquet')"
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection.sql(_duckdb_sql(source, rule, k)).to_arrow_table()


def run_polars(data_dir: Path, rows: int, rule: str, k: int):
    import polars as pl

    lazy = pl.scan_parquet(f"{day_dir(data_dir, rows)}/*.parquet").filter(
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
    return query.collect()


RUNNERS = {"ours": run_ours, "duckdb": run_duckdb, "polars": run_polars}


# --- measuring ------------------------------------------------------------------


def child(engine: str, data_dir: Path, rows: int, rule: str, k: int, repeats: int) -> None:
    """One engine, one rule: warm up, time ``repeats`` runs, report JSON on stdout."""
    run = RUNNERS[engine]
    result = run(data_dir, rows, rule, k)  # warm-up: imports, page cache, allocator
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run(data_dir, rows, rule, k)
        timings.append(time.perf_counter() - started)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ms": statistics.median(timings) * 1000, "rss_mb": peak_kib / 1024, "rows": len(result)}))


def measure(engine: str, data_dir: Path, rows: int, rule: str, k: int, repeats: int) -> dict:
    command = [sys.executable, __file__, "--child", engine, "--data-dir", str(data_dir)]
    command += ["--rows", str(rows), "--rule", rule, "--k", str(k), "--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return {"ms": float("nan"), "rss_mb": float("nan"), "rows": -1}
    return json.loads(done.stdout.strip().splitlines()[-1])


def results_row(rule: str, k: int, rows: int, figures: dict[str, dict], ratio: float) -> list:
    """One line of the results table; a failed measurement (NaN) has no figure."""

    def rounded(value: float, places: int | None = None) -> float | int | None:
        return round(value, places) if math.isfinite(value) else None

    engines = list(figures)
    return (
        [RULE_LABELS[rule], k, rows]
        + [rounded(figures[e]["ms"]) for e in engines]
        + [rounded(ratio, 2)]
        + [rounded(figures[e]["rss_mb"]) for e in engines]
        + ["/".join(str(figures[e]["rows"]) for e in engines)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None, help="comma-separated row counts (default 1000000,10000000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ks", default="100,10000", help="comma-separated limits")
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--quick", action="store_true", help="1M rows, k=100, one repeat")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "curation_selection_bench")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rule", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data_dir, args.rows, args.rule, args.k, args.repeats)
        return
    if args.generate:
        ensure_data(args.data_dir, args.rows)
        return
    if args.quick:
        args.sizes = args.sizes or "1000000"
        args.ks, args.repeats = "100", 1
    sizes = [int(s) for s in (args.sizes or "1000000,10000000").split(",")]
    ks = [int(k) for k in args.ks.split(",")]
    engines = args.engines.split(",")
    for rows in sizes:
        # In a child process: a child inherits its parent's peak RSS, and
        # generating 10M rows would set every engine's figure to it.
        subprocess.run(
            [sys.executable, __file__, "--generate", "--data-dir", str(args.data_dir), "--rows", str(rows)], check=True
        )
    print(f"cpus: {os.cpu_count()}, repeats: {args.repeats} (median), data: {args.data_dir}")
    header = f"{'rule':<11} {'k':>6} {'rows':>11} " + " ".join(f"{e + ' ms':>10}" for e in engines)
    header += f" {'ratio':>6} " + " ".join(f"{e + ' MB':>10}" for e in engines) + "  selected"
    print(header)
    figures_rows = []
    for rows in sizes:
        for rule in args.rules.split(","):
            for k in ks:
                figures = {engine: measure(engine, args.data_dir, rows, rule, k, args.repeats) for engine in engines}
                peers = [figures[e]["ms"] for e in engines if e != "ours"]
                ratio = figures["ours"]["ms"] / min(peers) if "ours" in figures and peers else float("nan")
                line = f"{rule:<11} {k:>6} {rows:>11,} " + " ".join(f"{figures[e]['ms']:>10.0f}" for e in engines)
                line += f" {ratio:>6.2f} " + " ".join(f"{figures[e]['rss_mb']:>10.0f}" for e in engines)
                line += "  " + "/".join(str(figures[e]["rows"]) for e in engines)
                print(line, flush=True)
                figures_rows.append(results_row(rule, k, rows, figures, ratio))
    columns = ["rule", "k", "rows"] + [f"{ENGINE_LABELS[e]} ms" for e in engines] + ["ours / best peer"]
    columns += [f"{ENGINE_LABELS[e]} MB" for e in engines] + [f"selected ({'/'.join(ENGINE_LABELS[e] for e in engines)})"]
    parameters = {"sizes": sizes, "ks": ks, "repeats": args.repeats, "engines": engines}
    figures_table = table("Median ms, peak RSS MB; ours / best peer below 1: ours is the fastest", columns, figures_rows)
    path = write_results("selection", title=TITLE, parameters=parameters, tables=[figures_table], quick=args.quick)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
