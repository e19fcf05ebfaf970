"""Dense ordered selections in one pass (polars reading each file once past a sampled cut): the rows of two passes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from curation_pipeline.curators.selectors import BoundsFilter, OrderedSampler, Selector
from curation_pipeline.selection import late_fetch, ordered, run_selection, value_scan
from curation_pipeline.selection.filters import Comparison
from curation_pipeline.selection.scan import RowGroupPiece
from curation_pipeline.stream import log_records, open_window
from curation_pipeline_tests.selection.records import DAY, ids, records, write_stream

FILES = 12
FILE_ROWS = 3_000
GROUP_ROWS = 500  # 72 row groups
UTC = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Window:
    """A dataset and its filter apart (:class:`FilteredParquet`), as the stream's windows hand them over."""

    dataset: ds.Dataset
    filter: ds.Expression | None


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> ds.Dataset:
    """12 files of 3,000 rows in groups of 500: confidences rounded (ties), scores with nulls, a NaN or two."""
    table = records(FILES * FILE_ROWS, seed=5)
    rng = np.random.default_rng(9)
    rounded = np.round(rng.random(table.num_rows), 2)
    rounded[[17, 20_000]] = np.nan
    scores = rng.integers(-500, 500, table.num_rows).astype(object)
    scores[::7] = None
    table = table.set_column(table.schema.get_field_index("outputs.confidence"), "outputs.confidence", pa.array(rounded))
    table = table.append_column("inputs.score", pa.array(scores.tolist(), pa.int64()))
    # Unsigned values past 2^63, which no signed 64-bit literal holds.
    table = table.append_column("inputs.big", pa.array(2**63 + rng.integers(0, 1_000, table.num_rows).astype(np.uint64), pa.uint64()))
    root = tmp_path_factory.mktemp("one_pass")
    write_stream(root, table, rows_per_group=GROUP_ROWS, rows_per_file=FILE_ROWS)
    # The files alone (no partition column, which no file holds): read straight from the files.
    return ds.dataset(root / "streams" / "app" / "date=2024-05-01", format="parquet")


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch) -> None:
    """The thresholds scaled to the test's 72 groups of 500 rows (a 100M-row day has 1,600 of 65,536)."""
    monkeypatch.setattr(ordered, "_SAMPLE_PIECES", 8)
    monkeypatch.setattr(ordered, "_VALUED_FILE_ROWS", 1_000)


@pytest.fixture
def queries(monkeypatch) -> list[int]:
    """Rows each one-pass query returned."""
    returned: list[int] = []
    rows_past, counted_rows_past = value_scan.rows_past, value_scan.counted_rows_past

    def recording(*args, **kwargs):
        table = rows_past(*args, **kwargs)
        returned.append(table.num_rows)
        return table

    def counting(*args):
        table, counted = counted_rows_past(*args)
        returned.append(table.num_rows)
        return table, counted

    monkeypatch.setattr(value_scan, "rows_past", recording)
    monkeypatch.setattr(value_scan, "counted_rows_past", counting)
    return returned


@pytest.fixture
def passes(monkeypatch) -> list[tuple[bool, bool]]:
    """Each numeric selection: (whether in one pass, whether it answered rather than handing over)."""
    calls: list[tuple[bool, bool]] = []
    numeric_picks = ordered._numeric_picks

    def recording(*args):
        found = numeric_picks(*args)
        calls.append((len(args) > 5 and args[5] is not None, found is not None))
        return found

    monkeypatch.setattr(ordered, "_numeric_picks", recording)
    return calls


def edges(dataset: ds.Dataset) -> Window:
    """The day's rows but its first 777 and last 1,234 seconds: the window cuts a group at each end."""
    time = pc.field("__time")
    start = pa.scalar(DAY + dt.timedelta(seconds=777), UTC)
    end = pa.scalar(DAY + dt.timedelta(seconds=FILES * FILE_ROWS - 1_234), UTC)
    return Window(dataset, (time >= start) & (time < end))


def two_passes(monkeypatch, window: Window, selector: Selector):
    """The selection as without one pass: a narrow scan, then a fetch of the winners."""
    with monkeypatch.context() as patched:
        patched.setattr(ordered, "_sampled_cut", lambda *args: None)
        return run_selection(window, [selector], seed=3)


