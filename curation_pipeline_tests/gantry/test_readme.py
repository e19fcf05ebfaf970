"""The README's "Coming from Gantry" program runs as written, in a fresh folder, and prints what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _program() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Coming from Gantry") : readme.index("## Where things live")]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_program_runs_as_written(tmp_path: Path) -> None:
    program = _program()
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1"}
    env.pop("CURATION_STORE_URL", None)  # the default store, ./.curation in the folder it runs in
    result = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    expected = [line.split("# ", 1)[1].strip() for line in program.splitlines() if line.startswith("print(")]
    assert result.stdout.splitlines() == expected
    assert (tmp_path / "reviews-to-label" / "tabular_manifests" / "labels.csv").exists()
    assert (tmp_path / ".curation" / "datasets" / "reviews-to-label" / "DATASET").exists()
