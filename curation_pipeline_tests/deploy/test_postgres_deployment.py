"""The shipped production instance, run for real: PostgreSQL, code server, webserver, daemon, S3 logs.

One split deployment serves the module (see ``conftest.py``); the tests go
through it in order, each on windows no earlier test touched, and check the
store the runs committed to.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from curation_devtools.waiting import poll
from curation_pipeline.defs.assets import curator_pool
from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.conftest import FAKE_CREDENTIALS, FAKE_REGION
from curation_pipeline_tests.deploy.conftest import CURATORS, INSTANCE_FILE, Deployment

# Slow like the other tests of real Dagster processes (daemon/); one xdist worker runs the module.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres_deployment")]

UTC = dt.timezone.utc
CURATOR_TAG = "curation/curator"
IN_PROGRESS = {"STARTING", "STARTED"}


def _asset(curator: str) -> tuple[str, str]:
    return ("curated", curator)


def _committed(deployment: Deployment, curator: str) -> dict[str, int]:
    """How many versions of the curator's dataset were committed for each window."""
    store = DatasetStore.open(
        deployment.store_url, endpoint_url=deployment.moto.endpoint_url, region_name=FAKE_REGION, **FAKE_CREDENTIALS
    )
    counts: dict[str, int] = defaultdict(int)
    for version in store.get_dataset(curator).list_versions():
        counts[version.metadata["partition_key"]] += 1
    return dict(counts)


