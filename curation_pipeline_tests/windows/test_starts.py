"""Where a curator starts: ``start_on``, else the window of its first deployment, recorded once in the store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from curation_pipeline.curators import UniformCurator
from curation_pipeline.errors import CurationError
from curation_pipeline.store import DatasetStore, StoreAccessError
from curation_pipeline.windows import (
    FIRST_DEPLOYED,
    START_ON,
    CuratorStart,
    CuratorStartError,
    first_window_start,
    known_start,
    resolve_start,
    window_grid,
)
from curation_pipeline_tests.conftest import MotoServer

UTC = dt.timezone.utc
DEPLOYED = dt.datetime(2026, 11, 27, 12, 3, 28, tzinfo=UTC)


def curator(**overrides) -> UniformCurator:
    arguments = {"name": "reviews", "application_name": "shop", "limit": 10}
    arguments.update(overrides)
    return UniformCurator(**arguments)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (dt.timedelta(days=1), dt.datetime(2026, 11, 27, tzinfo=UTC)),
        (dt.timedelta(hours=1), dt.datetime(2026, 11, 27, 12, tzinfo=UTC)),
        (dt.timedelta(hours=6), dt.datetime(2026, 11, 27, 12, tzinfo=UTC)),
        (dt.timedelta(minutes=15), dt.datetime(2026, 11, 27, 12, tzinfo=UTC)),
        (dt.timedelta(minutes=90), dt.datetime(2026, 11, 27, 12, tzinfo=UTC)),  # 2026-01-01 + 5287 * 90m
        (dt.timedelta(weeks=1), dt.datetime(2026, 11, 26, tzinfo=UTC)),  # weeks counted from Thursday 2026-01-01
    ],
)
def test_the_first_window_is_the_one_holding_the_moment(interval: dt.timedelta, expected: dt.datetime) -> None:
    start = first_window_start(DEPLOYED, interval)
    assert start == expected
    assert start <= DEPLOYED < start + interval


def test_moments_before_the_default_anchor_align_too() -> None:
    moment = dt.datetime(2025, 6, 30, 23, 59, tzinfo=UTC)
    assert first_window_start(moment, dt.timedelta(days=1)) == dt.datetime(2025, 6, 30, tzinfo=UTC)
    other_zone = moment.astimezone(dt.timezone(dt.timedelta(hours=2)))  # 2025-07-01 01:59 at +02:00
    assert first_window_start(other_zone, dt.timedelta(days=1)) == dt.datetime(2025, 6, 30, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    server: MotoServer = request.getfixturevalue("aws_env")
    return f"s3://{server.make_bucket('starts')}/root"


def test_first_deployment_is_recorded_and_kept(store_url: str) -> None:
    daily = curator()
    start = resolve_start(daily, DatasetStore.open(store_url), clock=lambda: DEPLOYED)
    assert start == CuratorStart(dt.datetime(2026, 11, 27, tzinfo=UTC), FIRST_DEPLOYED)
    assert start.label(daily.curation_interval) == "2026-11-27 (first deployed)"
    # A reload an hour later, a restart a week later on another machine: the same start.
    later = DEPLOYED + dt.timedelta(hours=1)
    assert resolve_start(daily, DatasetStore.open(store_url), clock=lambda: later) == start
    assert resolve_start(daily, DatasetStore.open(store_url), clock=lambda: later + dt.timedelta(days=7)) == start
    assert known_start(daily, DatasetStore.open(store_url)) == start


def test_hourly_curators_start_on_the_hour(store_url: str) -> None:
    hourly = curator(curation_interval=dt.timedelta(hours=1))
    start = resolve_start(hourly, DatasetStore.open(store_url), clock=lambda: DEPLOYED)
    assert start.start == dt.datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert start.label(hourly.curation_interval) == "2026-11-27-12:00 (first deployed)"
    grid = window_grid(start_on=start.start, interval=hourly.curation_interval)
    assert grid.window_containing(DEPLOYED).start == grid.anchor


def test_start_on_wins_and_records_nothing(tmp_path: Path) -> None:
    store = DatasetStore.open(tmp_path / "store")
    fixed = curator(start_on=dt.datetime(2026, 3, 1, tzinfo=UTC))
    assert resolve_start(fixed, store, clock=lambda: DEPLOYED) == CuratorStart(fixed.start_on, START_ON)
    assert store.curator_start("reviews") is None
    # Even when a record exists (the curator was deployed before it was given a start_on).
    store.record_curator_start("reviews", dt.datetime(2026, 11, 27, tzinfo=UTC))
    assert resolve_start(fixed, store, clock=lambda: DEPLOYED).source == START_ON
    assert known_start(fixed, None) == CuratorStart(fixed.start_on, START_ON)
    assert fixed.start_on is not None and CuratorStart(fixed.start_on, START_ON).label(fixed.curation_interval) == (
        "2026-03-01 (start_on)"
    )


def test_not_yet_deployed(tmp_path: Path) -> None:
    assert known_start(curator(), DatasetStore.open(tmp_path / "store")) is None
    assert known_start(curator(), None) is None


class _BrokenStore:
    url = "s3://broken/root"

    def curator_start(self, name: str):
        raise StoreAccessError("access denied")


def test_an_unreachable_store_names_the_curator() -> None:
    with pytest.raises(CuratorStartError, match="cannot resolve the start of curator 'reviews' in s3://broken/root") as caught:
        resolve_start(curator(), _BrokenStore(), clock=lambda: DEPLOYED)  # type: ignore[arg-type]
    assert isinstance(caught.value, CurationError)
    assert isinstance(caught.value.__cause__, StoreAccessError)
