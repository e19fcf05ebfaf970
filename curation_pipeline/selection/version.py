"""The version of the selection rules: which rows the engine picks for given data and seed.

Every curated window records it. A change to the engine that makes the same
data and seed select other rows (a new sampling algorithm, a new tie rule)
bumps it, so a window curated under the old rules is curated afresh rather
than continued: re-curation recomputes the first curation's picks and relies
on getting exactly the picks that were stored.
"""

RULES_VERSION = 1
