"""HEAD is read and swapped in one place: :mod:`curation_pipeline.store.head`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from curation_pipeline.store import DatasetStore, WriteConflictError, layout
from curation_pipeline.store.head import read_head, swap_head


def test_no_head_before_the_first_version(store: DatasetStore) -> None:
    store.create_dataset("d")
    assert read_head(store.backend, "d") == (None, None)


def test_swap_then_read(store: DatasetStore) -> None:
    store.create_dataset("d")
    swap_head(store.backend, "d", "a" * 64, None)
    version_id, token = read_head(store.backend, "d")
    assert version_id == "a" * 64
    swap_head(store.backend, "d", "b" * 64, token)
    assert read_head(store.backend, "d")[0] == "b" * 64
    with pytest.raises(WriteConflictError):
        swap_head(store.backend, "d", "c" * 64, token)  # the token is stale now


def test_every_reader_agrees_and_ignores_surrounding_whitespace(store: DatasetStore) -> None:
    dataset = store.create_dataset("d")
    first = dataset.commit({"a.txt": b"a"}, "first").version_id
    store.backend.put_bytes(layout.head_key("d"), f" {first}\n".encode("ascii"))
    assert read_head(store.backend, "d")[0] == first
    assert store.get_dataset("d").head() == first
    second = dataset.commit({"b.txt": b"b"}, "second")  # the commit loop reads HEAD too
    assert second.parent == first
    # gc walks the history from HEAD: both versions are reachable, nothing to remove.
    assert store.gc("d", grace_period=timedelta(0)).manifests == ()
