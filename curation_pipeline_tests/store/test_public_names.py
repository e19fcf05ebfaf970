"""The store's public names (its layering is checked statically: curation_pipeline_tests/test_layering.py)."""

from __future__ import annotations


def test_public_names() -> None:
    import curation_pipeline.store as store

    assert set(store.__all__) <= set(dir(store))
    for name in ("DatasetStore", "Dataset", "Version", "CommitResult", "VersionDiff", "GcReport", "StoreError"):
        assert name in store.__all__
