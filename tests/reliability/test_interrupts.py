"""Ctrl-C, slow remotes and progress, through the installed ``perstack`` script.

Ctrl-C (SIGINT, as a terminal sends it) during a sync, an export and a GET that a stalled S3
server never answers ends the command within seconds with exit 130, one line on stderr and no
traceback, and the cache still answers the next command. A server that trickles its answer a
byte a second meets the whole-request deadline. A long listing shows its progress on a
terminal, and nothing when stderr is not one. Remote faults come from tests/support/fault_proxy
in front of moto's server, over real HTTP.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_support import PERSTACK, cli
from support import FIXTURE_BUCKET, FIXTURE_PREFIX, FIXTURE_STORE
from support.fault_proxy import Fault, FaultProxy, running_fault_proxy
from support.moto_server import create_bucket, put_objects_in_process

JOB = "mq65x3vs2c09epdmpdo634n5"  # a job of the fixture store
KEY = f"jobs/{JOB}/job.json"
URL = f"s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX}"
STOPS_WITHIN = 10.0  # seconds from SIGINT to exit: generous, the promise is "a second or two"


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose cold sync takes seconds (long sessions, ~100 MB): time to interrupt it."""
    store = tmp_path_factory.mktemp("big") / "store"
    subprocess.run(
        [
            *(sys.executable, "-m", "perstack_logq.synth", "--output", str(store)),
            *("--profile", "long", "--size", "100M", "--seed", "5"),
        ],
        check=True,
        capture_output=True,
    )
    return store


@pytest.fixture(scope="module")
def proxy(moto_fixture_store: str) -> Iterator[FaultProxy]:
    with running_fault_proxy(moto_fixture_store) as running:
        yield running


