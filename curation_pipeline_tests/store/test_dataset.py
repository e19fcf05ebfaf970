"""Dataset operations on both backends: commit, push, read, versions, diff, rollback."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from curation_pipeline.store import (
    AmbiguousVersionError,
    DatasetHeadOutOfDateError,
    DatasetStore,
    PathNotFoundError,
    UnsafePathError,
    VersionNotFoundError,
)
from curation_pipeline_tests.store.specs import StoreSpec


def test_commit_push_and_read_back(store: DatasetStore) -> None:
    ds = store.create_dataset("reviews")
    assert ds.head() is None and ds.list_versions() == []
    first = ds.push_dataframe(pd.DataFrame({"id": [1, 2]}), filename="data/a.parquet", message="first")
    second = ds.push_table(pa.table({"id": [3], "extra": ["x"]}), filename="data/b.parquet")
    assert first.created and first.parent is None
    assert second.created and second.parent == first.version_id
    assert ds.head() == second.version_id

    table = ds.read()
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("extra").to_pylist() == [None, None, "x"]  # schemas unified
    assert ds.read_pandas(first.version_id)["id"].tolist() == [1, 2]

    versions = ds.list_versions()
    assert [v.version_id for v in versions] == [second.version_id, first.version_id]
    assert versions[1].message == "first" and versions[1].parent is None
    assert set(versions[0].files) == {"data/a.parquet", "data/b.parquet"}


def test_commit_adds_replaces_deletes_and_keeps_the_rest(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("files")
    local = tmp_path / "big.bin"
    local.write_bytes(b"from a file")
    ds.commit({"a.txt": b"a", "b.txt": b"b", "c.bin": local}, "three files", metadata={"k": [1, 2]})
    result = ds.commit({"a.txt": b"A"}, "replace a, delete b", delete=["b.txt"])
    assert dict(ds.get_version().metadata) == {}
    assert set(ds.files()) == {"a.txt", "c.bin"}
    assert ds.read_file("a.txt") == b"A" and ds.read_file("c.bin") == b"from a file"
    assert result.objects_uploaded == 1
    with ds.open_file("c.bin") as f:
        assert f.read() == b"from a file"
    with pytest.raises(PathNotFoundError, match="b.txt"):
        ds.read_file("b.txt")


def test_push_file_from_path_and_file_object(store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("uploads")
    src = tmp_path / "notes.csv"
    src.write_text("a,b\n1,2\n")
    ds.push_file(src)
    ds.push_file(io.BytesIO(b"raw"), filename="raw/blob.bin", message="blob")
    assert set(ds.files()) == {"notes.csv", "raw/blob.bin"}
    assert ds.get_version().message == "blob"
    with pytest.raises(ValueError, match="filename"):
        ds.push_file(io.BytesIO(b"x"))


def test_identical_commit_is_a_no_op_returning_head(store: DatasetStore) -> None:
    ds = store.create_dataset("idem")
    df = pd.DataFrame({"x": [1, 2, 3]})
    first = ds.push_dataframe(df, filename="data/2024-01-01.parquet")
    again = ds.push_dataframe(df, filename="data/2024-01-01.parquet")
    assert not again.created
    assert again.version_id == first.version_id == ds.head()
    assert len(ds.list_versions()) == 1


def test_dedup_reupload_sends_no_object_bytes(store: DatasetStore) -> None:
    ds = store.create_dataset("dedup")
    payload = b"x" * 10_000
    first = ds.commit({"a.bin": payload}, "a")
    second = ds.commit({"copy-of-a.bin": payload, "b.bin": b"new"}, "copy a, add b")
    third = ds.commit({"again.bin": payload}, "a third copy")
    assert first.bytes_uploaded == 10_000
    assert second.objects_skipped == 1 and second.bytes_uploaded == 3
    assert third.created and third.bytes_uploaded == 0 and third.objects_uploaded == 0
    objects = list(store.backend.list("datasets/dedup/objects/"))
    assert len(objects) == 2


def test_default_filename_is_content_addressed(store: DatasetStore) -> None:
    ds = store.create_dataset("dfs")
    a = ds.push_dataframe(pd.DataFrame({"x": [1]}))
    b = ds.push_dataframe(pd.DataFrame({"x": [2]}))
    assert a.created and b.created
    assert len(ds.files()) == 2 and all(p.startswith("data/") for p in ds.files())
    assert not ds.push_dataframe(pd.DataFrame({"x": [1]})).created


def test_get_version_by_unique_prefix(store: DatasetStore) -> None:
    ds = store.create_dataset("prefix")
    result = ds.commit({"a": b"1"}, "one")
    assert ds.get_version(result.version_id[:8]).version_id == result.version_id
    assert ds.get_version(result.version_id.upper()[:12]).version_id == result.version_id
    with pytest.raises(VersionNotFoundError):
        ds.get_version(result.version_id[:7])
    with pytest.raises(VersionNotFoundError, match="prefix"):
        ds.get_version("0" * 63 + "1")
    for tail in ("0" * 56, "1" * 56):  # two manifests sharing an 8-character prefix
        store.backend.put_bytes(f"datasets/prefix/versions/abababab{tail}.json", b"{}")
    with pytest.raises(AmbiguousVersionError, match="abababab"):
        ds.get_version("abababab")


def test_stale_parent_version_fails_with_head_out_of_date(store: DatasetStore) -> None:
    ds = store.create_dataset("pinned")
    base = ds.commit({"a": b"1"}, "base")
    ok = ds.commit({"b": b"2"}, "on base", parent_version_id=base.version_id)
    assert ok.parent == base.version_id
    with pytest.raises(DatasetHeadOutOfDateError, match=base.version_id):
        ds.commit({"c": b"3"}, "also on base", parent_version_id=base.version_id)
    assert ds.head() == ok.version_id


def test_rollback_writes_a_new_version_with_old_files(store: DatasetStore) -> None:
    ds = store.create_dataset("rollback")
    v1 = ds.commit({"a": b"1", "b": b"1"}, "v1")
    v2 = ds.commit({"a": b"2", "c": b"2"}, "v2", delete=["b"])
    back = ds.rollback(v1.version_id)
    assert back.created and back.parent == v2.version_id
    assert dict(ds.files()) == dict(ds.files(v1.version_id))
    assert [v.version_id for v in ds.list_versions()] == [back.version_id, v2.version_id, v1.version_id]
    assert ds.get_version().metadata["rollback_of"] == v1.version_id
    assert not ds.rollback(v1.version_id).created


def test_diff_lists_files_and_parquet_row_counts(store: DatasetStore) -> None:
    ds = store.create_dataset("diffs")
    v1 = ds.push_table(pa.table({"x": [1, 2, 3]}), filename="data/1.parquet")
    ds.push_table(pa.table({"x": [1]}), filename="data/2.parquet")
    ds.commit({"notes.txt": b"hello"}, "notes")
    v4 = ds.push_table(pa.table({"x": list(range(10))}), filename="data/1.parquet")

    diff = ds.diff(v1.version_id, v4.version_id)
    assert [f.path for f in diff.added] == ["data/2.parquet", "notes.txt"]
    assert diff.added[0].new_rows == 1 and diff.added[1].new_rows is None
    assert [(f.path, f.old_rows, f.new_rows) for f in diff.changed] == [("data/1.parquet", 3, 10)]
    assert diff.removed == () and diff.unchanged == 0
    assert (diff.rows_before, diff.rows_after) == (3, 11)

    reverse = ds.diff(v4.version_id, v1.version_id)
    assert [f.path for f in reverse.removed] == ["data/2.parquet", "notes.txt"]
    assert ds.diff(v4.version_id).is_empty
    assert diff.to_dict()["changed"][0]["new_rows"] == 10


@pytest.mark.parametrize(
    "path",
    ["../escape", "/abs", "a/../b", "a//b", "a/", "a\\b", "nul\x00", ".curation/state.json", "./a", ""],
)
def test_unsafe_paths_are_refused_on_write(store: DatasetStore, path: str) -> None:
    ds = store.create_dataset("unsafe")
    with pytest.raises(UnsafePathError):
        ds.commit({path: b"x"}, "bad")
    with pytest.raises(UnsafePathError):
        ds.commit({}, "bad", delete=[path])
    assert ds.head() is None
    assert list(store.backend.list("datasets/unsafe/objects/")) == []


def test_author_from_environment_at_call_time(store: DatasetStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = store.create_dataset("authors")
    monkeypatch.setenv("CURATION_AUTHOR", "ada")
    ds.commit({"a": b"1"}, "one")
    assert ds.get_version().author == "ada"
    ds.commit({"b": b"1"}, "two", author="grace")
    assert ds.get_version().author == "grace"


def test_manifest_is_canonical_and_named_by_its_hash(store: DatasetStore) -> None:
    import hashlib
    import json

    ds = store.create_dataset("canon")
    result = ds.commit({"z.txt": b"z", "a.txt": b"a"}, "m", metadata={"b": 1, "a": {"d": 2, "c": 3}})
    raw = store.backend.get_bytes(f"datasets/canon/versions/{result.version_id}.json")
    assert hashlib.sha256(raw).hexdigest() == result.version_id
    value = json.loads(raw)
    assert raw == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert set(value) == {"author", "created_at", "files", "format", "message", "metadata", "parent"}
    assert value["created_at"].endswith("Z")
    assert value["files"]["a.txt"] == {"sha256": hashlib.sha256(b"a").hexdigest(), "size": 1}


def test_large_file_round_trips_through_multipart_transfer(
    store: DatasetStore, store_spec: StoreSpec, tmp_path: Path
) -> None:
    """A file above boto3's multipart threshold (8 MiB) is pushed, read and pulled byte for byte."""
    payload = np.random.default_rng(7).bytes(9 * 1024 * 1024 + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    ds = store.create_dataset("large")
    result = ds.push_file(source, filename="blobs/big.bin", message="large file")
    assert result.created and result.bytes_uploaded == len(payload)
    if store_spec.kind == "s3":  # the object really went up in parts (a multipart ETag ends in -<parts>)
        sha = ds.files()["blobs/big.bin"].sha256
        listed = store.backend.client.list_objects_v2(Bucket=store_spec.url.split("/")[2])["Contents"]
        etags = [o["ETag"] for o in listed if o["Key"].endswith(sha[2:])]
        assert len(etags) == 1 and re.search(r"-\d+\"$", etags[0])

    assert ds.read_file("blobs/big.bin") == payload
    ds.pull(to=tmp_path / "copy")
    assert (tmp_path / "copy" / "blobs" / "big.bin").read_bytes() == payload
    again = ds.push_file(source, filename="blobs/big.bin")
    assert not again.created and again.bytes_uploaded == 0
