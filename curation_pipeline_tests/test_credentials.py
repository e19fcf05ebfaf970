"""No credential reaches any output: a hostile corpus of URLs through every layer.

Credentials planted in store URLs (userinfo, a password holding '/', encoded),
in S3 endpoint URLs, and in presigned query strings go through location,
stream, store, CLI and Dagster entry points. Whatever happens (refusal or
storage error), no secret may appear in the exception (message, repr, every
chained cause or context a traceback prints), in stdout/stderr, or in any log
record (captured at DEBUG from every logger).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import dagster as dg
import pytest
from click.testing import CliRunner

from curation_pipeline.cli import main
from curation_pipeline.defs.factory import build_curator_defs
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.errors import CurationError, redact, safe_cause
from curation_pipeline.location import Location, resolve_location
from curation_pipeline.store import DatasetStore
from curation_pipeline.stream import StreamStorageError, list_applications, log_records, read_window, stream_stats
from curation_pipeline.stream.filesystems import storage_errors
from curation_pipeline_tests.defs.conftest import uniform_curator

KEY = "AKIAIOSFODNN7EXAMPLE"
SECRETS = ("wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETVALUE", "SECRETSIGNATURE0123", "SECRETTOKEN4567", "pa55w0rdSECRET", KEY)
SECRET = SECRETS[0]

STORE_URLS = [
    f"s3://{KEY}:{SECRET}@bucket/prefix",
    f"s3://{KEY}:{SECRET[:10]}%2F{SECRET[10:]}@bucket",
    f"s3://{KEY}:{SECRET[:10]}/{SECRET[10:]}@bucket/p",
    f"s3://user:{SECRETS[3]}@bucket",
    f"file://{KEY}:{SECRET}@localhost/tmp/x",
    f"https://bucket.s3.amazonaws.com/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={KEY}%2F20240101"
    f"&X-Amz-Signature={SECRETS[1]}&X-Amz-Security-Token={SECRETS[2]}",
    f"http://{KEY}:{SECRET}@127.0.0.1:9/bucket",
    f"s3://bucket/prefix?X-Amz-Signature={SECRETS[1]}",
    f"{KEY}:{SECRET}@bucket/p",
    f"gs://bucket/p?password={SECRETS[3]}",
]
ENDPOINTS = [
    f"http://{KEY}:{SECRET}@127.0.0.1:9",
    f"{KEY}:{SECRET}@127.0.0.1:9",
    f"http://127.0.0.1:9/?X-Amz-Signature={SECRETS[1]}",
    f"https://s3.example.com?X-Amz-Credential={KEY}&X-Amz-Security-Token={SECRETS[2]}",
]
T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def exception_text(error: BaseException) -> str:
    """Everything a traceback of ``error`` shows: messages, reprs, every cause and context printed."""
    parts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(getattr(current, "args", ()))]
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n".join(parts)


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of every logger (botocore, pyarrow, dagster...) at DEBUG."""
    with caplog.at_level(logging.DEBUG):
        yield caplog


def assert_nothing_leaks(action: Callable[[], object], logged: pytest.LogCaptureFixture) -> BaseException | None:
    error = None
    try:
        shown = action()
    except BaseException as exc:  # noqa: BLE001 - any failure must be clean
        error, shown = exc, None
    texts = [repr(shown), exception_text(error) if error else "", logged.text]
    texts += [f"{r.getMessage()} {r.args!r}" for r in logged.records]
    found = [secret for text in texts for secret in leaks(text)]
    assert not found, f"leaked {found} via {error!r}"
    return error


def with_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# -- the library layers ----------------------------------------------------------------

LIBRARY_CALLS = {
    "resolve_location": lambda url: resolve_location(url),
    "log_records": lambda url: log_records("app", [{"__time": T0}], url),
    "read_window": lambda url: read_window("app", T0, T0, url),
    "stream_stats": lambda url: stream_stats("app", url),
    "list_applications": lambda url: list_applications(url),
    "DatasetStore.open": lambda url: DatasetStore.open(url).list_datasets(),
    "CurationStore": lambda url: CurationStore(store_url=url).open(),
}


@pytest.mark.parametrize("call", sorted(LIBRARY_CALLS))
@pytest.mark.parametrize("url", STORE_URLS)
def test_store_urls_with_secrets_never_leak_from_the_libraries(url, call, everything_logged):
    error = assert_nothing_leaks(lambda: LIBRARY_CALLS[call](url), everything_logged)
    assert isinstance(error, CurationError), error