def _dagster(deployment: Deployment, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **deployment.env, "DAGSTER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "dagster", *args], env=env, capture_output=True, text=True, timeout=180)


def _event_types(deployment: Deployment, run_id: str) -> list[str]:
    return [event["__typename"] for event in deployment.client.run_events(run_id)]


def test_instance_info_and_migrate_accept_the_shipped_yaml(split_deployment: Deployment) -> None:
    home = split_deployment.processes.home

    info = _dagster(split_deployment, home, "instance", "info")
    migrate = _dagster(split_deployment, home, "instance", "migrate")

    assert info.returncode == 0, info.stderr
    for storage in ("PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"):
        assert f": {storage}" in info.stdout
    schema = re.findall(r"(\w+_storage):\s+current: (\w+)\s+latest: (\w+)", info.stdout.split("Storage schema state:")[1])
    assert {name for name, _, _ in schema} == {"event_log_storage", "run_storage", "schedule_storage"}
    assert all(current == latest for _, current, latest in schema)  # a fresh database is fully migrated
    assert migrate.returncode == 0, migrate.stderr
    assert "Storage schema state after migration" in migrate.stdout
    assert split_deployment.env["DAGSTER_PG_PASSWORD"] not in info.stdout + info.stderr


def test_a_typo_in_the_instance_yaml_fails_instance_info(split_deployment: Deployment, tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(INSTANCE_FILE.read_text().replace("db_name:", "db_nmae:"))

    info = _dagster(split_deployment, tmp_path, "instance", "info")

    assert info.returncode != 0
    assert "db_nmae" in info.stdout + info.stderr


def test_the_daemon_runs_the_queue_run_monitoring_and_retries(split_deployment: Deployment) -> None:
    data = split_deployment.client.query("daemon_health")["instance"]["daemonHealth"]["allDaemonStatuses"]
    statuses = {status["daemonType"]: status for status in data}

    # MONITORING watches run workers; EVENT_LOG_CONSUMER retries the runs whose worker crashed.
    for daemon in ("QUEUED_RUN_COORDINATOR", "MONITORING", "EVENT_LOG_CONSUMER", "SCHEDULER", "BACKFILL"):
        assert statuses[daemon]["required"] and statuses[daemon]["healthy"], statuses.get(daemon)


def test_a_schedule_tick_at_a_chosen_time_curates_its_window_through_the_queue(split_deployment: Deployment) -> None:
    client, curator = split_deployment.client, CURATORS[0]
    (schedule,) = client.schedules_for_asset(_asset(curator))
    key = split_deployment.partitions[1]
    tick = dt.datetime.fromisoformat(key).replace(tzinfo=UTC) + dt.timedelta(days=1, hours=2)  # end + delay

    (request,) = client.schedule_dry_run(schedule, tick.timestamp())
    run_id = client.launch_partition_run(_asset(curator), key, job_name=schedule["pipelineName"], tags=request.tags)
    run = client.wait_run(run_id, timeout=180)

    assert schedule["scheduleState"]["status"] == "RUNNING"
    assert (request.partition_key, request.run_key) == (key, key)
    assert {"key": CURATOR_TAG, "value": curator} in run["tags"]
    events = _event_types(split_deployment, run_id)
    assert events.index("RunEnqueuedEvent") < events.index("RunStartingEvent") < events.index("RunStartEvent")
    assert _committed(split_deployment, curator) == {key: 1}


def test_a_backfill_of_several_windows_commits_each_once(split_deployment: Deployment) -> None:
    client, curator = split_deployment.client, CURATORS[1]
    keys = list(split_deployment.partitions[1:4])

    backfill = client.wait_backfill(client.launch_backfill([_asset(curator)], keys), timeout=240)

    assert sorted(backfill.partition_names) == keys
    assert _committed(split_deployment, curator) == dict.fromkeys(keys, 1)
    for run in backfill.runs:
        tags = {tag["key"]: tag["value"] for tag in client.run(run["runId"])["tags"]}
        assert tags["dagster/backfill"] == backfill.id


def _curator_job(client, curator: str) -> str:
    """The curator's own job (its schedule's), whose runs carry the ``curation/curator`` tag."""
    (schedule,) = client.schedules_for_asset(_asset(curator))
    return schedule["pipelineName"]


ASSET_JOB = "__ASSET_JOB"  # Dagster's job of every asset: Materialize and backfills from the UI run it


def _limits() -> tuple[int, int]:
    """The global cap and the per-curator pool limit of the shipped instance."""
    concurrency = yaml.safe_load(INSTANCE_FILE.read_text())["concurrency"]
    return concurrency["runs"]["max_concurrent_runs"], concurrency["pools"]["default_limit"]


def test_runs_of_any_job_are_held_to_the_per_curator_pool_limit(split_deployment: Deployment) -> None:
    client = split_deployment.client
    cap, per_curator = _limits()
    keys = split_deployment.partitions[5:8]
    pools = client.pools()
    # The daemon gave each curator's pool the default limit when its first run (earlier tests) was queued.
    assert (pools["poolGranularity"], pools["defaultPoolLimit"]) == ("run", per_curator)
    for curator in CURATORS:
        assert pools["limits"][curator_pool(curator)]["limit"] == per_curator, pools["limits"]
    # Through the asset job, as the UI's Materialize launches a window: the runs carry no curator tag;
    # one of the second curator's windows through its own job, so the pool counts runs of both jobs.
    jobs = {(CURATORS[1], keys[0]): _curator_job(client, CURATORS[1])}
    run_ids = {
        c: [client.launch_partition_run(_asset(c), key, job_name=jobs.get((c, key), ASSET_JOB)) for key in keys]
        for c in CURATORS
    }
    curator_of = {run_id: curator for curator, ids in run_ids.items() for run_id in ids}
    assert len(keys) > per_curator  # so the limit has something to hold back

    held_back = False  # a run waited in the queue while its curator was at its limit and slots were free
    peak: dict[str, int] = defaultdict(int)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        statuses: dict[str, list[str]] = defaultdict(list)
        for run in client.runs(run_ids=list(curator_of)):  # one query: one moment
            statuses[curator_of[run["runId"]]].append(run["status"])
        running = {c: sum(s in IN_PROGRESS for s in found) for c, found in statuses.items()}
        for curator, count in running.items():
            peak[curator] = max(peak[curator], count)
            if count == per_curator and "QUEUED" in statuses[curator] and sum(running.values()) < cap:
                held_back = True
        if all(s in {"SUCCESS", "FAILURE", "CANCELED"} for found in statuses.values() for s in found):
            break
        time.sleep(0.5)

    for curator, ids in run_ids.items():
        for run_id in ids:
            run = client.wait_run(run_id, timeout=10)  # raises with the failure unless it succeeded
            tags = {tag["key"]: tag["value"] for tag in run["tags"]}
            through_own_job = run_id == run_ids[CURATORS[1]][0]
            assert (CURATOR_TAG in tags) == through_own_job, tags  # the limit is not the tag's
            events = _event_types(split_deployment, run_id)
            assert events.index("RunEnqueuedEvent") < events.index("RunStartingEvent")  # went through the queue
    assert max(peak.values()) <= per_curator, dict(peak)
    assert held_back, f"no run was held back by the per-curator pool (peaks {dict(peak)})"
    for curator in CURATORS:
        assert {k: n for k, n in _committed(split_deployment, curator).items() if k in keys} == dict.fromkeys(keys, 1)


def test_compute_logs_land_in_s3(split_deployment: Deployment) -> None:
    client = split_deployment.client
    runs = client.runs(tags={CURATOR_TAG: CURATORS[0]}, statuses=["SUCCESS"])
    s3 = split_deployment.moto.client()

    def keys() -> list[str]:
        listing = s3.list_objects_v2(Bucket=split_deployment.logs_bucket, Prefix="dagster/compute-logs/")
        return [item["Key"] for item in listing.get("Contents", [])]

    found = poll(
        keys,
        lambda k: all(any(r["runId"] in key for key in k) for r in runs),
        timeout=60,
        interval=1.0,
        describe_timeout=lambda k: f"step logs of {[r['runId'] for r in runs]} not all in S3: {k}",
    )

    assert runs
    for run in runs:
        logs = [key for key in found if run["runId"] in key]
        assert {Path(key).suffix for key in logs} >= {".err"}, logs


def test_a_run_worker_killed_mid_commit_is_noticed_retried_and_commits_once(split_deployment: Deployment) -> None:
    client, proxy, curator = split_deployment.client, split_deployment.proxy, CURATORS[0]
    key = split_deployment.partitions[0]
    bucket, prefix = split_deployment.store_url.removeprefix("s3://").split("/", 1)
    dataset_path = f"/{bucket}/{prefix}/datasets/{curator}/"
    before = _committed(split_deployment, curator)
    assert key not in before

    # Park the worker's first write into the dataset: it is then mid-materialization, mid-commit.
    proxy.hold_when(lambda method, path: method == "PUT" and path.startswith(dataset_path))
    try:
        run_id = client.launch_partition_run(_asset(curator), key, job_name=_curator_job(client, curator))
        assert proxy.holding.wait(180), "the run never wrote to the store"
        pid = _worker_pid(client.run_events(run_id))
        worker = next(p for p in split_deployment.processes.run_workers() if p.pid == pid)
        worker.kill()  # SIGKILL: no cleanup, no failure event from the worker itself
        worker.wait(30)
    finally:
        proxy.hold_when(None)
        proxy.release()

    poll(
        lambda: client.run_status(run_id),
        lambda s: s == "FAILURE",
        timeout=120,
        interval=0.5,
        describe_timeout=lambda s: f"the killed run is still {s}",
    )
    (retry,) = poll(
        lambda: client.runs(tags={"dagster/parent_run_id": run_id}),
        bool,
        timeout=120,
        interval=1.0,
        describe_timeout=lambda _: f"no retry of {run_id}",
    )
    client.wait_run(retry["runId"], timeout=180)

    messages = " ".join(event.get("message") or "" for event in client.run_events(run_id))
    assert re.search(r"terminated by signal 9|SIGKILL", messages), messages[-2000:]
    tags = {tag["key"]: tag["value"] for tag in retry["tags"]}
    assert tags["dagster/retry_number"] == "1" and tags["dagster/root_run_id"] == run_id
    assert _committed(split_deployment, curator) == {**before, key: 1}
    assert client.runs(tags={"dagster/parent_run_id": retry["runId"]}) == []  # no second retry


def _worker_pid(events: list[dict]) -> int:
    for event in events:
        found = re.search(r"Started process for run \(pid: (\d+)\)", event.get("message") or "")
        if found:
            return int(found.group(1))
    raise AssertionError(f"no run worker pid among {[e.get('message') for e in events]}")
