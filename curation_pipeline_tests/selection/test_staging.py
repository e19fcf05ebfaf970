"""A remote window a selection would read most of is copied to local disk first, then read from the copies."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from curation_pipeline.curators.selectors import (
    BoundsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.selection import engine, late_fetch, run_selection, scan, select, staging
from curation_pipeline.stream import log_records, open_window
from curation_pipeline_tests.selection.records import DAY, records
from curation_pipeline_tests.selection.s3_stream import FILE_ROWS, GROUPS, ranged_gets

# Each asks for at least as many records as it has row groups to read (GROUPS, every group holding dogs
# and confidences from 0 to 1).
DENSE = {
    "uniform": Selector(method=UniformSampler(), limit=300),
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=300),
    "equality": Selector(method=UniformSampler(), limit=50, filters=[EqualsFilter(field="outputs.label", equals="dog")]),
    "strata": Selector(method=StratifiedSampler(field="outputs.label", mode="balanced"), limit=60),
}


@pytest.fixture
def temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder copies go to, to see what is left in it."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def staged_sources(monkeypatch: pytest.MonkeyPatch) -> list[scan.ParquetSource]:
    """The local sources selections read from copies, as they are made."""
    made: list[scan.ParquetSource] = []
    on_copies = scan.ParquetSource.on_copies

    def recording(self: scan.ParquetSource, copies):  # type: ignore[no-untyped-def]
        local = on_copies(self, copies)
        made.append(local)
        return local

    monkeypatch.setattr(scan.ParquetSource, "on_copies", recording)
    return made


def _window(url: str):  # type: ignore[no-untyped-def]
    return open_window("app", *_bounds(edges=False), url)


def _bounds(edges: bool) -> tuple[dt.datetime, dt.datetime]:
    """The window: the whole day, or hours whose edges lie inside row groups."""
    return (DAY + dt.timedelta(hours=2), DAY + dt.timedelta(hours=20)) if edges else (DAY, DAY + dt.timedelta(days=1))


@pytest.mark.parametrize("rule", sorted(DENSE))
def test_a_dense_selection_reads_each_file_once_whole_from_its_first_byte(
    proxied_stream, temp_folder: Path, staged_sources: list, monkeypatch: pytest.MonkeyPatch, rule: str
) -> None:
    url, proxy, sizes = proxied_stream
    monkeypatch.setattr(scan, "COPY_READ_BYTES", 100_000)
    window = _window(url)
    before = len(list(ranged_gets(proxy, sizes)))  # the footers, read when the window opened
    requests = len(proxy.requests)
    got = select(window, [DENSE[rule]], seed=3)
    assert len(staged_sources) == 1 and not staged_sources[0].remote
    assert [method for method, _ in proxy.requests[requests:]] == ["GET"] * len(proxy.requests[requests:])  # no size asked
    reads = list(ranged_gets(proxy, sizes))[before:]
    # Every read of the selection is one chunk of a copy: each file's bytes once, in order.
    expected = sorted(
        (key, first, min(first + 100_000, size) - 1) for key, size in sizes.items() for first in range(0, size, 100_000)
    )
    assert sorted(reads) == expected
    assert not list(temp_folder.iterdir())  # the copies are gone
    assert got.equals(select(window.to_dataset().to_table(), [DENSE[rule]], seed=3))


@pytest.mark.parametrize("edges", [False, True], ids=["day", "hours"])
@pytest.mark.parametrize("rule", sorted(DENSE))
def test_the_copies_give_the_rows_and_figures_the_store_does(
    proxied_stream, temp_folder: Path, staged_sources: list, monkeypatch: pytest.MonkeyPatch, rule: str, edges: bool
) -> None:
    """The same rows, window rows and per-selector figures; with the window's edges inside row groups too."""
    url, _, _ = proxied_stream
    start, end = _bounds(edges)
    copied = run_selection(open_window("app", start, end, url), [DENSE[rule]], seed=5)
    assert len(staged_sources) == 1
    monkeypatch.setattr(staging, "STAGED_BYTES", 0)
    stored = run_selection(open_window("app", start, end, url), [DENSE[rule]], seed=5)
    assert len(staged_sources) == 1  # not staged again
    assert copied.table.equals(stored.table)
    window_rows = (end - start).total_seconds() if edges else sum(FILE_ROWS)  # a record a second
    assert copied.candidate_rows == stored.candidate_rows == window_rows
    assert copied.selectors == stored.selectors


