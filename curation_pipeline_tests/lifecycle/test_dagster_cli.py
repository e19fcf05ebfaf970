"""The curator's switch flipped with Dagster's own command line: ``dagster schedule stop/start``.

The instance is the one a deployment runs: ``DAGSTER_HOME`` a folder holding
the repository's ``dagster.yaml`` (SQLite storage under it). The ``dagster``
command runs as a subprocess against the test's workspace, as a user runs it;
the catch-up sensor and the schedule are then evaluated at chosen times
against that same instance, as the daemon evaluates them.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from curation_pipeline_tests.lifecycle.conftest import NOW_ENV, Deployment
from curation_pipeline_tests.lifecycle.test_switch import (
    CATALOGUE,
    DEPLOYED,
    curated,
    day,
    requested,
    schedule_tick,
    sensor_tick,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def deployed_home(deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``deployment`` with its instance replaced by one of ``$DAGSTER_HOME`` configured by the repo's dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        deployment.instance = instance
        yield deployment


def dagster_schedule(deployment: Deployment, verb: str, now: dt.datetime) -> str:
    """``dagster schedule <verb> daily_schedule -w workspace.yaml`` in a subprocess; its output."""
    env = {
        **os.environ,
        **deployment.environ(),
        NOW_ENV: now.isoformat(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "schedule", verb, "daily_schedule", "-w", str(deployment.workspace)],
        cwd=deployment.root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_dagster_schedule_stop_and_start_switch_the_curator(deployed_home: Deployment):
    deployment = deployed_home
    deployment.write_catalogue(CATALOGUE.format(past="false"))
    instance = deployment.instance
    defs = deployment.load(DEPLOYED)
    curated(instance, "2026-01-10", "2026-01-11")  # the schedule curated Jan 10 and 11
    first = sensor_tick(deployment.load(day(11, 1)), instance)
    assert requested(first) == []

    assert "Stopped schedule daily_schedule" in dagster_schedule(deployment, "stop", day(11, 1))
    for moment in (day(12, 1), day(13, 1)):  # two intervals pass: nothing is requested
        tick = sensor_tick(deployment.load(moment), instance, cursor=first.cursor)
        assert requested(tick) == [] and "is stopped" in tick.skip_message
        assert requested(schedule_tick(defs, instance, moment.replace(hour=0))) == []  # a tick by hand skips too

    assert "Started schedule daily_schedule" in dagster_schedule(deployment, "start", day(13, 1))
    back = sensor_tick(deployment.load(day(13, 1)), instance, cursor=first.cursor)
    assert requested(back) == ["2026-01-12", "2026-01-13"]
    assert requested(schedule_tick(defs, instance, day(14))) == ["2026-01-14"]  # then each window once due
