"""Gantry's curator lifecycle calls, against a deployment: create, enable, disable, update, delete, and look-ups.

Each call works on the store's curator registry
(:mod:`curation_pipeline.registry`, ``$CURATION_STORE_URL``) and, for the
switch, on the Dagster instance (``$DAGSTER_HOME``) through
:mod:`curation_pipeline.automation`::

    from curation_pipeline.curators import UniformCurator
    from curation_pipeline import lifecycle

    curator = lifecycle.create(UniformCurator(name="sample", application_name="demo", limit=100))
    lifecycle.disable(curator)          # "Curator sample disabled"
    lifecycle.enable(curator)           # the windows missed while off are curated
    curator = lifecycle.update(curator, new_curation_interval=dt.timedelta(hours=6))
    lifecycle.get_curated_dataset(curator).list_versions()
    lifecycle.delete(curator)           # the dataset stays

Return values are Gantry's: ``create``/``update``/``get_curator`` return the
curator, ``enable``/``disable``/``delete`` a message, ``list_curators`` names,
``get_all_curators`` curators; a name not registered raises
:class:`CuratorNotFoundError`.

A running Dagster UI sees a created, updated or deleted curator once its code
location reloads (Deployment > Reload, or ``curation curators reload``). The
switch is different: ``enable``/``disable`` flip the curator's schedule in the
instance, which the daemon reads at its next tick, no reload needed. When
``$DAGSTER_HOME`` is not set (no deployment yet), they record the curator's
initial state in the registry instead, which its first deployment honours.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

from curation_pipeline.clock import utc_now
from curation_pipeline.curators import CURATOR_TYPES, Curator, Selector, curator_from_dict, load_curators
from curation_pipeline.environment import curators_file, dagster_home
from curation_pipeline.location import resolve_location
from curation_pipeline.registry import CuratorExistsError, CuratorNotFoundError, CuratorRegistry
from curation_pipeline.store import Dataset, DatasetNotFoundError, DatasetStore
from curation_pipeline.windows import CuratorEditError, known_grid, move_curator

__all__ = [
    "CuratorExistsError",
    "CuratorNotFoundError",
    "LifecycleMixin",
    "create",
    "delete",
    "disable",
    "enable",
    "get_all_curators",
    "get_curated_dataset",
    "get_curator",
    "list_curators",
    "update",
]

#: The workspace file naming the code location, for flipping a deployed curator's schedule.
DEFAULT_WORKSPACE = "workspace.yaml"


def create(curator: Curator, enable: bool = True, *, store: DatasetStore | None = None) -> Curator:
    """Register ``curator``; it is deployed at the code location's next load, switched on unless ``enable=False``.

    Checked before anything is written, so a create never stops the code location from loading:

    Raises:
        CuratorExistsError: a curator of that name is registered, or in the YAML catalogue.
        CuratorEditError: a retired curator of that name wrote another dataset (its records stay).
    """
    registered = _with(curator, enabled=enable)
    registry = _registry(store)
    _not_in_catalogue(curator.name)
    grid = known_grid(curator.name, registry.store)
    if grid is not None and grid.dataset != curator.curated_dataset_name:
        raise CuratorEditError(
            f"a curator named {curator.name!r} wrote dataset {grid.dataset!r} before; create it with "
            f"curated_dataset_name={grid.dataset!r}, or choose another name"
        )
    registry.create(registered)
    return registered


def enable(curator: Curator | str, *, store: DatasetStore | None = None, workspace: str = DEFAULT_WORKSPACE) -> str:
    """Switch the curator on; the windows that closed while it was off are curated. Returns a message.

    Raises:
        CuratorNotFoundError: no such registered curator.
    """
    return _switch(_name(curator), True, store, workspace)


def disable(curator: Curator | str, *, store: DatasetStore | None = None, workspace: str = DEFAULT_WORKSPACE) -> str:
    """Switch the curator off: no run is requested for it until enabled. Returns a message.

    Raises:
        CuratorNotFoundError: no such registered curator.
    """
    return _switch(_name(curator), False, store, workspace)


def update(
    curator: Curator | str,
    new_curator_name: str | None = None,
    new_curated_dataset_name: str | None = None,
    new_curation_interval: dt.timedelta | None = None,
    new_selectors: Sequence[Selector] | None = None,
    create_new_dataset: bool = False,
    *,
    store: DatasetStore | None = None,
) -> Curator:
    """Change a registered curator (Gantry's arguments); returns the updated curator.

    A new interval takes effect from the first window not yet due; new
    selectors from the next window curated (past versions keep theirs). A
    new dataset name needs ``create_new_dataset=True``; the old dataset stays.

    Raises:
        ValueError: no change was asked for.
        CuratorNotFoundError: no such registered curator.
        CuratorEditError: a new dataset name without ``create_new_dataset``, or a rename.
    """
    name = _name(curator)
    changes: dict[str, Any] = {}
    if new_curated_dataset_name is not None:
        changes["curated_dataset_name"] = new_curated_dataset_name
    if new_curation_interval is not None:
        changes["curation_interval"] = new_curation_interval
    if new_selectors is not None:
        changes["selectors"] = list(new_selectors)
    if new_curator_name is not None and new_curator_name != name:
        raise CuratorEditError(
            f"renaming curator {name!r} to {new_curator_name!r} would start a new curator: create "
            f"{new_curator_name!r} and delete {name!r} (its dataset stays)"
        )
    if not changes:
        raise ValueError("No update parameters provided")
    registry = _registry(store)
    current = registry.get(name).curator
    moving = "curated_dataset_name" in changes and changes["curated_dataset_name"] != current.curated_dataset_name
    if moving and not create_new_dataset:
        raise CuratorEditError(
            f"curator {name!r} writes dataset {current.curated_dataset_name!r}; pass create_new_dataset=True to "
            f"curate into {changes['curated_dataset_name']!r} from now on (the old dataset keeps every version)"
        )
    entry = registry.change(name, lambda c: _with(c, **changes))
    if moving and known_grid(name, registry.store) is not None:
        move_curator(name, changes["curated_dataset_name"], registry.store)
    return entry.curator


def delete(curator: Curator | str, *, purge_dataset: bool = False, store: DatasetStore | None = None) -> str:
    """Remove a registered curator; its dataset stays unless ``purge_dataset``. Returns Gantry's message.

    Raises:
        CuratorNotFoundError: no such registered curator.
    """
    name = _name(curator)
    registry = _registry(store)
    dataset = registry.get(name).curator.curated_dataset_name
    registry.delete(name)
    if purge_dataset:
        _purge(registry.store, dataset)
    return f"Curator {name} deleted at {utc_now().isoformat()}"


def get_curated_dataset(curator: Curator | str, *, store: DatasetStore | None = None) -> Dataset:
    """The curator's dataset (registered curators, and curators of the YAML catalogue by object).

    Raises:
        CuratorNotFoundError: a name that is not registered.
        DatasetNotFoundError: nothing was curated yet.
    """
    if isinstance(curator, str):
        curator = get_curator(curator, store=store)
    return _open(store).get_dataset(curator.curated_dataset_name)


def get_curator(name: str, *, store: DatasetStore | None = None) -> Curator:
    """The registered curator ``name``.

    Raises:
        CuratorNotFoundError: no such registered curator.
    """
    return _registry(store).get(name).curator


def get_all_curators(application_name: str | None = None, *, store: DatasetStore | None = None) -> list[Curator]:
    """Every registered curator, or those of ``application_name``."""
    entries = _registry(store).list()
    return [e.curator for e in entries if application_name in (None, e.curator.application_name)]


def list_curators(application_name: str | None = None, *, store: DatasetStore | None = None) -> list[str]:
    """Names of every registered curator, or of those of ``application_name``."""
    return [c.name for c in get_all_curators(application_name, store=store)]


class LifecycleMixin:
    """Gantry's instance methods (``curator.create()``, ``.enable()``, ...) over this module's functions.

    Mix it in front of a curator class to give Gantry's scripts their method
    calls unchanged: ``class UniformCurator(LifecycleMixin, curators.UniformCurator): pass``.
    Curators are immutable: ``create`` returns the curator itself, ``update``
    the updated curator (a new object).
    """

    def create(self, enable: bool = True) -> Any:
        """Register this curator (see :func:`create`); returns it."""
        create(self, enable)  # type: ignore[arg-type]
        return self

    def enable(self) -> str:
        """Switch it on (see :func:`enable`)."""
        return enable(self)  # type: ignore[arg-type]

    def disable(self) -> str:
        """Switch it off (see :func:`disable`)."""
        return disable(self)  # type: ignore[arg-type]

    def update(self, **changes: Any) -> Curator:
        """Change it with Gantry's arguments (see :func:`update`)."""
        return update(self, **changes)  # type: ignore[arg-type]

    def delete(self) -> str:
        """Remove it; its dataset stays (see :func:`delete`)."""
        return delete(self)  # type: ignore[arg-type]

    def get_curated_dataset(self) -> Dataset:
        """Its dataset (see :func:`get_curated_dataset`)."""
        return get_curated_dataset(self)  # type: ignore[arg-type]


def _switch(name: str, on: bool, store: DatasetStore | None, workspace: str) -> str:
    registry = _registry(store)
    registry.get(name)  # Gantry's CuratorNotFoundError before anything else
    deployed = known_grid(name, registry.store) is not None
    if deployed and dagster_home():
        from curation_pipeline.automation import set_enabled

        set_enabled(name, on, workspace=workspace)
    else:  # not deployed yet (or no instance here): the initial state its first deployment takes
        registry.change(name, lambda c: _with(c, enabled=on))
    return f"Curator {name} {'enabled' if on else 'disabled'}"


def _not_in_catalogue(name: str) -> None:
    """Refuse a name the YAML catalogue (``$CURATION_CURATORS_FILE``) defines: the code location would refuse both."""
    path = curators_file()
    if path and os.path.isfile(path) and any(c.name == name for c in load_curators(path)):
        raise CuratorExistsError(f"curator {name!r} is defined in {path}; change it there, or choose another name")


def _purge(store: DatasetStore, dataset: str) -> None:
    try:
        store.delete_dataset(dataset)
    except DatasetNotFoundError:
        return  # nothing was ever curated
    store.purge_dataset(dataset)


def _with(curator: Curator, **changes: Any) -> Curator:
    """A copy of ``curator`` with ``changes``, validated as a new curator is (as its stock type, mixins dropped)."""
    data = curator.to_dict()
    data["type"] = next(k.__name__ for k in type(curator).__mro__ if k.__name__ in CURATOR_TYPES)
    for key, value in changes.items():
        data[key] = value
    if "selectors" in changes:
        data["selectors"] = [s.to_dict() if hasattr(s, "to_dict") else s for s in changes["selectors"]]
    if "curation_interval" in changes and isinstance(changes["curation_interval"], dt.timedelta):
        data["curation_interval"] = f"{int(changes['curation_interval'].total_seconds() // 60)}m"
    return curator_from_dict(data)


def _name(curator: Curator | str) -> str:
    return curator if isinstance(curator, str) else curator.name


def _registry(store: DatasetStore | None) -> CuratorRegistry:
    return CuratorRegistry(_open(store))


def _open(store: DatasetStore | None) -> DatasetStore:
    return store if store is not None else DatasetStore.open(location=resolve_location())
