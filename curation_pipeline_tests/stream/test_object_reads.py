"""A stream file's bytes from S3 by ranged GETs, without a request asking its size (against moto, through a proxy)."""

from __future__ import annotations

import os

import pytest

from curation_devtools.s3proxy import S3Proxy
from curation_pipeline.stream import StreamStorageError
from curation_pipeline.stream.filesystems import open_store
from curation_pipeline_tests.conftest import FAKE_CREDENTIALS

DATA = os.urandom(250_000)


@pytest.fixture
def proxied(aws_env, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A bucket holding ``DATA`` at ``obj``, the store's reads going through a recording proxy."""
    bucket = aws_env.make_bucket("chunks")
    aws_env.client().put_object(Bucket=bucket, Key="obj", Body=DATA)
    with S3Proxy.start(aws_env.endpoint_url) as proxy:
        monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", proxy.endpoint_url)
        yield open_store(f"s3://{bucket}"), f"{bucket}/obj", proxy


@pytest.mark.parametrize("chunk", [100_000, 125_000, 250_000, 1 << 20])
def test_the_chunks_are_the_objects_bytes_a_get_each_and_no_size_asked(proxied, chunk: int) -> None:
    store, path, proxy = proxied
    assert store.reads is not None
    chunks = list(store.reads.chunks(path, chunk))
    assert b"".join(chunks) == DATA
    assert [len(c) for c in chunks] == [min(chunk, len(DATA) - start) for start in range(0, len(DATA), chunk)]
    ranges = [byte_range for method, _, byte_range in proxy.ranged_requests if method == "GET"]
    assert len(proxy.requests) == len(ranges) == len(chunks)  # no HEAD: the first answer tells the length
    # The first range may reach past the end (the length is not known yet); the others stop at the last byte.
    expected = [f"bytes=0-{chunk - 1}"] + [
        f"bytes={start}-{min(start + chunk, len(DATA)) - 1}" for start in range(chunk, len(DATA), chunk)
    ]
    assert ranges == expected


def test_a_missing_object_names_it_and_the_status_and_no_credential(proxied) -> None:
    store, path, _ = proxied
    with pytest.raises(StreamStorageError, match=r"cannot read s3://chunks-\w+/gone: S3 GET failed \(404 NoSuchKey\)") as error:
        list(store.reads.chunks(path.replace("obj", "gone"), 100_000))
    assert FAKE_CREDENTIALS["aws_secret_access_key"] not in str(error.value)
    assert FAKE_CREDENTIALS["aws_secret_access_key"] not in str(error.value.__cause__)


def test_an_object_replaced_while_it_is_read_is_an_error_not_a_mix(proxied, aws_env) -> None:
    store, path, _ = proxied
    bucket, _, key = path.partition("/")
    chunks = store.reads.chunks(path, 100_000)
    first = next(chunks)
    aws_env.client().put_object(Bucket=bucket, Key=key, Body=os.urandom(len(DATA)))  # the same length, other bytes
    with pytest.raises(StreamStorageError, match=r"cannot read s3://chunks-\w+/obj: it changed while it was read"):
        next(chunks)
    assert first == DATA[:100_000]


@pytest.mark.parametrize("kinds", [["error", "reset"], ["cut"]])
def test_failed_requests_and_bodies_cut_short_are_asked_again(aws_env, fault_proxy, monkeypatch, kinds) -> None:
    """Errors and resets before an answer (botocore's retries), and answers cut mid-body (asked for again)."""
    bucket = aws_env.make_bucket("chunks")
    aws_env.client().put_object(Bucket=bucket, Key="obj", Body=DATA)
    monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", fault_proxy.url)
    store = open_store(f"s3://{bucket}")
    fault_proxy.configure(rate=1.0, kinds=kinds, match="^GET", budget=3)
    assert b"".join(store.reads.chunks(f"{bucket}/obj", 100_000)) == DATA
    assert fault_proxy.faults_injected == 3


def test_a_local_store_has_no_object_reads(tmp_path) -> None:
    assert open_store(str(tmp_path)).reads is None
