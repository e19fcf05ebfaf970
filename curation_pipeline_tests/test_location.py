"""One location for every layer: URL parsing, S3 settings precedence, the filesystem and the client."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pyarrow.fs as pafs
import pytest

from curation_pipeline import store as store_package
from curation_pipeline import stream as stream_package
from curation_pipeline.errors import CurationError
from curation_pipeline.location import (
    S3_RETRIES,
    InvalidLocationError,
    Location,
    S3Limits,
    location_of,
    make_s3_client,
    resolve_location,
)
from curation_pipeline.store import DatasetStore
from curation_pipeline.stream import log_records, read_window

S3_ENVS = (
    "CURATION_S3_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "CURATION_S3_REGION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No S3 endpoint or region in the environment."""
    for name in S3_ENVS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# -- parsing -----------------------------------------------------------------------


def test_local_paths_and_file_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = resolve_location("relative/store")
    assert relative.is_local and not relative.is_s3
    assert relative.root == relative.path == relative.url == f"{tmp_path}/relative/store"
    assert resolve_location(f"file://{tmp_path}/a%20b/").root == f"{tmp_path}/a b"
    assert resolve_location(f"file://localhost{tmp_path}").root == str(tmp_path)
    assert resolve_location(tmp_path).root == str(tmp_path)  # os.PathLike
    assert resolve_location("~").root == resolve_location(str(tmp_path.home())).root


def test_default_location_comes_from_the_environment_at_call_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATION_STORE_URL", raising=False)
    assert resolve_location().root == f"{tmp_path}/.curation"
    assert resolve_location("").root == f"{tmp_path}/.curation"
    monkeypatch.setenv("CURATION_STORE_URL", "/elsewhere")
    assert resolve_location().root == "/elsewhere"
    assert resolve_location(environ={"CURATION_STORE_URL": "s3://b/p"}).url == "s3://b/p"


def test_s3_urls(clean_env):
    location = resolve_location("s3://bucket/some/prefix/")
    assert location.is_s3 and not location.is_local
    assert (location.bucket, location.prefix, location.url) == ("bucket", "some/prefix", "s3://bucket/some/prefix")
    assert location.root == "bucket/some/prefix"
    assert location.uri(f"{location.root}/x") == "s3://bucket/some/prefix/x"
    bare = resolve_location("S3://bucket")
    assert (bare.prefix, bare.root, bare.url) == ("", "bucket", "s3://bucket")
    assert resolve_location("s3://bucket/a%20b").prefix == "a b"


@pytest.mark.parametrize(
    "url",
    ["s3:///prefix", "s3://", "gs://bucket/x", "http://example.com/x", "file://server/share", "s3://b/p?x=1", "s3://b#f"],
)
def test_unsupported_urls(url):
    with pytest.raises(InvalidLocationError, match="store URL"):
        resolve_location(url)


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIA:secret@bucket/p",
        "s3://user@bucket",
        "file://AKIA:secret@localhost/tmp/x",
        "https://AKIA:secret@example.com/x",
        "AKIA:secret@bucket/p",
    ],
)
def test_credentials_in_urls_are_refused_without_echo(url):
    with pytest.raises(InvalidLocationError, match="credentials") as info:
        resolve_location(url)
    assert "secret" not in str(info.value) and "AKIA" not in str(info.value) and "user" not in str(info.value)


def test_one_error_class_under_every_name():
    assert stream_package.InvalidStoreUrlError is InvalidLocationError
    assert store_package.InvalidStoreUrlError is InvalidLocationError
    assert issubclass(InvalidLocationError, CurationError) and issubclass(InvalidLocationError, ValueError)


def test_a_location_passes_through_and_conflicts_are_refused(tmp_path):
    location = resolve_location(str(tmp_path))
    assert resolve_location(location) is location
    assert location_of(None, location) is location
    assert location_of(str(tmp_path)) == location
    with pytest.raises(TypeError):
        resolve_location(location, region="eu-west-1")
    with pytest.raises(TypeError):
        location_of(str(tmp_path), location)


def test_locations_are_frozen_values(clean_env):
    location = resolve_location("s3://bucket/p", endpoint_url="http://127.0.0.1:9000")
    with pytest.raises(AttributeError):
        location.bucket = "other"  # type: ignore[misc]
    client = object()
    with_client = location.with_client(client)
    assert with_client.s3_client() is client
    assert with_client == location  # the client is not part of the value
    assert "client" not in repr(with_client)


# -- precedence -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"AWS_ENDPOINT_URL": "http://generic:1"}, "http://generic:1"),
        ({"AWS_ENDPOINT_URL": "http://generic:1", "AWS_ENDPOINT_URL_S3": "http://s3:2"}, "http://s3:2"),
        (
            {"AWS_ENDPOINT_URL": "http://generic:1", "AWS_ENDPOINT_URL_S3": "http://s3:2",
             "CURATION_S3_ENDPOINT_URL": "http://curation:3"},
            "http://curation:3",
        ),
        ({"CURATION_S3_ENDPOINT_URL": "minio:9000"}, "https://minio:9000"),  # no scheme: https
    ],
)
def test_endpoint_precedence(env, expected, clean_env):
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert resolve_location("s3://bucket").endpoint_url == expected
    assert resolve_location("s3://bucket", environ=env).endpoint_url == expected
    assert resolve_location("s3://bucket", endpoint_url="http://explicit:4", environ=env).endpoint_url == "http://explicit:4"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"AWS_DEFAULT_REGION": "eu-west-3"}, "eu-west-3"),
        ({"AWS_DEFAULT_REGION": "eu-west-3", "AWS_REGION": "eu-west-2"}, "eu-west-2"),
        ({"AWS_DEFAULT_REGION": "eu-west-3", "AWS_REGION": "eu-west-2", "CURATION_S3_REGION": "eu-west-1"}, "eu-west-1"),
    ],
)
def test_region_precedence(env, expected, clean_env):
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert resolve_location("s3://bucket").region == expected
    assert resolve_location("s3://bucket", environ=env).region == expected
    assert resolve_location("s3://bucket", region="ap-south-1", environ=env).region == "ap-south-1"


