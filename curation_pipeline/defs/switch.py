"""One switch per curator: its schedule, ``<curator>_schedule``, on the UI's Automation page.

Everything that launches runs for a curator follows that one schedule's
state in the Dagster instance: the schedule itself (Dagster ticks it only
while it is running), the catch-up sensor and the window-registering sensor
(they skip every tick while it is stopped). The sensors are declared RUNNING
and never need touching; a user turns the curator off or on by flipping its
schedule, in the UI, with ``dagster schedule stop/start`` or with
``curation curators disable/enable``.

Why the schedule: it is what a user reaches for first (the UI shows it next to
its cron and next tick) and it is the one automation a Dagster instance
starts from ``default_status`` for a new curator, which is exactly how a
YAML ``enabled:`` should act (the initial state only). The sensors keep the
work a schedule cannot do on its own: react within minutes when the curator
is switched back on (a daily schedule would wait for the next midnight).

The state is read as Dagster reads it: the stored instigator state of the
schedule, looked up by its selector (code location, repository, name); with
no stored state, or one ``DECLARED_IN_CODE``, the schedule's ``default_status``
decides.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.definitions.selector import InstigatorSelector
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus

from curation_pipeline.defs.partitions import python_name


def schedule_name(curator_name: str) -> str:
    """The name of a curator's schedule: its switch."""
    return f"{python_name(curator_name)}_schedule"


def is_running(state: InstigatorState | None, *, default_running: bool) -> bool:
    """Whether a schedule whose stored state is ``state`` runs (Dagster's own rule for ``default_status``)."""
    if state is None or state.status == InstigatorStatus.DECLARED_IN_CODE:
        return default_running
    return state.status == InstigatorStatus.RUNNING


def stored_schedule_state(
    instance: dg.DagsterInstance, name: str, *, location: str | None, repository: str | None
) -> InstigatorState | None:
    """The stored state of schedule ``name``: by its selector when the code location is known, else by name.

    Sensors evaluated by the daemon know their code location; a sensor
    evaluated in a test or a script may not, and then the schedule is found
    by name among the instance's schedule states (of ``repository`` if known).
    An instance without schedule storage (an ephemeral one) stores no state.
    """
    if instance.schedule_storage is None:
        return None
    if location is not None and repository is not None:
        selector = InstigatorSelector(location_name=location, repository_name=repository, name=name)
        return instance.get_instigator_state("", selector.get_id())
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
        origin = state.origin.repository_origin
        if state.instigator_name == name and repository in (None, origin.repository_name):
            return state
    return None


def curator_switched_on(context: dg.SensorEvaluationContext, curator_name: str, *, default_running: bool) -> bool:
    """Whether ``curator_name``'s schedule is running, as seen from one of its sensors."""
    origin = context.code_location_origin
    state = stored_schedule_state(
        context.instance,
        schedule_name(curator_name),
        location=origin.location_name if origin is not None else None,
        repository=context.repository_name,
    )
    return is_running(state, default_running=default_running)


def schedule_switched_on(context: dg.ScheduleEvaluationContext, curator_name: str, *, default_running: bool) -> bool:
    """Whether ``curator_name``'s schedule is running, as seen from its own tick.

    The daemon ticks a running schedule only; this matters for a tick
    evaluated by hand (the UI's "Test schedule", a script, a test) while the
    curator is off: it then requests nothing, as the daemon would.
    """
    try:
        instance = context.instance
    except DagsterInvariantViolationError:  # a context built without an instance: nothing stored, the default rules
        return default_running
    repository = context._repository_name  # no public accessor; None outside a repository
    state = stored_schedule_state(instance, schedule_name(curator_name), location=None, repository=repository)
    return is_running(state, default_running=default_running)


def switched_off_reason(curator_name: str) -> dg.SkipReason:
    """The skip reason of a sensor tick while the curator is off."""
    return dg.SkipReason(
        f"curator {curator_name!r} is disabled: its schedule {schedule_name(curator_name)} is stopped"
    )
