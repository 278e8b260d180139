"""A small HTTP proxy that adds a fixed delay to every request: a LAN-to-cloud round trip.

    python bench/latency_proxy.py --upstream http://127.0.0.1:5000 --delay-ms 20

Listens on 127.0.0.1 (a free port unless --port), prints ``port <n>`` once ready, and forwards
every request unchanged (Host header included, so S3 signatures stay valid) to the upstream,
after sleeping ``--delay-ms``. Clients keep their connections (HTTP/1.1 keep-alive) and each
proxy thread keeps one connection to the upstream, so the delay is the only cost added.

Bounded: at most ``--max-connections`` client connections are served at once (the accept
loop waits beyond that). Stops by itself after ``--idle-exit`` seconds without a request, or
as soon as the process that started it is gone.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Hop-by-hop headers are the proxy's own business; the body is re-sent with a Content-Length.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)


class LatencyProxy(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, port: int, upstream: str, delay: float, max_connections: int) -> None:
        target = urlsplit(upstream)
        self.upstream_host = target.hostname or "127.0.0.1"
        self.upstream_port = target.port or 80
        self.delay = delay
        self.last_request = time.monotonic()
        self.slots = threading.BoundedSemaphore(max_connections)
        self.local = threading.local()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: socketserver.BaseRequest, client_address: object) -> None:
        self.slots.acquire()
        try:
            super().process_request(request, client_address)  # type: ignore[arg-type]
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(
        self, request: socketserver.BaseRequest, client_address: object
    ) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[arg-type]
        finally:
            self.slots.release()

    def upstream(self) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(
                self.upstream_host, self.upstream_port, timeout=120
            )
            self.local.connection = connection
        return connection

    def forget_upstream(self) -> None:
        connection = getattr(self.local, "connection", None)
        if connection is not None:
            connection.close()
            self.local.connection = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LatencyProxy

    def log_message(self, format: str, *args: object) -> None:
        return

    def _forward(self) -> None:
        server = self.server
        server.last_request = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        time.sleep(server.delay)
        for attempt in (1, 2):
            connection = server.upstream()
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                server.forget_upstream()  # the upstream closed a kept connection: reopen once
                if attempt == 2:
                    raise
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        # A HEAD answer has no body but tells the object's length (httpfs relies on it).
        length = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward


def _watch(server: LatencyProxy, idle_exit: float, parent: int) -> None:
    while True:
        time.sleep(0.5)
        idle = time.monotonic() - server.last_request > idle_exit
        if idle or os.getppid() != parent:
            server.shutdown()
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="http://host:port to forward to")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-connections", type=int, default=128)
    parser.add_argument("--idle-exit", type=float, default=600.0, help="seconds")
    args = parser.parse_args()
    server = LatencyProxy(args.port, args.upstream, args.delay_ms / 1000, args.max_connections)
    watcher = threading.Thread(
        target=_watch, args=(server, args.idle_exit, os.getppid()), daemon=True
    )
    watcher.start()
    print(f"port {server.server_address[1]}", flush=True)
    sys.stdout.close()
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
