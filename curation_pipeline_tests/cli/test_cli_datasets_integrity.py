"""``curation datasets``: tampered refs and manifests exit 5; ``verify`` finds and repairs damage."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from curation_pipeline.cli.output import EXIT_CORRUPT
from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.cli.helpers import fail, run

GOOD, EVIL = b"the right bytes", b"the wrong bytes"


@pytest.mark.parametrize("tampered", [b"\xff\xfe", b"../../x", b"v1", b"a" * 64 + b"\nsomething else"])
def test_tampered_head_exits_5(store_url: str, store: DatasetStore, tampered: bytes) -> None:
    store.create_dataset("t").commit({"a": b"1"}, "v1")
    store.backend.put_bytes("datasets/t/HEAD", tampered)
    for verb in (("versions", "t"), ("show", "t"), ("gc", "t")):
        assert "HEAD is not a version id" in fail(store_url, *verb, code=EXIT_CORRUPT)


def test_tampered_manifest_exits_5(store_url: str, store: DatasetStore) -> None:
    v1 = store.create_dataset("m").commit({"a": b"1"}, "v1")
    raw = json.dumps({"files": {"../escape": {"sha256": "0" * 64, "size": 1}}}).encode()
    store.backend.put_bytes(f"datasets/m/versions/{v1.version_id}.json", raw)
    assert "does not match its hash" in fail(store_url, "versions", "m", code=EXIT_CORRUPT)


def test_verify_then_repair_from_a_folder(store_url: str, store: DatasetStore, tmp_path: Path) -> None:
    ds = store.create_dataset("v")
    ds.commit({"f": GOOD}, "v1")
    ds.commit({"f": b"newer"}, "v2")
    assert "0 damaged, 0 missing" in run(store_url, "verify", "v").stdout
    sha = hashlib.sha256(GOOD).hexdigest()
    store.backend.put_bytes(f"datasets/v/objects/{sha[:2]}/{sha[2:]}", EVIL)

    result = run(store_url, "verify", "v", code=EXIT_CORRUPT)
    assert "1 damaged, 0 missing, 0 repaired" in result.stdout and f"damaged  {sha}" in result.stdout
    assert "--repair-from" in result.stderr
    (tmp_path / "orig").mkdir()
    (tmp_path / "orig" / "f").write_bytes(GOOD)
    repaired = json.loads(run(store_url, "verify", "v", "--repair-from", str(tmp_path / "orig"), "--json").stdout)
    assert repaired["ok"] and len(repaired["repaired"]) == 1 and repaired["objects"] == 2
    assert ds.read_file("f", ds.list_versions()[-1].version_id) == GOOD


def test_gc_lists_leftovers_of_interrupted_writes(tmp_path: Path) -> None:
    import os
    import time

    url = str(tmp_path / "store")
    DatasetStore.open(url).create_dataset("g").commit({"a": b"1"}, "v1")
    debris = tmp_path / "store" / "datasets" / "g" / "versions" / ".tmp-0123"
    debris.write_bytes(b"half a manifest")
    then = time.time() - 2 * 3600
    os.utime(debris, (then, then))
    out = run(url, "gc", "g").stdout
    assert out.startswith("Removed 0 manifests and 0 objects (15 B) from 1 dataset, with 1 leftover of interrupted writes")
    assert "datasets/g/versions/.tmp-0123" in out and not debris.exists()
