"""Small row groups (a file a minute) scanned many to a unit: the same rows as piece by piece, fewer passes."""

from __future__ import annotations

import datetime as dt

import pyarrow.dataset as ds
import pytest

from curation_pipeline.curators.selectors import (
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    UniformSampler,
)
from curation_pipeline.selection import scan, select
from curation_pipeline.selection.scan import open_source, scan_units, unit_scannable
from curation_pipeline.stream import log_records, open_window
from curation_pipeline_tests.selection.records import DAY, records, write_stream

FILES = 48
FILE_ROWS = 1_000
# One record a second: the window starts and ends inside a file, whose rows it cuts.
START = DAY + dt.timedelta(seconds=500)
END = DAY + dt.timedelta(seconds=FILES * FILE_ROWS - 700)

SELECTORS = {
    "bounded": Selector(
        method=OrderedSampler(field="outputs.confidence", sort="ascending"),
        limit=150,
        filters=[BoundsFilter(field="outputs.confidence", lower=0.3, upper=0.7)],
    ),
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=250),
    "top_many": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=5_000),
    "equality": Selector(method=UniformSampler(), limit=200, filters=[EqualsFilter(field="outputs.label", equals="dog")]),
    # A substring filter on strings counted as dictionaries (compared on each dictionary).
    "contains": Selector(method=UniformSampler(), limit=200, filters=[ContainsFilter(field="inputs.text", contains="7 about")]),
    "uniform": Selector(method=UniformSampler(), limit=300),
}


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> str:
    """A day in 48 files of 1,000 rows (one log call each), as a delivery service writes a file a minute."""
    url = str(tmp_path_factory.mktemp("units") / "store")
    table = records(FILES * FILE_ROWS, seed=23)
    for start in range(0, FILES * FILE_ROWS, FILE_ROWS):
        log_records("app", table.slice(start, FILE_ROWS), url)
    return url


@pytest.fixture
def units(monkeypatch) -> list[int]:
    """Pieces per unit scanned together."""
    sizes: list[int] = []
    unit_table = scan._unit_table

    def recording(pieces, names, dictionary):
        sizes.append(len(pieces))
        return unit_table(pieces, names, dictionary)

    monkeypatch.setattr(scan, "_unit_table", recording)
    return sizes


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_small_files_are_scanned_in_units_with_the_same_rows(small_files: str, units: list[int], monkeypatch, name: str) -> None:
    monkeypatch.setattr(scan, "_counted_by_polars", lambda pieces: [])  # pyarrow's count, whose units these are
    window = open_window("app", START, END, small_files)
    assert len(window.files) == FILES
    got = select(window, [SELECTORS[name]], seed=11)
    assert got.num_rows > 0
    if name == "uniform":
        assert not units  # nothing to filter: counts come from the footers, nothing is scanned
    else:
        assert units and max(units) > 1
    monkeypatch.setattr(scan, "_UNIT_GROUP_ROWS", 0)  # every piece alone, as before units
    units.clear()
    expected = select(window, [SELECTORS[name]], seed=11)
    assert not units
    assert got.schema == expected.schema == window.schema
    assert got.equals(expected)


def test_units_keep_the_pieces_order_and_leave_the_windows_edges_alone(small_files: str, monkeypatch) -> None:
    monkeypatch.setattr(scan, "_UNIT_ROWS", 3 * FILE_ROWS)
    source = open_source(open_window("app", START, END, small_files))
    pieces = source.pieces(None)
    indices = list(range(len(pieces)))
    found = scan_units(pieces, indices)
    assert sorted(index for unit in found for index in unit) == indices
    assert all(unit == sorted(unit) for unit in found)  # a unit's pieces in their order
    edges = [index for index, piece in enumerate(pieces) if not piece.group.whole]
    assert len(edges) == 2  # the window cuts its first and its last file
    assert [[edge] for edge in edges] == [unit for unit in found if unit[0] in edges]
    assert not any(unit_scannable(pieces[edge]) for edge in edges)
    assert all(len(unit) <= 3 for unit in found)
    # Each thread of the pool gets two units at least: a short list is not one unit.
    assert len(scan_units(pieces, indices[1:9])) >= min(8, 2 * scan.workers())


def test_large_row_groups_are_scanned_alone(small_files: str, monkeypatch) -> None:
    monkeypatch.setattr(scan, "_UNIT_GROUP_ROWS", FILE_ROWS - 1)
    source = open_source(open_window("app", START, END, small_files))
    pieces = source.pieces(None)
    assert all(unit == [index] for index, unit in enumerate(scan_units(pieces, range(len(pieces)))))


def test_small_groups_apart_in_the_order_still_share_units(tmp_path, monkeypatch) -> None:
    # Files of a large group then a small one, as a file a minute past a row group's rows ends.
    write_stream(tmp_path, records(24 * 1_000, seed=5), rows_per_group=700, rows_per_file=1_000)
    # The files alone (no partition column): read straight, as a window's are.
    dataset = ds.dataset(tmp_path / "streams" / "app" / "date=2024-05-01", format="parquet")
    monkeypatch.setattr(scan, "_UNIT_GROUP_ROWS", 500)
    pieces = open_source(dataset).pieces(None)
    small = [index for index, piece in enumerate(pieces) if piece.group.rows == 300]
    assert len(small) == 24 and small[1] - small[0] == 2  # every other piece
    found = scan_units(pieces, range(len(pieces)))
    assert sorted(index for unit in found for index in unit) == list(range(len(pieces)))
    assert all(len(unit) == 1 for unit in found if pieces[unit[0]].group.rows == 700)
    assert sorted(index for unit in found if len(unit) > 1 for index in unit) == small
    selector = SELECTORS["bounded"]
    got = select(dataset, [selector], seed=3)
    monkeypatch.setattr(scan, "_UNIT_GROUP_ROWS", 0)
    assert got.equals(select(dataset, [selector], seed=3))
