"""A window of several files on S3 reads each footer once and makes a bounded number of requests.

The requests go through :class:`~curation_devtools.s3proxy.S3Proxy` in front
of moto, which records each with its ``Range`` header: a footer read is a
ranged GET ending at the file's last byte (Parquet's footer and magic close
the file; no column chunk reaches it).
"""

from __future__ import annotations

import collections
import datetime as dt
import tempfile
import threading
import time
from urllib.parse import unquote

import pyarrow as pa
import pytest

from curation_devtools.s3proxy import S3Proxy
from curation_pipeline.curators.selectors import (
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    UniformSampler,
)
from curation_pipeline.selection import ordered, scan, select, staging
from curation_pipeline.selection.scan import open_source, workers
from curation_pipeline.stream import log_records, open_window
from curation_pipeline_tests.selection.records import DAY, records
from curation_pipeline_tests.selection.s3_stream import FILE_ROWS, GROUPS, ranged_gets

SELECTORS = {
    # Winners in every row group: every group's full records are fetched.
    "uniform": Selector(method=UniformSampler(), limit=200),
    # One column of every row group scanned, then the winners' full records.
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=200),
}
# The stream root's check (a HEAD, then a one-key listing), the day's listing, the pending markers' listing.
WINDOW_OVERHEAD = 4


@pytest.fixture
def unstaged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The window's files read from the store as they are, never all copied first (:mod:`~curation_pipeline.selection.staging`)."""
    monkeypatch.setattr(staging, "STAGED_BYTES", 0)


def _footer_reads(proxy: S3Proxy, sizes: dict[str, int]) -> collections.Counter[str]:
    """Ranged GETs reaching each file's last byte from past its first (its footer), by file."""
    found: collections.Counter[str] = collections.Counter()
    for key, first, last in ranged_gets(proxy, sizes):
        found[key] += first > 0 and last == sizes[key] - 1
    return found


def _copies(proxy: S3Proxy, sizes: dict[str, int]) -> collections.Counter[str]:
    """Ranged GETs of a copy of each file (from its first byte), by file: a fetch through DuckDB."""
    return collections.Counter(key for key, first, _ in ranged_gets(proxy, sizes) if first == 0)


def _heads(proxy: S3Proxy, sizes: dict[str, int]) -> collections.Counter[str]:
    return collections.Counter(
        unquote(path).lstrip("/")
        for method, path, _ in proxy.ranged_requests
        if method == "HEAD" and unquote(path).lstrip("/") in sizes
    )


def test_opening_a_window_reads_each_footer_once_without_asking_sizes(proxied_stream) -> None:
    url, proxy, sizes = proxied_stream
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    assert len(window.files) == len(FILE_ROWS)
    assert window.count_rows() == sum(FILE_ROWS)
    assert _footer_reads(proxy, sizes) == {key: 1 for key in sizes}
    assert not _heads(proxy, sizes)  # sizes come from the listing
    assert len(proxy.requests) == WINDOW_OVERHEAD + len(FILE_ROWS)


@pytest.mark.parametrize("rule", sorted(SELECTORS))
def test_selecting_from_a_window_reads_each_footer_once_in_bounded_requests(proxied_stream, rule: str) -> None:
    url, proxy, sizes = proxied_stream
    selector = SELECTORS[rule]
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    got = select(window, [selector], seed=3)
    assert _footer_reads(proxy, sizes) == {key: 1 for key in sizes}
    heads = _heads(proxy, sizes)
    assert set(heads.values()) <= {1}  # a file is opened once, however many of its groups are read
    # Per file: its footer and one open; per row group: a narrow scan and a fetch, each one coalesced read.
    assert len(proxy.requests) <= WINDOW_OVERHEAD + 2 * len(FILE_ROWS) + 2 * GROUPS
    # The same rows as from the window's rows in memory (files in the window's order).
    assert got.num_rows == selector.limit
    assert got.equals(select(window.to_dataset().to_table(), [selector], seed=3))


def _data_reads(proxy: S3Proxy, sizes: dict[str, int]) -> int:
    """Ranged GETs of column chunks or of a copy: those not of a file's footer alone."""
    return sum(first == 0 or last < sizes[key] - 1 for key, first, last in ranged_gets(proxy, sizes))


