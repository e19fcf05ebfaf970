"""The Dagster instance seen from outside the code location: each curator's switch and its curated windows.

The one door to Dagster for ``curation curators enable/disable/status`` and
for the Python lifecycle calls (:mod:`curation_pipeline.lifecycle`): the
import-linter contract "dagster" lets them reach Dagster through this module
only. A curator's switch is its schedule
(:mod:`curation_pipeline.defs.switch`):

* reading it (``status``) needs only the instance (``$DAGSTER_HOME``): the
  stored state of the schedule, else the curator's ``enabled``, which is the
  schedule's ``default_status``;
* flipping it (``enable``/``disable``) goes through
  ``instance.start_schedule`` / ``instance.stop_schedule``, as
  ``dagster schedule start/stop`` does, which needs the schedule as the code
  location serves it: the workspace file is loaded for that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._cli.workspace.cli_target import get_repository_from_cli_opts
from dagster._core.remote_representation.external import RemoteRepository
from dagster_shared.cli import WorkspaceOpts

from curation_pipeline.defs.assets import curated_asset_key
from curation_pipeline.defs.switch import is_running, schedule_name, stored_schedule_state
from curation_pipeline.environment import dagster_home
from curation_pipeline.errors import CurationError


class AutomationError(CurationError):
    """The Dagster instance or code location could not be reached, or does not serve the curator."""


@contextmanager
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """The instance of ``$DAGSTER_HOME`` (the one ``dagster dev`` and the daemon use).

    Raises:
        AutomationError: ``DAGSTER_HOME`` is not set.
    """
    if not dagster_home():
        raise AutomationError(
            "DAGSTER_HOME is not set: point it at the Dagster instance of your deployment "
            "(`make run` uses ./.dagster_home)"
        )
    with dg.DagsterInstance.get() as instance:
        yield instance


def is_enabled(instance: dg.DagsterInstance, curator_name: str, *, default: bool) -> bool:
    """Whether a curator is switched on: its schedule's stored state, else ``default`` (its ``enabled``)."""
    state = stored_schedule_state(instance, schedule_name(curator_name), location=None, repository=None)
    return is_running(state, default_running=default)


def curated_windows(instance: dg.DagsterInstance, dataset: str) -> set[str]:
    """Partition keys of ``curated/<dataset>`` that were materialized."""
    return set(instance.get_materialized_partitions(curated_asset_key(dataset)))


def set_enabled(curator_name: str, enabled: bool, *, workspace: str) -> bool:
    """Start or stop the schedule of ``curator_name`` in the instance; returns whether it changed.

    Args:
        curator_name: the curator.
        enabled: True starts its schedule, False stops it.
        workspace: the workspace file naming the code location (``workspace.yaml``).

    Raises:
        AutomationError: no instance, no workspace file, or the code location has no such curator.
    """
    if not os.path.isfile(workspace):
        raise AutomationError(f"no workspace file {workspace!r}: run from the project folder or pass --workspace")
    name = schedule_name(curator_name)
    with dagster_instance() as instance, _repository(instance, workspace) as repository:
        if not repository.has_schedule(name):
            raise AutomationError(
                f"the code location of {workspace} serves no curator {curator_name!r} (no schedule {name})"
            )
        schedule = repository.get_schedule(name)
        stored = instance.get_instigator_state(schedule.get_remote_origin_id(), schedule.selector_id)
        if schedule.get_current_instigator_state(stored).is_running == enabled:
            return False
        if enabled:
            instance.start_schedule(schedule)
        else:
            instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
        return True


@contextmanager
def _repository(instance: dg.DagsterInstance, workspace: str) -> Iterator[RemoteRepository]:
    try:
        with get_repository_from_cli_opts(
            instance, dg.__version__, WorkspaceOpts(workspace=[workspace]), None
        ) as repository:
            yield repository
    except CurationError:
        raise
    except Exception as error:  # a code location that fails to load: say which and where to see why
        first_line = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise AutomationError(
            f"cannot load the code location of {workspace}: {first_line} "
            f"(`dagster definitions validate -w {workspace}` shows the whole error)"
        ) from error
