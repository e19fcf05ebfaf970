"""Gantry's lifecycle calls against a deployment, on a local store and an S3 store (moto).

A script written the way Gantry's docs write it (create, disable, enable,
update, delete; the look-ups) runs against the store's registry; after each
step the code location's definitions are loaded again, as a reload does, and
must reflect it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._core.scheduler.instigation import InstigatorStatus

from curation_pipeline import lifecycle
from curation_pipeline.cli import main
from curation_pipeline.curators import CuratorConfigError, UniformCurator
from curation_pipeline.definitions import build_definitions
from curation_pipeline.store import DatasetStore
from curation_pipeline.windows import CuratorEditError
from curation_pipeline_tests.conftest import FAKE_REGION
from curation_pipeline_tests.lifecycle.conftest import Deployment

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 4, 1, tzinfo=UTC)
KEY = dg.AssetKey(["curated", "gantry-sample"])


@pytest.fixture(params=["local", "s3"])
def environ(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An empty catalogue file and a store, on each backend; no Dagster instance (DAGSTER_HOME unset)."""
    catalogue = tmp_path / "curators.yaml"
    catalogue.write_text("curators: []\n")
    env = {"CURATION_CURATORS_FILE": str(catalogue), "CURATION_STORE_URL": str(tmp_path / "store")}
    if request.param == "s3":
        server = request.getfixturevalue("aws_env")
        env.update(
            CURATION_STORE_URL=f"s3://{server.make_bucket('registry')}/root",
            CURATION_S3_ENDPOINT_URL=server.endpoint_url,
            CURATION_S3_REGION=FAKE_REGION,
        )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return env


def load(environ: dict[str, str]) -> dg.Definitions:
    return build_definitions(environ, clock=lambda: NOW)