def bounded(field: str, sort: str, limit: int, **bounds: float) -> Selector:
    """An ordered selector on ``field`` with bounds on that field alone (a bounded range)."""
    return Selector(method=OrderedSampler(field=field, sort=sort), limit=limit, filters=[BoundsFilter(field=field, **bounds)])


SELECTORS = {
    "top confidence": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=500),
    "lowest confidence": Selector(method=OrderedSampler(field="outputs.confidence", sort="ascending"), limit=300),
    "top score": Selector(method=OrderedSampler(field="inputs.score", sort="descending"), limit=400),
    "lowest score": Selector(method=OrderedSampler(field="inputs.score", sort="ascending"), limit=1_000),
    "top big": Selector(method=OrderedSampler(field="inputs.big", sort="descending"), limit=400),
    # A selector's bounds on the rule's own field: polars applies and counts them as pyarrow does.
    "bounded confidence": bounded("outputs.confidence", "ascending", 300, lower=0.45, upper=0.55),
    "bounded score": bounded("inputs.score", "descending", 400, inclusive_lower=-100, upper=201),
    "bounded big": bounded("inputs.big", "ascending", 400, lower=2**63 + 100, inclusive_upper=2**63 + 900),
}


@pytest.mark.parametrize("name", sorted(SELECTORS))
@pytest.mark.parametrize("cut", [True, False], ids=["window edges", "whole day"])
def test_one_pass_selects_the_rows_of_two_passes(dataset, queries, passes, monkeypatch, name: str, cut: bool) -> None:
    window = edges(dataset) if cut else Window(dataset, None)
    got = run_selection(window, [SELECTORS[name]], seed=3)
    assert len(queries) == 1 and SELECTORS[name].limit <= queries[0] < 4 * SELECTORS[name].limit
    assert passes == [(True, True)]  # the one pass answered: no second pass
    expected = two_passes(monkeypatch, window, SELECTORS[name])
    assert got.table.equals(expected.table)
    assert got.selectors == expected.selectors  # the matched rows counted alike
    assert got.table.num_rows == SELECTORS[name].limit


SPARSE = {
    # Fewer winners than the 72 row groups, within bounds on the rule's field: the query reads the field
    # alone (narrow), the window's edge groups are scanned as in two passes, and the winners fetched after.
    "bounded confidence": bounded("outputs.confidence", "ascending", 40, lower=0.45, upper=0.55),
    "bounded score": bounded("inputs.score", "descending", 50, inclusive_lower=-100, upper=201),
}


@pytest.fixture
def narrow(monkeypatch) -> list[bool]:
    """Whether each one-pass query read the field alone."""
    asked: list[bool] = []
    rows_past, counted_rows_past = value_scan.rows_past, value_scan.counted_rows_past

    def recording(*args, narrow: bool = False, **kwargs):
        asked.append(narrow)
        return rows_past(*args, narrow=narrow, **kwargs)

    monkeypatch.setattr(value_scan, "rows_past", recording)
    monkeypatch.setattr(value_scan, "counted_rows_past", lambda *args: asked.append(True) or counted_rows_past(*args))
    return asked


@pytest.mark.parametrize("name", sorted(SPARSE))
@pytest.mark.parametrize("cut", [True, False], ids=["window edges", "whole day"])
def test_sparse_winners_within_bounds_are_read_narrow(dataset, narrow, passes, monkeypatch, name: str, cut: bool) -> None:
    window = edges(dataset) if cut else Window(dataset, None)
    got = run_selection(window, [SPARSE[name]], seed=3)
    assert narrow == [True] and passes == [(True, True)]  # one narrow query answered: no second pass
    expected = two_passes(monkeypatch, window, SPARSE[name])
    assert got.table.equals(expected.table) and got.selectors == expected.selectors
    assert got.table.num_rows == SPARSE[name].limit


