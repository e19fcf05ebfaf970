"""Every definition loads: the demo catalogue, a YAML catalogue, and a broken one that names the culprit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from curation_pipeline.curators import CuratorConfigError
from curation_pipeline.definitions import build_definitions, defs
from curation_pipeline.defs.catalog_loading import check_catalog
from curation_pipeline.defs.resources import CurationStore, store_resource_from_env
from curation_pipeline_tests.defs.conftest import prod_curator

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
curators:
  - type: UniformCurator
    name: sample-90m
    application_name: shop
    limit: 10
    start_on: 2026-01-01
    curation_interval: 90m
  - type: NewestCurator
    name: newest
    application_name: other-app
    limit: 5
    curation_interval: 1h
    curate_past_intervals: false
    enabled: false
"""
BAD = """
curators:
  - type: UniformCurator
    name: broken-one
    application_name: shop
    limit: 10
    curation_interval: 90 minutes
"""


def test_the_code_location_loads_every_definition(monkeypatch, tmp_path):
    monkeypatch.delenv("CURATION_CURATORS_FILE", raising=False)
    monkeypatch.setenv("CURATION_STORE_URL", str(tmp_path / "store"))  # every curator records its grid there
    loaded = defs()
    dg.Definitions.validate_loadable(loaded)
    repository = loaded.get_repository_def()
    repository.load_all_definitions()
    curated = [k for k in repository.asset_graph.get_all_asset_keys() if k.path[0] == "curated"]
    assert len(curated) == len(repository.schedule_defs) >= 10
    assert dg.AssetKey(["stream", "demo"]) in repository.asset_graph.get_all_asset_keys()
    for key in curated:
        node = repository.asset_graph.get(key)
        assert node.group_name == "demo"
        assert dg.AssetKey(["stream", "demo"]) in node.parent_keys
        assert node.backfill_policy == dg.BackfillPolicy.multi_run(10)
        assert len(node.check_keys) == 5


def test_a_yaml_catalogue_replaces_the_demo(tmp_path):
    path = tmp_path / "curators.yaml"
    path.write_text(GOOD)
    loaded = build_definitions(
        {
            "CURATION_CURATORS_FILE": str(path),
            "CURATION_BACKFILL_PARTITIONS_PER_RUN": "3",
            "CURATION_STORE_URL": str(tmp_path / "store"),  # where "newest" (no start_on) records its start
        }
    )
    repository = loaded.get_repository_def()
    assert {s.name for s in repository.schedule_defs} == {"sample_90m_schedule", "newest_schedule"}
    # Every curator has a catch-up sensor (it also curates the windows missed while the curator was off).
    assert {s.name for s in repository.sensor_defs} == {
        "sample_90m_windows", "sample_90m_catch_up", "newest_catch_up", "shop_stream_observer",
        "other_app_stream_observer",
    }
    assert repository.get_schedule_def("newest_schedule").default_status == dg.DefaultScheduleStatus.STOPPED
    node = repository.asset_graph.get(dg.AssetKey(["curated", "sample-90m"]))
    assert isinstance(node.partitions_def, dg.DynamicPartitionsDefinition)
    assert node.backfill_policy == dg.BackfillPolicy.multi_run(3)
    assert node.kinds == {"parquet", "local"}
    assert node.group_name == "shop"


def test_two_curators_may_not_share_a_dataset_or_a_dagster_name():
    with pytest.raises(CuratorConfigError, match="curated_dataset_name|dataset"):
        check_catalog([prod_curator(name="a"), prod_curator(name="b", curated_dataset_name="a")])
    with pytest.raises(CuratorConfigError, match="a_b"):
        check_catalog([prod_curator(name="a-b"), prod_curator(name="a_b")])


def test_store_resource_reads_its_settings_through_env_vars(monkeypatch):
    monkeypatch.setenv("CURATION_STORE_URL", "s3://bucket/prefix")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    resource = store_resource_from_env()
    assert resource.store_url == dg.EnvVar("CURATION_STORE_URL")
    assert resource.s3_region == dg.EnvVar("AWS_REGION")
    assert store_resource_from_env({}).store_url is None
    s3 = CurationStore(store_url="s3://bucket/prefix", s3_region="eu-west-1")
    assert s3.version_uri("ds", "abc") == (
        "https://s3.console.aws.amazon.com/s3/object/bucket?region=eu-west-1&prefix=prefix/datasets/ds/versions/abc.json"
    )
    minio = CurationStore(store_url="s3://bucket", s3_endpoint_url="http://127.0.0.1:9000")
    assert minio.version_uri("ds", "abc") == "http://127.0.0.1:9000/bucket/datasets/ds/versions/abc.json"


def _validate(env_file: Path | None, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CURATION_CURATORS_FILE"}
    env["DAGSTER_HOME"] = str(home)
    env["CURATION_STORE_URL"] = str(home / "store")  # curators without start_on record their start there
    if env_file is not None:
        env["CURATION_CURATORS_FILE"] = str(env_file)
    dagster = Path(sys.executable).with_name("dagster")
    return subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )


def test_dagster_validates_the_workspace_and_rejects_a_broken_curator(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    home = tmp_path / "dagster_home"
    home.mkdir()
    broken = _validate(bad, home)
    output = broken.stdout + broken.stderr
    assert broken.returncode != 0
    assert "broken-one" in output and "curation_interval" in output

    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    fine = _validate(good, home)
    assert fine.returncode == 0, fine.stdout + fine.stderr