def test_a_custom_endpoint_gets_a_region_without_a_lookup(clean_env):
    assert resolve_location("s3://b", endpoint_url="http://127.0.0.1:9000").region == "us-east-1"
    assert resolve_location("s3://b", endpoint_url="http://127.0.0.1:9000", region="eu-west-1").region == "eu-west-1"


def test_local_locations_ignore_s3_settings(tmp_path, clean_env):
    clean_env.setenv("CURATION_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    location = resolve_location(str(tmp_path), endpoint_url="http://x:1", region="eu-west-1")
    assert (location.endpoint_url, location.region) == (None, None)


# -- what the layers get -----------------------------------------------------------


def test_filesystems(tmp_path, clean_env):
    assert isinstance(resolve_location(str(tmp_path)).filesystem(), pafs.LocalFileSystem)
    default = resolve_location("s3://bucket", environ={"AWS_REGION": "eu-west-1"}).filesystem()
    assert isinstance(default, pafs.S3FileSystem) and default.region == "eu-west-1"
    custom = resolve_location(
        "s3://bucket", environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_S3": "http://localhost:9999"}
    ).filesystem()
    assert custom.region == "us-east-1"  # custom endpoints get a region without a lookup
    assert "localhost:9999" in repr(custom.__reduce__())  # the S3-specific variable wins
    explicit = resolve_location("s3://bucket", endpoint_url="http://127.0.0.1:9000").filesystem()
    assert "127.0.0.1:9000" in repr(explicit.__reduce__())


def test_s3_clients_use_the_endpoint_region_and_retry_settings(clean_env):
    client = resolve_location("s3://bucket", endpoint_url="http://127.0.0.1:9000", region="eu-west-1").s3_client()
    assert client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": S3_RETRIES + 1}
    assert make_s3_client().meta.config.retries == client.meta.config.retries


def test_the_store_and_the_stream_share_a_location(aws_env, tmp_path):
    bucket = aws_env.make_bucket("location")
    location = resolve_location(f"s3://{bucket}/root")
    assert isinstance(location, Location)
    records = [{"record_id": "a", "__time": datetime(2024, 3, 1, 12, tzinfo=timezone.utc), "inputs.x": 1}]
    log_records("app", records, location=location)
    window = read_window("app", datetime(2024, 3, 1), datetime(2024, 3, 2), location=location)
    assert window.to_table().column("record_id").to_pylist() == ["a"]
    store = DatasetStore.open(location=location)
    assert store.url == f"s3://{bucket}/root"
    store.create_dataset("ds")
    assert DatasetStore.open(f"s3://{bucket}/root").list_datasets() == ["ds"]


def test_curation_endpoint_points_the_store_and_the_stream_at_one_server(aws_env, moto_server, monkeypatch):
    """CURATION_S3_ENDPOINT_URL wins over a wrong AWS endpoint, for both layers."""
    bucket = moto_server.make_bucket("one-server")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("CURATION_STORE_URL", f"s3://{bucket}/root")
    records = [{"record_id": "a", "__time": datetime(2024, 3, 1, 12, tzinfo=timezone.utc), "inputs.x": 1}]
    log_records("app", records)
    assert read_window("app", datetime(2024, 3, 1), datetime(2024, 3, 2)).count_rows() == 1
    DatasetStore.open().create_dataset("ds")
    keys = {item["Key"] for item in moto_server.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert any(key.startswith("root/streams/app/") for key in keys)
    assert any(key.startswith("root/datasets/ds/") for key in keys)


def test_the_streams_filesystem_fails_a_dead_endpoint_within_the_bound(aws_env, fault_proxy):
    """pyarrow's S3 client takes no deadline: its retries are counted to stay within S3Limits.bound."""
    limits = S3Limits(deadline=2.0, connect_timeout=1.0, read_timeout=1.0)
    bucket = aws_env.make_bucket("stalled")
    filesystem = resolve_location(f"s3://{bucket}", endpoint_url=fault_proxy.url, limits=limits).filesystem()
    fault_proxy.configure(rate=1.0, kinds=["stall"], stall_seconds=float("inf"))
    started = time.monotonic()
    with pytest.raises(OSError, match="Timeout"):
        filesystem.get_file_info(f"{bucket}/key")
    assert time.monotonic() - started <= limits.bound + 0.5
    assert fault_proxy.counts["stall"] == limits.pyarrow_retries() + 1 == 2
    assert S3Limits().pyarrow_retries() == 2  # 3 attempts of 5 + 20 s at most: within the 85 s bound