@pytest.mark.parametrize("name", sorted(SPARSE))
@pytest.mark.parametrize("queried", [True, False], ids=["ids queried", "ids read after"])
def test_ties_at_a_narrow_cut_are_settled_by_the_ids_the_query_returned(dataset, passes, monkeypatch, name: str, queried: bool) -> None:
    """Rounded values tie at the cut: their record_ids come with the query, or are read after; the same rows."""
    asked: list[bool] = []
    rows_past, counted_rows_past = value_scan.rows_past, value_scan.counted_rows_past
    monkeypatch.setattr(value_scan, "rows_past", lambda *args, ids=False, **kwargs: asked.append(ids) or rows_past(*args, ids=ids, **kwargs))
    # Without ids, the query counts the matched rows too.
    monkeypatch.setattr(value_scan, "counted_rows_past", lambda *args: asked.append(False) or counted_rows_past(*args))
    tied: list[int] = []
    settle_ties = ordered._settle_ties
    monkeypatch.setattr(ordered, "_settle_ties", lambda pieces, limit, keys, *rest: tied.append(keys.size - limit) or settle_ties(pieces, limit, keys, *rest))
    taken: list[list[str]] = []
    take = RowGroupPiece.take
    monkeypatch.setattr(RowGroupPiece, "take", lambda self, rows, columns: taken.append(columns) or take(self, rows, columns))
    # Rows expected past the cut: 3 times the limit for the scores, 11 for the confidences (two decimals).
    monkeypatch.setattr(ordered, "_QUERIED_IDS", 100 if queried else 0)
    window = Window(dataset, None)
    got = run_selection(window, [SPARSE[name]], seed=3)
    assert asked == [queried] and passes == [(True, True)]
    assert len(tied) == 1 and tied[0] > 0  # candidates tied past the limit were settled
    assert (["record_id"] in taken) is not queried  # read after only when the query did not return them
    expected = two_passes(monkeypatch, window, SPARSE[name])
    assert got.table.equals(expected.table) and got.selectors == expected.selectors


@pytest.mark.parametrize("nullable", [True, False], ids=["record_id nullable", "record_id not null"])
def test_ties_in_the_windows_edge_groups_are_read_beside_the_ids_the_query_returned(tmp_path, passes, monkeypatch, nullable: bool) -> None:
    """The edge groups are scanned, not queried: their tied rows' ids are read, the others' came with the query."""
    table = records(FILES * FILE_ROWS, seed=5)
    confidence = table.schema.get_field_index("outputs.confidence")
    rounded = np.round(np.random.default_rng(9).random(table.num_rows), 2)  # ties, in the edge groups too
    table = table.set_column(confidence, "outputs.confidence", pa.array(rounded))
    # Ids falling with time: the window's last (edge) group holds the smallest, read first when ties are settled.
    table = table.set_column(0, "record_id", pa.array([f"rec-{table.num_rows - i:07d}" for i in range(table.num_rows)]))
    if not nullable:
        table = table.cast(table.schema.set(table.schema.get_field_index("record_id"), pa.field("record_id", pa.string(), nullable=False)))
    write_stream(tmp_path, table, rows_per_group=GROUP_ROWS, rows_per_file=FILE_ROWS)
    window = edges(ds.dataset(tmp_path / "streams" / "app" / "date=2024-05-01", format="parquet"))
    monkeypatch.setattr(ordered, "_QUERIED_IDS", 100)  # ids with the query
    settled: list[tuple[int, int]] = []  # (tied rows whose ids were known, tied rows)
    settle_ties = ordered._settle_ties

    def recording(pieces, limit, keys, piece, row, known=None):
        cut = np.partition(keys, limit - 1)[limit - 1]
        tied = keys == cut
        settled.append((int((known.find(piece[tied], row[tied]) >= 0).sum()) if known else 0, int(tied.sum())))
        return settle_ties(pieces, limit, keys, piece, row, known)

    monkeypatch.setattr(ordered, "_settle_ties", recording)
    selector = SPARSE["bounded confidence"]
    got = run_selection(window, [selector], seed=3)
    assert passes == [(True, True)]
    assert len(settled) == 1 and 0 < settled[0][0] < settled[0][1]  # some tied ids known, some read
    expected = two_passes(monkeypatch, window, selector)
    assert got.table.equals(expected.table) and got.selectors == expected.selectors


