"""A small fault-injecting HTTP proxy for tests: 127.0.0.1 only, in front of moto's server.

Every request is forwarded to the upstream (moto) unless a planned fault matches it; then the
proxy answers with an S3 error, sleeps past the client's read timeout, resets the connection,
or sends half a body. It also keeps a request log (method, path, status, fault), which is how
tests prove what a command asked of the store.

Bounded: a thread per connection, at most MAX_CONNECTIONS at once (daemon threads, which
never hold the process's exit); every wait is cut short when the proxy stops. It counts its
open connections, so a test can prove that a client closed all of its own.
"""

from __future__ import annotations

import http.client
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import urlsplit

from support.quiet_server import QuietThreadingHTTPServer

FaultKind = Literal["error", "timeout", "reset", "truncate", "trickle"]
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection"})
_UPSTREAM_TIMEOUT = 30.0
MAX_CONNECTIONS = 256  # open client connections at once; more wait for a free slot


@dataclass
class Fault:
    """What to do to the requests that match, ``times`` times (None: every time).

    - ``error``: answer ``status`` with an S3 XML error ``code`` (e.g. 503 SlowDown);
    - ``timeout``: accept the request, answer nothing for ``delay`` seconds, then close;
    - ``reset``: close the connection with a TCP reset, before any response;
    - ``truncate``: forward, then send the full headers but only half of the body and close.
    - ``trickle``: forward, then send the whole answer one byte each ``delay`` seconds (from
      the status line on; with ``body_only``, the headers at once and the body a byte at a
      time): every gap is far below a read timeout, yet the answer never ends in time.

    A request matches when its method is ``method`` (any if None) and its path and query
    contain ``path_contains``.
    """

    kind: FaultKind
    status: int = 500
    code: str = "InternalError"
    message: str = "injected by the fault proxy"
    times: int | None = 1
    method: str | None = None
    path_contains: str = ""
    delay: float = 5.0
    body_only: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and self.path_contains in path


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # with the query string
    status: int | None  # None when no response was sent
    fault: FaultKind | None
    at: float  # time.monotonic()


@dataclass
class FaultProxy:
    upstream: str  # http://127.0.0.1:port of moto
    url: str = ""
    faults: list[Fault] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    open_connections: int = 0  # client connections the proxy holds now

    def plan(self, *faults: Fault) -> None:
        """Replace the planned faults (and keep the log)."""
        with self.lock:
            self.faults = list(faults)

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    def requests(self, path_contains: str = "") -> list[LoggedRequest]:
        with self.lock:
            return [entry for entry in self.log if path_contains in entry.path]

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def record(self, method: str, path: str, status: int | None, fault: Fault | None) -> None:
        entry = LoggedRequest(method, path, status, fault.kind if fault else None, time.monotonic())
        with self.lock:
            self.log.append(entry)

    def count_connection(self, change: int) -> None:
        with self.lock:
            self.open_connections += change

    def connections_left_open(self, timeout: float = 10.0) -> int:
        """Client connections still open once every client had ``timeout`` seconds to close
        its own (the proxy sees a close when its thread next reads the connection)."""
        deadline = time.monotonic() + timeout
        while self.open_connections and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.open_connections


def _error_body(fault: Fault, path: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message>"
        f"<Resource>{path.split('?')[0]}</Resource><RequestId>fault-proxy</RequestId></Error>"
    ).encode()


