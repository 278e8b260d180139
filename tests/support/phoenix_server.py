"""A real Arize Phoenix server for tests: 127.0.0.1, free ports, its own working directory,
telemetry off; started as a process, stopped afterwards. It receives OTLP/HTTP on its HTTP
port (``/v1/traces``) and answers its REST API there too (``/v1/projects/{name}/spans``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.moto_server import free_port

START_TIMEOUT = 180.0  # first start runs its database migrations


@contextmanager
def running_phoenix(working_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(working_dir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = (working_dir / "phoenix.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "phoenix.server.main", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"phoenix exited: {(working_dir / 'phoenix.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("phoenix did not start in time")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def phoenix_spans(url: str, project: str) -> list[dict[str, Any]]:
    """Every span of a project, through Phoenix's REST API (paged)."""
    spans: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = f"limit=1000{f'&cursor={cursor}' if cursor else ''}"
        request = f"{url}/v1/projects/{project}/spans?{query}"
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:  # no span received yet: no project either
                return []
            raise
        spans.extend(body["data"])
        cursor = body.get("next_cursor")
        if not cursor:
            return spans