def test_sparse_winners_in_the_windows_edge_groups_are_found_read_narrow(tmp_path, narrow, passes, monkeypatch) -> None:
    """The best values sit in the window's two edge groups, inside the window and just outside it."""
    table = records(FILES * FILE_ROWS, seed=7)
    values = np.random.default_rng(3).integers(0, 10_000, table.num_rows).astype(np.float64)
    # Rows are seconds from DAY: the window (edges) keeps rows 777 to 34,765; 600 and 34,900 share their groups.
    values[[600, 800, 34_700, 34_900]] = [-5.0, -4.0, -3.0, -2.0]
    table = table.append_column("inputs.cost", pa.array(values))
    write_stream(tmp_path, table, rows_per_group=GROUP_ROWS, rows_per_file=FILE_ROWS)
    window = edges(ds.dataset(tmp_path / "streams" / "app" / "date=2024-05-01", format="parquet"))
    selector = Selector(
        method=OrderedSampler(field="inputs.cost", sort="ascending"),
        limit=30,
        filters=[BoundsFilter(field="inputs.cost", inclusive_lower=-10.0, upper=5_000.0)],
    )
    got = run_selection(window, [selector], seed=3)
    assert narrow == [True] and passes == [(True, True)]
    assert got.table.column("inputs.cost").to_pylist()[:2] == [-4.0, -3.0]
    expected = two_passes(monkeypatch, window, selector)
    assert got.table.equals(expected.table) and got.selectors == expected.selectors


def test_sparse_winners_the_footers_set_aside_keep_two_passes(tmp_path, queries, passes, monkeypatch) -> None:
    """A field rising with time: every row group's statistics but the last few show it cannot win."""
    table = records(FILES * FILE_ROWS, seed=6)
    table = table.append_column("inputs.rank", pa.array(np.arange(table.num_rows, dtype=np.float64)))
    write_stream(tmp_path, table, rows_per_group=GROUP_ROWS, rows_per_file=FILE_ROWS)
    window = Window(ds.dataset(tmp_path / "streams" / "app" / "date=2024-05-01", format="parquet"), None)
    selector = Selector(
        method=OrderedSampler(field="inputs.rank", sort="descending"),
        limit=40,
        filters=[BoundsFilter(field="inputs.rank", lower=10.0)],
    )
    got = run_selection(window, [selector], seed=3)
    assert not queries and passes == [(False, True)]
    assert got.table.column("inputs.rank").to_pylist() == [float(FILES * FILE_ROWS - 1 - i) for i in range(40)]


def test_the_streams_own_window_selects_in_one_pass(tmp_path, queries, monkeypatch) -> None:
    """72 files of 1,000 rows logged by the stream's writer, a window cutting the first and last."""
    url = str(tmp_path / "store")
    table = records(72 * 1_000, seed=13)
    for start in range(0, table.num_rows, 1_000):
        log_records("app", table.slice(start, 1_000), url)
    window = open_window("app", DAY + dt.timedelta(seconds=300), DAY + dt.timedelta(seconds=71_500), url)
    selector = SELECTORS["top confidence"]
    got = run_selection(window, [selector], seed=3)
    assert len(queries) == 1
    expected = two_passes(monkeypatch, window, selector)
    assert got.table.equals(expected.table) and got.selectors == expected.selectors
    assert got.selectors[0].matched_rows == 72 * 1_000 - 300 - 500


def test_files_read_a_run_of_them_a_query(dataset, queries, passes, monkeypatch) -> None:
    selector = SELECTORS["lowest score"]
    monkeypatch.setattr(ordered, "_VALUED_QUERY_ROWS", 6_000)  # two files a query
    got = run_selection(edges(dataset), [selector], seed=3)
    assert len(queries) == FILES // 2 and passes == [(True, True)]
    assert got.table.equals(two_passes(monkeypatch, edges(dataset), selector).table)


