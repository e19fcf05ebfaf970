"""Stores for the stream tests: a temp folder, or a fresh bucket on the moto server."""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest

from curation_pipeline.stream.filesystems import open_store


@pytest.fixture(params=["local", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A store URL on each backend; S3 tests get their own bucket."""
    if request.param == "local":
        return str(tmp_path / "store")
    server = request.getfixturevalue("aws_env")
    return f"s3://{server.make_bucket('stream')}/curation"


@pytest.fixture
def local_store(tmp_path) -> str:
    return str(tmp_path / "store")


def stored_files(store_url: str) -> list[str]:
    """Every file under the store, relative to its root (temp files included)."""
    store = open_store(store_url)
    infos = store.filesystem.get_file_info(pafs.FileSelector(store.root, recursive=True, allow_not_found=True))
    return sorted(i.path[len(store.root) + 1 :] for i in infos if i.type == pafs.FileType.File)
