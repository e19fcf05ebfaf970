"""The benchmarks' machinery: the performance page is current, the selection benchmark's data layouts,
memory cap and disk check work, and the S3 proxy delays and counts requests. None runs a benchmark."""

from __future__ import annotations

import itertools
import sys
import textwrap
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import memory_cap
import report
import selection_bench
import selection_data


def test_performance_page_is_rendered_from_the_current_results() -> None:
    assert report.main(["--check"]) == 0


@pytest.mark.parametrize("layout", selection_data.LAYOUTS)
@pytest.mark.parametrize("rows", [1_000, 2_500_003, 100_000_000, 1_000_000_000])
def test_layout_files_hold_every_row_once(layout: str, rows: int) -> None:
    specs = selection_data.file_specs(layout, rows)
    assert sum(spec.rows for spec in specs) == rows
    ids = sorted((spec.first_id, spec.first_id + spec.rows) for spec in specs)
    assert ids[0][0] == 0 and ids[-1][1] == rows
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(ids))  # no gap, no overlap
    assert len({spec.name for spec in specs}) == len(specs)
    assert all(0 <= spec.lower < spec.upper <= 1 for spec in specs)


def test_layout_shapes() -> None:
    rows = 100_000_000
    ours = selection_data.file_specs("ours", rows)
    assert len(ours) == 100 and all(a.upper == b.lower for a, b in itertools.pairwise(ours))  # time order
    overlap = selection_data.file_specs("overlap", rows)
    assert len(overlap) == 100 and sum(spec.lower == 0 for spec in overlap) == selection_data.WRITERS
    assert len(selection_data.file_specs("small", rows)) == selection_data.MINUTES
    foreign = selection_data.file_specs("foreign", rows)
    assert all(spec.rows <= selection_data.FOREIGN_ROWS_PER_FILE for spec in foreign) and len(foreign) == 16


def test_small_day_is_generated_with_distinct_ids_in_its_window(tmp_path: Path) -> None:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    selection_data.ensure_day(tmp_path, "overlap", 2_000)
    table = ds.dataset(str(selection_data.day_dir(tmp_path, "overlap", 2_000))).to_table()
    assert table.num_rows == 2_000 and pc.count_distinct(table["record_id"]).as_py() == 2_000
    times = pc.min_max(table["__time"]).as_py()
    assert selection_bench.START <= times["min"] and times["max"] < selection_bench.END
    assert selection_data.is_complete(tmp_path, "overlap", 2_000)


def test_every_engine_child_spills_to_a_folder_of_its_own_removed_however_it_ends(tmp_path: Path) -> None:
    selection_data.ensure_day(tmp_path, "ours", 2_000)
    case = selection_bench.Case("ours", 2_000, "local", str(selection_data.store_dir(tmp_path, "ours", 2_000)))
    finished = selection_bench.parse_args(["--data-dir", str(tmp_path), "--repeats", "1", "--timeout", "60"])
    figures = selection_bench.measure("duckdb", case, "uniform", 10, finished, None)
    assert (figures.status, figures.rows) == ("ok", 10)
    killed = selection_bench.parse_args(["--data-dir", str(tmp_path), "--repeats", "1", "--timeout", "0.05"])
    assert selection_bench.measure("duckdb", case, "strat_prop", 10, killed, None).status == "timed out (0.05 s)"
    assert not list(tmp_path.glob("*-spill-*"))


def test_a_size_that_does_not_fit_the_disk_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    selection_bench.main(
        ["--large", "--layouts", "ours,foreign", "--data-dir", str(tmp_path), "--assume-free-bytes", "1000"]
    )
    out = capsys.readouterr().out
    assert "skipping ours at 1,000,000,000 rows: it needs about 14.5 GB" in out
    assert "skipping foreign at 10,000,000 rows" in out
    assert "nothing to measure" in out
    assert not any(tmp_path.iterdir())


