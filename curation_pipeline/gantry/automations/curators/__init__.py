"""Gantry's ``gantry.automations.curators`` path: the same names as :mod:`curation_pipeline.gantry.curators`."""

from curation_pipeline.gantry.curators import *  # noqa: F403 -- the module's whole public API, by design
from curation_pipeline.gantry.curators import __all__  # noqa: F401