@pytest.mark.parametrize(("budget", "reads"), [(scan._TOGETHER_BYTES, len(FILE_ROWS)), (1, GROUPS)])
def test_a_files_winning_row_groups_are_fetched_in_one_read_within_the_budget(
    proxied_stream, monkeypatch, budget: int, reads: int
) -> None:
    """Winners in every row group: one request a file, or one a group when the budget holds a group at most."""
    url, proxy, sizes = proxied_stream
    monkeypatch.setattr(scan, "_TOGETHER_BYTES", budget)
    monkeypatch.setattr(scan, "_COPIED_FILE_BYTES", 0)  # read by pyarrow, no file copied for DuckDB
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    selector = SELECTORS["uniform"]  # counts from the footers, then fetches: every column chunk read is the fetch's
    got = select(window, [selector], seed=3)
    assert _data_reads(proxy, sizes) == reads
    assert got.equals(select(window.to_dataset().to_table(), [selector], seed=3))


@pytest.mark.usefixtures("unstaged")
def test_a_files_sparse_winners_are_fetched_from_a_copy_of_it(proxied_stream, monkeypatch, tmp_path) -> None:
    """Winners spread over a file of enough rows: the file is copied a request a chunk, DuckDB reads the copy, the copy goes."""
    url, proxy, sizes = proxied_stream
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(scan, "COPY_READ_BYTES", 100_000)
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    selector = SELECTORS["uniform"]
    got = select(window, [selector], seed=3)
    big = max(sizes, key=sizes.__getitem__)  # the 70,000-row file; the others' winning groups hold too few rows to copy for
    chunks = [(first, min(first + 100_000, sizes[big]) - 1) for first in range(0, sizes[big], 100_000)]
    reads = [(first, last) for key, first, last in ranged_gets(proxy, sizes) if key == big]
    assert len(chunks) > 1 and set(chunks) <= set(reads)
    assert len(reads) == len(chunks) + 1  # and its footer, when the window opened
    assert set(_copies(proxy, sizes)) == {big}
    assert not list(tmp_path.iterdir())
    assert got.equals(select(window.to_dataset().to_table(), [selector], seed=3))
    monkeypatch.setattr(scan, "_COPIED_FILE_BYTES", 0)  # read by pyarrow
    assert got.equals(select(open_window("app", DAY, DAY + dt.timedelta(days=1), url), [selector], seed=3))


def test_a_file_that_cannot_be_copied_is_fetched_by_pyarrow(proxied_stream, monkeypatch, tmp_path) -> None:
    """No temporary folder to copy to: the winners' groups are read as without DuckDB, the same rows."""
    url, proxy, sizes = proxied_stream
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    selector = SELECTORS["uniform"]
    got = select(window, [selector], seed=3)
    assert not _copies(proxy, sizes)
    assert _data_reads(proxy, sizes) == len(FILE_ROWS)  # a read of each file's groups
    assert got.equals(select(window.to_dataset().to_table(), [selector], seed=3))


@pytest.mark.usefixtures("unstaged")
@pytest.mark.parametrize("budget", [1 << 40, 1])
def test_a_large_row_groups_winners_are_fetched_a_few_columns_a_read(proxied_stream, monkeypatch, budget: int) -> None:
    """Groups too large to read whole: one read a group when its columns fit the budget, else one a column."""
    url, proxy, sizes = proxied_stream
    monkeypatch.setattr(scan, "_WHOLE_GROUP_ROWS", 1024)
    monkeypatch.setattr(scan, "_PASS_BYTES", budget)
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    selector = SELECTORS["uniform"]
    got = select(window, [selector], seed=3)
    passes = 1 if budget > 1 else len(window.to_dataset().schema.names)
    assert _data_reads(proxy, sizes) == GROUPS * passes
    assert got.equals(select(window.to_dataset().to_table(), [selector], seed=3))


def test_a_large_row_groups_fetch_counts_its_largest_pass_as_buffered(proxied_stream, monkeypatch) -> None:
    """Fetched a column a pass, as many large groups are fetched at once as their largest column allows."""
    url, _, _ = proxied_stream
    monkeypatch.setattr(scan, "_WHOLE_GROUP_ROWS", 1024)
    monkeypatch.setattr(scan, "_PASS_BYTES", 1)
    remote = open_source(open_window("app", DAY, DAY + dt.timedelta(days=1), url))
    groups = [footer.row_group(i) for footer in map(remote.footer, remote.paths) for i in range(footer.num_row_groups)]
    largest = max(_bytes_of_column(group, name) for group in groups for name in remote.schema.names)
    monkeypatch.setattr(scan, "_REMOTE_BUFFERED_IN_FLIGHT", 2 * largest + 1)
    assert remote.remote_in_flight() == 2


