"""Fixtures for the dataset store: every store test runs on both backends.

``store_spec`` (and ``store``) is parametrized over ``local`` (a temporary
folder) and ``s3`` (a fresh bucket on the session's moto server, fake
credentials from ``aws_env``). A :class:`StoreSpec` is picklable so child
processes can open the same store.

``serial_moto_server`` is a second moto server for the concurrency tests,
and ``fault_proxy`` a fault-injecting proxy in front of it.
moto checks ``If-Match``/``If-None-Match`` per request, but two concurrent
requests can both pass the check before either writes; real S3 makes the
check-and-write atomic. The server therefore runs moto's WSGI app behind a
middleware that serialises conditional writes, so it behaves as S3 does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from curation_devtools.fault_proxy import FaultProxy
from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.conftest import FAKE_REGION, MotoServer, start_fault_proxy
from curation_pipeline_tests.store.specs import StoreSpec


def _s3_spec(server: MotoServer) -> StoreSpec:
    bucket = server.make_bucket("store")
    return StoreSpec("s3", f"s3://{bucket}/root", {"endpoint_url": server.endpoint_url, "region_name": FAKE_REGION})


@pytest.fixture(params=["local", "s3"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A fresh, empty store on each backend."""
    if request.param == "local":
        return StoreSpec("local", str(tmp_path / "store"))
    return _s3_spec(request.getfixturevalue("aws_env"))


@pytest.fixture
def store(store_spec: StoreSpec) -> DatasetStore:
    """A fresh, empty :class:`DatasetStore` on each backend."""
    return store_spec.open()


class _SerialConditionalWrites:
    """WSGI middleware: one conditional write at a time, making check-then-write atomic."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        conditional = environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE") and (
            "HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ
        )
        if not conditional:
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))


@pytest.fixture(scope="session")
def serial_moto_server() -> Iterator[MotoServer]:
    """A moto S3 server on 127.0.0.1 whose conditional writes are atomic, as on S3."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = _SerialConditionalWrites(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield MotoServer(endpoint_url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture(params=["local", "s3"])
def concurrent_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A fresh store for concurrency tests (S3 flavour on ``serial_moto_server``)."""
    if request.param == "local":
        return StoreSpec("local", str(tmp_path / "store"))
    request.getfixturevalue("aws_env")  # fake credentials in the environment (inherited by children)
    return _s3_spec(request.getfixturevalue("serial_moto_server"))



@pytest.fixture
def fault_proxy(serial_moto_server: MotoServer) -> Iterator[FaultProxy]:
    """The suite's ``fault_proxy``, in front of ``serial_moto_server`` (atomic conditional writes)."""
    with start_fault_proxy(serial_moto_server) as proxy:
        yield proxy
