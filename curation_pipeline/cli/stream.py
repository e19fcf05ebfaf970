"""``curation stream ...``: write a demo stream, log records from a file, inspect a stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curation_pipeline.cli.output import (
    CurationGroup,
    Failure,
    echo_fields,
    echo_json,
    failure,
)
from curation_pipeline.demo import demo_batch, write_demo_stream
from curation_pipeline.errors import CurationError, safe_cause
from curation_pipeline.fields import RECORD_ID
from curation_pipeline.location import resolve_location
from curation_pipeline.stream import (
    LogResult,
    list_applications,
    log_records,
    stream_stats,
)
from curation_pipeline.stream.layout import check_application, stream_dir
from curation_pipeline.stream.records import Records, to_record_table

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}

store_option = click.option(
    "--store", "store_url", metavar="URL", default=None,
    help="Store URL (path, file:// or s3://); default $CURATION_STORE_URL or ./.curation.",
)


@click.group("stream", cls=CurationGroup)
def stream() -> None:
    """Production streams: logged records by application and UTC day."""


@stream.command("demo")
@click.option("--application", default="demo", show_default=True)
@click.option("--days", type=click.IntRange(min=0), default=7, show_default=True)
@click.option("--rows-per-day", type=click.IntRange(min=0), default=100_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
    help="First day NOT written (UTC); default today, so only complete days are written.",
)
@store_option
def demo(application: str, days: int, rows_per_day: int, seed: int, end: datetime | None, store_url: str | None) -> None:
    """Write a deterministic demo stream (re-running replaces the same days)."""
    result = write_demo_stream(
        application, days=days, rows_per_day=rows_per_day,
        end=end.date() if end else None, seed=seed, store_url=store_url,
    )
    click.echo(_describe("Wrote demo stream:", result, store_url))


@stream.command("demo-batch")
@click.argument("application")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="UTC day of the records.")
@click.option("--rows", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--seed", type=click.IntRange(min=1), default=1, show_default=True,
              help="Another seed gives other records (seed 0 is the demo stream's own).")
def demo_batch_command(application: str, out: Path, day: datetime, rows: int, seed: int) -> None:
    """Write ROWS demo records of DAY to OUT (.jsonl, .csv or .parquet) for `curation stream log`.

    The records are new to the demo stream (their ids differ from its own):
    logging them into a day already curated is what late data looks like.
    """
    file_format = FORMATS.get(out.suffix.lower())
    if file_format is None:
        raise click.UsageError(f"cannot tell the format of {out.name}; name it .jsonl, .csv or .parquet")
    check_application(application)
    _write_table(demo_batch(application, day.date(), rows, seed), out, file_format)
    click.echo(f"Wrote {rows} demo records of {day:%Y-%m-%d} to {out}")


@stream.command("log")
@click.argument("application")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
              help="Input format; default from the file extension.")
@click.option("--batch-rows", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Rows read and written at a time.")
@store_option
def log(application: str, file: Path, file_format: str | None, batch_rows: int, store_url: str | None) -> None:
    """Append the records in FILE (JSON lines, CSV or Parquet) to APPLICATION's stream.

    Every batch is validated before the first one is written, so a bad row
    anywhere leaves the stream untouched. Ids are checked for duplicates
    within each batch only.
    """
    file_format = file_format or FORMATS.get(file.suffix.lower())
    if file_format is None:
        raise click.UsageError(f"cannot tell the format of {file.name}; pass --format jsonl|csv|parquet")
    check_application(application)  # before reading, so the message is about the name alone
    for offset, batch in _batches(file, file_format, batch_rows):
        with _located(file, offset):
            to_record_table(batch)
    results = []
    for offset, batch in _batches(file, file_format, batch_rows):
        with _located(file, offset):
            results.append(log_records(application, batch, store_url))
    click.echo(_describe(f"Logged {file}:", LogResult.combine(application, results), store_url))


@stream.command("stats")
@click.argument("application")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@store_option
def stats(application: str, as_json: bool, store_url: str | None) -> None:
    """Files, rows and newest record time of APPLICATION's stream (from Parquet footers)."""
    summary = stream_stats(application, store_url)
    if as_json:
        echo_json(summary.to_dict())
        return
    days = f"{summary.first_date} .. {summary.last_date}" if summary.first_date else "-"
    latest = summary.latest_time.isoformat() if summary.latest_time else "-"
    echo_fields(
        [
            ("application", summary.application),
            ("files", f"{summary.files:,}"),
            ("rows", f"{summary.rows:,}"),
            ("days", days),
            ("latest record", latest),
            ("location", _location(application, store_url)),
        ]
    )


@stream.command("list")
@store_option
def list_(store_url: str | None) -> None:
    """Applications with a stream in the store."""
    for name in list_applications(store_url):
        click.echo(name)


@contextmanager
def _located(file: Path, offset: int) -> Iterator[None]:
    # Row numbers in library messages count from the start of the batch.
    try:
        yield
    except CurationError as exc:
        where = f"{file}" if offset == 0 else f"{file}, batch starting at data row {offset}"
        raise failure(exc, where) from exc


def _write_table(table: pa.Table, out: Path, file_format: str) -> None:
    """``table`` as ``file_format``, in a form ``curation stream log`` reads back (times as ISO-8601 text)."""
    try:
        if file_format == "parquet":
            pq.write_table(table, out)
            return
        frame = table.to_pandas()
        if file_format == "csv":
            frame.to_csv(out, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
        else:
            frame.to_json(out, orient="records", lines=True, date_format="iso", date_unit="us")
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc}") from safe_cause(exc)


def _batches(file: Path, file_format: str, batch_rows: int) -> Iterator[tuple[int, Records]]:
    """``(first row number, batch)`` pairs; one batch in memory at a time."""
    readers = {"jsonl": _jsonl_batches, "csv": _csv_batches, "parquet": _parquet_batches}
    offset = 0
    try:
        for batch in readers[file_format](file, batch_rows):
            yield offset, batch
            offset += len(batch)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as exc:
        if isinstance(exc, CurationError):
            raise
        raise Failure(f"cannot read {file} as {file_format}: {exc}") from safe_cause(exc)


def _jsonl_batches(file: Path, batch_rows: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise Failure(f"{file} line {number}: invalid JSON: {exc}") from None
            if not isinstance(record, dict):
                raise Failure(f"{file} line {number}: expected a JSON object")
            batch.append(record)
            if len(batch) == batch_rows:
                yield batch
                batch = []
    if batch:
        yield batch


def _csv_batches(file: Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    # Ids stay text even when they look like numbers.
    with pd.read_csv(file, chunksize=batch_rows, dtype={RECORD_ID: str}) as chunks:
        yield from chunks


def _parquet_batches(file: Path, batch_rows: int) -> Iterator[pa.Table]:
    for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_rows):
        yield pa.Table.from_batches([batch])


def _describe(title: str, result: LogResult, store_url: str | None) -> str:
    if not result.rows:
        return f"{title} no records, nothing written."
    return (
        f"{title} {result.rows:,} rows in {len(result.files):,} files for '{result.application}', "
        f"__time {result.first_time.isoformat()} .. {result.last_time.isoformat()}\n"
        f"under {_location(result.application, store_url)}"
    )


def _location(application: str, store_url: str | None) -> str:
    where = resolve_location(store_url)
    return where.uri(stream_dir(where.root, application))