def test_mostly_nan_row_groups_lose_no_winner(tmp_path, queries, passes, monkeypatch) -> None:
    """Groups of 500 rows holding 50 numbers: NaN ranks after every number, and never becomes a cut."""
    table = records(FILES * FILE_ROWS, seed=8)
    values = np.round(np.random.default_rng(4).random(table.num_rows), 3)
    values[: table.num_rows // 2][np.arange(table.num_rows // 2) % 10 != 0] = np.nan
    table = table.set_column(table.schema.get_field_index("outputs.confidence"), "outputs.confidence", pa.array(values))
    write_stream(tmp_path, table, rows_per_group=GROUP_ROWS, rows_per_file=FILE_ROWS)
    window = Window(ds.dataset(tmp_path / "streams" / "app" / "date=2024-05-01", format="parquet"), None)
    numbers = table.filter(pc.invert(pc.is_nan(table.column("outputs.confidence"))))
    for sort in ("descending", "ascending"):
        selector = Selector(method=OrderedSampler(field="outputs.confidence", sort=sort), limit=300)
        order = pc.sort_indices(numbers, sort_keys=[("outputs.confidence", sort), ("record_id", "ascending")])
        expected = ids(numbers.take(order.slice(0, 300)))
        assert ids(run_selection(window, [selector], seed=3).table) == expected
        assert ids(two_passes(monkeypatch, window, selector).table) == expected
    assert passes[0] == (True, True) and passes[2] == (True, True)


def test_a_file_polars_cannot_read_is_an_error_the_selection_falls_back_from(tmp_path) -> None:
    schema = pa.schema([("record_id", pa.string()), ("x", pa.float64())])
    gone = [(str(tmp_path / "gone.parquet"), [(0, 10)], 10)]
    with pytest.raises(late_fetch.LateFetchUnavailable):
        value_scan.rows_past(gone, schema, "x", 0.5, True, 100)
    with pytest.raises(late_fetch.LateFetchUnavailable):
        value_scan.counted_rows_past(gone, schema, "x", 0.5, True, 100, [Comparison("x", "less", pa.scalar(0.9))])


def test_a_cut_at_the_last_winners_value_keeps_the_rows_tied_there(dataset, queries, monkeypatch) -> None:
    selector = SELECTORS["top confidence"]
    expected = two_passes(monkeypatch, edges(dataset), selector)
    last = expected.table.column("outputs.confidence")[selector.limit - 1].as_py()
    assert pc.sum(pc.equal(expected.table.column("outputs.confidence"), last)).as_py() > 1  # ties at the cut
    sampled_cut = ordered._sampled_cut
    monkeypatch.setattr(ordered, "_sampled_cut", lambda *args: ordered._Sampled(-last, sampled_cut(*args).matched))
    got = run_selection(edges(dataset), [selector], seed=3)
    assert queries[0] >= selector.limit  # one pass was enough: the rows tied at the cut came back
    assert got.table.equals(expected.table)


def test_a_sampled_cut_passing_too_few_rows_falls_back_to_two_passes(dataset, queries, passes, monkeypatch) -> None:
    selector = SELECTORS["top confidence"]
    sampled_cut = ordered._sampled_cut

    def too_high(*args):
        found = sampled_cut(*args)
        return ordered._Sampled(-0.995, found.matched)  # rank keys of a descending rule: -value; 0.995 and up

    monkeypatch.setattr(ordered, "_sampled_cut", too_high)
    got = run_selection(edges(dataset), [selector], seed=3)
    assert queries and queries[0] < selector.limit  # the one pass ran, and found too few
    assert passes[:2] == [(True, False), (False, True)]
    assert got.table.equals(two_passes(monkeypatch, edges(dataset), selector).table)


def test_a_cut_letting_too_many_rows_through_falls_back_to_two_passes(dataset, queries, passes, monkeypatch) -> None:
    selector = SELECTORS["lowest score"]
    monkeypatch.setattr(ordered, "_VALUED_CAP", 0)  # at most twice the limit may pass
    sampled_cut = ordered._sampled_cut
    monkeypatch.setattr(ordered, "_sampled_cut", lambda *args: ordered._Sampled(10**6, sampled_cut(*args).matched))
    got = run_selection(Window(dataset, None), [selector], seed=3)
    assert not queries and passes[0] == (False, True)  # the query raised (more than the cap passed): two passes
    assert got.table.equals(two_passes(monkeypatch, Window(dataset, None), selector).table)


def test_a_counting_query_letting_too_many_rows_through_falls_back_to_two_passes(dataset, queries, passes, monkeypatch) -> None:
    selector = SPARSE["bounded score"]
    monkeypatch.setattr(ordered, "_VALUED_CAP", 0)  # at most twice the limit may pass
    monkeypatch.setattr(ordered, "_QUERIED_IDS", 0)  # no ids: the query counts the matched rows
    sampled_cut = ordered._sampled_cut

    def loose(*args):
        found = sampled_cut(*args)
        assert found.narrow and found.matched is None  # to be counted by the query
        return dataclasses.replace(found, cut=10**6)  # every row passes

    monkeypatch.setattr(ordered, "_sampled_cut", loose)
    got = run_selection(Window(dataset, None), [selector], seed=3)
    assert not queries and passes[0] == (False, True)  # the query raised (more than the cap passed): two passes
    expected = two_passes(monkeypatch, Window(dataset, None), selector)
    assert got.table.equals(expected.table) and got.selectors == expected.selectors


@pytest.mark.parametrize(
    "selector",
    [
        # A filter on another field: polars would have to count its matches on a column it does not rank.
        Selector(
            method=OrderedSampler(field="outputs.confidence", sort="ascending"),
            limit=500,
            filters=[BoundsFilter(field="inputs.score", lower=-300, upper=300)],
        ),
        # A float bound on a 64-bit integer column: pyarrow compares in float64 (refusing values past 2^53).
        Selector(
            method=OrderedSampler(field="inputs.score", sort="ascending"),
            limit=500,
            filters=[BoundsFilter(field="inputs.score", lower=-300.5)],
        ),
        # Fewer winners than row groups: a narrow scan then a fetch touches few pages.
        Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=50),
        # Not a number.
        Selector(method=OrderedSampler(field="__time", sort="descending"), limit=500),
    ],
    ids=["filter on another field", "float bound on integers", "sparse winners", "timestamps"],
)
def test_two_passes_where_one_does_not_apply(dataset, queries, selector: Selector) -> None:
    assert run_selection(Window(dataset, None), [selector], seed=3).table.num_rows == selector.limit
    assert not queries


