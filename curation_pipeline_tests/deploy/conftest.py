"""The production instance (``deploy/``) on a real PostgreSQL, in the split topology.

``split_deployment`` (one per module) starts a throwaway PostgreSQL server
(:class:`curation_devtools.postgres.PostgresServer`), writes a few days of
demo stream into an S3 store on the session's moto server, and runs
``dagster code-server start``, ``dagster-webserver`` and ``dagster-daemon``
as separate processes on ``deploy/dagster.yaml`` and ``deploy/workspace.yaml``
exactly as shipped: everything they need comes from environment variables.

The store is reached through an :class:`~curation_devtools.s3proxy.S3Proxy`
(forwarding as is until a test asks it to hold requests: that freezes a run
worker in the middle of a commit). Compute logs go straight to moto.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from curation_devtools.deployment import DEPLOY_DIR, SplitDeployment
from curation_devtools.postgres import PostgresServer
from curation_devtools.s3proxy import S3Proxy
from curation_pipeline_tests.conftest import FAKE_CREDENTIALS, FAKE_REGION, MotoServer

APPLICATION = "reviews"
DAYS = 8
ROWS_PER_DAY = 500
CURATORS = ("reviews-uniform", "reviews-newest")
INSTANCE_FILE = DEPLOY_DIR / "dagster.yaml"


@dataclass(frozen=True)
class Deployment:
    """What the tests need: the processes, the database, the buckets and the windows with data."""

    processes: SplitDeployment
    postgres: PostgresServer
    moto: MotoServer
    proxy: S3Proxy
    store_url: str
    logs_bucket: str
    env: dict[str, str]  # what every process of the deployment got, besides DAGSTER_HOME
    partitions: tuple[str, ...]  # daily windows with stream data, oldest first

    @property
    def client(self):
        return self.processes.client


def process_env(
    postgres: PostgresServer, moto: MotoServer, proxy: S3Proxy, store_url: str, logs: str, catalogue: Path
) -> dict[str, str]:
    """The environment a team would set on each container: database, buckets, endpoint, catalogue."""
    return {
        **postgres.dagster_env(),
        "DAGSTER_COMPUTE_LOGS_BUCKET": logs,
        "CURATION_STORE_URL": store_url,
        "CURATION_S3_ENDPOINT_URL": proxy.endpoint_url,  # the store, through the proxy
        "AWS_ENDPOINT_URL_S3": moto.endpoint_url,  # everything else S3 (compute logs)
        "CURATION_CURATORS_FILE": str(catalogue),
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": FAKE_REGION,
        "AWS_DEFAULT_REGION": FAKE_REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "CURATION_AUTHOR": "deploy-test",
    }


def catalogue(start_on: dt.date) -> dict:
    common = {
        "application_name": APPLICATION,
        "start_on": start_on.isoformat(),
        "curation_interval": "1d",
        "curation_delay": "2h",
        "curate_past_intervals": False,  # the tests launch every window themselves
        "enabled": True,
        "limit": 20,
    }
    return {
        "curators": [
            {"type": "UniformCurator", "name": CURATORS[0], **common},
            {"type": "NewestCurator", "name": CURATORS[1], **common},
        ]
    }


@pytest.fixture(scope="module")
def split_deployment(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from curation_pipeline.demo import write_demo_stream
    from curation_pipeline.location import resolve_location

    root = tmp_path_factory.mktemp("deploy")
    store_bucket, logs_bucket = moto_server.make_bucket("store"), moto_server.make_bucket("logs")
    store_url = f"s3://{store_bucket}/curation"
    today = dt.datetime.now(dt.timezone.utc).date()
    start_on = today - dt.timedelta(days=DAYS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
        patch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
        location = resolve_location(store_url, endpoint_url=moto_server.endpoint_url, region=FAKE_REGION)
        write_demo_stream(APPLICATION, days=DAYS, rows_per_day=ROWS_PER_DAY, end=today, location=location)
    curators_file = root / "curators.yaml"
    curators_file.write_text(yaml.safe_dump(catalogue(start_on), sort_keys=False))
    partitions = tuple((start_on + dt.timedelta(days=i)).isoformat() for i in range(DAYS))
    with PostgresServer.start() as postgres, S3Proxy.start(moto_server.endpoint_url) as proxy:
        env = process_env(postgres, moto_server, proxy, store_url, logs_bucket, curators_file)
        print(f"\ndeployment logs: {root}")
        with SplitDeployment.start(root / "dagster_home", logs=root, env=env) as processes:
            yield Deployment(processes, postgres, moto_server, proxy, store_url, logs_bucket, env, partitions)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    deployment = getattr(item, "funcargs", {}).get("split_deployment")
    if report.failed and isinstance(deployment, Deployment):
        report.sections.append(("deployment logs", deployment.processes.log_tail()))
