"""An HTTP proxy in front of an S3 server (moto) that misbehaves on purpose, or holds requests.

* ``strip_conditions=True`` drops ``If-Match`` / ``If-None-Match`` from every
  request, as an S3-compatible server that ignores conditional writes does:
  every conditional PUT then succeeds and overwrites.
* ``hold`` (a predicate on method and path) parks matching requests until
  :meth:`S3Proxy.release` is called; :attr:`S3Proxy.holding` is set when the
  first one arrives. A test uses it to freeze a run worker in the middle of a
  commit before killing it.
* ``latency`` (seconds) delays every request before it is forwarded, as a
  remote S3 endpoint's round trip does; :meth:`S3Proxy.traffic` counts the
  requests and the body bytes each way (the selection benchmark reads a window
  through it); :attr:`S3Proxy.ranged_requests` lists each request with its
  ``Range`` header (which bytes of an object a reader asked for).

    with S3Proxy.start(upstream="http://127.0.0.1:5000", strip_conditions=True) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.endpoint_url, ...)

The proxy listens on a free 127.0.0.1 port in a thread of this process;
``http.server`` and ``http.client`` of the standard library suffice, so no
proxy package is needed.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

CONDITIONAL_HEADERS = frozenset({"if-match", "if-none-match"})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"})

HoldRule = Callable[[str, str], bool]  # (method, path with query) -> hold it?


@dataclass(frozen=True)
class Traffic:
    """What went through the proxy: requests, request body bytes and response body bytes."""

    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def __sub__(self, earlier: Traffic) -> Traffic:
        return Traffic(
            self.requests - earlier.requests, self.bytes_in - earlier.bytes_in, self.bytes_out - earlier.bytes_out
        )


class S3Proxy:
    """A running proxy: its endpoint URL, the requests it saw, and the hold gate."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @classmethod
    def start(
        cls, upstream: str, *, strip_conditions: bool = False, hold: HoldRule | None = None, latency: float = 0.0
    ) -> S3Proxy:
        """Serve on a free 127.0.0.1 port, forwarding to ``upstream`` (``http://host:port``).

        Every request waits ``latency`` seconds before it is forwarded.
        """
        if not 0 <= latency < float("inf"):
            raise ValueError(f"latency must be a finite number of seconds >= 0, not {latency!r}")
        target = urlsplit(upstream)
        server = _ProxyServer(("127.0.0.1", 0), _Handler)
        server.upstream = (target.hostname or "127.0.0.1", target.port or 80)
        server.strip_conditions = strip_conditions
        server.hold = hold
        server.latency = latency
        thread = threading.Thread(target=server.serve_forever, name="s3-proxy", daemon=True)
        thread.start()
        return cls(server, thread)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def holding(self) -> threading.Event:
        """Set once a request matching ``hold`` has arrived (and is parked)."""
        return self._server.holding

    @property
    def stripped(self) -> int:
        """How many requests lost a conditional header."""
        return self._server.stripped

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request seen so far, in arrival order."""
        with self._server.count_lock:
            return [(method, path) for method, path, _ in self._server.seen]

    @property
    def ranged_requests(self) -> list[tuple[str, str, str | None]]:
        """(method, path, ``Range`` header or None) of every request seen so far, in arrival order."""
        with self._server.count_lock:
            return list(self._server.seen)

    def traffic(self) -> Traffic:
        """Requests and body bytes so far; subtract two snapshots for what happened between them."""
        with self._server.count_lock:
            return Traffic(len(self._server.seen), self._server.bytes_in, self._server.bytes_out)

    def hold_when(self, rule: HoldRule | None) -> None:
        """Park requests matching ``rule`` from now on (None: park nothing) until :meth:`release`."""
        self._server.holding.clear()
        self._server.released.clear()
        self._server.hold = rule

    def release(self) -> None:
        """Let parked requests (and every later one) through."""
        self._server.released.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> S3Proxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    upstream: tuple[str, int]
    strip_conditions: bool
    hold: HoldRule | None
    latency: float

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.holding = threading.Event()
        self.released = threading.Event()
        self.stripped = 0
        self.seen: list[tuple[str, str, str | None]] = []
        self.bytes_in = 0
        self.bytes_out = 0
        self.count_lock = threading.Lock()

    def count_stripped(self) -> None:
        with self.count_lock:
            self.stripped += 1

    def record(self, method: str, path: str, byte_range: str | None) -> None:
        with self.count_lock:
            self.seen.append((method, path, byte_range))

    def count_bytes(self, received: int, sent: int) -> None:
        with self.count_lock:
            self.bytes_in += received
            self.bytes_out += sent


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # quiet
        pass

    def _forward(self) -> None:
        self.server.record(self.command, self.path, self.headers.get("Range"))
        body = self._read_body()
        headers = {}
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in _HOP_BY_HOP:
                continue
            if self.server.strip_conditions and lower in CONDITIONAL_HEADERS:
                self.server.count_stripped()
                continue
            headers[name] = value
        if body is not None:
            headers["Content-Length"] = str(len(body))
        rule = self.server.hold
        if rule is not None and rule(self.command, self.path) and not self.server.released.is_set():
            self.server.holding.set()
            self.server.released.wait()
        if self.server.latency:
            time.sleep(self.server.latency)
        connection = http.client.HTTPConnection(*self.server.upstream, timeout=120)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            # A HEAD answer has no body but keeps the upstream Content-Length (the object's size).
            if name.lower() not in _HOP_BY_HOP and (name.lower() != "content-length" or self.command == "HEAD"):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.server.count_bytes(len(body or b""), 0 if self.command == "HEAD" else len(payload))

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length else None

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward
