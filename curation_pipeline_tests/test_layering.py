"""The layering contracts of pyproject.toml hold, catch imports hidden inside functions, and match the README.

``make test`` runs ``lint-imports`` before the suite; these tests show the
contracts can fail: each plants one forbidden import, inside a function, in a
copy of the package, and expects the named contract to break.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(project / "pyproject.toml")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_project(target: Path) -> Path:
    for package in ("curation_pipeline", "curation_devtools"):
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def test_the_tree_keeps_every_contract():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("store/planted.py", "import curation_pipeline.selection", "The stream and the store are plain storage"),
        ("stream/planted.py", "from curation_pipeline.curators import Curator", "The stream and the store are plain storage"),
        ("selection/planted.py", "from curation_pipeline.windows import Window", "Each layer imports only the layers below it"),
        ("stream/planted.py", "from curation_pipeline.store import DatasetStore", "Each layer imports only the layers below it"),
        ("windows/planted.py", "from curation_pipeline.defs import assets", "Each layer imports only the layers below it"),
        ("errors_planted.py", "import curation_pipeline.names", "Each layer imports only the layers below it"),
        ("selection/planted.py", "import dagster", "Only the Dagster wiring (defs/, definitions.py) imports Dagster"),
        ("curators/planted.py", "import boto3", "Only location.py, the store's S3 backend and stream/object_reads.py use boto3"),
        ("store/planted.py", "import click", "Only the CLI imports click"),
        ("defs/planted.py", "import curation_devtools", "The package never imports its tests or the dev tooling"),
        ("store/planted.py", "import datasets", "Only the Gantry layer's hf module imports HuggingFace datasets"),
        ("store/planted.py", "import curation_pipeline.gantry", "Each layer imports only the layers below it"),
        ("registry/planted.py", "from curation_pipeline.gantry import curators", "Each layer imports only the layers below it"),
    ],
)
def test_a_forbidden_import_inside_a_function_breaks_its_contract(tmp_path, module, statement, contract):
    project = _copy_project(tmp_path)
    planted = project / "curation_pipeline" / module
    if module == "errors_planted.py":  # the bottom layer itself gains an upward import
        planted = project / "curation_pipeline" / "errors.py"
        planted.write_text(planted.read_text() + f"\n\ndef _planted() -> None:\n    {statement}\n")
    else:
        planted.write_text(f"def planted() -> None:\n    {statement}\n")

    result = _lint_imports(project)

    assert result.returncode != 0
    assert re.search(rf"{re.escape(contract)}.* BROKEN", result.stdout), result.stdout


def test_the_readme_lists_the_layers_in_the_contracts_order():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in config if c["id"] == "layers")["layers"]
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Where things live") :]
    rows = [line for line in table.splitlines() if line.startswith("| `curation_pipeline")]
    positions = []
    for layer in layers:
        names = [name.strip() for name in re.split(r"[|:]", layer)]
        # A module layer is written `name.py`, a package `name/` (definitions.py shares defs/'s row).
        found = [i for i, row in enumerate(rows) for name in names if f"/{name}/`" in row or f"`{name}/`" in row or f"{name}.py`" in row]
        assert found, f"layer {layer!r} is missing from the README's table"
        positions.append(min(found))
    assert positions == sorted(positions), f"the README's table orders the layers differently: {layers}"
