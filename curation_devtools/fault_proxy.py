"""An HTTP proxy on 127.0.0.1 that injects faults between an S3 client and its server.

Put it in front of the moto test server and point the client at
:attr:`FaultProxy.url`. Each request, with probability ``rate``, meets one
fault, picked uniformly from ``kinds``:

* ``error``: answered 500 or 503 with an S3 error body; the server never sees it;
* ``reset``: the connection is reset before the request is forwarded;
* ``lost``: the request is forwarded and done by the server, then the
  connection is reset instead of answering (a lost acknowledgement);
* ``stall``: nothing happens for ``stall_seconds``, then the connection is
  reset (with ``stall_seconds=math.inf``: until the proxy stops, an endpoint
  that never answers);
* ``cut``: the server's answer starts (its status, its headers with the whole
  body's length), then the connection is reset halfway through the body. Only
  when asked for by name: it is not among the default kinds.

The others are forwarded as they are. ``match`` (a regular expression searched
in ``"METHOD /path?query"``) limits faults to the requests it matches, and
``budget`` to that many faults in all. :attr:`FaultProxy.counts` tells how
many requests went through and how many met each fault.

Built on the standard library's ``http.server`` and ``http.client``: a
threaded, blocking proxy of about a hundred lines needs nothing more (an
asyncio server would force every fault into coroutines for no gain here).
"""

from __future__ import annotations

import http.client
import math
import random
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

#: The faults injected unless others are asked for.
FAULT_KINDS: tuple[str, ...] = ("error", "reset", "lost", "stall")
#: Every fault the proxy knows.
ALL_FAULT_KINDS: tuple[str, ...] = (*FAULT_KINDS, "cut")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
_ERROR_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>injected fault</Message></Error>'
)


class FaultProxy:
    """A running fault-injecting proxy; stop it with :meth:`stop` (or use it as a context manager)."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.0,
        kinds: Sequence[str] = FAULT_KINDS,
        stall_seconds: float = 0.2,
        match: str | None = None,
        budget: int | None = None,
        seed: int | None = None,
    ) -> None:
        """Listen on a free 127.0.0.1 port and forward to ``upstream`` (``http://host:port``)."""
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self._upstream = (parts.hostname, parts.port)
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._stopping = threading.Event()
        self.counts: Counter[str] = Counter()
        self._match: re.Pattern[str] | None = None
        self._budget: int | None = None
        self.configure(rate=rate, kinds=kinds, stall_seconds=stall_seconds, match=match, budget=budget)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where clients connect: ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def configure(
        self,
        *,
        rate: float | None = None,
        kinds: Sequence[str] | None = None,
        stall_seconds: float | None = None,
        match: str | None = None,
        budget: int | None = None,
    ) -> None:
        """Change the fault rate, the kinds of fault, the stall length, ``match`` or ``budget`` from now on.

        ``match`` and ``budget`` are replaced together: None means every request, no limit.
        """
        with self._lock:
            self._match = re.compile(match) if match is not None else None
            self._budget = budget
            if rate is not None:
                if not 0 <= rate <= 1:
                    raise ValueError(f"rate must be within [0, 1], not {rate}")
                self._rate = rate
            if kinds is not None:
                unknown = set(kinds) - set(ALL_FAULT_KINDS)
                if unknown or not kinds:
                    raise ValueError(f"kinds must be a non-empty subset of {ALL_FAULT_KINDS}, not {list(kinds)}")
                self._kinds = tuple(kinds)
            if stall_seconds is not None:
                self._stall = stall_seconds

    @contextmanager
    def faults(
        self, rate: float, kinds: Sequence[str] = FAULT_KINDS, *, match: str | None = None, budget: int | None = None
    ) -> Iterator[FaultProxy]:
        """Inject faults at ``rate`` inside the block (see :meth:`configure`), none after it."""
        self.configure(rate=rate, kinds=kinds, match=match, budget=budget)
        try:
            yield self
        finally:
            self.configure(rate=0.0)

    @property
    def faults_injected(self) -> int:
        """How many requests met a fault so far."""
        with self._lock:
            return sum(n for kind, n in self.counts.items() if kind in ALL_FAULT_KINDS)

    def stop(self) -> None:
        """Release stalled connections, stop serving and close the port."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- used by the request handler -------------------------------------------------

    def _pick(self, request_line: str) -> tuple[str | None, float]:
        with self._lock:
            self.counts["requests"] += 1
            eligible = (self._match is None or self._match.search(request_line)) and self._budget != 0
            if not eligible or self._random.random() >= self._rate:
                return None, self._stall
            fault = self._random.choice(self._kinds)
            self.counts[fault] += 1
            if self._budget is not None:
                self._budget -= 1
            return fault, self._stall

    def _error_status(self) -> int:
        with self._lock:
            return self._random.choice((500, 503))

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(*self._upstream, timeout=60)
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        response.body = response.read()  # type: ignore[attr-defined]
        connection.close()
        return response


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(_FaultHandler):
        pass

    Handler.proxy = proxy
    return Handler


class _FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as S3 clients expect
    proxy: FaultProxy

    def log_message(self, format: str, *args: object) -> None:
        return None  # quiet: the tests read FaultProxy.counts instead

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        body = self._read_body()
        fault, stall = self.proxy._pick(f"{self.command} {self.path}")
        if fault == "error":
            return self._send_error()
        if fault == "reset":
            return self._reset()
        if fault == "stall":
            self.proxy._stopping.wait(None if math.isinf(stall) else stall)
            return self._reset()
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        response = self.proxy._forward(self.command, self.path, headers, body)
        if fault == "lost":
            return self._reset()
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        length = response.getheader("Content-Length") if self.command == "HEAD" else str(len(response.body))  # type: ignore[attr-defined]
        self.send_header("Content-Length", length or "0")
        self.end_headers()
        if fault == "cut":
            self.wfile.write(response.body[: len(response.body) // 2])  # type: ignore[attr-defined]
            self.wfile.flush()
            return self._reset()
        if self.command != "HEAD":
            self.wfile.write(response.body)  # type: ignore[attr-defined]

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, up to the blank line
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send_error(self) -> None:
        status = self.proxy._error_status()
        code = "InternalError" if status == 500 else "ServiceUnavailable"
        payload = _ERROR_BODY.replace(b"{code}", code.encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _reset(self) -> None:
        # SO_LINGER 0: closing sends RST, so the client sees a reset, not a clean end of stream.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
