"""The benchmark's window on S3: moto on 127.0.0.1 behind a proxy that adds a round trip and counts traffic.

:class:`S3Window` starts moto's ``ThreadedMotoServer`` on a free 127.0.0.1
port (as ``curation_pipeline_tests/conftest.py`` does) and a
:class:`curation_devtools.s3proxy.S3Proxy` in front of it that delays every
request by ``latency`` seconds and counts requests and bytes. Days are
uploaded straight to moto (not counted); engines read through the proxy.
Both run in the benchmark's parent process, outside every engine's memory cap.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

BUCKET = "selection-bench"
REGION = "us-east-1"
# moto accepts any credentials; these are placeholders, not secrets.
ACCESS_KEY = "bench"
SECRET_KEY = "bench"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Window:
    """A running moto server and latency proxy; :meth:`upload` puts a day's store there."""

    def __init__(self, latency: float) -> None:
        from moto.server import ThreadedMotoServer

        from curation_devtools.s3proxy import S3Proxy

        port = _free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.moto_url = f"http://127.0.0.1:{port}"
        self.proxy = S3Proxy.start(self.moto_url, latency=latency)
        self.latency = latency
        self._client = self._boto3(self.moto_url)
        self._client.create_bucket(Bucket=BUCKET)
        self._uploaded: set[str] = set()

    @property
    def endpoint_url(self) -> str:
        """Where engines connect: the proxy."""
        return self.proxy.endpoint_url

    def env(self) -> dict[str, str]:
        """Settings an engine's process reads: the project's endpoint and region, AWS's credentials."""
        return {
            "CURATION_S3_ENDPOINT_URL": self.endpoint_url,
            "CURATION_S3_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def upload(self, root: Path, prefix: str) -> str:
        """Upload every file under ``root`` to ``s3://BUCKET/prefix/``, once; return that store URL."""
        if prefix not in self._uploaded:
            files = [p for p in root.rglob("*.parquet") if not p.name.startswith(".")]

            def put(path: Path) -> None:
                self._client.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(root).as_posix()}")

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(put, files))
            self._uploaded.add(prefix)
        return f"s3://{BUCKET}/{prefix}"

    def stop(self) -> None:
        self.proxy.stop()
        self._server.stop()

    def __enter__(self) -> S3Window:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @staticmethod
    def _boto3(endpoint_url: str):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


# --- DuckDB on S3 (in the engine's process) ----------------------------------------------


def duckdb_filesystem(store_url: str):  # type: ignore[no-untyped-def]
    """An fsspec filesystem for DuckDB's ``register_filesystem``: pyarrow's S3 filesystem, positional reads.

    DuckDB's fsspec bridge reads a file as ``seek(offset)`` then ``read(n)``
    on one file object shared by its threads; pyarrow's read releases the GIL,
    so another thread's seek can land in between and the read returns bytes
    from elsewhere (DuckDB then fails with ``TProtocolException: Invalid
    data`` or ``don't know what type``). Files opened here read at the offset
    taken when ``read`` starts (``read_at``), so concurrent reads stay right.
    """
    from fsspec.implementations.arrow import ArrowFSWrapper

    from curation_pipeline.location import resolve_location

    class PositionalArrowFS(ArrowFSWrapper):
        def _open(self, path, mode="rb", **kwargs):  # type: ignore[no-untyped-def]
            if mode != "rb":
                return super()._open(path, mode, **kwargs)
            return _ReadAt(self.fs.open_input_file(self._strip_protocol(path)))

    return PositionalArrowFS(resolve_location(store_url).filesystem())


class _ReadAt:
    """A read-only file whose ``read`` is one positional read (thread-safe with the seek before it)."""

    def __init__(self, raw) -> None:  # type: ignore[no-untyped-def]
        self._raw = raw
        self._size = raw.size()
        self._position = 0
        self.closed = False

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._size}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        position = self._position
        size = self._size - position if size is None or size < 0 else min(size, self._size - position)
        data = self._raw.read_at(max(size, 0), position) if size > 0 else b""
        self._position = position + len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    @property
    def size(self) -> int:
        return self._size

    def close(self) -> None:
        self._raw.close()
        self.closed = True

    def __enter__(self) -> _ReadAt:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