@pytest.mark.parametrize("edges", [False, True], ids=["day", "hours"])
@pytest.mark.parametrize("rule", sorted(DENSE))
def test_the_copies_take_the_windows_parsed_footers(
    proxied_stream, temp_folder: Path, staged_sources: list, monkeypatch: pytest.MonkeyPatch, rule: str, edges: bool
) -> None:
    """No copy's footer is parsed into the copies' cache (the window holds the same footers parsed), and the selection reads the copies, not the store."""
    url, proxy, _ = proxied_stream
    opened: list[tuple[str, bool]] = []
    open_file = scan._open_file

    def recording(where, formats, files, path: str, dictionary: bool):  # type: ignore[no-untyped-def]
        opened.append((path, dictionary))
        return open_file(where, formats, files, path, dictionary)

    requests_after_copies: list[int] = []
    copied = staging._copied

    def copying(source, paths, folder):  # type: ignore[no-untyped-def]
        made = copied(source, paths, folder)
        requests_after_copies.append(len(proxy.requests))
        return made

    counted: list[int] = []  # requests of the store's count of the window's rows
    count_rows = scan.ParquetSource.count_rows

    def counting(self: scan.ParquetSource) -> int:
        before = len(proxy.requests)
        try:
            return count_rows(self)
        finally:
            counted.append(len(proxy.requests) - before if self.remote else 0)

    monkeypatch.setattr(scan, "_open_file", recording)
    monkeypatch.setattr(staging, "_copied", copying)
    monkeypatch.setattr(scan.ParquetSource, "count_rows", counting)
    start, end = _bounds(edges)
    window = open_window("app", start, end, url)
    assert window.footers_held
    got = select(window, [DENSE[rule]], seed=3)
    assert len(staged_sources) == 1
    # After the copies, the store is read only to count the window's rows (the copies may leave out files).
    assert len(proxy.requests) - requests_after_copies[0] == sum(counted)
    copies = set(staged_sources[0].paths)
    assert not [path for path, dictionary in opened if path in copies and not dictionary]
    assert got.equals(select(window.to_dataset().to_table(), [DENSE[rule]], seed=3))


def test_sparse_selections_the_newest_records_and_local_windows_read_in_place(
    proxied_stream, tmp_path: Path, staged_sources: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, _ = proxied_stream
    monkeypatch.setattr(staging, "SMALL_FILE_BYTES", 0)  # no file small: density alone decides
    sparse = Selector(method=UniformSampler(), limit=GROUPS - 1)
    top = Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=2)
    newest = Selector(method=OrderedSampler(field="__time", sort="descending"), limit=300)  # the last group
    for selectors in ([sparse], [top], [newest]):
        select(_window(url), selectors, seed=3)
    local = str(tmp_path / "store")
    log_records("app", records(1_000, seed=8), local)
    select(_window(local), [DENSE["uniform"]], seed=3)
    assert not staged_sources
    # One dense selector among others: the whole selection reads the copies.
    window = _window(url)
    both = select(window, [newest, DENSE["equality"]], seed=3)
    assert len(staged_sources) == 1
    assert both.equals(select(window.to_dataset().to_table(), [newest, DENSE["equality"]], seed=3))


@dataclass(frozen=True)
class _Filtered:
    """A dataset and its filter apart, without a stream window's ``file_chunks``."""

    dataset: Any
    filter: Any


