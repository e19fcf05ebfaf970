"""Manifest values: canonical bytes, version ids, explicit (de)serialisation."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from curation_pipeline.store import (
    CorruptObjectError,
    FileEntry,
    InvalidManifestError,
    Manifest,
    UnsafePathError,
    Version,
)

SHA = hashlib.sha256(b"x").hexdigest()
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def _manifest(**changes: object) -> Manifest:
    fields: dict[str, object] = {
        "parent": None,
        "message": "m",
        "created_at": WHEN,
        "author": "ada",
        "files": {"b": FileEntry(SHA, 1), "a": FileEntry(SHA, 1)},
        "metadata": {"z": 1, "a": "é"},
    }
    fields.update(changes)
    return Manifest(**fields)  # type: ignore[arg-type]


def test_canonical_bytes_and_id() -> None:
    manifest = _manifest()
    raw = manifest.to_bytes()
    assert raw.startswith(b'{"author":"ada","created_at":"2024-05-01T12:00:00.000000Z","files":{"a":')
    assert "é".encode() in raw
    assert manifest.version_id == hashlib.sha256(raw).hexdigest()
    assert Manifest.from_bytes(raw, manifest.version_id) == manifest
    assert _manifest(files={"a": FileEntry(SHA, 1), "b": FileEntry(SHA, 1)}).version_id == manifest.version_id
    assert _manifest(message="other").version_id != manifest.version_id


def test_tampered_bytes_are_rejected() -> None:
    raw = _manifest().to_bytes()
    with pytest.raises(CorruptObjectError):
        Manifest.from_bytes(raw.replace(b'"m"', b'"n"'), _manifest().version_id)


def test_values_are_frozen() -> None:
    manifest = _manifest()
    with pytest.raises(AttributeError):
        manifest.message = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.files["c"] = FileEntry(SHA, 1)  # type: ignore[index]


@pytest.mark.parametrize(
    "changes",
    [
        {"metadata": {"x": float("nan")}},
        {"metadata": {"x": object()}},
        {"parent": "not-a-sha"},
        {"created_at": datetime(2024, 1, 1)},
    ],
)
def test_invalid_manifests(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidManifestError):
        _manifest(**changes).to_bytes()


def test_unsafe_file_paths() -> None:
    with pytest.raises(UnsafePathError):
        _manifest(files={"../x": FileEntry(SHA, 1)})


def test_bad_entries() -> None:
    with pytest.raises(InvalidManifestError):
        FileEntry("abc", 1)
    with pytest.raises(InvalidManifestError):
        FileEntry(SHA, -1)


def test_version_round_trip() -> None:
    manifest = _manifest(parent=SHA)
    version = Version.from_manifest(manifest.version_id, manifest)
    assert Version.from_dict(version.to_dict()) == version
    assert version.size == 2


def test_invalid_unicode_in_a_message_is_a_manifest_error_not_a_unicode_error() -> None:
    from datetime import datetime, timezone

    from curation_pipeline.store import InvalidManifestError
    from curation_pipeline.store.manifest import Manifest

    manifest = Manifest(None, "bad \udcff message", datetime(2024, 1, 1, tzinfo=timezone.utc), "me")
    with pytest.raises(InvalidManifestError, match="not valid Unicode"):
        manifest.to_bytes()


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def test_metadata_depth_is_bounded() -> None:
    from curation_pipeline.store.manifest import MAX_METADATA_DEPTH

    assert MAX_METADATA_DEPTH == 32
    _manifest(metadata=_nested(32))  # the limit itself is fine
    with pytest.raises(InvalidManifestError, match=r"metadata\.k\.k.*: nested deeper than the limit of 32 levels"):
        _manifest(metadata=_nested(33))
    with pytest.raises(InvalidManifestError, match="limit of 32 levels") as raised:
        _manifest(metadata={"a": [[[[{"b": _nested(100_000)}]]]]})  # no RecursionError
    assert len(str(raised.value)) < 200


def test_a_deeply_nested_stored_manifest_is_invalid_not_a_recursion_error() -> None:
    data = b'{"metadata":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(InvalidManifestError, match="nested too deeply"):
        Manifest.from_bytes(data)


def test_a_commit_with_deep_metadata_is_refused_and_changes_nothing(store) -> None:
    dataset = store.create_dataset("deep")
    with pytest.raises(InvalidManifestError, match="limit of 32 levels"):
        dataset.commit({"a.txt": b"x"}, "deep", metadata={"m": _nested(50_000)})
    assert dataset.head() is None
