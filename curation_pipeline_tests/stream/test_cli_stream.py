from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curation_pipeline.cli import main
from curation_pipeline.stream import read_window, stream_stats
from curation_pipeline_tests.stream.conftest import stored_files

WINDOW = (datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 2, 1, tzinfo=timezone.utc))
RECORDS = [
    {"record_id": "a", "__time": "2024-01-01T10:00:00Z", "inputs.text": "hello", "outputs.label": "x"},
    {"record_id": "b", "__time": "2024-01-02T11:00:00+01:00", "inputs.text": "bye", "outputs.label": "y"},
    {"record_id": "c", "__time": "2024-01-02T12:00:00Z", "inputs.text": "again", "outputs.label": "x"},
]


def run(*args: str):
    return CliRunner().invoke(main, ["stream", *args], catch_exceptions=False)


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_demo_and_stats(local_store):
    result = run("demo", "--application", "shop", "--days", "2", "--rows-per-day", "300", "--end", "2024-01-10", "--store", local_store)

    assert result.exit_code == 0, result.output
    assert "600 rows in 2 files for 'shop'" in result.output
    assert "2024-01-08T" in result.output and "streams/shop" in result.output

    stats = run("stats", "shop", "--store", local_store)
    assert stats.exit_code == 0
    assert "rows           600" in stats.output
    assert "2024-01-08 .. 2024-01-09" in stats.output

    as_json = json.loads(run("stats", "shop", "--json", "--store", local_store).output)
    assert as_json["files"] == 2 and as_json["last_date"] == "2024-01-09"

    assert run("list", "--store", local_store).output == "shop\n"


def test_store_defaults_to_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_STORE_URL", str(tmp_path / "env-store"))
    assert run("demo", "--days", "1", "--rows-per-day", "5", "--end", "2024-01-02").exit_code == 0
    assert stored_files(str(tmp_path / "env-store")) == ["streams/demo/date=2024-01-01/demo-2024-01-01.parquet"]


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_log_each_format(tmp_path, local_store, kind):
    if kind == "jsonl":
        source = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    elif kind == "csv":
        source = str(tmp_path / "in.csv")
        pd.DataFrame(RECORDS).to_csv(source, index=False)
    else:
        source = str(tmp_path / "in.parquet")
        pq.write_table(pa.Table.from_pylist(RECORDS), source)

    result = run("log", "app", source, "--store", local_store, "--batch-rows", "2")

    assert result.exit_code == 0, result.output
    assert "3 rows in 3 files for 'app'" in result.output
    assert "2024-01-01T10:00:00+00:00 .. 2024-01-02T12:00:00+00:00" in result.output
    table = read_window("app", *WINDOW, local_store).to_table().sort_by("__time")
    assert table.column("record_id").to_pylist() == ["a", "b", "c"]


def test_csv_ids_stay_text(tmp_path, local_store):
    source = tmp_path / "ids.csv"
    source.write_text("record_id,__time,inputs.x\n007,2024-01-01T00:00:00Z,1\n")
    assert run("log", "app", str(source), "--store", local_store).exit_code == 0
    assert read_window("app", *WINDOW, local_store).to_table().column("record_id").to_pylist() == ["007"]


def test_format_option_overrides_extension(tmp_path, local_store):
    source = write_jsonl(tmp_path / "records.txt", RECORDS)
    assert run("log", "app", source, "--store", local_store).exit_code == 2
    assert run("log", "app", source, "--format", "jsonl", "--store", local_store).exit_code == 0


def test_bad_row_in_a_later_batch_writes_nothing(tmp_path, local_store):
    rows = RECORDS + [{"record_id": "d", "__time": "not a time"}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)

    result = run("log", "app", source, "--store", local_store, "--batch-rows", "2")

    assert result.exit_code == 1
    assert "batch starting at data row 2" in result.output
    assert "'not a time' at row 1 is not an ISO-8601 timestamp" in result.output
    assert stored_files(local_store) == []


def test_invalid_json_names_the_line(tmp_path, local_store):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(RECORDS[0]) + "\n{oops\n")

    result = run("log", "app", str(source), "--store", local_store)

    assert result.exit_code == 1
    assert "line 2: invalid JSON" in result.output
    assert stored_files(local_store) == []


def test_stream_errors_become_one_line_and_exit_1(tmp_path, local_store):
    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)

    result = run("log", "Bad/Name", source, "--store", local_store)

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: invalid application name 'Bad/Name': must be 1 to 255 characters of text without control characters, '/', '\\' or surrounding blanks"
    ]
    assert run("stats", "app", "--store", "gs://bucket").output.startswith("Error: store URL 'gs://bucket'")


def test_log_and_stats_on_s3(tmp_path, aws_env):
    store = f"s3://{aws_env.make_bucket('cli')}/prefix"
    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)

    result = run("log", "app", source, "--store", store)

    assert result.exit_code == 0, result.output
    assert f"under {store}/streams/app" in result.output
    assert stream_stats("app", store).rows == 3
    assert "rows           3" in run("stats", "app", "--store", store).output


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_demo_batch_writes_records_new_to_the_demo_stream_that_log_accepts(tmp_path, local_store, suffix):
    assert run("demo", "--days", "1", "--rows-per-day", "50", "--end", "2026-03-02", "--store", local_store).exit_code == 0
    out = tmp_path / f"late{suffix}"
    made = run("demo-batch", "demo", str(out), "--day", "2026-03-01", "--rows", "30", "--seed", "3")
    assert made.exit_code == 0 and "Wrote 30 demo records of 2026-03-01" in made.output
    assert run("log", "demo", str(out), "--store", local_store).exit_code == 0
    table = read_window("demo", datetime(2026, 3, 1), datetime(2026, 3, 2), local_store).to_table()
    ids = table.column("record_id").to_pylist()
    assert len(ids) == len(set(ids)) == 80
    assert sum(i.startswith("demo-b3-20260301-") for i in ids) == 30


def test_demo_batch_refuses_an_unknown_format_and_the_streams_own_seed(tmp_path):
    bad = run("demo-batch", "demo", str(tmp_path / "late.txt"), "--day", "2026-03-01")
    assert bad.exit_code == 2 and "cannot tell the format of late.txt" in bad.output
    assert run("demo-batch", "demo", str(tmp_path / "late.jsonl"), "--day", "2026-03-01", "--seed", "0").exit_code == 2
