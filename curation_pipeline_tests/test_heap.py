"""The C heap's freed memory handed back: by the call itself, and where a window is opened and a selection begins."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curation_pipeline import heap
from curation_pipeline.curators.selectors import OrderedSampler, Selector
from curation_pipeline.selection import engine, run_selection
from curation_pipeline.stream import log_records, open_window, reader

DAY = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(heap._malloc_trim() is None, reason="malloc_trim is glibc's")
def test_trimming_the_heap_returns_what_was_freed_inside_it() -> None:
    """Freed blocks below a live one stay resident until trimmed (glibc shrinks the heap from its top alone)."""
    blocks = [np.ones(512) for _ in range(25_000)]  # 4 KB each, from the C heap (under mmap's threshold): 100 MB
    kept = blocks[-1]  # the heap's top stays in use: nothing below it is given back on free
    del blocks
    before = _resident_bytes()
    heap.trim_heap()
    after = _resident_bytes()
    assert before - after > 50 << 20
    assert kept.sum() == 512


def test_a_window_is_opened_and_selected_on_a_trimmed_heap(tmp_path: Path, monkeypatch) -> None:
    """What an earlier window and selection freed goes back before the next window's footers and before its selection."""
    url = str(tmp_path / "store")
    times = [DAY + dt.timedelta(minutes=i) for i in range(5)]
    log_records("app", pa.table({"record_id": [f"r-{i}" for i in range(5)], "__time": pa.array(times, pa.timestamp("us", tz="UTC")), "outputs.score": [1.0, 5.0, 3.0, 2.0, 4.0]}), url)
    calls: list[str] = []
    monkeypatch.setattr(reader, "trim_heap", lambda: calls.append("window"))
    monkeypatch.setattr(engine, "trim_heap", lambda: calls.append("selection"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    assert calls == ["window"]
    got = run_selection(window, [Selector(method=OrderedSampler(field="outputs.score", sort="descending"), limit=2)], seed=1)
    assert calls == ["window", "selection"] and got.table.column("outputs.score").to_pylist() == [5.0, 4.0]