@pytest.mark.parametrize("call", ["resolve_location", "read_window", "log_records", "DatasetStore.open"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoints_with_secrets_never_leak_from_the_libraries(endpoint, call, everything_logged, monkeypatch):
    with_endpoint(monkeypatch, endpoint)
    error = assert_nothing_leaks(lambda: LIBRARY_CALLS[call]("s3://bucket/prefix"), everything_logged)
    assert isinstance(error, CurationError), error


def test_an_endpoint_with_secrets_is_refused_and_a_location_repr_is_clean(everything_logged):
    for endpoint in ENDPOINTS:
        assert_nothing_leaks(lambda: resolve_location("s3://bucket", endpoint_url=endpoint), everything_logged)
    planted = Location("s3://bucket", bucket="bucket", endpoint_url=ENDPOINTS[0], client=object())
    assert not leaks(repr(planted)) and "***@127.0.0.1" in repr(planted)


def test_chained_storage_errors_keep_no_secret_in_message_or_cause(everything_logged):
    raw = OSError(f"When connecting to http://{KEY}:{SECRET}@host/b?X-Amz-Signature={SECRETS[1]}: timeout")

    def fail() -> None:
        with storage_errors("cannot read s3://bucket/x"):
            raise raw

    error = assert_nothing_leaks(fail, everything_logged)
    assert isinstance(error, StreamStorageError)
    assert error.__cause__ is None and "timeout" in str(error) and "***@host" in str(error)
    clean = OSError("connection refused")
    assert safe_cause(clean) is clean


@pytest.mark.parametrize(
    "text, shown",
    [
        (f"s3://{KEY}:{SECRET}@bucket/p", "s3://***@bucket/p"),
        (f"s3://k:{SECRET[:5]}/{SECRET[5:]}@bucket", "s3://***@bucket"),
        (f"endpoint {KEY}:{SECRET}@127.0.0.1:9 failed", "endpoint ***@127.0.0.1:9 failed"),
        (f"?X-Amz-Credential={KEY}%2Fx&X-Amz-Signature={SECRETS[1]}", "?X-Amz-Credential=***&X-Amz-Signature=***"),
        (f"Authorization: AWS4-HMAC-SHA256 Credential={KEY}/x, Signature={SECRETS[1]}", "Authorization: AWS4-HMAC-SHA256 Credential=***, Signature=***"),
        (f"key {KEY} used", "key *** used"),
        ("s3://bucket/prefix/date=2024-03-01/part-1.parquet (no secret)", "s3://bucket/prefix/date=2024-03-01/part-1.parquet (no secret)"),
        ("mail ada@example.com, path /tmp/a:b", "mail ada@example.com, path /tmp/a:b"),
    ],
)
def test_redact_masks_secrets_and_keeps_the_rest(text, shown):
    assert redact(text) == shown
    assert redact(redact(text)) == shown


# -- the command line ----------------------------------------------------------------

CLI_COMMANDS = [
    ["stream", "stats", "app", "--store", "{url}"],
    ["stream", "list", "--store", "{url}"],
    ["stream", "demo", "--days", "1", "--rows-per-day", "10", "--store", "{url}"],
    ["datasets", "--store", "{url}", "list"],
]


@pytest.mark.parametrize("command", CLI_COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("url", STORE_URLS)
def test_the_cli_never_prints_a_secret(url, command, everything_logged):
    args = [part.replace("{url}", url) for part in command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert not leaks(result.output) and not leaks(result.stderr)
    assert not leaks(exception_text(result.exception)) if result.exception else True
    assert not leaks(everything_logged.text)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_cli_never_prints_a_secret_endpoint(endpoint, monkeypatch, everything_logged):
    with_endpoint(monkeypatch, endpoint)
    for args in (["stream", "stats", "app", "--store", "s3://bucket/p"], ["datasets", "--store", "s3://bucket/p", "list"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code != 0 and "credentials" in result.stderr
        assert not leaks(result.output) and not leaks(result.stderr) and not leaks(everything_logged.text)


# -- Dagster -------------------------------------------------------------------------


@pytest.mark.parametrize("url", [STORE_URLS[0], STORE_URLS[2], STORE_URLS[5]])
def test_a_dagster_run_never_shows_a_secret(url, everything_logged):
    instance = dg.DagsterInstance.ephemeral()
    curator = uniform_curator()
    result = dg.materialize(
        build_curator_defs(curator).assets,
        instance=instance,
        resources={"store": CurationStore(store_url=url)},
        partition_key="2026-01-02",
        raise_on_error=False,
    )
    assert not result.success
    logs = instance.all_logs(result.run_id)
    texts = [repr(entry) for entry in logs] + [everything_logged.text]
    assert not [secret for text in texts for secret in leaks(text)]


@pytest.mark.parametrize("hostile", ["a://" * 500_000, "k:" * 1_000_000, "@" * 2_000_000, "word " * 2_000_000])
def test_redact_stays_linear_and_cuts_huge_messages_at_a_token(hostile):
    import time

    from curation_pipeline.errors import MAX_REDACTED_CHARS

    started = time.perf_counter()
    shown = redact(hostile)
    assert time.perf_counter() - started < 2.0
    assert len(shown) < MAX_REDACTED_CHARS + 100 and "more characters not shown" in shown
    straddling = " " * (MAX_REDACTED_CHARS - 20) + f"s3://{KEY}:{SECRET}@bucket tail"
    assert not leaks(redact(straddling))
