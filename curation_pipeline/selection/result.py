"""The outcome of a selection: the selected records and the figures around them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True)
class SelectorStats:
    """What one selector did.

    ``matched_rows`` counts the rows that passed the selector's filters;
    ``selected_rows`` the rows it picked (before the union with other
    selectors drops records already picked). ``strata`` maps each stratum's
    name to the rows picked from it, for stratified selectors only.
    """

    limit: int
    matched_rows: int
    selected_rows: int
    strata: dict[str, int] | None = field(default=None)

    @property
    def limit_hit(self) -> bool:
        """True when more rows matched than the limit: the selector had to leave some out."""
        return self.matched_rows > self.limit


@dataclass(frozen=True)
class SelectionResult:
    """Selected records (full rows, the data's columns) plus per-selector figures."""

    table: pa.Table
    candidate_rows: int
    selectors: tuple[SelectorStats, ...]

    @property
    def selected_rows(self) -> int:
        """Rows in the result, after the union removed duplicate records."""
        return self.table.num_rows

    @property
    def limit_hit(self) -> bool:
        """True when any selector matched more rows than it could select."""
        return any(stats.limit_hit for stats in self.selectors)
