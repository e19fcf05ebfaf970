"""One switch per curator: its schedule. Off, nothing is requested; on again, exactly the missed windows.

Driven as a user drives it: ``curation curators disable/enable`` against the
instance of ``$DAGSTER_HOME`` (the CLI loads the workspace, as
``dagster schedule stop/start`` does), and the instance API; ticks are
evaluated at chosen times with the instance, as the daemon evaluates them.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._core.scheduler.instigation import InstigatorStatus

from curation_pipeline.cli import main
from curation_pipeline_tests.lifecycle.conftest import UTC, Deployment

DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
DEPLOYED = START + 9 * DAY + dt.timedelta(hours=12)  # 2026-01-10 12:00: the window of Jan 10 is the first deployed
KEY = dg.AssetKey(["curated", "daily"])
CATALOGUE = """
curators:
  - {{type: UniformCurator, name: daily, application_name: shop, limit: 5, start_on: 2026-01-01,
     curation_interval: 1d, curate_past_intervals: {past}}}
"""


def day(n: int, hours: float = 0) -> dt.datetime:
    """Midnight of 2026-01-(n+1), plus ``hours``."""
    return START + n * DAY + dt.timedelta(hours=hours)


def curated(instance: dg.DagsterInstance, *keys: str) -> None:
    """Record windows as curated, as a run of the asset would."""
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(KEY, partition=key))


def sensor_tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def())
    return defs.get_sensor_def("daily_catch_up").evaluate_tick(context)


def schedule_tick(defs: dg.Definitions, instance: dg.DagsterInstance, moment: dt.datetime):
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=moment, repository_def=defs.get_repository_def()
    )
    return defs.get_schedule_def("daily_schedule").evaluate_tick(context)


def requested(data) -> list[str]:
    keys = []
    for request in data.run_requests:
        if request.requires_backfill_daemon():
            keys += list(request.asset_graph_subset.get_partitions_subset(KEY).get_partition_keys())
        else:
            keys.append(request.partition_key)
    return sorted(keys)


def schedule_status(instance: dg.DagsterInstance) -> InstigatorStatus | None:
    states = [s for s in instance.all_instigator_state() if s.instigator_name == "daily_schedule"]
    return states[0].status if states else None


def cli(*args: str, workspace) -> str:
    result = CliRunner().invoke(main, ["curators", *args, "daily", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    return result.output


def flip(deployment: Deployment, on: bool, via_cli: bool) -> None:
    """Switch the curator with the CLI, or with the instance API (what the UI's toggle writes)."""
    if via_cli:
        assert ("enabled" if on else "disabled") in cli("enable" if on else "disable", workspace=deployment.workspace)
        return
    instance = deployment.instance
    states = [s for s in instance.all_instigator_state() if s.instigator_name == "daily_schedule"]
    if not states:  # never toggled: the CLI writes the first state (it needs the schedule's origin)
        return flip(deployment, on, via_cli=True)
    instance.update_instigator_state(states[0].with_status(InstigatorStatus.RUNNING if on else InstigatorStatus.STOPPED))


@pytest.mark.parametrize("past", [True, False])
def test_off_for_two_intervals_then_on_curates_exactly_the_missed_windows(deployment: Deployment, past: bool):
    deployment.write_catalogue(CATALOGUE.format(past=str(past).lower()))
    instance = deployment.instance
    defs = deployment.load(DEPLOYED)
    if past:  # the history before the deployment was caught up already
        curated(instance, *[f"2026-01-{d:02d}" for d in range(1, 10)])
    # Running: the schedule curates Jan 10 and Jan 11 as each becomes due.
    assert requested(schedule_tick(defs, instance, day(10))) == ["2026-01-10"]
    assert requested(schedule_tick(defs, instance, day(11))) == ["2026-01-11"]
    curated(instance, "2026-01-10", "2026-01-11")
    first = sensor_tick(deployment.load(day(11, 1)), instance)
    assert requested(first) == []

    # Off: one command, and the instance holds the schedule STOPPED (the scheduler daemon ticks it no more).
    flip(deployment, False, via_cli=True)
    assert schedule_status(instance) == InstigatorStatus.STOPPED
    for moment in (day(12, 1), day(13, 1)):  # two intervals pass: the sensors request nothing either
        tick = sensor_tick(deployment.load(moment), instance, cursor=first.cursor)
        assert requested(tick) == [] and "is stopped" in tick.skip_message

    # On again: the next sensor tick requests exactly the two windows that closed while it was off.
    flip(deployment, True, via_cli=not past)  # one variant through the CLI, the other through the instance API
    assert schedule_status(instance) == InstigatorStatus.RUNNING
    back = sensor_tick(deployment.load(day(13, 1)), instance, cursor=first.cursor)
    assert requested(back) == ["2026-01-12", "2026-01-13"]
    assert back.run_requests[0].tags["curation/trigger"] == "catch-up"


def test_without_past_intervals_history_before_the_deployment_is_never_requested(deployment: Deployment):
    deployment.write_catalogue(CATALOGUE.format(past="false"))
    instance = deployment.instance
    deployment.load(DEPLOYED)
    # Nothing was ever curated; at Jan 14 01:00 only the windows from the deployment on are caught up.
    assert requested(sensor_tick(deployment.load(day(13, 1)), instance)) == [
        "2026-01-10", "2026-01-11", "2026-01-12", "2026-01-13",
    ]


def test_yaml_enabled_is_the_initial_state_only(deployment: Deployment):
    deployment.write_catalogue(CATALOGUE.format(past="true").replace("curate_past_intervals", "enabled: false, curate_past_intervals"))
    instance = deployment.instance
    defs = deployment.load(DEPLOYED)
    assert defs.get_schedule_def("daily_schedule").default_status == dg.DefaultScheduleStatus.STOPPED
    assert requested(sensor_tick(defs, instance)) == []  # off from the start
    cli("enable", workspace=deployment.workspace)
    # The instance's state now wins over the YAML, which still says enabled: false.
    assert requested(sensor_tick(deployment.load(DEPLOYED), instance)) == [f"2026-01-{d:02d}" for d in range(1, 10)]


def test_the_instance_api_flips_the_same_switch(deployment: Deployment):
    deployment.write_catalogue(CATALOGUE.format(past="true"))
    instance = deployment.instance
    deployment.load(DEPLOYED)
    cli("disable", workspace=deployment.workspace)
    # Start it through the instance API, as the UI's toggle does: the sensor follows.
    (state,) = [s for s in instance.all_instigator_state() if s.instigator_name == "daily_schedule"]
    instance.update_instigator_state(state.with_status(InstigatorStatus.RUNNING))
    assert len(requested(sensor_tick(deployment.load(DEPLOYED), instance))) == 9
    instance.update_instigator_state(state.with_status(InstigatorStatus.STOPPED))
    assert requested(sensor_tick(deployment.load(DEPLOYED), instance)) == []


def test_enable_names_an_unknown_curator_and_a_missing_instance(deployment: Deployment, monkeypatch):
    deployment.write_catalogue(CATALOGUE.format(past="true"))
    deployment.load(DEPLOYED)
    result = CliRunner().invoke(main, ["curators", "enable", "nope", "--workspace", str(deployment.workspace)])
    assert result.exit_code == 1 and "no curator 'nope'" in result.output
    monkeypatch.delenv("DAGSTER_HOME")
    result = CliRunner().invoke(main, ["curators", "disable", "daily", "--workspace", str(deployment.workspace)])
    assert result.exit_code == 1 and "DAGSTER_HOME is not set" in result.output


def test_the_window_registering_sensor_follows_the_switch_too(deployment: Deployment):
    deployment.write_catalogue(
        "curators:\n  - {type: UniformCurator, name: daily, application_name: shop, limit: 5,"
        " start_on: 2026-01-01, curation_interval: 90m}\n"
    )
    instance = deployment.instance
    defs = deployment.load(day(0, 6))
    context = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
    on = defs.get_sensor_def("daily_windows").evaluate_tick(context)
    assert list(on.dynamic_partitions_requests[0].partition_keys) == [
        "2026-01-01-00:00", "2026-01-01-01:30", "2026-01-01-03:00", "2026-01-01-04:30",
    ]
    cli("disable", workspace=deployment.workspace)
    off = defs.get_sensor_def("daily_windows").evaluate_tick(context)
    assert not off.dynamic_partitions_requests and not off.run_requests and "is stopped" in off.skip_message