def test_a_child_over_the_memory_cap_is_killed_and_reported() -> None:
    hog = "import time; block = b'x' * (600 * 2**20); time.sleep(30)"  # touched pages, unlike bytearray(n)
    started = time.monotonic()
    outcome = memory_cap.run_capped([sys.executable, "-c", hog], cap_bytes=2**28, timeout=60)
    assert outcome.status == "over 0.25 GiB" and outcome.result is None
    assert outcome.peak_anon_mb > 256 and time.monotonic() - started < 20


def test_a_child_within_the_cap_reports_its_result_and_marks() -> None:
    script = textwrap.dedent(
        f"""
        import sys; sys.path.insert(0, {str(BENCHMARKS)!r})
        import memory_cap
        memory_cap.mark(); memory_cap.mark()
        print('{{"ms": 1.5}}')
        """
    )
    counter = iter(range(10))
    outcome = memory_cap.run_capped(
        [sys.executable, "-c", script], cap_bytes=2**30, timeout=60, on_mark=lambda: next(counter)
    )
    assert (outcome.status, outcome.result, outcome.marks) == ("ok", {"ms": 1.5}, [0, 1])


def test_a_failing_child_is_reported_with_its_reason() -> None:
    outcome = memory_cap.run_capped([sys.executable, "-c", "raise SystemExit('no such file')"], cap_bytes=2**30, timeout=60)
    assert outcome.status == "failed: no such file"


