"""Fixtures of the Dagster wiring tests: a store folder with a small stream, curators, an instance."""

from __future__ import annotations

import datetime as dt
import dagster as dg
import pytest

from curation_pipeline.curators import Curator, Selector, TagFilter, UniformCurator
from curation_pipeline.curators.selectors import UniformSampler
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.stream import log_records

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
APP = "shop"


def records(day: int, count: int, *, prefix: str = "r", env_every: int = 2) -> list[dict]:
    """``count`` records spread over UTC day ``START + day``, every ``env_every``-th one from prod."""
    base = START + dt.timedelta(days=day)
    step = dt.timedelta(days=1) / count
    return [
        {
            "record_id": f"{prefix}{day}-{i}",
            "__time": base + i * step,
            "inputs.amount": float(i),
            "outputs.label": "pos" if i % 3 else "neg",
            "tags.env": "prod" if i % env_every == 0 else "staging",
        }
        for i in range(count)
    ]


@pytest.fixture
def store_url(tmp_path) -> str:
    """A local store holding three days of the ``shop`` stream (days 0-2 of 2026), 40 records a day."""
    url = str(tmp_path / "store")
    for day in range(3):
        log_records(APP, records(day, 40), store_url=url)
    return url


@pytest.fixture
def store(store_url) -> CurationStore:
    return CurationStore(store_url=store_url)


@pytest.fixture
def instance() -> dg.DagsterInstance:
    """An in-memory instance: runs, event log and schedule storage vanish with the test."""
    return dg.DagsterInstance.ephemeral()


@pytest.fixture
def sqlite_instance():
    """An instance on disk, for code that needs an instance reference (schedules over dynamic partitions)."""
    with dg.instance_for_test() as test_instance:
        yield test_instance


def prod_curator(**overrides) -> Curator:
    """5 uniformly random prod records a day from ``shop``."""
    arguments = {
        "name": "prod-sample",
        "application_name": APP,
        "start_on": START,
        "curation_interval": dt.timedelta(days=1),
        "selectors": [Selector(method=UniformSampler(), limit=5, tags=[TagFilter(name="env", value="prod")])],
    }
    arguments.update(overrides)
    return Curator(**arguments)


def uniform_curator(**overrides) -> Curator:
    arguments = {"name": "all-sample", "application_name": APP, "limit": 8, "start_on": START}
    arguments.update(overrides)
    return UniformCurator(**arguments)