def test_without_the_windows_file_chunks_the_copies_come_through_pyarrow(
    proxied_stream, staged_sources: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, proxy, sizes = proxied_stream
    window = _window(url)
    requests = len(proxy.requests)
    got = select(_Filtered(window.dataset, window.filter), [DENSE["uniform"]], seed=3)
    assert len(staged_sources) == 1
    heads = [path for method, path in proxy.requests[requests:] if method == "HEAD"]
    assert len(heads) == len(FILE_ROWS)  # pyarrow asks each file's size before its bytes
    assert got.equals(select(window.to_dataset().to_table(), [DENSE["uniform"]], seed=3))


@pytest.mark.parametrize("cheaper", [True, False])
def test_a_column_of_every_group_of_large_files_is_read_from_copies_when_they_cost_less(
    proxied_stream, staged_sources: list, monkeypatch: pytest.MonkeyPatch, cheaper: bool
) -> None:
    """Not small files: copying each whole must save more requests (counted as ROUND_TRIP_BYTES each) than its bytes."""
    url, _, _ = proxied_stream
    window = _window(url)
    source = scan.open_source(window)
    assert isinstance(source, scan.ParquetSource)
    monkeypatch.setattr(staging, "SMALL_FILE_BYTES", 0)
    # A copy each (a request) for GROUPS requests read in place: copies cost less when a request outweighs every byte.
    total = sum(source.file_bytes(path) for path in source.paths)
    monkeypatch.setattr(staging, "ROUND_TRIP_BYTES", total + 1 if cheaper else total // (GROUPS - len(FILE_ROWS)) - 1)
    sparse_equality = Selector(method=UniformSampler(), limit=2, filters=[EqualsFilter(field="outputs.label", equals="dog")])
    got = select(window, [sparse_equality], seed=3)
    assert len(staged_sources) == (1 if cheaper else 0)
    assert got.equals(select(window.to_dataset().to_table(), [sparse_equality], seed=3))


def test_past_the_budget_the_store_is_read(proxied_stream, staged_sources: list, monkeypatch) -> None:
    url, _, _ = proxied_stream
    window = _window(url)
    source = scan.open_source(window)
    assert isinstance(source, scan.ParquetSource)
    monkeypatch.setattr(staging, "STAGED_BYTES", sum(source.file_bytes(path) for path in source.paths) - 1)
    select(window, [DENSE["uniform"]], seed=3)
    assert not staged_sources
    monkeypatch.setattr(staging, "STAGED_BYTES", sum(source.file_bytes(path) for path in source.paths))
    select(window, [DENSE["uniform"]], seed=3)
    assert len(staged_sources) == 1


def test_a_copy_that_cannot_be_written_leaves_nothing_and_reads_the_store(
    proxied_stream, temp_folder: Path, staged_sources: list, monkeypatch
) -> None:
    url, _, _ = proxied_stream
    written = late_fetch.write_copy
    calls = []

    def failing(chunks, path, **options):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) == 2:
            raise late_fetch.LateFetchUnavailable("disk full")
        written(chunks, path, **options)

    monkeypatch.setattr(late_fetch, "write_copy", failing)
    window = _window(url)
    got = select(window, [DENSE["equality"]], seed=3)
    assert len(calls) >= 2 and not staged_sources
    assert not list(temp_folder.iterdir())
    assert got.equals(select(window.to_dataset().to_table(), [DENSE["equality"]], seed=3))


def test_the_copies_are_removed_when_the_selection_fails(
    proxied_stream, temp_folder: Path, staged_sources: list, monkeypatch
) -> None:
    url, _, _ = proxied_stream

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert list(temp_folder.iterdir())  # the copies are there while the selection runs
        raise RuntimeError("the selection failed")

    monkeypatch.setattr(engine, "distinct_selection", failing)
    with pytest.raises(RuntimeError, match="the selection failed"):
        select(_window(url), [DENSE["uniform"]], seed=3)
    assert len(staged_sources) == 1
    assert not list(temp_folder.iterdir())


def test_only_the_files_the_selectors_read_are_copied(proxied_stream, staged_sources: list) -> None:
    """A filter whose bounds the first two files' statistics rule out: the last file alone is copied."""
    url, proxy, sizes = proxied_stream
    last = DAY + dt.timedelta(seconds=sum(FILE_ROWS[:-1]))  # the first record of the last file
    selector = Selector(method=UniformSampler(), limit=100, filters=[BoundsFilter(field="__time", inclusive_lower=last)])
    window = _window(url)
    before = len(list(ranged_gets(proxy, sizes)))
    got = run_selection(window, [selector], seed=3)
    (local,) = staged_sources
    assert len(local.paths) == 1
    biggest = max(sizes, key=sizes.__getitem__)
    assert {key for key, _, _ in list(ranged_gets(proxy, sizes))[before:]} == {biggest}
    assert got.candidate_rows == sum(FILE_ROWS)  # the window's rows, counted on the store
    assert got.table.equals(select(window.to_dataset().to_table(), [selector], seed=3))


def test_small_files_are_copied_for_a_rule_reading_a_column_of_every_group(proxied_stream, staged_sources: list) -> None:
    """Copied whole, a small file costs one request; a filter's or the strata's column of each of its groups, one each."""
    url, _, sizes = proxied_stream
    assert max(sizes.values()) <= staging.SMALL_FILE_BYTES
    equality = Selector(method=UniformSampler(), limit=1, filters=[EqualsFilter(field="outputs.label", equals="dog")])
    bounded = Selector(
        method=OrderedSampler(field="outputs.confidence"),
        limit=2,
        filters=[BoundsFilter(field="outputs.confidence", lower=0.2, upper=0.3)],
    )
    strata = Selector(method=StratifiedSampler(field="outputs.label", mode="balanced"), limit=3)
    window = _window(url)
    for selector in (equality, bounded, strata):
        got = select(window, [selector], seed=3)
        assert got.equals(select(window.to_dataset().to_table(), [selector], seed=3))
    assert len(staged_sources) == 3
    # Counted from the footers, winners read alone; the newest records in the last group; the best
    # confidences read best first, most groups set aside by their statistics.
    for selector in (
        Selector(method=UniformSampler(), limit=GROUPS - 1),
        Selector(method=OrderedSampler(field="__time"), limit=2),
        Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=2),
    ):
        select(window, [selector], seed=3)
    assert len(staged_sources) == 3


def test_a_read_error_while_copying_is_the_selections_and_leaves_nothing(
    proxied_stream, temp_folder: Path, staged_sources: list, monkeypatch
) -> None:
    url, _, _ = proxied_stream
    copy_file = scan.ParquetSource.copy_file
    calls = []

    def failing(self, path, target):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) == 2:
            raise OSError("the store went away")
        copy_file(self, path, target)

    monkeypatch.setattr(scan.ParquetSource, "copy_file", failing)
    with pytest.raises(OSError, match="the store went away"):
        select(_window(url), [DENSE["uniform"]], seed=3)
    assert not staged_sources
    assert not list(temp_folder.iterdir())
