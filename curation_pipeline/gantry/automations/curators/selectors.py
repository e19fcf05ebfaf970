"""Gantry's ``gantry.automations.curators.selectors`` path: the selector names of :mod:`curation_pipeline.gantry.curators`."""

from curation_pipeline.gantry.curators import (
    TIME_COLUMN_NAME,
    BoundsFilter,
    ContainsFilter,
    EqualityFilter,
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

__all__ = [
    "TIME_COLUMN_NAME",
    "BoundsFilter",
    "ContainsFilter",
    "EqualityFilter",
    "EqualsFilter",
    "OrderedSampler",
    "OrderingDirection",
    "SamplingMethod",
    "Selector",
    "StratificationMode",
    "StratifiedSampler",
    "TagFilter",
    "UniformSampler",
]
