"""Fixtures shared by the whole suite.

``moto_server`` runs one S3 server per test session (per xdist worker) on
127.0.0.1; tests get isolation from a fresh bucket each (``make_bucket``), and
``aws_env`` points the process's AWS settings at the server with fake
credentials for one test. ``fault_proxy`` puts a fault-injecting proxy
(:mod:`curation_devtools.fault_proxy`) in front of the server.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

from curation_devtools.fault_proxy import FaultProxy

FAKE_REGION = "us-east-1"
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class MotoServer:
    """A running moto S3 server."""

    endpoint_url: str
    region: str = FAKE_REGION

    def client(self):
        """A boto3 S3 client for the server, independent of the process environment."""
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region, **FAKE_CREDENTIALS)

    def make_bucket(self, prefix: str = "test") -> str:
        """Create an empty bucket with a unique name and return the name."""
        name = f"{prefix}-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto S3 server on 127.0.0.1 and a free port, stopped at the end of the session."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield MotoServer(endpoint_url=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """Point AWS settings (boto3 and the stores' pyarrow filesystems) at ``moto_server``."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", moto_server.region)
    monkeypatch.setenv("AWS_REGION", moto_server.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    # Keep real configuration and metadata lookups out of the tests.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    return moto_server


@contextlib.contextmanager
def start_fault_proxy(server: MotoServer) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of ``server``, injecting nothing until asked, stopped after.

    The seed is random unless ``CURATION_FAULT_SEED`` sets it, and is printed,
    so a failing run can be replayed.
    """
    seed = int(os.environ.get("CURATION_FAULT_SEED") or random.randrange(1 << 30))
    print(f"fault proxy seed: {seed} (replay with CURATION_FAULT_SEED={seed})")
    with FaultProxy(server.endpoint_url, seed=seed) as proxy:
        yield proxy


@pytest.fixture
def fault_proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of ``moto_server`` (faults only when a test asks)."""
    with start_fault_proxy(moto_server) as proxy:
        yield proxy