def test_s3_proxy_adds_latency_and_counts_traffic(moto_server) -> None:  # type: ignore[no-untyped-def]
    from curation_devtools.s3proxy import S3Proxy

    bucket = moto_server.make_bucket("proxy")
    moto_server.client().put_object(Bucket=bucket, Key="blob", Body=b"x" * 1000)
    with S3Proxy.start(moto_server.endpoint_url, latency=0.05) as proxy:
        import boto3

        client = boto3.client(
            "s3", endpoint_url=proxy.endpoint_url, region_name=moto_server.region,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        before = proxy.traffic()
        started = time.perf_counter()
        assert client.get_object(Bucket=bucket, Key="blob", Range="bytes=0-99")["Body"].read() == b"x" * 100
        client.head_object(Bucket=bucket, Key="blob")
        elapsed = time.perf_counter() - started
        traffic = proxy.traffic() - before
    assert elapsed >= 0.1
    assert (traffic.requests, traffic.bytes_in, traffic.bytes_out) == (2, 0, 100)


def test_results_rows_show_failures_ratios_and_growth_against_10m() -> None:
    Case, Figures = selection_bench.Case, selection_bench.Figures
    base = Case("ours", 10_000_000, "s3", "s3://b/ours-rows-10000000")
    big = Case("ours", 100_000_000, "s3", "s3://b/ours-rows-100000000")
    measured = {
        ("uniform", 100, base): {
            "ours": Figures("ok", 100.0, 200.0, 100, 40, 14.5),
            "polars": Figures("ok", 50.0, 300.0, 100, 20, 15.0),
        },
        ("uniform", 100, big): {"ours": Figures("ok", 1200.0, 210.0, 100, 400, 145.0), "polars": Figures("over 2 GiB")},
    }
    growth = selection_bench.growth_vs_base(measured)
    assert growth == {("uniform", 100, base): 1.0, ("uniform", 100, big): 12.0}
    key = ("uniform", 100, big)
    row = selection_bench.results_row("uniform", 100, big, measured[key], growth[key], True)
    # rule, k, rows, layout, location; ms; ratio (no peer completed), growth; MB; requests; MB read; selected
    assert row == [
        "uniform", 100, 100_000_000, "ours", "S3", 1200, "over 2 GiB", None, 12.0, 210, None, 400, None, 145.0, None,
        "100/-",
    ]
    assert len(row) == len(selection_bench.columns(["ours", "polars"], True))


def _merge_run(label: str) -> dict[str, object]:
    return {"date": f"2026-11-2{label}", "commit": f"{label}" * 40, "command": f"bench {label}", "note": ""}


def test_a_merged_run_replaces_its_own_rows_keeps_the_others_and_names_each_rows_run() -> None:
    import selection_merge

    local = selection_bench.columns(["ours", "polars"], False)
    wide = selection_bench.columns(["ours", "polars"], True)
    first = [
        ["uniform", 100, 10_000_000, "ours", "local", 100, 50, 2.0, 1.0, 200, 300, "100/100"],
        ["uniform", 100, 100_000_000, "ours", "local", 1500, 400, 3.75, 15.0, 210, 900, "100/100"],
        ["newest", 100, 10_000_000, "foreign", "local", 80, 40, 2.0, 1.0, 200, 300, "100/100"],
    ]
    columns, rows, runs = selection_merge.merge(None, local, first, _merge_run("1"), 10_000_000)
    previous = {"tables": [{"columns": columns, "rows": rows}], "runs": runs}
    # A later run measures 100M again (now 1,200 ms) and adds S3 rows: the S3 columns join the table.
    second = [
        ["uniform", 100, 100_000_000, "ours", "local", 1200, 400, 3.0, None, 205, 900, None, None, None, None, "100/100"],
        ["uniform", 100, 10_000_000, "ours", "S3", 300, 200, 1.5, None, 220, 310, 40, 18, 2.0, 1.5, "100/100"],
    ]
    columns, rows, runs = selection_merge.merge(previous, wide, second, _merge_run("2"), 10_000_000)
    assert columns == [*wide, "run"]
    by_key = {tuple(row[:5]): dict(zip(columns, row)) for row in rows}
    assert len(rows) == 4
    replaced = by_key[("uniform", 100, 100_000_000, "ours", "local")]
    assert (replaced["ours ms"], replaced["run"], replaced["ours time / at 10M"]) == (1200, "B", 12.0)
    kept = by_key[("newest", 100, 10_000_000, "foreign", "local")]
    assert (kept["ours ms"], kept["run"], kept["ours requests"]) == (80, "A", None)
    assert by_key[("uniform", 100, 10_000_000, "ours", "S3")]["ours requests"] == 40
    assert [run["label"] for run in runs] == ["A", "B"] and runs[1]["command"] == "bench 2"
    # Local rows first, then sizes of one rule side by side.
    assert [tuple(row[:5]) for row in rows][:2] == [
        ("uniform", 100, 10_000_000, "ours", "local"), ("uniform", 100, 100_000_000, "ours", "local"),
    ]
    assert "Run A: 2026-11-21, commit `111111111111`, `bench 1`." in selection_merge.describe(runs)


def test_a_run_whose_rows_are_all_replaced_leaves_the_notes_and_other_engines_are_refused() -> None:
    import selection_merge

    local = selection_bench.columns(["ours", "polars"], False)
    row = ["uniform", 100, 10_000_000, "ours", "local", 100, 50, 2.0, 1.0, 200, 300, "100/100"]
    columns, rows, runs = selection_merge.merge(None, local, [row], _merge_run("1"), 10_000_000)
    previous = {"tables": [{"columns": columns, "rows": rows}], "runs": runs}
    columns, rows, runs = selection_merge.merge(previous, local, [row], _merge_run("2"), 10_000_000)
    assert [run["command"] for run in runs] == ["bench 2"] and rows[0][-1] == "A"
    other = selection_bench.columns(["ours", "duckdb"], False)
    with pytest.raises(selection_merge.MergeError, match="compares ours ms, polars ms, this run ours ms, DuckDB ms"):
        selection_merge.merge(previous, other, [row], _merge_run("3"), 10_000_000)


def test_a_failure_is_named_by_the_exception_not_the_advice_printed_after_it() -> None:
    stderr = [
        "Traceback (most recent call last):",
        '  File "bench.py", line 3, in <module>',
        "_duckdb.OutOfMemoryException: Out of Memory Error: failed to allocate 78.1 KiB",
        "",
        "Possible solutions:",
        "See also https://duckdb.org/docs/current/guides/performance/how_to_tune_workloads",
    ]
    assert memory_cap._reason(stderr, 1) == "_duckdb.OutOfMemoryException: Out of Memory Error: failed to allocate 78.1 KiB"
    assert memory_cap._reason(["killed by a signal"], 9) == "killed by a signal"
    assert memory_cap._reason([], 9) == "exit code 9"
