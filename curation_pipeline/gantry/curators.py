"""Gantry's curator API (``gantry.automations.curators``) under one import.

Gantry code ports by changing the import::

    from gantry.automations.curators import UniformCurator          # Gantry
    from curation_pipeline.gantry.curators import UniformCurator    # here

Everything here is this project's own class (see :mod:`curation_pipeline.curators`);
Gantry's names that differ are aliases (``EqualityFilter`` is
:class:`EqualsFilter`). Selectors and curators serialised by Gantry load with
:func:`curator_from_gantry` (or ``format: gantry`` in a YAML catalogue).
"""

from __future__ import annotations

from curation_pipeline.curators import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    BoundsFilter,
    ContainsFilter,
    Curator,
    CuratorConfigError,
    DescendedSortCurator,
    EqualityCurator,
    EqualsFilter,
    NewestCurator,
    OldestCurator,
    OrderedSampler,
    OrderingDirection,
    ProportionalStratificationCurator,
    SamplingMethod,
    Selector,
    StratificationMode,
    StratifiedSampler,
    StrictStratificationCurator,
    TagFilter,
    UniformCurator,
    UniformSampler,
    curator_from_gantry,
    load_curators,
)
from curation_pipeline.fields import TIME

#: The stream's time column, under Gantry's name.
TIME_COLUMN_NAME = TIME
#: Gantry's name of the equality filter.
EqualityFilter = EqualsFilter

__all__ = [
    "TIME_COLUMN_NAME",
    "AscendedSortCurator",
    "BalancedStratificationCurator",
    "BoundedRangeCurator",
    "BoundsFilter",
    "ContainsFilter",
    "Curator",
    "CuratorConfigError",
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
    "curator_from_gantry",
    "load_curators",
]
