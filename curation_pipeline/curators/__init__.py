"""Curator specifications: what to curate from an application's stream, and how often.

Gantry-compatible: the general :class:`Curator` with :class:`Selector` s, and the
stock curators under Gantry's names and arguments. Curators are immutable,
validated values, defined in Python or loaded from YAML (:func:`load_curators`);
every error is a :class:`CuratorConfigError` naming the curator and the field.

This package knows nothing of Dagster or storage.
"""

from curation_pipeline.curators.curator import Curator
from curation_pipeline.curators.errors import CuratorConfigError
from curation_pipeline.curators.intervals import format_interval, parse_interval
from curation_pipeline.curators.loading import CuratorFileError, CuratorProblem, load_curators, load_curators_text
from curation_pipeline.curators.selectors import (
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    OrderingDirection,
    SamplingMethod,
    Selector,
    StratificationMode,
    StratifiedSampler,
    TagFilter,
    UniformSampler,
)
from curation_pipeline.curators.serialization import CURATOR_TYPES, curator_from_dict, curator_from_gantry
from curation_pipeline.curators.stock import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    DescendedSortCurator,
    EqualityCurator,
    NewestCurator,
    OldestCurator,
    ProportionalStratificationCurator,
    StrictStratificationCurator,
    UniformCurator,
)
from curation_pipeline.curators.validation import validate_catalog

__all__ = [
    "CURATOR_TYPES",
    "AscendedSortCurator",
    "BalancedStratificationCurator",
    "BoundedRangeCurator",
    "BoundsFilter",
    "ContainsFilter",
    "Curator",
    "CuratorConfigError",
    "CuratorFileError",
    "CuratorProblem",
    "DescendedSortCurator",
    "EqualityCurator",
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
    "curator_from_dict",
    "curator_from_gantry",
    "format_interval",
    "load_curators",
    "load_curators_text",
    "parse_interval",
    "validate_catalog",
]
