"""Fixtures for the command-line tests: a fresh store on each backend.

``store_url`` is parametrized over ``local`` (a temporary folder) and ``s3``
(``s3://<fresh bucket>/root`` on the session's moto server; ``aws_env`` puts
the endpoint and fake credentials in the environment, as a user's shell would).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.conftest import MotoServer


@pytest.fixture(params=["local", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a fresh, empty store."""
    monkeypatch.delenv("CURATION_STORE_URL", raising=False)
    monkeypatch.setenv("CURATION_AUTHOR", "tester")
    if request.param == "local":
        return str((tmp_path / "store").resolve())
    server: MotoServer = request.getfixturevalue("aws_env")
    return f"s3://{server.make_bucket('cli')}/root"


@pytest.fixture
def store(store_url: str) -> DatasetStore:
    """The store at ``store_url``, opened through the library."""
    return DatasetStore.open(store_url)
