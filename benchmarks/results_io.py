"""Benchmark results as JSON, one file per benchmark under ``benchmarks/results/``.

Each file records what was measured (tables of figures), with what
(``parameters``), where (``machine``), when (``date``) and on which code
(``commit``). ``benchmarks/report.py`` renders ``docs/performance.md`` from
these files. A ``--quick`` run writes ``<name>-quick.json`` instead, so it
never replaces the figures of a full run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """One table of figures: a title, column names and rows of numbers or strings (None: no figure)."""
    return {"title": title, "columns": list(columns), "rows": [list(row) for row in rows]}


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    return {
        "cpu_count": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def git_commit() -> str | None:
    """The commit of the measured code, with ``-dirty`` when the work tree has changes; None outside git.

    Changes to result files do not count: a benchmark rewriting its results as it goes is not changed code.
    """
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", f":!{RESULTS_DIR.relative_to(PROJECT_ROOT)}")
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def write_results(
    name: str,
    *,
    title: str,
    parameters: dict[str, Any],
    tables: Sequence[dict[str, Any]],
    note: str = "",
    quick: bool = False,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``results/<name>.json`` (``<name>-quick.json`` for a quick run) and return its path.

    ``extra`` holds a benchmark's own keys (the selection benchmark's runs), stored alongside.
    """
    results = {
        "benchmark": name,
        "title": title,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": git_commit(),
        "machine": machine(),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "parameters": parameters,
        "note": note,
        "tables": _finite(list(tables)),
        **(extra or {}),
    }
    path = RESULTS_DIR / f"{name}{'-quick' if quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, allow_nan=False, default=str) + "\n")
    return path


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities (a failed measurement) as None, which JSON can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()
