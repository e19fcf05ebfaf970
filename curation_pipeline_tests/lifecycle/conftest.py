"""A deployment on disk: a catalogue, a store, a code location file pinned to a clock, a Dagster instance.

The code location file (``location.py``) builds the definitions exactly as
``curation_pipeline.definitions`` does, with the clock read from
``CURATION_TEST_NOW``: the workspace the CLI loads (in a gRPC subprocess) and
the definitions the test builds agree on when the curator was deployed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from curation_pipeline.definitions import build_definitions

UTC = dt.timezone.utc
NOW_ENV = "CURATION_TEST_NOW"
LOCATION = '''
import datetime as dt
import os

from curation_pipeline.definitions import build_definitions

defs = build_definitions(clock=lambda: dt.datetime.fromisoformat(os.environ["CURATION_TEST_NOW"]))
'''


@dataclass
class Deployment:
    """Paths and environment of one test deployment."""

    root: Path
    catalogue: Path
    store_url: str
    workspace: Path
    instance: dg.DagsterInstance
    monkeypatch: pytest.MonkeyPatch

    def write_catalogue(self, text: str) -> None:
        self.catalogue.write_text(text)

    def environ(self) -> dict[str, str]:
        return {"CURATION_CURATORS_FILE": str(self.catalogue), "CURATION_STORE_URL": self.store_url}

    def load(self, now: dt.datetime) -> dg.Definitions:
        """The definitions as the code location builds them at ``now`` (and the clock its sensors read)."""
        self.monkeypatch.setenv(NOW_ENV, now.isoformat())
        return build_definitions(self.environ(), clock=lambda: now)


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """An empty store, a catalogue file, a workspace naming the location file, a persistent instance."""
    (tmp_path / "location.py").write_text(LOCATION)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - python_file:\n      relative_path: location.py\n      location_name: curation_pipeline\n"
        f"      working_directory: {tmp_path}\n"
    )
    catalogue = tmp_path / "curators.yaml"
    store_url = str(tmp_path / "store")
    monkeypatch.setenv("CURATION_CURATORS_FILE", str(catalogue))
    monkeypatch.setenv("CURATION_STORE_URL", store_url)
    with dg.instance_for_test() as instance:  # sets DAGSTER_HOME for the CLI too
        yield Deployment(tmp_path, catalogue, store_url, workspace, instance, monkeypatch)
