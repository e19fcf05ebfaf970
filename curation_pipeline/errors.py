"""The one root of every error this project raises.

Each layer keeps its own base (``StoreError``, ``StreamError``,
``SelectionError``, ``CuratorConfigError``, ``InvalidNameError``...) and each
of those derives from :class:`CurationError`, so a boundary -- the CLI's exit
codes, the Dagster assets' ``Failure`` -- catches one class. Where a builtin
means the same thing, the specific classes inherit it too (``except
ValueError`` keeps working).
"""

from __future__ import annotations


class CurationError(Exception):
    """Base class of every error raised by :mod:`curation_pipeline`."""