class _BoundedServer(QuietThreadingHTTPServer):
    """A thread per connection, at most MAX_CONNECTIONS of them; daemon threads. The open
    connections are counted in ``proxy.open_connections``."""

    def __init__(self, proxy: FaultProxy) -> None:
        super().__init__(("127.0.0.1", 0), _handler(proxy))
        self.proxy = proxy
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            # Every new connection now waits, and its client sees only a read timeout: the
            # failing test's captured stderr says why.
            print(
                f"fault proxy: {MAX_CONNECTIONS} client connections open at once, new ones "
                "wait (is a client leaving its connections open?)",
                file=sys.stderr,
            )
            self.slots.acquire()
        self.proxy.count_connection(+1)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.proxy.count_connection(-1)
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.proxy.count_connection(-1)
            self.slots.release()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    upstream = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        upstream_connection: http.client.HTTPConnection | None = None

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the proxy keeps its own log."""

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            fault = proxy.take_fault(self.command, self.path)
            if fault is not None and fault.kind == "error":
                # Logged before the answer: a client that exits on it must find it in the log.
                proxy.record(self.command, self.path, fault.status, fault)
                error_headers = {"Content-Type": "application/xml"}
                self._send(fault.status, error_headers, _error_body(fault, self.path))
                return
            if fault is not None and fault.kind == "timeout":
                proxy.record(self.command, self.path, None, fault)
                proxy.stopping.wait(fault.delay)
                self.close_connection = True
                return
            if fault is not None and fault.kind == "reset":
                proxy.record(self.command, self.path, None, fault)
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                return
            status, headers, payload = self._forward(body)
            proxy.record(self.command, self.path, status, fault)
            if fault is not None and fault.kind == "trickle":
                self._trickle(fault, status, headers, payload)
                self.close_connection = True
            elif fault is not None:  # truncate
                self._send(status, headers, payload[: len(payload) // 2], length=len(payload))
                self.close_connection = True
            else:
                self._send(status, headers, payload)

        def _forward(self, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
            # One upstream connection per client connection, reused while both stay open.
            if self.upstream_connection is None:
                self.upstream_connection = http.client.HTTPConnection(
                    upstream.hostname, upstream.port, timeout=_UPSTREAM_TIMEOUT
                )
            connection = self.upstream_connection
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self.upstream_connection = None
                raise
            # A HEAD answer keeps the object's length; others get the length of what is sent.
            dropped = _HOP_BY_HOP if self.command == "HEAD" else _HOP_BY_HOP | {"content-length"}
            kept = {k: v for k, v in response.getheaders() if k.lower() not in dropped}
            return response.status, kept, payload

        def finish(self) -> None:
            super().finish()
            if self.upstream_connection is not None:
                self.upstream_connection.close()

        def _send(
            self, status: int, headers: dict[str, str], body: bytes, length: int | None = None
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if length is None and "content-length" not in {k.lower() for k in headers}:
                length = len(body)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()

        def _trickle(
            self, fault: Fault, status: int, headers: dict[str, str], payload: bytes
        ) -> None:
            head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
            head += [f"{name}: {value}" for name, value in headers.items()]
            if "content-length" not in {name.lower() for name in headers}:
                head.append(f"Content-Length: {len(payload)}")
            head += ["", ""]
            raw = "\r\n".join(head).encode("latin-1")
            if fault.body_only:
                self.wfile.write(raw)
                self.wfile.flush()
                raw = b""
            raw += payload if self.command != "HEAD" else b""
            try:
                for index in range(len(raw)):
                    if proxy.stopping.wait(fault.delay):
                        return
                    self.wfile.write(raw[index : index + 1])
                    self.wfile.flush()
            except OSError:
                return  # the client gave up (its deadline): what the fault is for

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _relay

    return Handler


@contextmanager
def running_fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """Start a proxy to ``upstream`` on 127.0.0.1 and a free port; stop it afterwards.

    It has no lifetime of its own: one that stopped itself mid-module (it had 120 s) would
    leave its port accepting connections that nobody answers, and the module's later tests
    would fail on read timeouts that name nothing."""
    proxy = FaultProxy(upstream)
    server = _BoundedServer(proxy)
    host, port = server.server_address[:2]
    proxy.url = f"http://{host}:{port}"
    serving = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
    serving.start()
    try:
        yield proxy
    finally:
        proxy.stopping.set()
        server.shutdown()
        server.server_close()
        serving.join(timeout=10)
