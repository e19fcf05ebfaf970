from __future__ import annotations


import pyarrow.fs as pafs
import pytest

from curation_pipeline.location import resolve_location
from curation_pipeline.stream import InvalidStoreUrlError, StreamStorageError
from curation_pipeline.stream.filesystems import open_store, storage_errors


def test_local_paths_and_file_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert open_store("relative/store").root == f"{tmp_path}/relative/store"
    assert open_store(f"file://{tmp_path}/a%20b/").root == f"{tmp_path}/a b"
    assert open_store(str(tmp_path)).is_local


def test_default_store_comes_from_environment_at_call_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATION_STORE_URL", raising=False)
    assert open_store().root == f"{tmp_path}/.curation"
    monkeypatch.setenv("CURATION_STORE_URL", "/elsewhere")
    assert open_store().root == "/elsewhere"


def test_s3_urls(aws_env):
    store = open_store("s3://bucket/some/prefix/")
    assert isinstance(store.filesystem, pafs.S3FileSystem)
    assert store.root == "bucket/some/prefix"
    assert store.uri(f"{store.root}/x") == "s3://bucket/some/prefix/x"


@pytest.mark.parametrize("url", ["s3:///prefix", "gs://bucket/x", "file://server/share"])
def test_unsupported_urls(url):
    with pytest.raises(InvalidStoreUrlError, match="store URL"):
        open_store(url)


def test_open_store_takes_a_location(tmp_path):
    store = open_store(location=resolve_location(str(tmp_path / "elsewhere")))
    assert store.root == f"{tmp_path}/elsewhere" and store.is_local
    with pytest.raises(TypeError, match="not both"):
        open_store(str(tmp_path), location=resolve_location(str(tmp_path)))


def test_storage_errors_are_translated_once():
    with pytest.raises(StreamStorageError, match="cannot list x: boom") as raised:
        with storage_errors("cannot list x"):
            raise OSError("boom")
    assert isinstance(raised.value, OSError)
    with pytest.raises(StreamStorageError, match="^inner$"):
        with storage_errors("outer"):
            raise StreamStorageError("inner")
