"""A Parquet source holds a bounded number of file footers, however many files the data has."""

from __future__ import annotations

import datetime as dt
import weakref
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from curation_pipeline.curators.selectors import (
    BoundsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from curation_pipeline.selection import run_selection, scan
from curation_pipeline.selection.scan import ParquetSource, RowGroupPiece, open_source
from curation_pipeline_tests.selection.records import DAY, records, write_stream

FILES = 40
ROWS_PER_FILE = 1_000
CAPACITY = 2  # files
CHUNKS_PER_FILE = 4 * 8  # row groups times columns
SELECTORS = {
    "uniform": Selector(method=UniformSampler(), limit=300),
    "filtered": Selector(
        method=UniformSampler(), limit=50, filters=[EqualsFilter(field="outputs.label", equals="dog")]
    ),
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=70),
    "newest": Selector(method=OrderedSampler(field="__time", sort="descending"), limit=20),
    "bounded": Selector(
        method=OrderedSampler(field="outputs.confidence"),
        limit=40,
        filters=[BoundsFilter(field="outputs.confidence", lower=0.2, upper=0.3)],
    ),
    "strata": Selector(method=StratifiedSampler(field="outputs.label", mode="balanced"), limit=60),
}


class _Window:
    """A dataset and its filter handed over apart, as the stream's window is."""

    def __init__(self, dataset: ds.Dataset, filter: ds.Expression) -> None:
        self.dataset = dataset
        self.filter = filter


@pytest.fixture(scope="module")
def stream_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forty files of 1,000 rows in time order, four row groups (of eight columns) each."""
    root = tmp_path_factory.mktemp("footers")
    write_stream(root, records(FILES * ROWS_PER_FILE, seed=8), rows_per_group=250, rows_per_file=ROWS_PER_FILE)
    return root


def _window(root: Path, partitioned: bool) -> _Window:
    """Most of the files, with a window edge inside a row group at each end.

    Hive-partitioned, the files lack the dataset's ``date`` column and are read
    through pyarrow's scanner; plain, straight from the files.
    """
    folder = root / "streams" / "app"
    dataset = ds.dataset(folder, format="parquet", partitioning="hive" if partitioned else None)
    start, end = DAY + dt.timedelta(seconds=1_100), DAY + dt.timedelta(seconds=37_900)
    utc = pa.timestamp("us", tz="UTC")
    time = pc.field("__time")
    return _Window(dataset, (time >= pa.scalar(start, utc)) & (time < pa.scalar(end, utc)))


def _spy_on_footers(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the footers read and the most file fragments (each holding a footer) alive at once."""
    seen = {"reads": 0, "most_alive": 0}
    alive: weakref.WeakSet = weakref.WeakSet()
    opened = scan._open_file

    def spying(*args) -> ds.ParquetFileFragment:
        fragment = opened(*args)
        alive.add(fragment)
        seen["reads"] += 1
        seen["most_alive"] = max(seen["most_alive"], len(alive))
        return fragment

    monkeypatch.setattr(scan, "_open_file", spying)
    return seen


@pytest.mark.parametrize("partitioned", [False, True], ids=["direct", "scanner"])
def test_a_bounded_footer_cache_selects_what_an_unbounded_one_does(
    stream_folder: Path, monkeypatch: pytest.MonkeyPatch, partitioned: bool
) -> None:
    assert scan.FOOTER_CACHE_CHUNKS >= FILES * CHUNKS_PER_FILE  # the default holds every footer of this data
    unbounded = {name: run_selection(_window(stream_folder, partitioned), [s], seed=4) for name, s in SELECTORS.items()}
    monkeypatch.setattr(scan, "FOOTER_CACHE_CHUNKS", CAPACITY * CHUNKS_PER_FILE)
    seen = _spy_on_footers(monkeypatch)
    for name, selector in SELECTORS.items():
        got = run_selection(_window(stream_folder, partitioned), [selector], seed=4)
        assert got.table.equals(unbounded[name].table), name
        assert got.selectors == unbounded[name].selectors and got.candidate_rows == unbounded[name].candidate_rows
        assert got.table.num_rows == selector.limit
    # Footers were read again on misses rather than kept: at most the cache's
    # capacity plus one per piece being read at once are alive, not one per file.
    assert seen["reads"] > FILES * len(SELECTORS)
    assert seen["most_alive"] <= CAPACITY + 2 * scan.workers() < FILES


