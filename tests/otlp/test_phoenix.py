"""``perstack log export --format otlp`` into a real Arize Phoenix server, read back through
Phoenix's REST API: one trace per job, one invoke_agent span per run under the run that
delegated to it, token sums equal to ``steps``, tool spans in error where the tool failed,
times equal to the store's, and nothing sent twice by ``--incremental``."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import FIXTURE_BUCKET, FIXTURE_PREFIX
from support.cli import run_cli
from support.phoenix_server import phoenix_spans, running_phoenix

from perstack_logq.api import connect
from perstack_logq.otlp.spans import run_span_id, trace_id
from perstack_logq.synth import DirectoryWriter, generate_store

PROJECT = "perstack"


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_phoenix(tmp_path_factory.mktemp("phoenix")) as url:
        yield url


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("otlp-store") / "perstack"
    # The first ten jobs cover every scenario: delegations, errors, failing tools, retries.
    generate_store(DirectoryWriter(root), jobs=12, seed=3)
    return root


def wait_for_spans(url: str, count: int, trace_ids: set[str]) -> list[dict[str, Any]]:
    """Phoenix writes what it receives in the background: wait until it holds them all."""
    deadline = time.monotonic() + 60
    while True:
        spans = [s for s in phoenix_spans(url, PROJECT) if s["context"]["trace_id"] in trace_ids]
        if len(spans) >= count or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def ns(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp() * 1_000_000) * 1_000


def phoenix_ns(text: str) -> int:
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(parsed.timestamp() * 1_000_000) * 1_000


def test_a_generated_store_in_phoenix(phoenix: str, store: Path) -> None:
    args = ["log", "export", "--format", "otlp", "--output", phoenix, "--storage", str(store)]
    first = run_cli(*args, "--incremental")
    assert first.returncode == 0, first.stderr
    with connect(str(store)) as history:
        # --incremental leaves running jobs until they end.
        ended = "job_id IN (SELECT job_id FROM jobs WHERE status <> 'running')"
        jobs = [j for (j,) in history.sql(f"SELECT job_id FROM jobs WHERE {ended}").fetchall()]
        runs = history.sql(
            "SELECT job_id, run_id, parent_run_id, started_at, last_event_at FROM runs "
            f"WHERE {ended}"
        ).fetchall()
        steps = history.sql(
            "SELECT count(*), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens) "
            f"FROM steps WHERE {ended}"
        ).fetchone()
        failed_tools = {
            call_id
            for (call_id,) in history.sql(
                f"SELECT DISTINCT tool_call_id FROM tool_results WHERE is_error AND {ended}"
            ).fetchall()
        }
        tool_call_count = history.sql(
            f"SELECT count(DISTINCT (job_id, tool_call_id)) FROM tool_calls WHERE {ended}"
        ).fetchone()[0]
    assert failed_tools and any(parent for _, _, parent, _, _ in runs), "store lacks a scenario"
    traces = {f"{trace_id(job_id):032x}" for job_id in jobs}
    expected_spans = len(runs) + steps[0] + tool_call_count
    assert f"Sent {len(jobs)} job(s) as {expected_spans} span(s)" in first.stdout

    spans = wait_for_spans(phoenix, expected_spans, traces)
    assert len(spans) == expected_spans
    assert {s["context"]["trace_id"] for s in spans} == traces  # one trace per job

    by_kind = Counter(s["attributes"]["gen_ai.operation.name"] for s in spans)
    assert by_kind == {"invoke_agent": len(runs), "chat": steps[0], "execute_tool": tool_call_count}

    agents = {s["context"]["span_id"]: s for s in spans if s["name"].startswith("invoke_agent")}
    for job_id, run_id, parent_run_id, started_at, last_event_at in runs:
        span = agents[f"{run_span_id(job_id, run_id):016x}"]
        assert span["attributes"]["gen_ai.conversation.id"] == job_id
        expected_parent = f"{run_span_id(job_id, parent_run_id):016x}" if parent_run_id else None
        assert span["parent_id"] == expected_parent
        assert phoenix_ns(span["start_time"]) == ns(started_at)
        assert phoenix_ns(span["end_time"]) == ns(last_event_at)

    chats = [s for s in spans if s["attributes"]["gen_ai.operation.name"] == "chat"]
    for attribute, expected in zip(
        (
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.cache_read.input_tokens",
        ),
        steps[1:],
        strict=True,
    ):
        assert sum(s["attributes"].get(attribute, 0) for s in chats) == expected, attribute

    tools = [s for s in spans if s["attributes"]["gen_ai.operation.name"] == "execute_tool"]
    in_error = {
        s["attributes"]["gen_ai.tool.call.id"] for s in tools if s["status_code"] == "ERROR"
    }
    assert in_error == failed_tools

    again = run_cli(*args, "--incremental")
    assert again.returncode == 0, again.stderr
    assert "Sent 0 job(s) as 0 span(s)" in again.stdout
    assert len(wait_for_spans(phoenix, expected_spans + 1, traces)) == expected_spans


def test_a_store_on_s3(
    phoenix: str, moto_fixture_store: str, aws_test_credentials: None, monkeypatch: Any
) -> None:
    """The real store, read from S3 (moto over HTTP), receiver from OTEL_EXPORTER_OTLP_ENDPOINT."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_fixture_store)
    location = f"s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX}"
    sent = run_cli(
        "log", "export", "--format", "otlp", "--storage", location, "--no-cache",
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": phoenix},
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    with connect(location, cache=False) as history:
        jobs = [j for (j,) in history.sql("SELECT job_id FROM jobs").fetchall()]
        runs = history.sql("SELECT count(*) FROM runs").fetchone()[0]
    traces = {f"{trace_id(job_id):032x}" for job_id in jobs}
    spans = wait_for_spans(phoenix, runs, traces)
    assert {s["context"]["trace_id"] for s in spans} == traces
    agents = [s for s in spans if s["attributes"]["gen_ai.operation.name"] == "invoke_agent"]
    assert len(agents) == runs