def _bytes_of_column(group, name: str) -> int:
    """Compressed bytes of column ``name``'s chunks (its leaves) in row group metadata ``group``."""
    chunks = [group.column(i) for i in range(group.num_columns)]
    return sum(c.total_compressed_size for c in chunks if scan._within(c.path_in_schema, name))


def test_a_read_is_pre_buffered_only_when_its_chunks_can_merge(proxied_stream) -> None:
    """Adjacent chunks come in one request, pre-buffered; chunks apart one each, read on the scanning thread."""
    url, proxy, sizes = proxied_stream
    source = open_source(open_window("app", DAY, DAY + dt.timedelta(days=1), url))
    piece = source.pieces(None)[0]
    path = piece.group.path
    assert not source.pre_buffered(path, ["outputs.confidence"])
    assert not source.pre_buffered(path, ["record_id", "outputs.confidence"])
    assert source.pre_buffered(path, ["outputs.label", "outputs.confidence"])
    for columns, requests in [(["outputs.label", "outputs.confidence"], 1), (["record_id", "outputs.confidence"], 2)]:
        before = _data_reads(proxy, sizes)
        table = piece._read(columns, False)
        assert _data_reads(proxy, sizes) - before == requests
        assert table.column_names == columns and table.num_rows == piece.group.rows


def test_a_remote_window_is_read_as_wide_as_the_columns_read_allow(proxied_stream, tmp_path) -> None:
    url, _, _ = proxied_stream
    remote = open_source(open_window("app", DAY, DAY + dt.timedelta(days=1), url))
    assert remote.remote
    footers = [remote.footer(path) for path in remote.paths]
    groups = [footer.row_group(i) for footer in footers for i in range(footer.num_row_groups)]
    # The window's edge groups read its time column too: it counts in every narrow scan.
    narrowest = max(_bytes_of(group, ["outputs.confidence", "__time"]) for group in groups)
    largest = max(group.total_byte_size for group in groups)
    whole = remote.remote_in_flight()
    narrow = remote.remote_in_flight(["outputs.confidence"])
    floor = min(2 * workers(), 8)
    ceiling = max(floor, scan._REMOTE_POOL.max_workers)
    for width, size in ((whole, largest), (narrow, narrowest)):
        assert floor <= width <= ceiling
        assert width == floor or width * size <= scan._REMOTE_BYTES_IN_FLIGHT
        assert width == ceiling or (width + 1) * size > scan._REMOTE_BYTES_IN_FLIGHT
    assert narrow >= whole
    assert remote.remote_in_flight([]) == ceiling  # footers and counts alone
    local = str(tmp_path / "store")
    log_records("app", records(1_000, seed=8), local)
    assert not open_source(open_window("app", DAY, DAY + dt.timedelta(days=1), local)).remote


def _bytes_of(group, names: list[str]) -> int:
    """Uncompressed bytes of the columns ``names`` in a row group's metadata."""
    columns = [group.column(i) for i in range(group.num_columns)]
    found = [column.total_uncompressed_size for column in columns if column.path_in_schema in names]
    assert len(found) == len(names)
    return sum(found)


def test_a_scan_is_sized_by_its_selectors_filter_columns_too(proxied_stream, monkeypatch) -> None:
    """``filtering`` adds a selector's filter columns to what each scan reads, so a wide filter column narrows it."""
    url, _, _ = proxied_stream
    remote = open_source(open_window("app", DAY, DAY + dt.timedelta(days=1), url))
    groups = [remote.footer(path).row_group(0) for path in remote.paths]
    confidence = max(_bytes_of(group, ["outputs.confidence", "__time"]) for group in groups)
    monkeypatch.setattr(scan, "_REMOTE_BYTES_IN_FLIGHT", 12 * confidence)  # twelve narrow reads at once
    widths: list[int] = []
    run = scan.parallel.ordered_map

    def recording(fn, items, **options):
        widths.append(options["in_flight"])
        return run(fn, items, **options)

    monkeypatch.setattr(scan.parallel, "ordered_map", recording)
    with scan.reading(remote):
        list(scan.ordered_map(str, range(3), reads=["outputs.confidence"]))
        with scan.filtering(["inputs.text"]):
            list(scan.ordered_map(str, range(3), reads=["outputs.confidence"]))
    alone = remote.remote_in_flight(["outputs.confidence"])
    filtered = remote.remote_in_flight(["outputs.confidence", "inputs.text"])
    assert widths == [alone, filtered]
    assert alone == 12 > filtered


