"""One current table of the selection benchmark, assembled from several runs (``--merge``).

A comparison at 100M rows on four layouts, local and on S3, takes hours; it is
run layout by layout. With ``--merge`` a run keeps the rows of the results
file it does not measure again (same rule, k, rows, layout and location) and
replaces those it does. Every row names the run that measured it (``run``
column: A, B, ...) and the note lists each run's date, commit, command and
load, so no figure is shown as measured by code it was not. "ours time / at
10M" is recomputed over the merged rows.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

KEY = ("rule", "k", "rows", "layout", "location")
RUN = "run"
GROWTH = "ours time / at 10M"
OURS_MS = "ours ms"


class MergeError(ValueError):
    """The results file cannot take this run's rows (other engines, a malformed file)."""


def merge(
    previous: dict[str, Any] | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    run: dict[str, Any],
    base_rows: int,
) -> tuple[list[str], list[list[Any]], list[dict[str, Any]]]:
    """This run's ``rows`` (under ``columns``) merged over ``previous`` results: columns, rows and runs.

    ``columns`` is the widest layout of the table (with the S3 columns when
    any row, old or new, was read from S3); rows of a run without them show
    None there. ``run`` describes this run (date, commit, command, note).
    """
    new = [dict(zip(columns, row)) for row in rows]
    old, old_runs = _previous_rows(previous, columns)
    measured = {_key(row) for row in new}
    kept = [row for row in old if _key(row) not in measured]
    used = {row[RUN] for row in kept}
    runs = [run_ for run_ in old_runs if run_["label"] in used]
    # Letters in the order runs were made; this run takes the next one.
    relabel = {run_["label"]: string.ascii_uppercase[i] for i, run_ in enumerate(runs)}
    for row in kept:
        row[RUN] = relabel[row[RUN]]
    for run_ in runs:
        run_["label"] = relabel[run_["label"]]
    this = dict(run, label=string.ascii_uppercase[len(runs)])
    for row in new:
        row[RUN] = this["label"]
    runs.append(this)
    merged = kept + new
    _regrow(merged, base_rows)
    merged.sort(key=_order)
    names = [*columns, RUN] if RUN not in columns else list(columns)
    return names, [[row.get(name) for name in names] for row in merged], runs


def describe(runs: Sequence[dict[str, Any]]) -> str:
    """The note's account of the runs behind the table's rows."""
    parts = []
    for run in runs:
        commit = str(run.get("commit") or "unknown")
        shown = f"`{commit[:12]}`" + (" (with uncommitted changes)" if commit.endswith("-dirty") else "")
        text = f"Run {run['label']}: {run.get('date')}, commit {shown}, `{run.get('command')}`."
        parts.append(f"{text} {run.get('note') or ''}".strip())
    return " ".join(parts)


def _previous_rows(
    previous: dict[str, Any] | None, columns: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not previous:
        return [], []
    try:
        (figures,) = previous["tables"]
        old_columns = figures["columns"]
    except (KeyError, ValueError, TypeError) as error:
        raise MergeError(f"the results file holds no single selection table to merge into ({error})") from error
    engines_before = [c for c in old_columns if c.endswith(" ms")]
    engines_now = [c for c in columns if c.endswith(" ms")]
    if engines_before != engines_now:
        raise MergeError(
            f"the results file compares {', '.join(engines_before)}, this run {', '.join(engines_now)}:"
            " merge runs of the same engines (or write another --results-name)"
        )
    rows = [dict(zip(old_columns, row)) for row in figures["rows"]]
    runs = previous.get("runs")
    if not runs:
        # A file written before runs were recorded: its rows are one run.
        runs = [{key: previous.get(key) for key in ("date", "commit", "command", "note")} | {"label": "A"}]
        for row in rows:
            row[RUN] = "A"
    return rows, [dict(run) for run in runs]


def _key(row: dict[str, Any]) -> tuple:
    return tuple(row.get(name) for name in KEY)


def _regrow(rows: list[dict[str, Any]], base_rows: int) -> None:
    base = {
        (row["rule"], row["k"], row["layout"], row["location"]): row.get(OURS_MS)
        for row in rows
        if row["rows"] == base_rows
    }
    for row in rows:
        reference = base.get((row["rule"], row["k"], row["layout"], row["location"]))
        ours = row.get(OURS_MS)
        usable = _number(reference) and _number(ours) and reference > 0
        row[GROWTH] = round(ours / reference, 2) if usable else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_RULE_ORDER = (
    "uniform", "newest", "top confidence", "bounded range", "equality", "stratified proportional", "stratified balanced",
)
_LAYOUT_ORDER = ("ours", "overlap", "small", "foreign")


def _order(row: dict[str, Any]) -> tuple:
    rule = row["rule"]
    layout = row["layout"]
    # Sizes of one rule side by side: growth reads down the table.
    return (
        0 if row["location"] == "local" else 1,
        _LAYOUT_ORDER.index(layout) if layout in _LAYOUT_ORDER else len(_LAYOUT_ORDER),
        _RULE_ORDER.index(rule) if rule in _RULE_ORDER else len(_RULE_ORDER),
        row["k"],
        row["rows"],
    )