@pytest.mark.parametrize("name", ["top", "bounded"])
def test_an_ordered_rule_reads_each_files_row_groups_together_so_its_footer_once_a_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Best-first by statistics, file by file: a cache smaller than the window still reads a footer once a pass.

    Ordered across files, confidences (spread over every row group) sent the
    scan from file to file, reading a footer for nearly every row group.
    """
    files, groups = 10, 16
    write_stream(tmp_path, records(files * groups * 100, seed=5), rows_per_group=100, rows_per_file=groups * 100)
    window = _window(tmp_path, False)
    expected = run_selection(window, [SELECTORS[name]], seed=4)
    monkeypatch.setattr(scan, "FOOTER_CACHE_CHUNKS", CAPACITY * groups * 8)  # two files of 16 groups, 8 columns
    seen = _spy_on_footers(monkeypatch)
    got = run_selection(_window(tmp_path, False), [SELECTORS[name]], seed=4)
    assert got.table.equals(expected.table)
    # Passes over the files (groups in the window and under the filter, statistics, reading,
    # ties, fetching), not one per row group read (160).
    assert seen["reads"] <= 6 * files


@pytest.mark.parametrize("partitioned", [False, True], ids=["direct", "scanner"])
def test_ranges_asked_with_the_pieces_come_from_the_footers_read_to_list_them(
    stream_folder: Path, monkeypatch: pytest.MonkeyPatch, partitioned: bool
) -> None:
    """With a cache smaller than the window, an ordered rule's ranges cost no second pass over the footers."""
    fields = ("outputs.confidence", "record_id")
    expected = open_source(_window(stream_folder, partitioned))
    wanted = {
        (piece.group.path, piece.group.id, field): expected.value_range(piece.group, field)
        for piece in expected.pieces(None)
        for field in fields
    }
    monkeypatch.setattr(scan, "FOOTER_CACHE_CHUNKS", CAPACITY * CHUNKS_PER_FILE)
    seen = _spy_on_footers(monkeypatch)
    source = open_source(_window(stream_folder, partitioned))
    pieces = source.pieces(None, ranges=fields)
    listed = seen["reads"]
    assert listed <= FILES + 1  # each footer once (the first file's for the schema too)
    found = {(p.group.path, p.group.id, field): p.value_range(field) for p in pieces for field in fields}
    assert found == wanted and any(found.values())
    assert [source.large_groups(path) for path in source.paths] == [False] * FILES
    assert seen["reads"] == listed  # no footer read again
    # Not asked with the pieces, a range reads its file's footer again (the cache holds two files).
    source.value_range(pieces[0].group, "inputs.price")
    assert seen["reads"] == listed + 1


@pytest.mark.parametrize("type_", [pa.timestamp("us", tz="UTC"), pa.timestamp("ms"), pa.timestamp("s", tz="Europe/Paris")])
def test_time_ranges_from_a_column_chunks_statistics_are_pyarrows(tmp_path: Path, type_: pa.DataType) -> None:
    """Timestamps' ranges come from the one column chunk's statistics, as the same datetimes as every column's."""
    seconds = pa.array([1_714_521_600 + 7 * i for i in range(3_000)], pa.int64())
    times = pc.multiply(seconds, {"s": 1, "ms": 1_000, "us": 1_000_000}[type_.unit]).cast(pa.int64()).cast(type_)
    table = pa.table({"record_id": pc.cast(seconds, pa.string()), "at": times})
    pq.write_table(table, tmp_path / "part.parquet", row_group_size=1_000)
    dataset = ds.dataset(tmp_path, format="parquet")
    source = open_source(_Window(dataset, None))
    pieces = source.pieces(None)
    fragment = next(iter(dataset.get_fragments()))
    expected = [(info.statistics["at"]["min"], info.statistics["at"]["max"]) for info in fragment.row_groups]
    assert [piece.value_range("at") for piece in pieces] == expected
    assert [type(low) for low, _ in expected] == [dt.datetime] * 3


def test_pieces_hold_numbers_not_footers(stream_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "FOOTER_CACHE_CHUNKS", CAPACITY * CHUNKS_PER_FILE)
    source = open_source(_window(stream_folder, False))
    assert isinstance(source, ParquetSource)
    pieces = source.pieces(None)
    assert pieces and all(isinstance(piece, RowGroupPiece) for piece in pieces)
    assert source.footers_cached() <= CAPACITY
    # The window starts and ends inside a row group: those two alone need the row filter.
    assert [piece.group.whole for piece in pieces].count(False) == 2
    assert sum(piece.count() for piece in pieces) == source.count_rows() == 36_800
    assert source.footers_cached() <= CAPACITY
    first = pieces[0].group
    assert (first.path.endswith("part-0001.parquet"), first.id, first.start, first.rows) == (True, 0, 0, 250)


def test_a_stream_window_hands_over_its_footers_up_to_a_budget(
    stream_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curation_pipeline.stream import open_window, parquet_files

    end = DAY + dt.timedelta(days=1)
    held = open_window("app", DAY, end, store_url=str(stream_folder))
    assert held.footers_held  # 40 files of 32 chunks: within the default budget
    source = open_source(held)
    # The window's own fragments serve the footers (on S3, test_s3_reads counts no second read).
    assert sorted(source._given) == sorted(source.paths)
    assert all(source._files(path, False) is source._given[path] for path in source.paths)
    # Held by the window, they are not held again in the engine's cache.
    source.pieces(None)
    assert source.footers_cached() == 0
    expected = {name: run_selection(held, [selector], seed=4) for name, selector in SELECTORS.items()}
    # Past the budget the window keeps no footer: the engine reads them into its own bounded cache.
    monkeypatch.setattr(parquet_files, "KEPT_FOOTER_CHUNKS", 10 * CHUNKS_PER_FILE)
    monkeypatch.setattr(scan, "FOOTER_CACHE_CHUNKS", CAPACITY * CHUNKS_PER_FILE)
    bare = open_window("app", DAY, end, store_url=str(stream_folder))
    assert not bare.footers_held and all(footer.fragment is None for footer in bare.footers)
    seen = _spy_on_footers(monkeypatch)
    for name, selector in SELECTORS.items():
        got = run_selection(bare, [selector], seed=4)
        assert got.table.equals(expected[name].table), name
    assert seen["reads"] > FILES and seen["most_alive"] <= CAPACITY + 2 * scan.workers() < FILES
