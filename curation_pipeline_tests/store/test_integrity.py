"""Damaged objects, tampered HEADs and manifests, names matched whole; on both backends."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from curation_pipeline.store import (
    CorruptHeadError,
    CorruptObjectError,
    DatasetStore,
    InvalidManifestError,
    VersionNotFoundError,
)
from curation_pipeline.store.manifest import FileEntry, Manifest

GOOD = b"the right bytes"
EVIL = b"the wrong bytes"  # same size: only the content tells them apart


def _object_key(name: str, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    return f"datasets/{name}/objects/{sha[:2]}/{sha[2:]}"


def _damaged(store: DatasetStore) -> tuple[str, str]:
    """A dataset whose v1 object is damaged (same size) and whose HEAD (v2) no longer names it."""
    ds = store.create_dataset("dmg")
    v1 = ds.commit({"f": GOOD}, "v1")
    ds.commit({"f": b"something else"}, "v2")
    assert len(GOOD) == len(EVIL)
    store.backend.put_bytes(_object_key("dmg", GOOD), EVIL)
    return v1.version_id, _object_key("dmg", GOOD)


def test_recommitting_the_right_bytes_repairs_a_damaged_object(store: DatasetStore) -> None:
    _damaged(store)
    ds = store.get_dataset("dmg")
    result = ds.commit({"f": GOOD}, "v3")
    assert result.objects_uploaded == 1  # not trusted: uploaded over the damaged object
    assert ds.read_file("f") == GOOD
    assert ds.verify().ok


def test_an_intact_object_is_reused_without_upload(store: DatasetStore) -> None:
    ds = store.create_dataset("ok")
    ds.commit({"f": GOOD}, "v1")
    ds.commit({"f": b"something else"}, "v2")
    result = ds.commit({"f": GOOD}, "v3")
    assert (result.objects_uploaded, result.objects_skipped) == (0, 1)


def test_rollback_to_a_damaged_version_is_refused(store: DatasetStore) -> None:
    v1, _ = _damaged(store)
    ds = store.get_dataset("dmg")
    head = ds.head()
    with pytest.raises(CorruptObjectError, match="missing or damaged"):
        ds.rollback(v1)
    assert ds.head() == head  # nothing committed


def test_verify_finds_and_repairs_damage(store: DatasetStore, tmp_path: Path) -> None:
    v1, key = _damaged(store)
    ds = store.get_dataset("dmg")
    report = ds.verify()
    assert not report.ok and len(report.damaged) == 1 and report.damaged[0].startswith(hashlib.sha256(GOOD).hexdigest())
    assert (report.versions, report.objects) == (2, 2)

    folder = tmp_path / "originals"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "copy.bin").write_bytes(GOOD)
    (folder / "same-size-wrong.bin").write_bytes(EVIL)
    repaired = ds.verify(repair_from=folder)
    assert repaired.ok and len(repaired.repaired) == 1
    assert store.backend.get_bytes(key) == GOOD
    assert ds.read_file("f", v1) == GOOD
    assert ds.rollback(v1).created


def test_verify_reports_a_missing_object(store: DatasetStore, tmp_path: Path) -> None:
    _, key = _damaged(store)
    store.backend.delete(key)
    report = store.get_dataset("dmg").verify(repair_from=tmp_path)
    assert report.missing and not report.damaged and not report.ok
    assert report.to_dict()["ok"] is False


def test_tampered_head_is_an_integrity_error(store: DatasetStore) -> None:
    ds = store.create_dataset("t")
    ds.commit({"a": b"1"}, "v1")
    for tampered in (b"\xff\xfe", b"../../x", b"not a version"):
        store.backend.put_bytes("datasets/t/HEAD", tampered)
        with pytest.raises(CorruptHeadError, match="HEAD is not a version id"):
            ds.list_versions()
        with pytest.raises(CorruptObjectError):
            store.gc("t")


def test_tampered_manifest_is_an_integrity_error(store: DatasetStore) -> None:
    ds = store.create_dataset("m")
    v1 = ds.commit({"a": b"1"}, "v1")
    key = f"datasets/m/versions/{v1.version_id}.json"
    store.backend.put_bytes(key, b'{"format": 1}')
    with pytest.raises(CorruptObjectError, match="does not match its hash"):
        store.get_dataset("m").list_versions()
    # Bytes that hash to their name but are not a manifest (stored by hand, HEAD pointed at them).
    for raw in (b"[" * 100_000, b"\xff not utf-8", b'{"format": 1}'):
        vid = hashlib.sha256(raw).hexdigest()
        with pytest.raises(InvalidManifestError):
            Manifest.from_bytes(raw, vid)


def test_ids_are_matched_whole() -> None:
    """``$`` let a trailing newline through: ids are matched in full now."""
    with pytest.raises(InvalidManifestError):
        FileEntry("a" * 64 + "\n", 1)
    with pytest.raises(InvalidManifestError):
        Manifest("b" * 64 + "\n", "m", datetime.now(timezone.utc), "x")


def test_version_prefix_with_a_newline_is_refused(store: DatasetStore) -> None:
    ds = store.create_dataset("nl")
    v1 = ds.commit({"a": b"1"}, "v1")
    assert ds.resolve_version(v1.version_id[:8]) == v1.version_id
    with pytest.raises(VersionNotFoundError, match="not a version id"):
        ds.resolve_version(v1.version_id[:8] + "\n")



def test_a_large_object_uploaded_in_parts_is_checked_and_reused(store: DatasetStore, tmp_path: Path) -> None:
    """Above the multipart threshold S3 keeps a whole-object CRC32 too, so reuse needs no re-upload."""
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (9 * 4096))  # 9 MiB: uploaded in parts on S3
    ds = store.create_dataset("big")
    ds.commit({"big": big}, "v1")
    ds.commit({"small": b"x"}, "v2", delete=["big"])
    assert ds.commit({"big": big}, "v3").objects_uploaded == 0
    damaged = bytearray(big.read_bytes())
    damaged[-1] ^= 1
    store.backend.put_bytes(_object_key("big", big.read_bytes()), bytes(damaged))
    ds.commit({"big2": b"y"}, "v4", delete=["big"])
    assert ds.commit({"big": big}, "v5").objects_uploaded == 1  # damaged: sent again
    assert ds.read_file("big") == big.read_bytes()
