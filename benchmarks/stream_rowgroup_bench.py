"""How the Parquet row-group size of stream files affects selective reads.

Writes one demo day (1M rows by default, sorted by __time, as log_records
writes it) at several row-group sizes, then times:

- hour:  one hour (18:00-19:00 UTC, the busiest) x 3 columns, through
         read_window's path (dataset filter on __time, row groups pruned by
         their statistics), and the row groups that hour touches;
- 5 min: the same for 18:00-18:05;
- day:   the whole day x 3 columns (a full scan, where small groups cost);
- write: encoding the file.

Then, at the stream's row-group size, dictionary encoding on every column
against the stream's choice (record_id and __time plain): file size, write
time, and decoding the whole day with every column. Last, rows per data page
(each file with a page index): file size, whole-day decodes, and the cost of
reading one row's full record from a row group page-wise against decoding
the group whole.

Run:  .venv/bin/python benchmarks/stream_rowgroup_bench.py [--rows 1000000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from results_io import table as results_table
from results_io import write_results

from curation_pipeline.demo import demo_day
from curation_pipeline.stream.layout import TIME, TIME_TYPE
from curation_pipeline.stream.parquet_files import PAGE_ROWS, PLAIN_COLUMNS, ROW_GROUP_SIZE, encode_parquet
from curation_pipeline.stream.records import to_record_table

SIZES = (8_192, 16_384, 32_768, 65_536, 131_072, 262_144, 1_048_576)
DAY = date(2024, 1, 1)
HOUR = (datetime(2024, 1, 1, 18, tzinfo=timezone.utc), datetime(2024, 1, 1, 19, tzinfo=timezone.utc))
FIVE_MINUTES = (HOUR[0], datetime(2024, 1, 1, 18, 5, tzinfo=timezone.utc))
HOUR_COLUMNS = ["record_id", TIME, "outputs.label"]
DAY_COLUMNS = ["outputs.label", "outputs.confidence", "tags.env"]
TITLE = "Stream files: row groups, encodings and pages"


def median_seconds(function: Callable[[], object], repeat: int) -> float:
    function()  # warm the page cache and Arrow's allocator
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def window_filter(window: tuple[datetime, datetime]) -> ds.Expression:
    start, end = (pa.scalar(t, TIME_TYPE) for t in window)
    return (ds.field(TIME) >= start) & (ds.field(TIME) < end)


def read_window(path: Path, window: tuple[datetime, datetime]) -> pa.Table:
    dataset = ds.dataset(str(path), format="parquet")
    return dataset.filter(window_filter(window)).to_table(columns=HOUR_COLUMNS)


def groups_touched(path: Path, window: tuple[datetime, datetime]) -> int:
    fragment = next(ds.dataset(str(path), format="parquet").get_fragments())
    return len(fragment.split_by_row_group(window_filter(window)))


def read_day(path: Path) -> pa.Table:
    return ds.dataset(str(path), format="parquet").to_table(columns=DAY_COLUMNS)


def read_all(path: Path) -> pa.Table:
    return pq.read_table(path)


def compare_dictionaries(table: pa.Table, compression: str, repeat: int, folder: str) -> dict:
    """The stream's plain record_id/__time against dictionaries on every column, as a results table."""
    print(f"\n{ROW_GROUP_SIZE:,} rows/group: which columns skip the dictionary\n")
    columns = ["plain columns", "file MB", "write s", "day x all cols ms", "day x 3 cols ms", "1 h x 3 cols ms"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---:|---:|---:|---:|---:|")
    by_encoding = []
    expected = None
    for plain in ((), PLAIN_COLUMNS):
        path = Path(folder) / f"plain-{len(plain)}.parquet"
        started = time.perf_counter()
        path.write_bytes(encode_parquet(table, compression=compression, plain_columns=plain).to_pybytes())
        write_s = time.perf_counter() - started
        decoded = read_all(path)
        assert expected is None or decoded.equals(expected), "both encodings must hold the same records"
        expected = decoded
        all_ms = median_seconds(lambda: read_all(path), repeat) * 1000
        day_ms = median_seconds(lambda: read_day(path), repeat) * 1000
        hour_ms = median_seconds(lambda: read_window(path, HOUR), repeat) * 1000
        size_mb = path.stat().st_size / 1e6
        label = ", ".join(plain) or "none"
        print(f"| {label} | {size_mb:.1f} | {write_s:.2f} | {all_ms:.1f} | {day_ms:.1f} | {hour_ms:.1f} |")
        by_encoding.append([label, round(size_mb, 1), round(write_s, 2), round(all_ms, 1), round(day_ms, 1), round(hour_ms, 1)])
    title = f"Columns written without a dictionary, {ROW_GROUP_SIZE:,}-row groups (the stream writes {', '.join(PLAIN_COLUMNS)} plain)"
    return results_table(title, columns, by_encoding)


def compare_pages(table: pa.Table, compression: str, repeat: int, folder: str) -> dict:
    """Rows per data page: what full scans pay for small pages, and one row's fetch (a results table)."""
    print(f"\n{ROW_GROUP_SIZE:,} rows/group: rows per data page (stream's choice {PAGE_ROWS:,})\n")
    columns = ["rows/page", "file MB", "day x all cols ms", "day x 3 cols ms", "1 row, group whole ms"]
    print("| " + " | ".join(columns) + " |")
    print("|---:|---:|---:|---:|---:|")
    by_page_size = []
    strings = [f.name for f in table.schema if pa.types.is_string(f.type) and f.name not in PLAIN_COLUMNS]
    rows = np.array([ROW_GROUP_SIZE // 2])
    for page_rows in (2_048, 4_096, 8_192, 16_384, ROW_GROUP_SIZE):
        path = Path(folder) / f"pages-{page_rows}.parquet"
        path.write_bytes(encode_parquet(table, compression=compression, page_rows=page_rows).to_pybytes())
        metadata = pq.ParquetFile(path).metadata

        def whole_group() -> pa.Table:
            return pq.ParquetFile(path, metadata=metadata, read_dictionary=strings).read_row_group(1).take(pa.array(rows))

        all_ms = median_seconds(lambda: read_all(path), repeat) * 1000
        day_ms = median_seconds(lambda: read_day(path), repeat) * 1000
        group_ms = median_seconds(whole_group, repeat * 3) * 1000
        size_mb = path.stat().st_size / 1e6
        print(f"| {page_rows:,} | {size_mb:.1f} | {all_ms:.1f} | {day_ms:.1f} | {group_ms:.2f} |")
        by_page_size.append([page_rows, round(size_mb, 1), round(all_ms, 1), round(day_ms, 1), round(group_ms, 2)])
    return results_table(f"Rows per data page, {ROW_GROUP_SIZE:,}-row groups (the stream writes {PAGE_ROWS:,})", columns, by_page_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--compression", default="zstd")
    args = parser.parse_args()

    table = to_record_table(demo_day("bench", DAY, args.rows)).sort_by(TIME)
    hour_rows = None
    print(f"{args.rows:,} rows, {args.compression}, median of {args.repeat} runs (warm page cache)\n")
    columns = ["rows/group", "groups", "file MB", "write s", "1 h: groups read", "1 h x 3 cols ms", "5 min x 3 cols ms",
               "day x 3 cols ms"]
    print("| " + " | ".join(columns) + " |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    by_size = []
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            path = Path(folder) / f"rg-{size}.parquet"
            started = time.perf_counter()
            path.write_bytes(encode_parquet(table, row_group_size=size, compression=args.compression).to_pybytes())
            write_s = time.perf_counter() - started
            groups = pq.ParquetFile(path).metadata.num_row_groups
            rows = read_window(path, HOUR).num_rows
            assert hour_rows in (None, rows), "every layout must return the same rows"
            hour_rows = rows
            touched = groups_touched(path, HOUR)
            hour_ms = median_seconds(lambda: read_window(path, HOUR), args.repeat) * 1000
            five_ms = median_seconds(lambda: read_window(path, FIVE_MINUTES), args.repeat) * 1000
            day_ms = median_seconds(lambda: read_day(path), args.repeat) * 1000
            size_mb = path.stat().st_size / 1e6
            print(
                f"| {size:,} | {groups} | {size_mb:.1f} | {write_s:.2f} | {touched} "
                f"| {hour_ms:.1f} | {five_ms:.1f} | {day_ms:.1f} |"
            )
            by_size.append([size, groups, round(size_mb, 1), round(write_s, 2), touched, round(hour_ms, 1), round(five_ms, 1),
                         round(day_ms, 1)])
        tables = [
            results_table(f"Row-group size (the stream writes {ROW_GROUP_SIZE:,})", columns, by_size),
            compare_dictionaries(table, args.compression, args.repeat, folder),
            compare_pages(table, args.compression, args.repeat, folder),
        ]
    print(f"\nrows in the hour: {hour_rows:,}")
    parameters = {"rows": args.rows, "repeat": args.repeat, "compression": args.compression}
    note = f"The busiest hour holds {hour_rows:,} rows."
    path = write_results("stream_rowgroup", title=TITLE, parameters=parameters, tables=tables, note=note)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
