"""Store-level operations on both backends: datasets, soft delete, URLs, credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation_pipeline.names import InvalidNameError
from curation_pipeline.store import (
    DatasetDeletedError,
    DatasetExistsError,
    DatasetNotDeletedError,
    DatasetNotFoundError,
    DatasetStore,
    InvalidDatasetNameError,
    StoreAccessError,
    StoreError,
)
from curation_pipeline_tests.conftest import MotoServer
from curation_pipeline_tests.store.specs import StoreSpec


def test_create_get_list(store: DatasetStore) -> None:
    assert store.list_datasets() == []
    store.create_dataset("b-set")
    store.create_dataset("a_set")
    assert store.list_datasets() == ["a_set", "b-set"]
    assert store.get_dataset("a_set").name == "a_set"
    with pytest.raises(DatasetExistsError, match="a_set"):
        store.create_dataset("a_set")
    assert store.create_dataset("a_set", exist_ok=True).name == "a_set"
    with pytest.raises(DatasetNotFoundError, match="nope") as info:
        store.get_dataset("nope")
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize("name", ["Upper/", " leading space", "../x", "", "a" * 256])
def test_dataset_names_follow_the_naming_rule(store: DatasetStore, name: str) -> None:
    with pytest.raises(InvalidDatasetNameError) as info:
        store.create_dataset(name)
    assert isinstance(info.value, InvalidNameError) and isinstance(info.value, StoreError)


def test_soft_delete_restore_purge(store: DatasetStore) -> None:
    ds = store.create_dataset("doomed")
    v1 = ds.commit({"a": b"1"}, "v1")
    store.create_dataset("other")

    store.delete_dataset("doomed")
    assert store.list_datasets() == ["other"]
    assert store.list_datasets(include_deleted=True) == ["doomed", "other"]
    with pytest.raises(DatasetDeletedError, match="doomed"):
        ds.commit({"b": b"2"}, "refused")
    with pytest.raises(DatasetDeletedError):
        store.get_dataset("doomed")
    with pytest.raises(DatasetDeletedError):
        store.create_dataset("doomed")
    with pytest.raises(DatasetNotDeletedError):
        store.purge_dataset("other")

    restored = store.restore_dataset("doomed")
    assert store.list_datasets() == ["doomed", "other"]
    assert restored.head() == v1.version_id and restored.read_file("a") == b"1"
    restored.commit({"b": b"2"}, "writes again")

    store.delete_dataset("doomed")
    store.purge_dataset("doomed")
    assert list(store.backend.list("datasets/doomed/")) == []
    assert store.list_datasets(include_deleted=True) == ["other"]
    with pytest.raises(DatasetNotFoundError):
        store.get_dataset("doomed")
    with pytest.raises(DatasetNotFoundError):
        store.restore_dataset("doomed")
    assert store.create_dataset("doomed").head() is None


def test_open_defaults_to_environment_then_embedded_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATION_STORE_URL", raising=False)
    assert DatasetStore.open().url == str(tmp_path / ".curation")
    monkeypatch.setenv("CURATION_STORE_URL", str(tmp_path / "elsewhere"))
    assert DatasetStore.open().url == str(tmp_path / "elsewhere")
    assert DatasetStore.open(f"file://{tmp_path}/x").url == str(tmp_path / "x")


SECRET_ID = "AKIASECRETKEYID00000"
SECRET_KEY = "s3cr3t/SECRET+access+key+value+do+not+leak"


def test_credentials_never_leak(
    store_spec: StoreSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_spec.kind == "s3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", SECRET_ID)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    store = store_spec.open()
    ds = store.create_dataset("creds")
    ds.commit({"a": b"1"}, "v1", metadata={"note": "plain"})
    ds.pull(to=tmp_path / "wc")
    seen = [
        repr(store),
        store.url,
        repr(ds),
        repr(store.backend),
        (tmp_path / "wc/.curation/state.json").read_text(),
        *(store.backend.get_bytes(i.key).decode("utf-8", "replace") for i in store.backend.list("datasets/")),
    ]
    for text in seen:
        assert SECRET_ID not in text and SECRET_KEY not in text
    assert json.loads((tmp_path / "wc/.curation/state.json").read_text())["store_url"] == store.url


def test_explicit_credentials_stay_out_of_reprs_and_errors(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = DatasetStore.open(
        "s3://no-such-bucket-here/prefix",
        endpoint_url=moto_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=SECRET_ID,
        aws_secret_access_key=SECRET_KEY,
    )
    with pytest.raises(StoreAccessError, match="bucket does not exist") as info:
        store.create_dataset("x")
    for text in (str(info.value), repr(store), store.url, repr(store.backend)):
        assert SECRET_ID not in text and SECRET_KEY not in text
    assert "datasets/x" in str(info.value)


@pytest.mark.parametrize("url", ["s3://AKIA:secret@bucket/p", "s3://user@bucket"])
def test_credentials_in_url_are_rejected_without_echo(url: str) -> None:
    from curation_pipeline.store import InvalidStoreUrlError

    with pytest.raises(InvalidStoreUrlError) as info:
        DatasetStore.open(url)
    assert "secret" not in str(info.value) and "AKIA" not in str(info.value)


@pytest.mark.parametrize("url", ["http://example.com/x", "s3://", "gs://bucket/x"])
def test_unsupported_urls(url: str) -> None:
    from curation_pipeline.store import InvalidStoreUrlError

    with pytest.raises(InvalidStoreUrlError):
        DatasetStore.open(url)
