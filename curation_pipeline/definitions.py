"""The code location's single wiring point: every Dagster definition is merged here."""

from __future__ import annotations

import dagster as dg

defs = dg.Definitions()
