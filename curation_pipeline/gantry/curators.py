"""Gantry's curator API (``gantry.automations.curators``) under one import.

Gantry code ports by changing the import::

    from gantry.automations.curators import UniformCurator          # Gantry
    from curation_pipeline.gantry.curators import UniformCurator    # here

    curator = UniformCurator(name="sample", application_name="demo", limit=100)
    curator.create()                     # registered; deployed at the code location's next load
    curator.disable(); curator.enable()  # the switch, as Gantry's methods
    get_curator("sample").get_curated_dataset().list_versions()

``Curator`` and every stock curator here is this project's class (see
:mod:`curation_pipeline.curators`) with Gantry's instance methods
(``create``, ``enable``, ``disable``, ``update``, ``delete``,
``get_curated_dataset``, ``start``, ``stop``) over :mod:`curation_pipeline.lifecycle`;
:func:`get_curator`, :func:`get_all_curators` and :func:`list_curators` are
Gantry's module functions and return these classes. Gantry's names that differ
are aliases (``EqualityFilter`` is :class:`EqualsFilter`). Selectors and
curators serialised by Gantry load with :func:`curator_from_gantry` (or
``format: gantry`` in a YAML catalogue).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from curation_pipeline import curators as ours
from curation_pipeline import lifecycle
from curation_pipeline.curators import (
    BoundsFilter,
    ContainsFilter,
    CuratorConfigError,
    EqualsFilter,
    OrderedSampler,
    OrderingDirection,
    SamplingMethod,
    Selector,
    StratificationMode,
    StratifiedSampler,
    TagFilter,
    UniformSampler,
    curator_from_gantry,
    load_curators,
)
from curation_pipeline.fields import TIME
from curation_pipeline.gantry import dataset as gdataset
from curation_pipeline.registry import CuratorNotFoundError

#: The stream's time column, under Gantry's name.
TIME_COLUMN_NAME = TIME
#: Gantry's name of the equality filter.
EqualityFilter = EqualsFilter


class GantryCuratorMethods(lifecycle.LifecycleMixin):
    """Gantry's ``Curator`` instance methods, with Gantry's signatures and return values.

    Differences from Gantry, each on purpose (see ``docs/gantry.md``): curators
    are immutable values, so ``update`` returns the updated curator and leaves
    the one it is called on as it was; a curator never created raises
    :class:`CuratorNotFoundError` (Gantry: ``ValueError`` from ``update``/``delete``).
    """

    def create(self, enable: bool = True) -> Any:
        """Register this curator, switched on unless ``enable=False``; returns it (Gantry's ``create``)."""
        return super().create(enable)

    def update(
        self,
        new_curator_name: str | None = None,
        new_curated_dataset_name: str | None = None,
        new_curation_interval: dt.timedelta | None = None,
        new_selectors: Sequence[Selector] | None = None,
        create_new_dataset: bool = False,
    ) -> Any:
        """Change the registered curator with Gantry's arguments, in Gantry's order; returns the updated curator.

        Raises:
            ValueError: no change was asked for. CuratorNotFoundError: it was never created.
            CuratorEditError: a rename, or a new dataset without ``create_new_dataset``.
        """
        updated = lifecycle.update(
            self,  # type: ignore[arg-type]
            new_curator_name,
            new_curated_dataset_name,
            new_curation_interval,
            new_selectors,
            create_new_dataset,
        )
        return as_gantry(updated)

    def get_curated_dataset(self) -> gdataset.GantryDataset:  # type: ignore[override]
        """The curated dataset as Gantry's :class:`~curation_pipeline.gantry.dataset.GantryDataset`."""
        return gdataset.get_dataset(self.curated_dataset_name)  # type: ignore[attr-defined]

    def start(self) -> None:
        """Create the curator (Gantry's ``start``, used by its automations)."""
        self.create()

    def stop(self) -> None:
        """Delete the curator (Gantry's ``stop``); its dataset stays."""
        self.delete()


#: This project's curator class -> its class here.
GANTRY_CLASSES: dict[type[ours.Curator], type[ours.Curator]] = {}


def _gantry_class(base: type[ours.Curator]) -> type[ours.Curator]:
    namespace = {
        "__module__": __name__,
        "__qualname__": base.__name__,
        "__doc__": base.__doc__,
    }
    cls = type(base.__name__, (GantryCuratorMethods, base), namespace)
    GANTRY_CLASSES[base] = cls
    return cls


Curator = _gantry_class(ours.Curator)
AscendedSortCurator = _gantry_class(ours.AscendedSortCurator)
BalancedStratificationCurator = _gantry_class(ours.BalancedStratificationCurator)
BoundedRangeCurator = _gantry_class(ours.BoundedRangeCurator)
DescendedSortCurator = _gantry_class(ours.DescendedSortCurator)
EqualityCurator = _gantry_class(ours.EqualityCurator)
NewestCurator = _gantry_class(ours.NewestCurator)
OldestCurator = _gantry_class(ours.OldestCurator)
ProportionalStratificationCurator = _gantry_class(ours.ProportionalStratificationCurator)
StrictStratificationCurator = _gantry_class(ours.StrictStratificationCurator)
UniformCurator = _gantry_class(ours.UniformCurator)


def as_gantry(curator: ours.Curator) -> Any:
    """``curator`` as its class here (with Gantry's methods); the same fields, already validated."""
    if isinstance(curator, GantryCuratorMethods):
        return curator
    cls = GANTRY_CLASSES[type(curator)]
    gantry = object.__new__(cls)
    for slot in ours.Curator.__slots__:  # copied as validated: the value stays immutable
        object.__setattr__(gantry, slot, getattr(curator, slot))
    return gantry


def get_curator(name: str) -> Any:
    """The registered curator ``name``, with Gantry's methods (Gantry's ``get_curator``).

    Raises:
        CuratorNotFoundError: no such registered curator.
    """
    return as_gantry(lifecycle.get_curator(name))


def get_all_curators(application_name: str | None = None) -> list[Any]:
    """Every registered curator, or those of ``application_name``, with Gantry's methods."""
    return [as_gantry(curator) for curator in lifecycle.get_all_curators(application_name)]


def list_curators(application_name: str | None = None) -> list[str]:
    """The names of every registered curator, or of those of ``application_name`` (Gantry's ``list_curators``)."""
    return lifecycle.list_curators(application_name)


__all__ = [
    "TIME_COLUMN_NAME",
    "AscendedSortCurator",
    "BalancedStratificationCurator",
    "BoundedRangeCurator",
    "BoundsFilter",
    "ContainsFilter",
    "Curator",
    "CuratorConfigError",
    "CuratorNotFoundError",
    "DescendedSortCurator",
    "EqualityCurator",
    "EqualityFilter",
    "EqualsFilter",
    "NewestCurator",
    "OldestCurator",
    "OrderedSampler",
    "OrderingDirection",
    "ProportionalStratificationCurator",
    "SamplingMethod",
    "Selector",
    "StratificationMode",
    "StratifiedSampler",
    "StrictStratificationCurator",
    "TagFilter",
    "UniformCurator",
    "UniformSampler",
    "as_gantry",
    "curator_from_gantry",
    "get_all_curators",
    "get_curator",
    "list_curators",
    "load_curators",
]
