"""Fixtures for the Gantry layer: ``gantry_store`` points ``curation_pipeline.gantry.dataset`` at a fresh store.

Parametrized over ``local`` (a temporary folder) and ``s3`` (a fresh bucket on
the session's moto server). The working directory is a temporary folder, so
examples that pull write nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# `datasets` must never reach the network in tests (it reads these when imported).
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import curation_pipeline.gantry.dataset as gdataset  # noqa: E402
from curation_pipeline.store import DatasetStore  # noqa: E402
from curation_pipeline_tests.conftest import FAKE_REGION  # noqa: E402


@pytest.fixture(params=["local", "s3"])
def gantry_store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DatasetStore]:
    """A fresh store that the Gantry module functions use, and a working directory under ``tmp_path``."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    if request.param == "local":
        store = gdataset.init(str(tmp_path / "store"))
    else:
        server = request.getfixturevalue("aws_env")
        bucket = server.make_bucket("gantry")
        store = gdataset.init(f"s3://{bucket}/root", endpoint_url=server.endpoint_url, region_name=FAKE_REGION)
    gdataset.set_working_directory(tmp_path / "work")
    try:
        yield store
    finally:
        gdataset._settings.update(store=None, working_directory=None)
