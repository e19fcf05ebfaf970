"""The floor under the selection engine: pyarrow's own time to decode the columns a rule must read.

The engine chooses rows from the columns a rule reads (the confidence of an
ordered or bounded rule, the label of an equality or stratified one) and
decodes them with pyarrow, row group by row group, on its pool of threads.
Whatever the engine does with those values afterwards, it cannot be faster
than decoding them: this benchmark measures that decode alone, for each
column, on the selection benchmark's days (``selection_data.py``), with the
engine's own reads (``pq.ParquetFile.read_row_group`` per group on
``workers()`` threads; labels as dictionaries, as the engine reads them) and
the same thread count; and every column, what returning full records costs
when the winners are dense enough to sit in every page. Set beside the fastest peer's time for the whole query
(``docs/performance.md``, selection table), it bounds what a pyarrow-decoding
engine can reach on that rule: where the floor is above the peer's time, the
peer wins by not decoding every value (predicates evaluated inside its
reader, values skipped page by page).

Run: ``.venv/bin/python benchmarks/selection_floor.py --sizes 10000000,100000000 --layouts all``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

import selection_data as data
from results_io import table, write_results

ALL = "every column"
# The column each family of rules must decode in full (newest prunes by statistics; uniform reads none).
COLUMNS = {
    "outputs.confidence": "top confidence, bounded range",
    "outputs.label": "equality, stratified",
    "record_id": "ties of ordered rules (tied rows only); shown for scale",
    # Full records: when winners are dense enough to sit in every page (k=10,000 of 100M rows: about
    # one in each 8,192-row page), whoever returns them decodes every page of every column.
    ALL: "fetching k full records when every page holds a winner",
}


def decode(files: list[Path], column: str) -> tuple[float, float]:
    """Wall and CPU seconds to decode ``column`` of every row group of ``files`` on the engine's pool."""
    from curation_pipeline.selection.scan import ordered_map

    dictionary = [column] if column == "outputs.label" else None
    columns = None if column == ALL else [column]
    groups = []
    for path in files:
        metadata = pq.read_metadata(path)
        groups += [(path, metadata, i) for i in range(metadata.num_row_groups)]

    def read(group: tuple[Path, pq.FileMetaData, int]) -> int:
        path, metadata, index = group
        reader = pq.ParquetFile(path, metadata=metadata, read_dictionary=dictionary)
        return reader.read_row_group(index, columns=columns, use_threads=False).num_rows

    cpu = _cpu()
    started = time.perf_counter()
    rows = sum(ordered_map(read, groups))
    wall = time.perf_counter() - started
    if rows == 0:
        raise SystemExit(f"no rows in {files[0].parent}")
    return wall, _cpu() - cpu


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000000", help="comma-separated row counts (days already generated)")
    parser.add_argument("--layouts", default="ours", help=f"comma-separated, of {','.join(data.LAYOUTS)}, or all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "curation_selection_bench")
    args = parser.parse_args(argv)
    layouts = data.LAYOUTS if args.layouts == "all" else tuple(args.layouts.split(","))
    rows_out = []
    for rows in [int(size) for size in args.sizes.split(",")]:
        for layout in layouts:
            if not data.is_complete(args.data_dir, layout, rows):
                print(f"skipping {layout} at {rows:,} rows: not generated (run selection_bench.py for it first)")
                continue
            files = sorted(data.day_dir(args.data_dir, layout, rows).glob("*.parquet"))
            for column, rules in COLUMNS.items():
                decode(files, column)  # warm-up: page cache, allocator
                runs = [decode(files, column) for _ in range(args.repeats)]
                wall = statistics.median(run[0] for run in runs) * 1000
                cpu = statistics.median(run[1] for run in runs) * 1000
                print(f"{layout:<8} {rows:>13,} {column:<20} {wall:>8.0f} ms wall {cpu:>8.0f} ms CPU", flush=True)
                rows_out.append([column, rules, rows, layout, round(wall), round(cpu)])
    title = "Median ms to decode one column of every row group of the day with pyarrow, on the engine's threads"
    columns = ["column", "read by", "rows", "layout", "wall ms", "CPU ms"]
    parameters = {"sizes": args.sizes, "layouts": ", ".join(layouts), "repeats": args.repeats}
    path = write_results(
        "selection_floor", title="Selection floor: pyarrow's decode of a rule's column", parameters=parameters,
        tables=[table(title, columns, rows_out)],
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
