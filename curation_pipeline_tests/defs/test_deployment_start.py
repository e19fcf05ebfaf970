"""A curator without ``start_on`` starts at the window of its first deployment, and stays there.

Loaded through :func:`build_definitions`, as Dagster loads the code location,
with the clock pinned: the first load records the start in the store, later
loads (an hour later, on another machine, in another process) read it back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import dagster as dg
import pytest

from curation_pipeline.definitions import build_definitions
from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.conftest import FAKE_REGION, MotoServer
from curation_pipeline_tests.store.conftest import serial_moto_server  # noqa: F401  (a fixture)

UTC = dt.timezone.utc
DEPLOYED = dt.datetime(2026, 11, 27, 12, 3, 28, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = """
curators:
  - {type: UniformCurator, name: daily, application_name: shop, limit: 10}
  - {type: UniformCurator, name: hourly, application_name: shop, limit: 10, curation_interval: 1h}
  - {type: UniformCurator, name: every-90m, application_name: shop, limit: 10, curation_interval: 90m}
  - {type: UniformCurator, name: fixed, application_name: shop, limit: 10, start_on: 2026-03-01}
"""


def _environ(tmp_path: Path, store_url: str, **extra: str) -> dict[str, str]:
    catalogue = tmp_path / "curators.yaml"
    catalogue.write_text(CATALOGUE)
    return {"CURATION_CURATORS_FILE": str(catalogue), "CURATION_STORE_URL": store_url, **extra}


def _s3_environ(tmp_path: Path, server: MotoServer) -> dict[str, str]:
    url = f"s3://{server.make_bucket('deploy')}/root"
    return _environ(tmp_path, url, CURATION_S3_ENDPOINT_URL=server.endpoint_url, CURATION_S3_REGION=FAKE_REGION)


@pytest.fixture(params=["local", "s3"])
def environ(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """A catalogue file and an empty store, on each backend."""
    if request.param == "local":
        return _environ(tmp_path, str(tmp_path / "store"))
    return _s3_environ(tmp_path, request.getfixturevalue("aws_env"))


def _open(environ: dict[str, str]) -> DatasetStore:
    options = {}
    if environ["CURATION_STORE_URL"].startswith("s3://"):
        options = {"endpoint_url": environ["CURATION_S3_ENDPOINT_URL"], "region_name": environ["CURATION_S3_REGION"]}
    return DatasetStore.open(environ["CURATION_STORE_URL"], **options)


def _node(defs: dg.Definitions, dataset: str):
    return defs.get_repository_def().asset_graph.get(dg.AssetKey(["curated", dataset]))


def _first_key(defs: dg.Definitions, dataset: str) -> str | None:
    """The first partition of a cron-gridded curator, seen from a year on (so it has closed)."""
    with dg.partition_loading_context(effective_dt=dt.datetime(2027, 12, 1, tzinfo=UTC)):
        return _node(defs, dataset).partitions_def.get_first_partition_key()


def _first_keys(defs: dg.Definitions) -> dict[str, str | None]:
    """The first partition of each cron-gridded curator."""
    return {name: _first_key(defs, name) for name in ("daily", "hourly", "fixed")}


def test_first_deployment_starts_at_the_window_holding_it(environ: dict[str, str]) -> None:
    defs = build_definitions(environ, clock=lambda: DEPLOYED)
    assert _first_keys(defs) == {"daily": "2026-11-27", "hourly": "2026-11-27-12:00", "fixed": "2026-03-01"}
    daily = _node(defs, "daily")
    assert daily.partitions_def.time_window_for_partition_key("2026-11-27").start == dt.datetime(2026, 11, 27, tzinfo=UTC)
    assert daily.description == "10 uniformly random records per 1 day; starts 2026-11-27 (first deployed)"
    assert daily.metadata["start"] == dg.MetadataValue.text("2026-11-27T00:00:00+00:00")
    assert daily.metadata["start_source"] == dg.MetadataValue.text("first deployed")
    fixed = _node(defs, "fixed")
    assert fixed.description == "10 uniformly random records per 1 day; starts 2026-03-01 (start_on)"
    assert fixed.metadata["start_source"] == dg.MetadataValue.text("start_on")
    # Dynamic grids: the first window is the 90-minute window holding the deployment.
    assert _node(defs, "every-90m").metadata["start"] == dg.MetadataValue.text("2026-11-27T12:00:00+00:00")

    store = _open(environ)
    assert store.curator_start("daily").start == dt.datetime(2026, 11, 27, tzinfo=UTC)
    assert store.curator_start("hourly").start == dt.datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert store.curator_start("fixed") is None  # start_on needs no record


def test_reloads_and_other_machines_keep_the_start(environ: dict[str, str]) -> None:
    first = _first_keys(build_definitions(environ, clock=lambda: DEPLOYED))
    # Reload an hour later: the hourly curator would otherwise start at 13:00.
    assert _first_keys(build_definitions(environ, clock=lambda: DEPLOYED + dt.timedelta(hours=1))) == first
    # A restart days later: every load opens its own store handle, as a new machine does.
    assert _first_keys(build_definitions(dict(environ), clock=lambda: DEPLOYED + dt.timedelta(days=3))) == first


def test_a_second_machine_in_another_process_keeps_the_start(environ: dict[str, str]) -> None:
    build_definitions(environ, clock=lambda: DEPLOYED)
    code = (
        "import datetime as dt, json, os\n"
        "from curation_pipeline.definitions import build_definitions\n"
        "later = dt.datetime(2026, 12, 24, 18, 30, tzinfo=dt.timezone.utc)\n"
        "from curation_pipeline_tests.defs.test_deployment_start import _first_keys\n"
        "print(json.dumps(_first_keys(build_definitions(clock=lambda: later))))\n"
    )
    # `python -c` puts its working directory first on sys.path: the checkout's test package is importable.
    env = {**os.environ, **environ}
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "daily": "2026-11-27", "hourly": "2026-11-27-12:00", "fixed": "2026-03-01"
    }


@pytest.fixture(params=["local", "s3"])
def concurrent_environ(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """As ``environ``; S3 on the server whose conditional writes are atomic, as on S3."""
    if request.param == "local":
        return _environ(tmp_path, str(tmp_path / "store"))
    request.getfixturevalue("aws_env")  # fake credentials
    return _s3_environ(tmp_path, request.getfixturevalue("serial_moto_server"))


def test_concurrent_first_deployments_agree(concurrent_environ: dict[str, str]) -> None:
    """Four code servers load at once, each with its own clock (a day apart): they agree on one start."""
    loads = 4
    barrier = threading.Barrier(loads)
    results: list[dict[str, str] | BaseException | None] = [None] * loads

    def load(i: int) -> None:
        moment = DEPLOYED + dt.timedelta(days=i)
        try:
            barrier.wait()
            results[i] = _first_keys(build_definitions(concurrent_environ, clock=lambda: moment))
        except BaseException as error:  # reported below
            results[i] = error

    threads = [threading.Thread(target=load, args=(i,)) for i in range(loads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not [r for r in results if not isinstance(r, dict)], results
    assert all(r == results[0] for r in results)
    store = _open(concurrent_environ)
    assert results[0]["daily"] == store.curator_start("daily").start.strftime("%Y-%m-%d")


def test_start_on_ignores_a_record(tmp_path: Path) -> None:
    environ = _environ(tmp_path, str(tmp_path / "store"))
    DatasetStore.open(tmp_path / "store").record_curator_start("fixed", dt.datetime(2026, 11, 1, tzinfo=UTC))
    defs = build_definitions(environ, clock=lambda: DEPLOYED)
    assert _first_keys(defs)["fixed"] == "2026-03-01"


def test_a_curator_with_start_on_records_no_start_but_its_grid(tmp_path: Path) -> None:
    # Every deployed curator's dataset and grid are recorded (edits are judged against them), start_on or not.
    catalogue = tmp_path / "curators.yaml"
    catalogue.write_text(CATALOGUE.split("  - {type: UniformCurator, name: daily")[0] + CATALOGUE.splitlines()[-1] + "\n")
    environ = {"CURATION_CURATORS_FILE": str(catalogue), "CURATION_STORE_URL": str(tmp_path / "store")}
    defs = build_definitions(environ, clock=lambda: DEPLOYED)
    assert _first_key(defs, "fixed") == "2026-03-01"
    store = DatasetStore.open(str(tmp_path / "store"))
    assert store.curator_start("fixed") is None
    record, _ = store.curator_grid("fixed")
    assert record.first_deployed == dt.datetime(2026, 11, 27, tzinfo=UTC)
