"""A backfill of N daily windows on the local instance and on the production one.

* ``sqlite``: ``dagster dev`` with the project's ``dagster.yaml`` (SQLite under
  DAGSTER_HOME, at most 4 runs at once), as ``make run``;
* ``postgres``: the split deployment of ``deploy/`` (a throwaway PostgreSQL,
  ``dagster code-server start``, ``dagster-webserver``, ``dagster-daemon``;
  the shipped run queue limits; step logs to a local moto S3 server).

Both curate the same stream from a local store with the shipped backfill
policy (10 windows per run). Timed from the GraphQL launch to
COMPLETED_SUCCESS with every window committed.

    .venv/bin/python benchmarks/instance_backfill_bench.py --days 30 --rows-per-day 20000

Prints one line per mode and writes ``benchmarks/results/instance_backfill.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import boto3
import yaml
from moto.server import ThreadedMotoServer
from results_io import table, write_results

from curation_devtools import DagsterDev, free_port
from curation_devtools.deployment import SplitDeployment
from curation_devtools.postgres import PostgresServer
from curation_pipeline.demo import write_demo_stream
from curation_pipeline.store import DatasetStore

APPLICATION = "bench"
CURATOR = "bench-uniform"
ASSET_KEY = ("curated", CURATOR)
MODES = ("sqlite", "postgres")
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def catalogue(start_on: dt.date) -> dict:
    return {
        "curators": [
            {
                "type": "UniformCurator",
                "name": CURATOR,
                "application_name": APPLICATION,
                "limit": 100,
                "start_on": start_on.isoformat(),
                "curation_interval": "1d",
                "curate_past_intervals": False,
                "enabled": False,
            }
        ]
    }


def start(mode: str, root: Path, env: dict[str, str], stack: ExitStack):
    """The running instance of ``mode`` (entered on ``stack``) and the seconds it took to come up."""
    t0 = time.monotonic()
    if mode == "sqlite":
        dev = stack.enter_context(DagsterDev.start(home=root / "home", log_path=root / "dagster-dev.log", env=env, timeout=300))
        return dev.client, time.monotonic() - t0
    postgres = stack.enter_context(PostgresServer.start())
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    stack.callback(moto.stop)
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="bench-logs")
    env = {**env, **postgres.dagster_env(), **FAKE_AWS, "DAGSTER_COMPUTE_LOGS_BUCKET": "bench-logs",
           "AWS_ENDPOINT_URL_S3": endpoint}
    deployment = stack.enter_context(SplitDeployment.start(root / "home", logs=root, env=env, timeout=300))
    return deployment.client, time.monotonic() - t0


def measure(mode: str, stream: Path, work: Path, start_on: dt.date, days: int) -> dict:
    root = work / mode
    store = root / "store"
    shutil.copytree(stream / "streams", store / "streams")
    curators_file = root / "curators.yaml"
    curators_file.write_text(yaml.safe_dump(catalogue(start_on), sort_keys=False))
    env = {"CURATION_STORE_URL": str(store), "CURATION_CURATORS_FILE": str(curators_file)}
    keys = [(start_on + dt.timedelta(days=i)).isoformat() for i in range(days)]
    with ExitStack() as stack:
        client, startup = start(mode, root, env, stack)
        t0 = time.monotonic()
        backfill = client.wait_backfill(client.launch_backfill([ASSET_KEY], keys), timeout=3600, poll_interval=0.5)
        seconds = time.monotonic() - t0
    versions = DatasetStore.open(str(store)).get_dataset(CURATOR).list_versions()
    if sorted(v.metadata["partition_key"] for v in versions) != keys:
        raise RuntimeError(f"{mode}: {len(versions)} versions for {days} windows")
    return {"mode": mode, "windows": days, "runs": len(backfill.runs), "seconds": seconds, "startup": startup}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=20_000)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args(argv)
    end = dt.datetime.now(dt.timezone.utc).date()
    start_on = end - dt.timedelta(days=args.days)
    work = Path(tempfile.mkdtemp(prefix="instance-bench-"))
    load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    try:
        write_demo_stream(APPLICATION, days=args.days, rows_per_day=args.rows_per_day, end=end, store_url=str(work / "stream"))
        results = []
        for mode in args.modes:
            result = measure(mode, work / "stream", work, start_on, args.days)
            results.append(result)
            print(f"{mode:>8}: {result['seconds']:6.1f}s launch -> COMPLETED_SUCCESS, {result['runs']} runs, "
                  f"{result['windows']} windows committed; up in {result['startup']:.1f}s", flush=True)
        rows = [[r["mode"], r["windows"], r["runs"], round(r["seconds"], 1), round(r["startup"], 1)] for r in results]
        path = write_results(
            "instance_backfill",
            title="Backfills on the local (SQLite) and production (PostgreSQL, split) instances",
            parameters=vars(args),
            tables=[table(f"{args.days} daily windows, {args.rows_per_day:,} rows a day",
                          ["instance", "windows", "runs", "launch to COMPLETED_SUCCESS s", "startup s"], rows)],
            note=f"The 1-minute load average was {load:.1f} on {os.cpu_count()} CPUs when the benchmark started.",
        )
        print(f"results: {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