@pytest.mark.usefixtures("unstaged")
def test_a_remote_read_buffers_its_budget_of_compressed_chunks_at_once_below_the_local_width(
    proxied_stream, monkeypatch
) -> None:
    """Chunks are pre-buffered whole: a width of one piece at the least, as the compressed bytes allow."""
    url, _, _ = proxied_stream
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    remote = open_source(window)
    groups = [footer.row_group(i) for footer in map(remote.footer, remote.paths) for i in range(footer.num_row_groups)]
    buffered = max(sum(group.column(i).total_compressed_size for i in range(group.num_columns)) for group in groups)
    monkeypatch.setattr(scan, "_REMOTE_BUFFERED_IN_FLIGHT", 2 * buffered + 1)
    assert remote.remote_in_flight() == 2 < min(2 * workers(), 8)  # below a local disk's width
    monkeypatch.setattr(scan, "_REMOTE_BUFFERED_IN_FLIGHT", 1)
    assert open_source(window).remote_in_flight() == 1  # widths are kept per source: a new one
    # The fetches of a selection then run one at a time, and choose the same rows.
    running, most, lock = [0], [0], threading.Lock()

    def counted(fetcher):  # type: ignore[no-untyped-def]
        def run(picks):  # type: ignore[no-untyped-def]
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                time.sleep(0.05)  # long enough for fetches allowed together to overlap
                return fetcher(picks)
            finally:
                with lock:
                    running[0] -= 1

        return run

    # A file's winning row groups are fetched in one read, others alone: both are counted.
    for name in ("_fetch_together", "_fetch_alone"):
        monkeypatch.setattr(scan, name, counted(getattr(scan, name)))
    got = select(window, [SELECTORS["uniform"]], seed=3)
    assert most[0] == 1
    assert got.equals(select(window.to_dataset().to_table(), [SELECTORS["uniform"]], seed=3))


def test_a_narrow_remote_scan_runs_that_many_pieces_at_once(proxied_stream, monkeypatch) -> None:
    """The width is real: as many tasks run together as it says (a barrier of that many parties is passed)."""
    url, _, _ = proxied_stream
    remote = open_source(open_window("app", DAY, DAY + dt.timedelta(days=1), url))
    monkeypatch.setattr(scan, "_REMOTE_BYTES_IN_FLIGHT", 1 << 40)  # any group fits: the pool's size decides
    width = remote.remote_in_flight(["outputs.confidence"])
    assert width == scan._REMOTE_POOL.max_workers
    together = threading.Barrier(width)
    with scan.reading(remote):
        waited = list(scan.ordered_map(lambda _: together.wait(timeout=30), range(width), reads=["outputs.confidence"]))
    assert sorted(waited) == list(range(width))


def test_files_of_another_schema_read_their_footer_once_more_not_once_per_row_group(aws_env, monkeypatch) -> None:
    """A file lacking a column of the window is read through a fragment of its own: one more footer read per file."""
    bucket = aws_env.make_bucket("mixed")
    url = f"s3://{bucket}/curation"
    table = records(86_000, seed=9)
    log_records("app", table.slice(0, 70_000), url)  # two row groups, without tags.extra
    log_records("app", table.slice(70_000).append_column("tags.extra", pa.array(["x"] * 16_000)), url)
    listed = aws_env.client().list_objects_v2(Bucket=bucket, Prefix="curation/streams/app/date=")["Contents"]
    sizes = {f"{bucket}/{item['Key']}": item["Size"] for item in listed}
    with S3Proxy.start(aws_env.endpoint_url) as proxy:
        monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", proxy.endpoint_url)
        window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
        source = open_source(window)
        assert sorted(source.direct(piece.group) for piece in source.pieces(None)) == [False, False, True]
        got = select(window, [SELECTORS["top"]], seed=3)
        reads = _footer_reads(proxy, sizes)
    assert sorted(reads.values()) == [1, 2]  # the two-group file: at open_window, then once for its dictionaries
    assert set(_heads(proxy, sizes).values()) <= {1}
    assert got.equals(select(window.to_dataset().to_table(), [SELECTORS["top"]], seed=3))


