"""A whole-request deadline for remote reads, which read timeouts cannot give.

A read timeout bounds the gap between two received bytes: a server (or a broken proxy) that
sends one byte a second never trips it, and a 1 KB answer then takes 17 minutes. Here every
HTTP request made on a thread inside ``watched()`` gets ``seconds`` from the moment it is sent
to the moment its caller leaves the block or sends the next request (a retry): when that runs
out, a watchdog thread shuts the request's socket down, so the blocked read returns at once and
the client sees a lost connection (which it retries, within the attempt limit, each attempt
with its own deadline). ``RequestWatch.cut_last`` then tells the caller that the deadline, not
the server, ended the last attempt.

The HTTP client calls ``enlist(connection)`` when it sends a request (storage/s3.py does, from
the connections of its boto3 client); nothing here imports an HTTP library.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from perstack_logq.config import number_from_environment

DEADLINE_ENV = "PERSTACK_LOGQ_S3_REQUEST_DEADLINE"
DEFAULT_DEADLINE = 120.0  # seconds per request: a 16 MB event at 150 KB/s still arrives
_CONNECTING_RECHECK = 0.1  # a connection with no socket yet (still connecting) is looked at again


def deadline_from_environment(env: Mapping[str, str] | None = None) -> float:
    """Seconds per request: PERSTACK_LOGQ_S3_REQUEST_DEADLINE, else DEFAULT_DEADLINE."""
    seconds = number_from_environment(
        DEADLINE_ENV,
        most=86_400,
        problem=" is not a number of seconds between 0 and 86400 (the longest an S3/R2 request "
        f"may take; default {DEFAULT_DEADLINE:g})",
        env=env,
    )
    return DEFAULT_DEADLINE if seconds is None else seconds


class RequestWatch:
    """The requests of one caller's block: how many were sent, whether the last was cut."""

    __slots__ = ("connection", "cut_last", "deadline", "requests", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = 0.0
        self.connection: Any = None
        self.requests = 0
        self.cut_last = False


class _Watchdog:
    """One daemon thread for the whole process; it sleeps until the nearest deadline."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._armed: set[RequestWatch] = set()
        self._thread: threading.Thread | None = None

    def arm(self, watch: RequestWatch, connection: Any) -> None:
        with self._condition:
            watch.deadline = time.monotonic() + watch.seconds
            watch.connection = connection
            watch.requests += 1
            watch.cut_last = False
            self._armed.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="perstack-logq-deadline", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def disarm(self, watch: RequestWatch) -> None:
        with self._condition:
            self._armed.discard(watch)
            watch.connection = None

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for watch in [w for w in self._armed if w.deadline <= now]:
                    sock = getattr(watch.connection, "sock", None)
                    if sock is None:  # still connecting (the connect timeout bounds that)
                        watch.deadline = now + _CONNECTING_RECHECK
                        continue
                    self._armed.discard(watch)
                    watch.cut_last = True
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                nearest = min((w.deadline for w in self._armed), default=None)
                self._condition.wait(None if nearest is None else max(nearest - now, 0.0))


_WATCHDOG = _Watchdog()
_current = threading.local()


@contextmanager
def watched(seconds: float) -> Iterator[RequestWatch]:
    """Every request this thread sends within the block has ``seconds`` to complete."""
    watch = RequestWatch(seconds)
    previous = getattr(_current, "watch", None)
    _current.watch = watch
    try:
        yield watch
    finally:
        _current.watch = previous
        _WATCHDOG.disarm(watch)


def enlist(connection: Any) -> None:
    """Called by the HTTP client as it sends a request on ``connection`` (this thread's)."""
    watch = getattr(_current, "watch", None)
    if watch is not None:
        _WATCHDOG.arm(watch, connection)
