"""Sending to an OTLP receiver: where it is (option, environment), headers, a receiver that
fails (retried, then one error line, nothing recorded as sent), and --incremental's state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from support.cli import run_cli
from support.quiet_server import QuietThreadingHTTPServer

from perstack_logq.api import connect
from perstack_logq.errors import StorageError, UsageError
from perstack_logq.otlp.send import (
    OtlpOptions,
    export_otlp,
    resolve_endpoint,
    resolve_headers,
    state_path,
)
from perstack_logq.synth import DirectoryWriter, generate_store


class Receiver:
    """An OTLP/HTTP endpoint on 127.0.0.1 that answers ``statuses`` in turn (then 200) and
    keeps each request's path and headers."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[str, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, dict(self.headers)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[type[Receiver]]:
    made: list[Receiver] = []

    class Made(Receiver):
        def __init__(self, statuses: list[int]) -> None:
            super().__init__(statuses)
            made.append(self)

    yield Made
    for receiver in made:
        receiver.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("send") / "perstack"
    generate_store(DirectoryWriter(root), jobs=6, seed=11)
    return root


def test_endpoint_from_the_option_or_the_environment() -> None:
    assert resolve_endpoint("http://h:4318", {}) == "http://h:4318/v1/traces"
    assert resolve_endpoint("https://h/api/otel", {}) == "https://h/api/otel"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}
    assert resolve_endpoint(None, env) == "http://c:4318/v1/traces"
    env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://t:9/x"
    assert resolve_endpoint(None, env) == "http://t:9/x"
    for bad in ("ftp://h", "http://[::1", "http://user:pw@h:4318", "http://h:99999"):
        with pytest.raises(UsageError) as error:
            resolve_endpoint(bad, {})
        assert "pw" not in str(error.value)
    with pytest.raises(UsageError, match="needs a receiver"):
        resolve_endpoint(None, {})


def test_headers_from_the_environment_and_the_option() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-team=a"}
    assert resolve_headers(["x-team=b"], env) == {"authorization": "Bearer abc", "x-team": "b"}
    with pytest.raises(UsageError):
        resolve_headers(["novalue"], {})


def test_a_failing_receiver_is_retried_then_named_in_one_line(
    store: Path, receiver_factory: type[Receiver], tmp_path: Path
) -> None:
    receiver = receiver_factory([500] * 50)
    options = OtlpOptions(endpoint=receiver.url + "/v1/traces", incremental=True, timeout=5)
    pauses: list[float] = []
    with connect(str(store)) as history:
        with pytest.raises(StorageError, match="did not accept a batch") as error:
            export_otlp(history, options, cache_dir=tmp_path, pause=pauses.append)
        assert "\n" not in str(error.value)
        assert f"receiver at {receiver.url}/v1/traces did not" in str(error.value)  # its port too
        assert pauses == [1.0, 2.0, 4.0]
        assert not state_path(history, options.endpoint, tmp_path).exists()


def test_retried_batches_land_once_and_incremental_sends_only_changes(
    store: Path, receiver_factory: type[Receiver], tmp_path: Path
) -> None:
    receiver = receiver_factory([503])
    options = OtlpOptions(
        endpoint=receiver.url + "/v1/traces",
        headers={"authorization": "Bearer t"},
        incremental=True,
        timeout=5,
    )
    with connect(str(store)) as history:
        first = export_otlp(history, options, cache_dir=tmp_path, pause=lambda _: None)
        jobs = history.sql("SELECT count(*) FROM jobs WHERE status <> 'running'").fetchone()[0]
        second = export_otlp(history, options, cache_dir=tmp_path, pause=lambda _: None)
    assert first.jobs_sent == jobs and first.spans_sent > 0
    assert all(path == "/v1/traces" for path, _ in receiver.requests)
    assert all(h.get("authorization") == "Bearer t" for _, h in receiver.requests)
    assert second.jobs_sent == 0
    assert second.jobs_unchanged == jobs


def test_the_cli_gives_one_line_and_exit_3_for_a_dead_receiver(
    store: Path, receiver_factory: type[Receiver]
) -> None:
    receiver = receiver_factory([])
    url = receiver.url
    receiver.close()  # nothing listens there any more
    result = run_cli(
        "log",
        "export",
        "--format",
        "otlp",
        "--storage",
        str(store),
        "--no-cache",
        "-o",
        url,
        # The SDKs' variable, read here too: each try gives up after 1 s, not the default 10.
        env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1"},
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    bad = run_cli("log", "export", "--format", "otlp", "--storage", str(store), "-o", "ftp://x")
    assert bad.returncode == 2