# Ordered selectors whose limit fills most row groups they must read: each
# group is then read once, whole, rather than scanned and fetched.
DENSE = {
    "top": Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=200),
    "bounded": Selector(
        method=OrderedSampler(field="outputs.confidence", sort="ascending"),
        limit=300,
        filters=[BoundsFilter(field="outputs.confidence", lower=0.25, upper=0.75)],
    ),
    # Every value held by about 860 rows: the limit cuts through ties, which record_id settles.
    "tied": Selector(method=OrderedSampler(field="inputs.n", sort="descending"), limit=500),
    "newest": Selector(method=OrderedSampler(field="__time", sort="descending"), limit=100),
    "equals": Selector(
        method=OrderedSampler(field="outputs.confidence", sort="descending"),
        limit=200,
        filters=[EqualsFilter(field="outputs.label", equals="cat")],
    ),
    # A substring of a string column read as a dictionary.
    "contains": Selector(
        method=OrderedSampler(field="outputs.confidence", sort="ascending"),
        limit=200,
        filters=[ContainsFilter(field="inputs.text", contains="about dog")],
    ),
}


@pytest.mark.usefixtures("unstaged")
@pytest.mark.parametrize("copied", [True, False], ids=["copied", "pyarrow"])
@pytest.mark.parametrize("edges", [False, True], ids=["day", "hours"])
@pytest.mark.parametrize("rule", sorted(DENSE))
def test_a_dense_ordered_selection_reads_each_row_group_once_whole(
    proxied_stream, monkeypatch, tmp_path, rule, edges, copied
) -> None:
    """The same rows as scanning then fetching, and as the rows in memory, in a read a file (a run of its groups).

    Copied: each file read from a local copy of it, its candidates' records
    through DuckDB; else (files too large to copy) every column by pyarrow.
    """
    url, proxy, sizes = proxied_stream
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    if not copied:
        monkeypatch.setattr(scan, "_COPIED_FILE_BYTES", 0)
    start, end = (DAY + dt.timedelta(hours=2), DAY + dt.timedelta(hours=20)) if edges else (DAY, DAY + dt.timedelta(days=1))
    selector = DENSE[rule]
    window = open_window("app", start, end, url)
    got = select(window, [selector], seed=3)
    # At most one read a file, its groups read together (none for a file whose rows lose to
    # the others'); the window's count of its rows reads its two edge groups' times besides.
    assert 1 <= _data_reads(proxy, sizes) <= len(FILE_ROWS) + (2 if edges else 0)
    assert bool(_copies(proxy, sizes)) == copied and not list(tmp_path.iterdir())
    assert got.num_rows == selector.limit
    assert got.equals(select(window.to_dataset().to_table(), [selector], seed=3))
    monkeypatch.setattr(ordered, "_WHOLE_LIMIT", 0)  # scanned, then fetched
    assert got.equals(select(open_window("app", start, end, url), [selector], seed=3))


def test_a_dense_ordered_selection_without_copies_reads_the_files_whole(proxied_stream, monkeypatch, tmp_path) -> None:
    """No temporary folder to copy to: each file's groups read with every column instead, the same rows."""
    url, proxy, sizes = proxied_stream
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    got = select(window, [DENSE["bounded"]], seed=3)
    assert not _copies(proxy, sizes)
    assert 1 <= _data_reads(proxy, sizes) <= len(FILE_ROWS)
    assert got.equals(select(window.to_dataset().to_table(), [DENSE["bounded"]], seed=3))


@pytest.mark.usefixtures("unstaged")
def test_a_sparse_ordered_selection_scans_narrowly_then_fetches(proxied_stream) -> None:
    """Fewer winners than row groups to read: a narrow scan of every group, then the winners' groups."""
    url, proxy, sizes = proxied_stream
    selector = Selector(method=OrderedSampler(field="outputs.confidence", sort="descending"), limit=2)
    window = open_window("app", DAY, DAY + dt.timedelta(days=1), url)
    got = select(window, [selector], seed=3)
    assert _data_reads(proxy, sizes) > GROUPS  # a scan a group, and a fetch
    assert got.equals(select(window.to_dataset().to_table(), [selector], seed=3))