def test_a_gantry_script_drives_the_deployment(environ: dict[str, str]):
    # -- the script, as Gantry's docs write it (module-level calls instead of methods) --
    curator = UniformCurator(
        name="gantry-sample", application_name="shop", limit=5, start_on=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    created = lifecycle.create(curator)
    assert created.name == "gantry-sample" and created.enabled
    defs = load(environ)
    assert defs.get_assets_def(KEY).partitions_def.get_first_partition_key() == "2026-01-01"
    assert defs.get_schedule_def("gantry_sample_schedule").default_status == dg.DefaultScheduleStatus.RUNNING

    assert lifecycle.disable(created) == "Curator gantry-sample disabled"
    assert load(environ).get_schedule_def("gantry_sample_schedule").default_status == dg.DefaultScheduleStatus.STOPPED
    assert lifecycle.enable(created) == "Curator gantry-sample enabled"
    assert load(environ).get_schedule_def("gantry_sample_schedule").default_status == dg.DefaultScheduleStatus.RUNNING

    updated = lifecycle.update(created, new_curation_interval=dt.timedelta(hours=6))
    assert updated.curation_interval == dt.timedelta(hours=6)
    # The new grid starts at the first daily window not yet due at the reload: Jan 4.
    assert load(environ).get_assets_def(KEY).partitions_def.get_first_partition_key() == "2026-01-04-00:00"

    with pytest.raises(CuratorEditError, match="create_new_dataset=True"):
        lifecycle.update(updated, new_curated_dataset_name="gantry-other")
    moved = lifecycle.update(updated, new_curated_dataset_name="gantry-other", create_new_dataset=True)
    assert load(environ).get_assets_def(dg.AssetKey(["curated", "gantry-other"])) is not None

    assert lifecycle.list_curators() == ["gantry-sample"]
    assert lifecycle.list_curators(application_name="elsewhere") == []
    assert [c.curated_dataset_name for c in lifecycle.get_all_curators("shop")] == ["gantry-other"]
    assert lifecycle.get_curator("gantry-sample") == moved

    message = lifecycle.delete(moved)
    assert message.startswith("Curator gantry-sample deleted at ")
    assert lifecycle.list_curators() == []
    assert not any(a.key.path[0] == "curated" for a in load(environ).assets)  # gone after the reload
    with pytest.raises(lifecycle.CuratorNotFoundError):
        lifecycle.get_curator("gantry-sample")
    with pytest.raises(lifecycle.CuratorNotFoundError):
        lifecycle.enable("gantry-sample")


def test_a_deleted_curator_leaves_its_dataset_and_status_lists_it_retired(environ: dict[str, str]):
    curator = lifecycle.create(UniformCurator(name="kept", application_name="shop", limit=5,
                                              start_on=dt.datetime(2026, 1, 1, tzinfo=UTC)))
    load(environ)
    store = DatasetStore.open(environ["CURATION_STORE_URL"], **_s3_options(environ))
    store.create_dataset("kept").commit({"data/2026-01-01.parquet": b"x"}, "one window")
    CliRunner().invoke(main, ["curators", "delete", "kept"], catch_exceptions=False)
    assert "kept" in store.list_datasets()
    with dg.instance_for_test():  # status reads the instance of $DAGSTER_HOME
        result = CliRunner().invoke(main, ["curators", "status", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows == [rows[0]] and rows[0]["name"] == "kept" and rows[0]["retired"] and rows[0]["head"]
    purged = CliRunner().invoke(main, ["curators", "delete", "kept", "--purge-dataset"])
    assert purged.exit_code == 1 and "no curator 'kept'" in purged.output  # deleted already
    lifecycle.create(curator)
    lifecycle.delete(curator, purge_dataset=True)
    assert "kept" not in store.list_datasets()


def test_create_refuses_what_would_stop_the_code_location_from_loading(environ: dict[str, str]):
    Path(environ["CURATION_CURATORS_FILE"]).write_text(
        "curators:\n  - {type: UniformCurator, name: in-yaml, application_name: shop, limit: 3}\n"
    )
    with pytest.raises(lifecycle.CuratorExistsError, match="curators.yaml"):
        lifecycle.create(UniformCurator(name="in-yaml", application_name="shop", limit=5))
    lifecycle.create(UniformCurator(name="gone", application_name="shop", limit=5))
    load(environ)  # deployed: its dataset is recorded
    lifecycle.delete("gone")
    with pytest.raises(CuratorEditError, match="curated_dataset_name='gone'"):
        lifecycle.create(UniformCurator(name="gone", application_name="shop", limit=5, curated_dataset_name="new"))
    lifecycle.create(UniformCurator(name="gone", application_name="shop", limit=5))  # the same dataset: back again
    with pytest.raises(lifecycle.CuratorExistsError):
        lifecycle.create(UniformCurator(name="gone", application_name="shop", limit=5))
    schedules = load(environ).get_repository_def().schedule_defs
    assert sorted(s.name for s in schedules) == ["gone_schedule", "in_yaml_schedule"]


def test_a_name_in_the_catalogue_and_the_registry_names_both(environ):
    lifecycle.create(UniformCurator(name="twice", application_name="shop", limit=5))
    Path(environ["CURATION_CURATORS_FILE"]).write_text(
        "curators:\n  - {type: UniformCurator, name: twice, application_name: shop, limit: 3}\n"
    )
    with pytest.raises(CuratorConfigError, match=r"curators\.yaml and in the curator registry .*curators/twice/spec\.json"):
        load(environ)


def test_enable_and_disable_flip_a_deployed_curators_schedule_in_the_instance(deployment: Deployment):
    deployment.write_catalogue("curators: []\n")
    lifecycle.create(UniformCurator(name="live", application_name="shop", limit=5,
                                    start_on=dt.datetime(2026, 1, 1, tzinfo=UTC)))
    deployment.load(NOW)
    assert lifecycle.disable("live", workspace=str(deployment.workspace)) == "Curator live disabled"
    (state,) = [s for s in deployment.instance.all_instigator_state() if s.instigator_name == "live_schedule"]
    assert state.status == InstigatorStatus.STOPPED
    assert lifecycle.get_curator("live").enabled  # the registry keeps the initial state; the instance holds the live one


def _s3_options(environ: dict[str, str]) -> dict[str, str]:
    if not environ["CURATION_STORE_URL"].startswith("s3://"):
        return {}
    return {"endpoint_url": environ["CURATION_S3_ENDPOINT_URL"], "region_name": environ["CURATION_S3_REGION"]}


def test_get_curated_dataset_opens_the_curators_dataset(environ: dict[str, str]):
    curator = lifecycle.create(UniformCurator(name="reader", application_name="shop", limit=5))
    store = DatasetStore.open(environ["CURATION_STORE_URL"], **_s3_options(environ))
    store.create_dataset("reader").commit({"data/2026-01-01.parquet": b"x"}, "one window")
    dataset = lifecycle.get_curated_dataset(curator)
    assert dataset.name == "reader" and list(dataset.files()) == ["data/2026-01-01.parquet"]
    assert lifecycle.get_curated_dataset("reader").head() == dataset.head()


class GantryUniformCurator(lifecycle.LifecycleMixin, UniformCurator):
    """What a Gantry-compatible package exports: the stock curator with Gantry's methods."""


def test_a_script_with_gantrys_method_calls(environ: dict[str, str]):
    curator = GantryUniformCurator(
        name="methods", application_name="shop", limit=5, start_on=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert curator.create() is curator
    assert load(environ).get_assets_def(dg.AssetKey(["curated", "methods"])) is not None
    assert curator.disable() == "Curator methods disabled"
    assert curator.enable() == "Curator methods enabled"
    assert curator.update(new_curation_interval=dt.timedelta(hours=12)).curation_interval == dt.timedelta(hours=12)
    assert load(environ).get_assets_def(dg.AssetKey(["curated", "methods"])).partitions_def.get_first_partition_key() == (
        "2026-01-04-00:00"
    )
    assert curator.delete().startswith("Curator methods deleted at ")
    assert lifecycle.list_curators() == []
