"""One real ``dagster dev`` per test worker, over a small stream and catalogue of its own.

The ``dagster_dev`` fixture writes a few days of demo stream into a temporary
store, a two-curator YAML catalogue next to it, and starts ``dagster dev``
with a temporary DAGSTER_HOME (given the project's ``dagster.yaml``). ``make
test`` distributes tests by file, so each file's tests share one server; the
``xdist_group`` marks say which tests belong together for a run that groups
them. The server's log is attached to the report of every failing test that
used it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from curation_devtools import DagsterDev, WebserverClient

APPLICATION = "reviews"
DAYS = 4
ROWS_PER_DAY = 2_000
UNIFORM = {"name": "reviews-uniform", "limit": 50, "curation_delay": "2h"}
NEWEST = {"name": "reviews-newest", "limit": 20}
UNIFORM_KEY = ("curated", UNIFORM["name"])
NEWEST_KEY = ("curated", NEWEST["name"])
STREAM_KEY = ("stream", APPLICATION)


@dataclass(frozen=True)
class DagsterDevSession:
    """What the tests need: the client, the store, the curators and their partition keys."""

    dev: DagsterDev
    store_url: str
    catalogue: Path
    partitions: tuple[str, ...]  # the daily windows with stream data, oldest first

    @property
    def client(self) -> WebserverClient:
        return self.dev.client

    @property
    def url(self) -> str:
        return self.dev.url


def utc_today() -> dt.date:
    """The current UTC date (Dagster's daily partitions end at the last complete UTC day)."""
    return dt.datetime.now(dt.timezone.utc).date()


def daily_keys(first: dt.date, end: dt.date) -> tuple[str, ...]:
    """The daily partition keys from ``first`` up to ``end`` (excluded)."""
    return tuple((first + dt.timedelta(days=i)).isoformat() for i in range((end - first).days))


def catalogue_items(start_on: dt.date) -> list[dict]:
    """The test catalogue: a uniform (curated 2 hours after each window) and a newest-records curator, daily."""
    common = {
        "application_name": APPLICATION,
        "start_on": start_on.isoformat(),
        "curation_interval": "1d",
        "curate_past_intervals": False,  # the tests launch every window themselves
        "enabled": True,
    }
    return [
        {"type": "UniformCurator", **UNIFORM, **common},
        {"type": "NewestCurator", **NEWEST, **common},
    ]


@pytest.fixture(scope="session")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDevSession]:
    """A running ``dagster dev`` over a fresh store; stopped (whole process group) at the end."""
    from curation_pipeline.demo import write_demo_stream

    root = tmp_path_factory.mktemp("dagster_dev")
    store_url = str(root / "store")
    today = utc_today()  # read once: the stream, the catalogue and the expected keys share it
    start_on = today - dt.timedelta(days=DAYS)
    write_demo_stream(application=APPLICATION, days=DAYS, rows_per_day=ROWS_PER_DAY, end=today, store_url=store_url)
    catalogue = root / "curators.yaml"
    catalogue.write_text(yaml.safe_dump({"curators": catalogue_items(start_on)}, sort_keys=False))
    env = {"CURATION_STORE_URL": store_url, "CURATION_CURATORS_FILE": str(catalogue)}
    log_path = root / "dagster-dev.log"
    print(f"\ndagster dev log: {log_path}")
    dev = DagsterDev.start(home=root / "dagster_home", log_path=log_path, env=env)
    partitions = daily_keys(start_on, today)
    try:
        yield DagsterDevSession(dev=dev, store_url=store_url, catalogue=catalogue, partitions=partitions)
    finally:
        dev.stop()  # raises if a process of the group survives


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed  # read by fixtures that keep evidence of failures (screenshots)
    session = getattr(item, "funcargs", {}).get("dagster_dev")
    if report.failed and isinstance(session, DagsterDevSession):
        report.sections.append(("dagster dev log", session.dev.log_tail()))
