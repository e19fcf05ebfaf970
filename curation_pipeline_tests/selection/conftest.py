"""Fixtures of the selection tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from curation_devtools.s3proxy import S3Proxy
from curation_pipeline.stream import log_records
from curation_pipeline_tests.selection.records import records
from curation_pipeline_tests.selection.s3_stream import FILE_ROWS


@pytest.fixture
def proxied_stream(aws_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, S3Proxy, dict[str, int]]]:
    """A store of FILE_ROWS files, the proxy its reads go through, and each file's size by key."""
    bucket = aws_env.make_bucket("reads")
    url = f"s3://{bucket}/curation"
    table = records(sum(FILE_ROWS), seed=8)
    start = 0
    for rows in FILE_ROWS:  # one log call per file, each a one-day batch
        log_records("app", table.slice(start, rows), url)
        start += rows
    listed = aws_env.client().list_objects_v2(Bucket=bucket, Prefix="curation/streams/app/date=")["Contents"]
    sizes = {f"{bucket}/{item['Key']}": item["Size"] for item in listed}
    assert len(sizes) == len(FILE_ROWS)
    with S3Proxy.start(aws_env.endpoint_url) as proxy:
        monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", proxy.endpoint_url)
        yield url, proxy, sizes
