"""The store resource builds one location; datasets and streams are read from it."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from curation_pipeline.defs.resources import CurationStore, store_resource_from_env
from curation_pipeline.errors import CurationError
from curation_pipeline.location import make_s3_client
from curation_pipeline.stream import log_records, read_window


def test_the_location_is_built_once_with_dagster_aws_client(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    resource = CurationStore(store_url="s3://bucket/p", s3_endpoint_url=aws_env.endpoint_url, s3_region="eu-west-1")
    location = resource.location()
    assert resource.location() is location
    assert (location.bucket, location.prefix) == ("bucket", "p")
    client = location.s3_client()
    assert resource.s3_client() is client
    assert client.meta.endpoint_url == aws_env.endpoint_url
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == make_s3_client().meta.config.retries  # one retry setting


def test_local_store_locations(tmp_path):
    resource = CurationStore(store_url=str(tmp_path / "store"))
    assert resource.location().is_local and resource.location().client is None
    assert resource.url == f"{tmp_path}/store"
    assert resource.open().url == str((tmp_path / "store").resolve())


def test_curation_endpoint_points_datasets_and_streams_at_one_server(aws_env, moto_server, monkeypatch):
    bucket = moto_server.make_bucket("resource")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("CURATION_STORE_URL", f"s3://{bucket}/root")
    resource = store_resource_from_env()
    assert resource.s3_endpoint_url == dg.EnvVar("CURATION_S3_ENDPOINT_URL")
    # EnvVar fields are read when the resource is built for a run, as Dagster does.
    built = dg.build_resources({"store": resource})
    with built as resources:
        store = resources.store
        records = [{"record_id": "a", "__time": datetime(2024, 3, 1, 12, tzinfo=timezone.utc), "inputs.x": 1}]
        log_records("app", records, location=store.location())
        window = read_window("app", datetime(2024, 3, 1), datetime(2024, 3, 2), location=store.location())
        assert window.count_rows() == 1
        store.open().create_dataset("ds")
    keys = {item["Key"] for item in moto_server.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert any(key.startswith("root/streams/app/") for key in keys)
    assert any(key.startswith("root/datasets/ds/") for key in keys)


@pytest.mark.parametrize("url", ["s3://AKIA:secret@bucket", "gs://bucket"])
def test_invalid_urls_fail_the_asset_boundary_as_library_errors(url):
    # The asset boundary turns every CurationError into one dagster.Failure.
    with pytest.raises(CurationError) as info:
        CurationStore(store_url=url).open()
    assert "secret" not in str(info.value)
