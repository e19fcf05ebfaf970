"""The store is a plain library: no Dagster, no curator/selection/stream layers."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("dagster", "curation_pipeline.selection", "curation_pipeline.curators", "curation_pipeline.stream")


def test_store_imports_no_upper_layer() -> None:
    code = (
        "import sys, curation_pipeline.store\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_public_names() -> None:
    import curation_pipeline.store as store

    assert set(store.__all__) <= set(dir(store))
    for name in ("DatasetStore", "Dataset", "Version", "CommitResult", "VersionDiff", "GcReport", "StoreError"):
        assert name in store.__all__
