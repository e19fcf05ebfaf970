"""Gantry's curator lifecycle, as Gantry's SDK writes it, through this layer's classes; only the import differs.

``curator.create()``, ``.disable()``, ``.enable()``, ``.update(...)`` (Gantry's
positional order), ``.get_curated_dataset()``, ``.delete()`` and the module
functions ``get_curator``, ``get_all_curators``, ``list_curators`` run against
the store's curator registry, on a local store and an S3 store (moto).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

import curation_pipeline.gantry.dataset as gdataset
from curation_pipeline.gantry.curators import (
    BoundedRangeCurator,
    CuratorNotFoundError,
    UniformCurator,
    get_all_curators,
    get_curator,
    list_curators,
)
from curation_pipeline.gantry.exceptions import GantryException
from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.conftest import FAKE_REGION

UTC = datetime.timezone.utc
START = datetime.datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DatasetStore:
    """A store named by the environment (as a deployment's is), an empty catalogue, no Dagster instance."""
    catalogue = tmp_path / "curators.yaml"
    catalogue.write_text("curators: []\n")
    monkeypatch.setenv("CURATION_CURATORS_FILE", str(catalogue))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    if request.param == "local":
        monkeypatch.setenv("CURATION_STORE_URL", str(tmp_path / "store"))
    else:
        server = request.getfixturevalue("aws_env")
        monkeypatch.setenv("CURATION_STORE_URL", f"s3://{server.make_bucket('lifecycle')}/root")
        monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", server.endpoint_url)
        monkeypatch.setenv("CURATION_S3_REGION", FAKE_REGION)
    store = gdataset.init()
    gdataset.set_working_directory(tmp_path / "work")
    yield store
    gdataset._settings.update(store=None, working_directory=None)


def test_a_curator_through_gantrys_methods(deployment: DatasetStore) -> None:
    curator = UniformCurator(name="My Uniform Curator", application_name="shop", limit=5, start_on=START)
    assert curator.create() is curator  # Gantry's create returns the curator
    assert list_curators() == ["My Uniform Curator"]
    assert list_curators("shop") == ["My Uniform Curator"] and list_curators("other") == []

    fetched = get_curator("My Uniform Curator")
    assert isinstance(fetched, UniformCurator) and fetched.limit == 5
    assert fetched.disable() == "Curator My Uniform Curator disabled"
    assert fetched.enable() == "Curator My Uniform Curator enabled"

    # Gantry's update(new_curator_name, new_curated_dataset_name, new_curation_interval, new_selectors, ...)
    updated = fetched.update(None, None, datetime.timedelta(hours=12))
    assert isinstance(updated, UniformCurator) and updated.curation_interval == datetime.timedelta(hours=12)
    assert get_curator("My Uniform Curator").curation_interval == datetime.timedelta(hours=12)
    with pytest.raises(ValueError, match="No update parameters provided"):
        fetched.update()

    [listed] = get_all_curators("shop")
    assert isinstance(listed, UniformCurator) and listed.name == "My Uniform Curator"

    # Gantry's get_curated_dataset returns a GantryDataset.
    deployment.create_dataset("My Uniform Curator").commit({"data/2026-01-01.parquet": b"x"}, "one window")
    curated = fetched.get_curated_dataset()
    assert isinstance(curated, gdataset.GantryDataset)
    assert curated.list_versions()[0]["is_latest_version"] is True

    assert fetched.delete().startswith("Curator My Uniform Curator deleted at ")
    assert list_curators() == [] and get_all_curators() == []
    assert [d["name"] for d in gdataset.list_datasets()] == ["My Uniform Curator"]  # the dataset stays


def test_a_curator_never_created(deployment: DatasetStore) -> None:
    never = BoundedRangeCurator("never", "shop", 10, "outputs.score", 0.9, 0.1)  # Gantry's positional order
    for call in (
        never.enable,
        never.disable,
        never.delete,
        lambda: never.update(new_curation_interval=datetime.timedelta(hours=1)),
    ):
        with pytest.raises(CuratorNotFoundError):
            call()
    with pytest.raises(GantryException):
        get_curator("never")


def test_start_and_stop_create_and_delete(deployment: DatasetStore) -> None:
    curator = UniformCurator("started", "shop", 3, start_on=START)
    curator.start()
    assert list_curators() == ["started"]
    curator.stop()
    assert list_curators() == []
