"""A store folder for the demo tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def local_store(tmp_path) -> str:
    return str(tmp_path / "store")
