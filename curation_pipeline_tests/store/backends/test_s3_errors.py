"""boto3/botocore errors become the store's errors, once, inside the S3 backend."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from curation_pipeline.store import KeyNotFoundError, StoreAccessError, WriteConflictError
from curation_pipeline.store.backends.s3 import S3Backend


@pytest.fixture
def stubbed() -> tuple[S3Backend, Stubber]:
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="AKIAHIDDEN", aws_secret_access_key="hidden-secret"
    )
    return S3Backend("bucket", "pre", client=client), Stubber(client)


@pytest.mark.parametrize(
    ("code", "status", "in_flight"),
    [("PreconditionFailed", 412, False), ("ConditionalRequestConflict", 409, True)],
)
def test_conditional_write_answers_are_conflicts(
    stubbed: tuple[S3Backend, Stubber], code: str, status: int, in_flight: bool
) -> None:
    backend, stub = stubbed
    stub.add_client_error("put_object", service_error_code=code, http_status_code=status)
    with stub, pytest.raises(WriteConflictError) as info:
        backend.swap_ref("datasets/d/HEAD", b"v", None)
    assert info.value.in_flight is in_flight
    assert "datasets/d/HEAD" in str(info.value)


def test_put_if_absent_retries_in_flight_conflicts(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stub = stubbed
    stub.add_client_error("put_object", service_error_code="ConditionalRequestConflict", http_status_code=409)
    stub.add_client_error("put_object", service_error_code="PreconditionFailed", http_status_code=412)
    with stub:
        assert backend.put_if_absent("k", b"x") is False


def test_access_errors_name_the_key_not_the_credentials(stubbed: tuple[S3Backend, Stubber]) -> None:
    backend, stub = stubbed
    stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
    stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
    with stub:
        with pytest.raises(StoreAccessError) as info:
            backend.get_bytes("datasets/d/HEAD")
        with pytest.raises(KeyNotFoundError):
            backend.get_bytes("datasets/d/HEAD")
    message = str(info.value)
    assert "pre/datasets/d/HEAD" not in message and "datasets/d/HEAD" in message and "AccessDenied" in message
    assert "AKIAHIDDEN" not in message and "hidden-secret" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "hidden" not in repr(backend) and repr(backend) == "S3Backend('s3://bucket/pre')"
