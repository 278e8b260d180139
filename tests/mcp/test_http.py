"""`perstack log mcp --http`: the real client over streamable HTTP, at the default limits, so
oversized answers come back cut with notes saying how to get the rest."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import run_cli
from support.mcp_client import McpSession, http_session
from support.moto_server import free_port

from perstack_logq.synth import DirectoryWriter, generate_store


def _wait_until_listening(process: subprocess.Popen[str], port: int) -> None:
    """Until the server accepts connections (its imports take seconds on a busy machine)."""
    deadline = time.monotonic() + 300  # a bound against hanging, not a speed assertion
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.stderr.read()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the server never listened")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpSession]:
    base = tmp_path_factory.mktemp("mcp-http")
    root = base / "perstack"
    generate_store(DirectoryWriter(root), jobs=4, seed=5)
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(base),
        "XDG_CACHE_HOME": str(base / "cache"),
        "PERSTACK_LOGQ_CACHE_DIR": str(base / "logq-cache"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "perstack_logq", "log", "mcp", "--storage", str(root),
         "--no-cache", "--http", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_until_listening(process, port)
        with http_session(f"http://127.0.0.1:{port}/mcp") as connected:
            yield connected
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_tools_over_http(session: McpSession) -> None:
    assert {tool.name for tool in session.list_tools()} >= {"store_info", "query", "show_job"}
    info = session.call("store_info")
    assert not info.is_error and info.data["jobs"] == 4


def test_an_oversized_query_answer_is_cut_with_notes(session: McpSession) -> None:
    sql = (
        "SELECT range AS n, repeat('x', 5000) AS big, repeat('i', 3000) || range AS job_id "
        "FROM range(300)"
    )
    result = session.call("query", {"sql": sql})
    assert not result.is_error
    data = result.data
    assert len(result.text) <= 60_000
    assert data["more"] is True and 0 < data["returned"] < 200
    assert [row["n"] for row in data["rows"]] == list(range(data["returned"]))
    row = data["rows"][0]
    assert row["big"] == "x" * 2000 + "… [cut: 3000 more characters]"
    assert row["job_id"] == "i" * 3000 + "0"  # ids are never cut
    notes = " ".join(data["cut"])
    assert "shortened" in notes and f"offset={data['returned']}" in notes
    following = session.call("query", {"sql": sql, "offset": data["returned"]}).data
    assert following["rows"][0]["n"] == data["returned"]
    capped = session.call("query", {"sql": "SELECT range AS n FROM range(1000)"}).data
    assert capped["returned"] == 200 and capped["more"] is True
    assert "offset=200" in " ".join(capped["cut"])
    assert session.call("query", {"sql": sql, "limit": 3}).data["returned"] == 3


def test_an_oversized_job_view_is_cut_and_pages(session: McpSession) -> None:
    whole = session.call("show_job", {"take": 0})
    assert not whole.is_error and len(whole.text) <= 60_000
    notes = " ".join(whole.data["cut"])
    assert "shortened" in notes
    total = whole.data["totalEventsBeforeLimit"]
    shown = len(whole.data["events"])
    if shown < total:  # the events did not all fit: the note says where to go on
        assert f"offset={shown}" in notes
        following = session.call("show_job", {"take": 5, "offset": shown}).data
        assert following["events"][0]["id"] != whole.data["events"][-1]["id"]


def test_http_binds_to_loopback_unless_told(tmp_path: Path) -> None:
    result = run_cli("log", "mcp", "--storage", str(tmp_path), "--http", "0.0.0.0:8765")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: --http 0.0.0.0:8765 is not a loopback address")
    result = run_cli("log", "mcp", "--storage", str(tmp_path), "--http", "localhost")
    assert result.returncode == 2 and "use HOST:PORT" in result.stderr
