"""Bounded memory: the engine's peak Arrow allocation does not grow with the window.

Measured, not timed: a proxy memory pool records the high-water mark of every
Arrow allocation the engine makes (Parquet decoding, scans, fetches).
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from curation_pipeline.curators.selectors import OrderedSampler, Selector, StratifiedSampler, UniformSampler
from curation_pipeline.selection import select

ROWS_PER_GROUP = 50_000
SELECTORS = {
    "uniform": Selector(method=UniformSampler(), limit=1000),
    "ordered": Selector(method=OrderedSampler(field="score"), limit=1000),
    "stratified": Selector(method=StratifiedSampler(field="label", mode="strict"), limit=1000),
}


def _write(folder: Path, rows: int, **options) -> ds.Dataset:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    numbers = pa.array(np.arange(rows)).cast(pa.string())
    table = pa.table(
        {
            "record_id": pc.binary_join_element_wise("rec-", numbers, ""),
            "score": pa.array(rng.random(rows)),
            "label": pa.array(np.array(["a", "b", "c", "d"])[rng.integers(0, 4, rows)]),
            "text": pc.binary_join_element_wise("some logged input text number ", numbers, ""),
        }
    )
    options.setdefault("row_group_size", ROWS_PER_GROUP)
    pq.write_table(table, folder / "part-0.parquet", **options)
    return ds.dataset(folder, format="parquet")


@pytest.fixture(autouse=True)
def pyarrow_fetch(monkeypatch) -> None:
    """Winners fetched by pyarrow, whose allocations the proxy pool sees.

    DuckDB's reads of local files (``late_fetch``) allocate outside Arrow's
    pool, within the connection's memory limit; with them the Arrow peak is a
    tenth of this one (1-2 MB here) and dominated by the narrow scans' timing.
    """
    from curation_pipeline.selection import late_fetch

    monkeypatch.setattr(late_fetch, "suitable", lambda *args: False)


# Buffers allocated through a proxy pool free through it too, possibly after
# the measurement: the pools must outlive every buffer, so they are never dropped.
_POOLS: list[pa.MemoryPool] = []


def _peak_bytes(dataset: ds.Dataset, selector: Selector, rows: int = 1000, runs: int = 3) -> int:
    """The highest Arrow allocation of ``runs`` selections.

    The worst of a few runs: how many row groups overlap in flight depends on
    thread scheduling, and on a busy machine one run of a small stream can
    happen to read them one at a time, far under its true peak.
    """
    peaks = []
    for _ in range(runs):
        pool = pa.proxy_memory_pool(pa.default_memory_pool())
        _POOLS.append(pool)
        previous = pa.default_memory_pool()
        pa.set_memory_pool(pool)
        try:
            assert select(dataset, [selector], seed=1).num_rows == rows
        finally:
            pa.set_memory_pool(previous)
        peaks.append(pool.max_memory())
    return max(peaks)


@pytest.fixture(scope="module")
def streams(tmp_path_factory) -> tuple[ds.Dataset, ds.Dataset]:
    root = tmp_path_factory.mktemp("memory")
    return _write(root / "small", 200_000), _write(root / "large", 2_000_000)


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_peak_memory_does_not_grow_with_the_rows(streams, name: str) -> None:
    small, large = streams
    small_peak = _peak_bytes(small, SELECTORS[name])
    large_peak = _peak_bytes(large, SELECTORS[name])
    # Ten times the rows; proportional growth would be ~10x. Allow 1.5x for
    # the number of row groups in flight at once.
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)


def test_fetches_from_files_with_a_page_index_do_not_grow_with_the_rows(tmp_path) -> None:
    """Files written as the stream writes them (a page index, 8,192-row pages): memory bounded the same way."""
    options = {"write_page_index": True, "max_rows_per_page": 8192}
    small = _write(tmp_path / "small", 200_000, **options)
    large = _write(tmp_path / "large", 2_000_000, **options)
    selector = Selector(method=UniformSampler(), limit=20)
    small_peak = _peak_bytes(small, selector, rows=20)
    large_peak = _peak_bytes(large, selector, rows=20)
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)


@pytest.fixture(scope="module")
def one_big_group(tmp_path_factory) -> tuple[ds.Dataset, ds.Dataset]:
    """The same 800,000 rows as 50,000-row groups and as one row group (as pyarrow's defaults write them)."""
    root = tmp_path_factory.mktemp("big-group")
    return _write(root / "groups", 800_000), _write(root / "one", 800_000, row_group_size=800_000)


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_peak_memory_does_not_grow_with_the_row_group(one_big_group, name: str) -> None:
    """A foreign writer's huge row group is read in batches: memory follows the batch, not the group."""
    groups, one = one_big_group
    grouped_peak = _peak_bytes(groups, SELECTORS[name])
    one_peak = _peak_bytes(one, SELECTORS[name])
    # Sixteen times the rows per group; decoding the group whole costs ~4x here.
    assert one_peak < 2 * grouped_peak, (grouped_peak, one_peak)
    assert select(one, [SELECTORS[name]], seed=1).equals(select(groups, [SELECTORS[name]], seed=1))


def _numpy_peak(dataset: ds.Dataset, selector: Selector) -> int:
    """The highest allocation tracemalloc sees (numpy arrays, Python objects; not Arrow's) in one selection."""
    select(dataset, [selector], seed=1)  # warm-up: imports and caches out of the measure
    tracemalloc.start()
    try:
        assert select(dataset, [selector], seed=1).num_rows == 1000
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ordered_candidates_of_a_large_row_group_follow_the_limit(one_big_group) -> None:
    """The top-k candidates a piece holds are cut batch by batch."""
    peak = _numpy_peak(one_big_group[1], SELECTORS["ordered"])
    # Holding every row's key, piece and row index of the 800,000-row group, with
    # their concatenations, peaks near 38 MB; cut batch by batch, near 10 MB.
    assert peak < 20_000_000, peak


def test_strata_of_a_large_row_group_are_held_in_narrow_integers(one_big_group) -> None:
    """A piece's stratum codes and row indices, one each per row, take 5 bytes a row here rather than 16."""
    peak = _numpy_peak(one_big_group[1], SELECTORS["stratified"])
    # 800,000 rows as int64 codes and rows, with their concatenations, peak near
    # 26 MB; as int8 codes and int32 rows near 18 MB (the rest: the second pass's
    # per-stratum row positions, which do not depend on these types).
    assert peak < 22_000_000, peak