def test_two_passes_without_polars(dataset, queries, monkeypatch) -> None:
    monkeypatch.setattr(value_scan, "_polars", lambda: None)
    selector = SELECTORS["top score"]
    assert run_selection(Window(dataset, None), [selector], seed=3).table.num_rows == selector.limit
    assert not queries


def test_counts_and_narrow_queries_read_a_run_of_files_each(dataset, narrow, passes, monkeypatch) -> None:
    counts: list[int] = []
    count_where = value_scan.count_where

    def recording(*args, **kwargs):
        counts.append(count_where(*args, **kwargs))
        return counts[-1]

    monkeypatch.setattr(value_scan, "count_where", recording)
    monkeypatch.setattr(ordered, "_NARROW_QUERY_ROWS", 6_000)  # two files a count, or a narrow query
    for selector in (SELECTORS["bounded confidence"], SPARSE["bounded confidence"]):
        got = run_selection(edges(dataset), [selector], seed=3)
        expected = two_passes(monkeypatch, edges(dataset), selector)
        assert got.table.equals(expected.table) and got.selectors == expected.selectors
    # Counted apart: the dense pass, in six queries; the narrow one counts in its six queries (``narrow``).
    assert len(counts) == FILES // 2 and passes[0] == (True, True) and passes[2] == (True, True)
    assert narrow == [False, *[True] * (FILES // 2)]  # the dense pass in one query, the narrow one in six


@pytest.fixture
def files_asked(monkeypatch) -> list[int]:
    """Files each one-pass query (every column) read."""
    asked: list[int] = []
    rows_past = value_scan.rows_past
    monkeypatch.setattr(value_scan, "rows_past", lambda files, *args, **kwargs: asked.append(len(files)) or rows_past(files, *args, **kwargs))
    return asked


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """Rows each polars count (a selector's bounds) read."""
    asked: list[int] = []
    count_where = value_scan.count_where

    def recording(files, *args):
        asked.append(sum(end - start for _, ranges, _ in files for start, end in ranges))
        return count_where(files, *args)

    monkeypatch.setattr(value_scan, "count_where", recording)
    return asked


@pytest.mark.parametrize("name", sorted(SELECTORS))
@pytest.mark.parametrize("cut", [True, False], ids=["window edges", "whole day"])
def test_small_files_are_read_in_one_pass_in_runs_of_fewer_rows(dataset, files_asked, counted, narrow, passes, monkeypatch, name: str, cut: bool) -> None:
    """Files of few rows (a file a minute) are queried in runs of their own size: polars' memory grows faster than a scan's files."""
    monkeypatch.setattr(ordered, "_VALUED_FILE_ROWS", 10_000)  # every file small
    monkeypatch.setattr(ordered, "_SMALL_QUERY_ROWS", 6_000)
    window = edges(dataset) if cut else Window(dataset, None)
    got = run_selection(window, [SELECTORS[name]], seed=3)
    assert files_asked == [2] * (FILES // 2) and narrow == [False] * (FILES // 2) and passes == [(True, True)]
    # The bounds' matches counted by polars in the groups wholly inside the window; pyarrow counts the two it
    # cuts. The window leaves out the day's first group and last two.
    assert sum(counted) == (0 if not SELECTORS[name].filters else FILES * FILE_ROWS - 5 * GROUP_ROWS if cut else FILES * FILE_ROWS)
    expected = two_passes(monkeypatch, window, SELECTORS[name])
    assert got.table.equals(expected.table) and got.selectors == expected.selectors
    assert got.table.num_rows == SELECTORS[name].limit


def test_small_and_large_files_of_one_window_are_queried_in_runs_of_their_size(tmp_path, files_asked, passes, monkeypatch) -> None:
    """Files of 3,000 rows and of 1,000 (small), the window cutting both kinds: the large ones in one query, the small two a query."""
    table = records(FILES * FILE_ROWS, seed=5)
    rounded = np.round(np.random.default_rng(9).random(table.num_rows), 2)
    table = table.set_column(table.schema.get_field_index("outputs.confidence"), "outputs.confidence", pa.array(rounded))
    folder = tmp_path / "streams" / "app" / "date=2024-05-01"
    folder.mkdir(parents=True)
    starts = [0, 3_000, 4_000, 5_000, 8_000, 9_000, 10_000, 13_000, 14_000, 15_000, 18_000, 21_000, 24_000, 27_000, 30_000, 33_000, 34_000, 35_000]
    for number, (start, end) in enumerate(zip(starts, [*starts[1:], table.num_rows])):
        pq.write_table(table.slice(start, end - start), folder / f"part-{number:04d}.parquet", row_group_size=GROUP_ROWS)
    monkeypatch.setattr(ordered, "_VALUED_FILE_ROWS", 2_000)
    monkeypatch.setattr(ordered, "_SMALL_QUERY_ROWS", 2_000)
    window = edges(ds.dataset(folder, format="parquet"))
    selector = SELECTORS["bounded confidence"]
    got = run_selection(window, [selector], seed=3)
    # The 3,000-row files (nine, the first cut by the window), then the eight 1,000-row files two a query.
    assert files_asked == [9, 2, 2, 2, 2] and passes == [(True, True)]
    expected = two_passes(monkeypatch, window, selector)
    assert got.table.equals(expected.table) and got.selectors == expected.selectors


@pytest.mark.parametrize(
    ("start", "end", "whole"),
    [(1_000, 35_000, 68), (250, 35_750, 70)],
    ids=["files held in part, every group whole", "every group held, one cut at each end"],
)
def test_small_files_the_window_holds_in_part_are_counted_group_by_group(dataset, counted, passes, monkeypatch, start: int, end: int, whole: int) -> None:
    """polars counts the bounds' matches in the groups wholly inside the window, pyarrow in those it cuts: the rows and figures of two passes."""
    monkeypatch.setattr(ordered, "_VALUED_FILE_ROWS", 10_000)
    time = pc.field("__time")
    window = Window(dataset, (time >= pa.scalar(DAY + dt.timedelta(seconds=start), UTC)) & (time < pa.scalar(DAY + dt.timedelta(seconds=end), UTC)))
    selector = SELECTORS["bounded confidence"]
    got = run_selection(window, [selector], seed=3)
    assert passes == [(True, True)] and sum(counted) == whole * GROUP_ROWS
    expected = two_passes(monkeypatch, window, selector)
    assert got.table.equals(expected.table) and got.selectors == expected.selectors


def test_small_files_keep_two_passes_for_sparse_winners(dataset, queries, passes, monkeypatch) -> None:
    """Fewer winners than row groups would be read narrow, counting as polars reads: slow over small files."""
    monkeypatch.setattr(ordered, "_VALUED_FILE_ROWS", 10_000)
    selector = SPARSE["bounded confidence"]
    got = run_selection(edges(dataset), [selector], seed=3)
    assert not queries and passes == [(False, True)]
    assert got.table.equals(two_passes(monkeypatch, edges(dataset), selector).table)
