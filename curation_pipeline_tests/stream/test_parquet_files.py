"""Footers read many at once: in the order asked, each file's own, within the budget of footers kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from curation_pipeline.stream import parquet_files
from curation_pipeline.stream.errors import CorruptStreamFileError
from curation_pipeline.stream.filesystems import open_store
from curation_pipeline.stream.parquet_files import encode_parquet, put_file, read_footers

FILES = 11
START = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _write_files(store_url: str) -> list[str]:
    """``FILES`` files of 1 to ``FILES`` rows, file ``i`` an hour after file ``i - 1``; their paths, out of name order."""
    store = open_store(store_url)
    paths = []
    for index in range(FILES):
        rows = index + 1
        times = [START + timedelta(hours=index, seconds=second) for second in range(rows)]
        table = pa.table({"__time": pa.array(times, pa.timestamp("us", tz="UTC")), "n": list(range(rows))})
        path = f"{store.root}/day/file-{index:02d}.parquet"
        put_file(store, path, encode_parquet(table, row_group_size=4))
        paths.append(path)
    return paths[::2] + paths[1::2]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches of three local files: four tasks, the last one short.
    monkeypatch.setattr(parquet_files, "_LOCAL_FOOTER_BATCH", 3)


@pytest.mark.usefixtures("small_batches")
def test_footers_come_in_the_order_asked_each_its_files(store_url: str) -> None:
    paths = _write_files(store_url)
    footers = read_footers(open_store(store_url), paths)
    assert [footer.path for footer in footers] == paths
    for footer in footers:
        index = int(footer.path[-10:-8])
        assert footer.rows == index + 1
        assert footer.max_time == START + timedelta(hours=index, seconds=index)
        assert footer.fragment is None


@pytest.mark.usefixtures("small_batches")
def test_fragments_are_kept_within_the_budget_or_not_at_all(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _write_files(store_url)
    store = open_store(store_url)
    kept = read_footers(store, paths, keep_fragments=True)
    assert all(footer.fragment is not None and footer.fragment.path == footer.path for footer in kept)
    monkeypatch.setattr(parquet_files, "KEPT_FOOTER_CHUNKS", sum(footer.chunks for footer in kept) - 1)
    assert all(footer.fragment is None for footer in read_footers(store, paths, keep_fragments=True))


@pytest.mark.usefixtures("small_batches")
def test_an_unreadable_file_in_a_batch_is_named(store_url: str) -> None:
    paths = _write_files(store_url)
    store = open_store(store_url)
    broken = paths[4]
    with store.filesystem.open_output_stream(broken) as out:
        out.write(b"not parquet")
    with pytest.raises(CorruptStreamFileError, match="file-08"):
        read_footers(store, paths)
