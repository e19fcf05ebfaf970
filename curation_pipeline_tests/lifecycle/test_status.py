"""``curation curators status``: the live switch, the start, progress, HEAD, and retired curators."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
from click.testing import CliRunner
from dagster._core.scheduler.instigation import InstigatorStatus

from curation_pipeline.cli import main
from curation_pipeline.store import DatasetStore
from curation_pipeline.windows import WindowGrid, progress
from curation_pipeline_tests.lifecycle.conftest import UTC, Deployment

START = dt.datetime(2026, 1, 1, tzinfo=UTC)
CATALOGUE = """
curators:
  - {type: UniformCurator, name: daily, application_name: shop, limit: 5, start_on: 2026-01-01, curation_delay: 2h}
  - {type: UniformCurator, name: fresh, application_name: shop, limit: 5, enabled: false}
"""


def status(*args: str) -> list[dict]:
    result = CliRunner().invoke(main, ["curators", "status", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_status_reads_the_instance_and_the_store(deployment: Deployment):
    deployment.write_catalogue(CATALOGUE)
    deployment.load(dt.datetime.now(UTC))
    for key in ("2026-01-01", "2026-01-03"):
        deployment.instance.report_runless_asset_event(
            dg.AssetMaterialization(dg.AssetKey(["curated", "daily"]), partition=key)
        )
    head = DatasetStore.open(deployment.store_url).create_dataset("daily").commit({"data/x.parquet": b"x"}, "m").version_id
    daily, fresh = status()
    assert daily["enabled"] is True and fresh["enabled"] is False  # YAML's initial states
    assert daily["start"] == "2026-01-01 (start_on)" and daily["delay"] == "2h"
    assert daily["last_curated"] == "2026-01-03" and daily["head"] == head
    assert "2026-01-02" in daily["missing"] and "2026-01-01" not in daily["missing"]
    assert fresh["start"].endswith("(first deployed)") and fresh["missing"] == []
    assert [row["name"] for row in status("daily")] == ["daily"]


def test_progress_counts_missing_windows_from_the_floor_and_names_the_next_due():
    grid = WindowGrid(anchor=START, interval=dt.timedelta(days=1))
    now = START + dt.timedelta(days=4, hours=1)
    state = progress(grid, delay=dt.timedelta(hours=2), floor=START + dt.timedelta(days=1),
                     curated={"2026-01-02"}, now=now)
    # Jan 4 ended at Jan 5 00:00 but is due at 02:00: not missing yet, it is the next due.
    assert state.missing == ("2026-01-03",)
    assert state.last_curated == "2026-01-02"
    assert state.next_key == "2026-01-04" and state.next_due == START + dt.timedelta(days=4, hours=2)


def test_a_toggled_schedule_shows_live(deployment: Deployment):
    deployment.write_catalogue(CATALOGUE)
    deployment.load(dt.datetime.now(UTC))
    result = CliRunner().invoke(main, ["curators", "disable", "daily", "--workspace", str(deployment.workspace)])
    assert result.exit_code == 0, result.output
    states = [s for s in deployment.instance.all_instigator_state() if s.instigator_name == "daily_schedule"]
    assert states[0].status == InstigatorStatus.STOPPED
    assert status("daily")[0]["enabled"] is False
