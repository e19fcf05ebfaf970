"""Running ``curation datasets ...`` in-process and reading its output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from curation_pipeline.cli import main


def run(store_url: str, *args: str, code: int = 0, input: str | None = None) -> Result:
    """Invoke ``curation datasets --store STORE_URL ARGS`` and check its exit code."""
    result = CliRunner().invoke(main, ["datasets", "--store", store_url, *args], input=input)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


def run_json(store_url: str, *args: str) -> Any:
    """Invoke a listing command with ``--json`` and parse stdout."""
    return json.loads(run(store_url, *args, "--json").stdout)


def fail(store_url: str, *args: str, code: int) -> str:
    """Invoke a command that must fail with ``code``; return its one-line error."""
    result = run(store_url, *args, code=code)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def write(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path -> content) under ``folder``; return ``folder``."""
    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return folder


def read_tree(folder: Path) -> dict[str, bytes]:
    """Relative path -> content of every file under ``folder`` (the .curation state folder excepted)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] != ".curation"
    }


def version_ids(store_url: str, name: str) -> list[str]:
    """The dataset's version ids, newest first."""
    return [v["version_id"] for v in run_json(store_url, "versions", name)["versions"]]
