"""One disable/enable cycle against a real ``dagster dev``: the command line flips the schedule the UI shows.

``curation curators disable/enable`` run as a user runs them (a subprocess,
DAGSTER_HOME of the running instance, the project's ``workspace.yaml``); the
webserver then reports the schedule's state over GraphQL, as the Automation
page shows it, and ``curation curators reload`` reloads the code location.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation_pipeline_tests.daemon.conftest import UNIFORM, UNIFORM_KEY, DagsterDevSession

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_dev")]

ROOT = Path(__file__).resolve().parents[2]
CURATION = Path(sys.executable).with_name("curation")


def curation(session: DagsterDevSession, *args: str) -> str:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(session.dev.home),
        "CURATION_STORE_URL": session.store_url,
        "CURATION_CURATORS_FILE": str(session.catalogue),
    }
    result = subprocess.run(
        [str(CURATION), "curators", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def schedule_status(session: DagsterDevSession) -> str:
    (schedule,) = session.client.schedules_for_asset(UNIFORM_KEY)
    return schedule["scheduleState"]["status"]


def test_disable_then_enable_flips_the_schedule_the_ui_shows(dagster_dev: DagsterDevSession) -> None:
    name = UNIFORM["name"]
    assert schedule_status(dagster_dev) == "RUNNING"
    try:
        assert "disabled" in curation(dagster_dev, "disable", name)
        assert schedule_status(dagster_dev) == "STOPPED"
        (row,) = json.loads(curation(dagster_dev, "status", name, "--json"))
        assert row["enabled"] is False
        assert "reloaded curation_pipeline" in curation(dagster_dev, "reload", "--url", dagster_dev.url)
        assert schedule_status(dagster_dev) == "STOPPED"  # a reload keeps the instance's state
    finally:
        assert "enabled" in curation(dagster_dev, "enable", name)
    assert schedule_status(dagster_dev) == "RUNNING"
    (row,) = json.loads(curation(dagster_dev, "status", name, "--json"))
    assert row["enabled"] is True