@pytest.fixture
def via_proxy(
    proxy: FaultProxy, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """``--storage s3://...`` reaches moto through the proxy; no fault planned, empty log."""
    proxy.plan()
    proxy.clear_log()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    yield proxy
    proxy.plan()


class Terminal:
    """``perstack log <args>`` with stderr on a pseudo-terminal (as in a shell), stdout piped."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [PERSTACK, "log", *args],
            stdout=subprocess.PIPE,
            stderr=slave,
            stdin=subprocess.DEVNULL,
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, marker: str, timeout: float = 60.0) -> None:
        ends = time.monotonic() + timeout
        while marker.encode() not in self.seen:
            assert time.monotonic() < ends, f"no {marker!r} on the terminal: {self.seen!r}"
            assert self.process.poll() is None or self._read(0.1), f"ended: {self.seen!r}"
            self._read(0.2)

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the child closed the terminal
            return False
        self.seen += chunk
        return bool(chunk)

    def interrupt(self) -> tuple[int, float, str]:
        """SIGINT; the exit code, the seconds until exit, and what stderr held after it."""
        before = len(self.seen)
        sent = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        took = time.monotonic() - sent
        while self._read(0.2):
            pass
        return code, took, self.seen[before:].decode("utf-8", "replace")

    def finish(self) -> tuple[int, str]:
        # The terminal is read while the command runs: a pseudo-terminal buffers only so much,
        # and a command whose progress filled it would wait on its next line, not end.
        ends = time.monotonic() + 120
        while self.process.poll() is None:
            assert time.monotonic() < ends, f"still running after 120 s: {self.seen!r}"
            self._read(0.2)
        while self._read(0.2):
            pass
        return self.process.returncode, self.seen.decode("utf-8", "replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()
        os.close(self.master)


def _run_on_terminal(args: list[str]) -> tuple[int, str]:
    """``perstack log <args>`` on a terminal, to its end: its exit code and what it showed."""
    terminal = Terminal(args)
    try:
        return terminal.finish()
    finally:
        terminal.close()


def _assert_interrupted(code: int, took: float, after: str) -> None:
    assert code == 130, (code, after)
    assert took < STOPS_WITHIN, f"took {took:.1f} s to stop"
    lines = [line for line in after.replace("\r", "\n").splitlines() if line.strip()]
    # The progress line is ended first: "Interrupted" stands on a line of its own.
    assert lines[-1:] == ["Interrupted"], after
    assert "Traceback" not in after and "Error" not in after, after


def _store_args(store: Path | str, cache: Path) -> list[str]:
    return ["--storage", str(store), "--cache-dir", str(cache)]


def _event_count(args: list[str]) -> int:
    result = cli("query", "--format", "json", "SELECT count(*) AS n FROM events", *args)
    assert result.returncode == 0, result.stderr
    return int(orjson.loads(result.stdout)[0]["n"])


# -- Ctrl-C --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "reading"),
    [(["sync"], "sync ["), (["export", "-o", "OUT"], "] sync ")],
    ids=["sync", "export"],
)
def test_ctrl_c_mid_command_exits_130_and_the_cache_still_answers(
    big_store: Path, tmp_path: Path, command: list[str], reading: str
) -> None:
    args = _store_args(big_store, tmp_path / "cache")
    command = [str(tmp_path / "out") if part == "OUT" else part for part in command]
    terminal = Terminal([*command, *args])
    try:
        terminal.read_until(reading)  # the progress line: the store is listed, now it is read
        code, took, after = terminal.interrupt()
    finally:
        terminal.close()
    _assert_interrupted(code, took, after)
    # The next commands complete what was interrupted, and answer as a fresh read does.
    assert cli("sync", *args).returncode == 0
    fresh = _store_args(big_store, tmp_path / "fresh")
    assert _event_count(args) == _event_count(fresh) > 0


def test_an_error_caused_by_ctrl_c_is_reported_as_the_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C inside a DuckDB query surfaces as DuckDB's RuntimeError("Query interrupted"),
    not as KeyboardInterrupt: once the handler has run, any failure is the interrupt's."""
    from perstack_logq.cli import main
    from perstack_logq.storage import base

    args = ["log", "query", "SELECT no_such_column FROM events", "--no-cache"]
    args += ["--storage", str(FIXTURE_STORE)]
    assert main(args) == 4  # a query error, as such
    capsys.readouterr()
    monkeypatch.setattr(base, "INTERRUPTED", threading.Event())
    base.INTERRUPTED.set()
    assert main(args) == 130
    assert capsys.readouterr().err == "Interrupted\n"


@pytest.mark.parametrize(
    "fault",
    [
        Fault("timeout", times=None, method="GET", path_contains=KEY, delay=300),
        Fault("trickle", times=None, method="GET", path_contains=KEY, delay=1.0),
        Fault("trickle", times=None, method="GET", path_contains="list-type=2", delay=1.0),
    ],
    ids=["silent", "trickling", "trickling-listing"],
)
def test_ctrl_c_while_a_get_waits_on_a_slow_server(
    via_proxy: FaultProxy, tmp_path: Path, fault: Fault
) -> None:
    """The GET is sent and the server answers nothing (a read timeout away) or a byte a
    second (the request deadline away), to a reader thread or to a listing on the main
    thread: Ctrl-C waits for none of them."""
    via_proxy.plan(replace(fault))
    args = ["--job", JOB, *_store_args(URL, tmp_path / "cache")]
    process = subprocess.Popen(
        [PERSTACK, "log", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        ends = time.monotonic() + 60
        while not via_proxy.requests(fault.path_contains):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < ends, "the GET never reached the server"
            time.sleep(0.05)
        time.sleep(0.5)  # waiting on the answer
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    _assert_interrupted(process.returncode, took, stderr)
    via_proxy.plan()
    after = cli("--job", JOB, *_store_args(URL, tmp_path / "cache"))
    assert after.returncode == 0 and f"Job: {JOB}" in after.stdout, after.stderr


def test_ctrl_c_mid_sync_on_s3_and_the_next_sync_completes(
    via_proxy: FaultProxy, tmp_path: Path
) -> None:
    """S3 too: the sync has listed and drawn its progress line, some GETs answered, the ones of
    one job hang; Ctrl-C ends it, and the next sync leaves the cache equal to a fresh read."""
    via_proxy.plan(Fault("timeout", times=None, method="GET", path_contains=f"jobs/{JOB}/runs/"))
    args = _store_args(URL, tmp_path / "cache")
    terminal = Terminal(["sync", *args])
    try:
        terminal.read_until("sync [")
        ends = time.monotonic() + 60
        while not via_proxy.requests(f"jobs/{JOB}/runs/"):
            assert time.monotonic() < ends, "the GETs never reached the server"
            time.sleep(0.05)
        code, took, after = terminal.interrupt()
    finally:
        terminal.close()
    _assert_interrupted(code, took, after)
    via_proxy.plan()
    assert cli("sync", *args).returncode == 0
    assert _event_count(args) == _event_count(_store_args(URL, tmp_path / "fresh")) == 145


# -- a server that trickles -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "what"),
    [
        (Fault("trickle", times=None, method="GET", path_contains=KEY, delay=1.0), "read"),
        (
            Fault("trickle", times=None, method="GET", path_contains=KEY, body_only=True),
            "read",
        ),
        (
            Fault("trickle", times=None, method="GET", path_contains="list-type=2", delay=1.0),
            "list",
        ),
    ],
    ids=["get", "get-body", "list"],
)
def test_a_trickling_server_meets_the_request_deadline(
    via_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, fault: Fault, what: str
) -> None:
    """One byte a second: no read timeout fires, the 1 s request deadline does, on every
    attempt; then one line names the key (or the prefix listed), exit 3."""
    via_proxy.plan(replace(fault, delay=1.0))
    monkeypatch.setenv("PERSTACK_LOGQ_S3_REQUEST_DEADLINE", "1")
    started = time.monotonic()
    result = cli("--storage", URL, "--no-cache", "--job", JOB, process=True)
    took = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert len(result.error_lines) == 1 and result.stderr.count("\n") == 1, result.stderr
    target = f"{URL}{KEY}" if what == "read" else f"{URL}"
    assert result.error_lines[0].startswith(f"Error: Cannot {what} {target}"), result.stderr
    assert "no complete answer within 1 s (the request deadline, " in result.stderr
    assert "PERSTACK_LOGQ_S3_REQUEST_DEADLINE), gave up after 5 attempts" in result.stderr
    trickled = [entry for entry in via_proxy.requests() if entry.fault == "trickle"]
    assert len(trickled) == 5, trickled
    assert took < 90, f"took {took:.0f} s"  # 5 attempts of 1 s and botocore's backoff


def test_the_request_deadline_holds_in_the_api(
    via_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """connect() reads through the same client: a trickled GET ends in StorageError."""
    from perstack_logq.api import connect
    from perstack_logq.errors import StorageError

    via_proxy.plan(Fault("trickle", times=None, method="GET", path_contains=KEY, delay=1.0))
    monkeypatch.setenv("PERSTACK_LOGQ_S3_REQUEST_DEADLINE", "1")
    with pytest.raises(
        StorageError, match=r"Cannot read .*job\.json: no complete answer within 1 s"
    ):
        connect(URL, cache_dir=tmp_path / "cache").sql("SELECT count(*) FROM jobs").fetchall()


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(
        st.text("0123456789-+.eE_ infan", max_size=14),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(max_size=10),
    )
)
def test_any_request_deadline_text_is_a_number_or_a_usage_error(text: str) -> None:
    """Whatever PERSTACK_LOGQ_S3_REQUEST_DEADLINE holds: seconds in (0, 86400], else
    ConfigError (exit 2), never anything else (nan, inf, 1e999, '-0', '')."""
    from perstack_logq.errors import ConfigError
    from perstack_logq.storage.deadline import DEFAULT_DEADLINE, deadline_from_environment

    try:
        seconds = deadline_from_environment({"PERSTACK_LOGQ_S3_REQUEST_DEADLINE": text})
    except ConfigError as error:
        assert str(error).startswith("PERSTACK_LOGQ_S3_REQUEST_DEADLINE=")
        return
    assert 0 < seconds <= 86_400
    if not text.strip():
        assert seconds == DEFAULT_DEADLINE


def test_a_bad_request_deadline_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSTACK_LOGQ_S3_REQUEST_DEADLINE", "soon")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    result = cli("jobs", "--storage", "s3://bucket/")
    assert result.returncode == 2, result.stderr
    assert result.error_lines == [
        "Error: PERSTACK_LOGQ_S3_REQUEST_DEADLINE='soon' is not a number of seconds between 0 "
        "and 86400 (the longest an S3/R2 request may take; default 120)"
    ]


# -- progress of a long listing -----------------------------------------------------------------


def test_a_long_listing_shows_progress_on_a_terminal_only(
    moto_fixture_store: str,
    aws_test_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    bucket = "listing-progress"
    create_bucket(moto_fixture_store, bucket)
    put_objects_in_process(
        bucket, {f"jobs/j{n // 100:03d}/runs/r/event-{n}-1-x.json": b"{}" for n in range(2500)}
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_fixture_store)
    args = ["sync", "--storage", f"s3://{bucket}/"]
    code, shown = _run_on_terminal([*args, "--cache-dir", str(tmp_path / "tty")])
    assert code == 0, shown
    assert f"listing s3://{bucket}/: 1,000 keys" in shown, shown
    assert f"listing s3://{bucket}/: 2,500 keys" in shown, shown
    piped = cli(*args, "--cache-dir", str(tmp_path / "piped"), process=True)
    assert piped.returncode == 0 and "listing" not in piped.stderr, piped.stderr
    export = ["export", "-o", str(tmp_path / "out"), "--storage", f"s3://{bucket}/"]
    code, shown = _run_on_terminal([*export, "--cache-dir", str(tmp_path / "export")])
    assert code == 0, shown
    assert "export listing: 1,000 keys…" in shown and "export listing: 2,500 keys\r\n" in shown
    for view in (["info"], []):  # they list the store to find what they show
        code, shown = _run_on_terminal([*view, "--storage", f"s3://{bucket}/", "--no-cache"])
        assert code == 0, shown
        assert f"listing s3://{bucket}/: 2,500 keys listed\r\n" in shown, (view, shown)
        assert "sync [" not in shown, shown  # their reads are short: only the listing shows
