"""Backfill benchmark: 90 daily windows of a 100,000-rows-a-day stream, through a real ``dagster dev``.

Each mode gets a fresh store and Dagster instance. The backfill is launched
over GraphQL exactly as the UI's partition dialog does (``launchPartitionBackfill``
with the asset and the partition keys) and timed from the launch until the
backfill reports COMPLETED_SUCCESS with every window materialized:

* ``batched``: the curator's ``BackfillPolicy`` as shipped (several windows per run);
* ``per-window``: one run per window (``CURATION_BACKFILL_PARTITIONS_PER_RUN=1``).

    .venv/bin/python benchmarks/backfill_bench.py            # both modes, 90 days x 100,000 rows
    .venv/bin/python benchmarks/backfill_bench.py --days 10 --modes batched

Prints one line per mode, the ratio, and writes ``benchmarks/results/backfill.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from results_io import table, write_results

from curation_devtools import DagsterDev
from curation_pipeline.environment import PARTITIONS_PER_RUN_ENV
from curation_pipeline.store import DatasetStore
from curation_pipeline.demo import write_demo_stream

APPLICATION = "bench"
CURATOR = "bench-uniform"
ASSET_KEY = ("curated", CURATOR)
LIMIT = 100
MODES = {"batched": None, "per-window": "1"}  # mode -> windows per run (None: the shipped default)
TITLE = "Backfills through dagster dev"


@dataclass(frozen=True)
class Measurement:
    mode: str
    windows: int
    runs: int
    versions: int
    seconds: float  # launch -> backfill COMPLETED_SUCCESS, every window materialized
    last_materialized_s: float  # launch -> the last window's materialization event
    startup_s: float  # dagster dev start -> webserver up and code location loaded


def catalogue(start_on: dt.date) -> dict:
    """One daily uniform curator over the benchmark stream; backfills are launched by hand."""
    return {
        "curators": [
            {
                "type": "UniformCurator",
                "name": CURATOR,
                "application_name": APPLICATION,
                "limit": LIMIT,
                "start_on": start_on.isoformat(),
                "curation_interval": "1d",
                "curate_past_intervals": False,
                "enabled": False,
            }
        ]
    }


def measure(mode: str, stream_root: Path, work: Path, start_on: dt.date, days: int) -> Measurement:
    """Backfill every window once in a fresh store and instance; raise unless all of them committed."""
    root = work / mode
    store = root / "store"
    shutil.copytree(stream_root / "streams", store / "streams")
    curators_file = root / "curators.yaml"
    curators_file.write_text(yaml.safe_dump(catalogue(start_on), sort_keys=False))
    env = {"CURATION_STORE_URL": str(store), "CURATION_CURATORS_FILE": str(curators_file)}
    if MODES[mode]:
        env[PARTITIONS_PER_RUN_ENV] = MODES[mode]
    keys = [(start_on + dt.timedelta(days=i)).isoformat() for i in range(days)]
    started = time.monotonic()
    with DagsterDev.start(home=root / "dagster_home", log_path=root / "dagster-dev.log", env=env, timeout=300) as dev:
        startup = time.monotonic() - started
        launched_at = time.time()
        t0 = time.monotonic()
        backfill_id = dev.client.launch_backfill([ASSET_KEY], keys, title=f"benchmark {mode}")
        backfill = dev.client.wait_backfill(backfill_id, timeout=3600, poll=0.5)
        seconds = time.monotonic() - t0
        events = dev.client.materializations(ASSET_KEY, keys)
    materialized = {event.partition for event in events}
    versions = DatasetStore.open(str(store)).get_dataset(CURATOR).list_versions()
    if materialized != set(keys) or len(versions) != days:
        raise RuntimeError(f"{mode}: {len(materialized)} windows materialized, {len(versions)} versions, {days} expected")
    last = max(event.timestamp_ms for event in events) / 1000 - launched_at
    return Measurement(mode, days, len(backfill.runs), len(versions), seconds, last, startup)


def results_table(results: list[Measurement]) -> dict:
    """The figures of every mode, as one table of the results file."""
    labels = {"batched": "batched (the default windows per run)", "per-window": f"per-window ({PARTITIONS_PER_RUN_ENV}=1)"}
    return table(
        f"{results[0].windows} daily windows of a UniformCurator (limit {LIMIT})",
        ["mode", "windows", "runs", "versions", "launch to COMPLETED_SUCCESS s", "last window materialized s",
         "dagster dev startup s"],
        [
            [labels[r.mode], r.windows, r.runs, r.versions, round(r.seconds, 1), round(r.last_materialized_s, 1),
             round(r.startup_s, 1)]
            for r in results
        ],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rows-per-day", type=int, default=100_000)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores and logs")
    args = parser.parse_args(argv)

    end = dt.datetime.now(dt.timezone.utc).date()
    start_on = end - dt.timedelta(days=args.days)
    work = Path(tempfile.mkdtemp(prefix="backfill-bench-"))
    try:
        t0 = time.monotonic()
        written = write_demo_stream(
            application=APPLICATION, days=args.days, rows_per_day=args.rows_per_day, end=end, store_url=str(work / "stream")
        )
        print(f"stream: {written.rows:,} rows over {args.days} days written in {time.monotonic() - t0:.1f}s ({work})")
        results = []
        for mode in args.modes:
            result = measure(mode, work / "stream", work, start_on, args.days)
            results.append(result)
            print(
                f"{mode:>10}: {result.seconds:6.1f}s launch -> COMPLETED_SUCCESS "
                f"(last window materialized at {result.last_materialized_s:.1f}s), "
                f"{result.runs} runs, {result.versions} versions committed; dagster dev up in {result.startup_s:.1f}s",
                flush=True,
            )
        by_mode = {r.mode: r for r in results}
        if {"batched", "per-window"} <= set(by_mode):
            ratio = by_mode["per-window"].seconds / by_mode["batched"].seconds
            print(f"per-window / batched: {ratio:.2f}x")
        note = f"Batched backfills were {ratio:.1f} times faster." if {"batched", "per-window"} <= set(by_mode) else ""
        parameters = {"days": args.days, "rows_per_day": args.rows_per_day, "modes": args.modes}
        path = write_results("backfill", title=TITLE, parameters=parameters, tables=[results_table(results)], note=note)
        print(f"results: {path}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
