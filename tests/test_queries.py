"""The canned queries of sql/queries/: each runs, answers right, and the CLI drives them.

Three stores: the real fixture store (answers checked by hand), the same store stripped of
every job.json and run-setting.json (the common case for the current runtime), and a
generated store (answers checked against its GenerationReport). The CLI runs in a subprocess,
as a user runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import FIXTURE_STORE

from perstack_logq.api import History, connect
from perstack_logq.engine.sqlfiles import SqlFile
from perstack_logq.synth import DirectoryWriter, GenerationReport, generate_store
from perstack_logq.views.query import bind_canned, canned_queries

QUERY_DIR = Path(__file__).resolve().parents[1] / "sql" / "queries"
PERSTACK = Path(sys.executable).parent / "perstack"
NAMES = sorted(path.stem for path in QUERY_DIR.glob("*.sql"))
REQUIRED = {"delegation_tree": {"job_id": "iae1yeut23fn5xd4xxy0gmup"}}
DELEGATION_JOB = "iae1yeut23fn5xd4xxy0gmup"
STOP_TYPES = ("stopRunByError", "stopRunByExceededMaxSteps", "stopRunByInteractiveTool")


def run_canned(
    history: History, name: str, given: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Bind like the CLI does (strings, defaults filled in) and return rows as dicts."""
    query, params = bind_canned(name, given or {})
    relation = history.sql(query.text, params)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def perstack(*args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """``perstack <args>`` in a fresh process; ``columns``: the terminal width it sees."""
    env = dict(os.environ)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [str(PERSTACK), *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


@pytest.fixture(scope="module")
def fixture_history() -> Iterator[History]:
    with connect(str(FIXTURE_STORE), cache=False) as history:
        history.sync()
        yield history


@pytest.fixture(scope="module")
def bare_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture store without any job.json or run-setting.json."""
    root = tmp_path_factory.mktemp("bare") / "perstack"
    shutil.copytree(FIXTURE_STORE, root)
    for path in [*root.rglob("job.json"), *root.rglob("run-setting.json")]:
        path.unlink()
    return root


@pytest.fixture(scope="module")
def bare_history(bare_store: Path) -> Iterator[History]:
    with connect(str(bare_store), cache=False) as history:
        history.sync()
        yield history


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    root = tmp_path_factory.mktemp("generated") / "perstack"
    return root, generate_store(DirectoryWriter(root), jobs=12, seed=5)


@pytest.fixture(scope="module")
def generated_history(generated: tuple[Path, GenerationReport]) -> Iterator[History]:
    with connect(str(generated[0]), cache=False) as history:
        history.sync()
        yield history


# -- the files themselves -------------------------------------------------------------------


def test_the_required_queries_exist() -> None:
    assert {
        "jobs_overview",
        "tokens_by_expert_model_day",
        "tool_error_rates",
        "slowest_steps",
        "errors_over_time",
        "delegation_tree",
        "run_results",
        "stopped_early",
    } <= set(NAMES)
    assert [query.name for query in canned_queries()] == NAMES


@pytest.mark.parametrize("query", canned_queries(), ids=lambda query: query.name)
def test_header_says_what_it_answers_and_declares_every_parameter(query: SqlFile) -> None:
    assert len(query.summary) > 20
    declared = {param.name for param in query.params}
    body = "\n".join(line for line in query.text.splitlines() if not line.startswith("--"))
    used = {name for name in declared if f"${name}" in body}
    assert used == declared
    for param in query.params:
        assert param.doc, f"{query.name}: parameter {param.name} is not explained"
    # Values arrive as strings: every use but a NULL test casts them to their type.
    for name in declared:
        uses = body.replace(f"${name} IS NULL", "").count(f"${name}")
        assert uses == body.count(f"CAST(${name} AS "), f"{query.name}: ${name} used uncast"


# -- every query on every store ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("store", ["fixture", "bare", "generated"])
def test_every_query_runs_on_every_store(
    request: pytest.FixtureRequest, store: str, name: str
) -> None:
    history: History = request.getfixturevalue(f"{store}_history")
    given = dict(REQUIRED.get(name, {}))
    if store == "generated" and name in REQUIRED:
        given["job_id"] = history.sql(
            "SELECT job_id FROM runs WHERE parent_run_id IS NOT NULL LIMIT 1"
        ).fetchone()[0]
    rows = run_canned(history, name, given)
    assert rows, f"{name} found nothing on the {store} store"


# -- answers on the real store, checked by hand -----------------------------------------------


def test_jobs_overview(fixture_history: History) -> None:
    rows = run_canned(fixture_history, "jobs_overview")
    assert len(rows) == 11
    assert [r["started_at"] for r in rows] == sorted((r["started_at"] for r in rows), reverse=True)
    tools_job = next(r for r in rows if r["job_id"] == "mq65x3vs2c09epdmpdo634n5")
    assert (tools_job["tool_calls"], tools_job["tool_errors"], tools_job["total_tokens"]) == (
        7,
        1,
        810,
    )
    failing = run_canned(
        fixture_history, "jobs_overview", {"status": "stoppedByError", "limit": "2"}
    )
    assert len(failing) == 2
    assert all(r["status"] == "stoppedByError" and r["errors"] == 1 for r in failing)
    assert run_canned(fixture_history, "jobs_overview", {"since": "2030-01-01"}) == []
    assert len(run_canned(fixture_history, "jobs_overview", {"until": "2030-01-01"})) == 11


def test_tokens_by_expert_model_day(fixture_history: History, bare_history: History) -> None:
    rows = run_canned(fixture_history, "tokens_by_expert_model_day")
    assert {r["model"] for r in rows} == {"claude-sonnet-4-5"}
    assert sum(r["total_tokens"] for r in rows) == 4212
    by_expert = {r["expert_key"]: r["total_tokens"] for r in rows}
    assert by_expert == {
        "assistant": 2268,
        "coordinator": 648,
        "worker": 648,
        "asker": 324,
        "reviewer": 324,
    }
    # Without run settings the model is unknown; the totals are the same.
    bare = run_canned(bare_history, "tokens_by_expert_model_day")
    assert {r["model"] for r in bare} == {"unknown"}
    assert sum(r["total_tokens"] for r in bare) == 4212
    only = run_canned(fixture_history, "tokens_by_expert_model_day", {"expert": "worker"})
    assert [(r["expert_key"], r["steps"], r["total_tokens"]) for r in only] == [("worker", 4, 648)]


def test_tool_error_rates(fixture_history: History) -> None:
    rows = {r["tool_name"]: r for r in run_canned(fixture_history, "tool_error_rates")}
    read = rows["readTextFile"]
    assert (read["calls"], read["results"], read["errors"]) == (7, 7, 1)
    assert read["error_rate"] == pytest.approx(1 / 7, abs=1e-4)
    # A delegation is one call, though two events list it.
    assert (rows["worker"]["kind"], rows["worker"]["calls"]) == ("delegation", 2)
    assert (rows["askUser"]["kind"], rows["askUser"]["calls"]) == ("interactive", 1)
    assert sum(r["calls"] for r in rows.values()) == 19


def test_slowest_steps(fixture_history: History) -> None:
    rows = run_canned(fixture_history, "slowest_steps", {"limit": "3"})
    assert len(rows) == 3
    assert (rows[0]["job_id"], rows[0]["duration_ms"]) == ("j7qfj5j17cg46otdul9bo4nk", 2072)
    assert [r["duration_ms"] for r in rows] == sorted(
        (r["duration_ms"] for r in rows), reverse=True
    )
    job = run_canned(
        fixture_history, "slowest_steps", {"job_id": "mq65x3vs2c09epdmpdo634n5", "limit": "100"}
    )
    assert sorted(r["step_number"] for r in job) == [1, 2, 3, 4]
    assert sum(r["duration_ms"] for r in job) == 218 + 30 + 43 + 79


def test_errors_over_time(fixture_history: History) -> None:
    days = run_canned(fixture_history, "errors_over_time")
    assert len(days) == 1
    day = days[0]
    assert (day["runs_started"], day["runs_stopped_by_error"], day["retries"]) == (18, 3, 2)
    assert (day["tool_results"], day["tool_errors"]) == (11, 1)
    assert day["error_names"] == ["AI_NoOutputGeneratedError"]
    hours = run_canned(fixture_history, "errors_over_time", {"bucket": "minute"})
    assert sum(h["runs_stopped_by_error"] for h in hours) == 3
    assert len(hours) > 1


def test_delegation_tree(fixture_history: History) -> None:
    rows = run_canned(fixture_history, "delegation_tree", {"job_id": DELEGATION_JOB})
    assert [(r["depth"], r["expert_key"], r["relation"], r["status"]) for r in rows] == [
        (0, "coordinator", "root", "stoppedByDelegate"),
        (1, "worker", "delegate", "completed"),
        (1, "reviewer", "delegate", "completed"),
        (0, "coordinator", "resumed", "completed"),
    ]
    assert rows[1]["parent_run_id"] == rows[2]["parent_run_id"] == rows[0]["run_id"]
    assert rows[1]["query"] == "SCENARIO=child Read notes.txt (A)."
    assert rows[1]["tree"] == "  worker"
    assert run_canned(fixture_history, "delegation_tree", {"job_id": "no-such-job"}) == []


def test_delegation_tree_covers_every_run_of_generated_jobs(
    generated_history: History, generated: tuple[Path, GenerationReport]
) -> None:
    for job_id, facts in generated[1].job_facts.items():
        rows = run_canned(generated_history, "delegation_tree", {"job_id": job_id})
        assert sorted(r["run_id"] for r in rows) == sorted(facts.run_ids), facts.scenario
        assert rows[0]["depth"] == 0


def test_run_results(fixture_history: History, bare_history: History) -> None:
    rows = run_canned(fixture_history, "run_results")
    assert len(rows) == 18
    completed = [r for r in rows if r["status"] == "completed"]
    assert len(completed) == 11 and all(r["result_text"] for r in completed)
    failed = run_canned(fixture_history, "run_results", {"status": "stoppedByError"})
    assert {r["error_name"] for r in failed} == {"AI_NoOutputGeneratedError"}
    assert len(failed) == 3
    job = run_canned(fixture_history, "run_results", {"job_id": "zz965jclh954prwh046s5bt8"})
    assert [r["result_text"] for r in job] == [
        "Continuing the same job with a second query.",
        "Hello! This is a plain completion from the fake model.",
    ]
    assert {r["model"] for r in run_canned(bare_history, "run_results")} == {"unknown"}


def test_stopped_early(fixture_history: History) -> None:
    rows = run_canned(fixture_history, "stopped_early")
    assert sorted(r["reason"] for r in rows) == [
        "error",
        "error",
        "error",
        "interactive",
        "max_steps",
    ]
    interactive = run_canned(fixture_history, "stopped_early", {"reason": "interactive"})
    assert len(interactive) == 1
    assert interactive[0]["detail"] == "waiting on askUser"
    assert interactive[0]["resumed_by_run_id"] == "oslp64wkplrxhmm0yxwmht5a"
    max_steps = run_canned(fixture_history, "stopped_early", {"reason": "max_steps"})
    assert [(r["step_number"], r["max_steps"], r["job_status"]) for r in max_steps] == [
        (3, 3, "stoppedByMaxSteps")
    ]


def test_generated_answers_match_the_report(
    generated_history: History, generated: tuple[Path, GenerationReport]
) -> None:
    report = generated[1]
    assert len(run_canned(generated_history, "jobs_overview")) == report.jobs
    assert len(run_canned(generated_history, "run_results")) == report.runs
    tokens = run_canned(generated_history, "tokens_by_expert_model_day")
    assert sum(r["total_tokens"] for r in tokens) == sum(
        f.total_tokens for f in report.job_facts.values()
    )
    stops = run_canned(generated_history, "stopped_early")
    assert len(stops) == sum(report.events_by_type.get(t, 0) for t in STOP_TYPES)
    errors = run_canned(generated_history, "errors_over_time", {"bucket": "month"})
    assert sum(r["runs_started"] for r in errors) == report.events_by_type["startRun"]
    assert sum(r["retries"] for r in errors) == report.events_by_type.get("retry", 0)


# -- the real CLI -------------------------------------------------------------------------------


def test_cli_lists_every_query() -> None:
    listed = perstack("log", "queries", "--json")
    assert listed.returncode == 0, listed.stderr
    queries = json.loads(listed.stdout)
    assert [q["name"] for q in queries] == NAMES
    tree = next(q for q in queries if q["name"] == "delegation_tree")
    assert tree["params"] == "job_id"
    table = perstack("log", "queries", columns=250)
    assert table.returncode == 0
    for name in NAMES:
        assert name in table.stdout


def test_cli_runs_a_query_with_parameters() -> None:
    done = perstack(
        "log",
        "query",
        "--storage",
        str(FIXTURE_STORE),
        "--no-cache",
        "--name",
        "delegation_tree",
        "--param",
        f"job_id={DELEGATION_JOB}",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["expert_key"] for r in rows] == ["coordinator", "worker", "reviewer", "coordinator"]

    done = perstack(
        "log",
        "query",
        "--storage",
        str(FIXTURE_STORE),
        "--no-cache",
        "--name",
        "jobs_overview",
        "--param",
        "status=stoppedByError",
        "--param",
        "since=2026-11-28",
        "--format",
        "csv",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("job_id,status,")
    assert len(lines) == 4 and all(",stoppedByError," in line for line in lines[1:])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "no_such_query"], "Unknown query 'no_such_query'"),
        (["--name", "jobs_overview", "--param", "colour=blue"], "Unknown parameter 'colour'"),
        (["--name", "delegation_tree"], "needs --param job_id="),
    ],
    ids=["unknown-name", "unknown-param", "missing-required-param"],
)
def test_cli_usage_errors_are_one_line_with_exit_code_2(args: list[str], message: str) -> None:
    done = perstack("log", "query", "--storage", str(FIXTURE_STORE), "--no-cache", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr


def test_time_params_take_what_jobs_since_takes_and_bad_values_name_the_parameter() -> None:
    base = [str(PERSTACK), "log", "query", "--storage", str(FIXTURE_STORE), "--no-cache"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
        )

    recent = run("--name", "tool_error_rates", "--param", "since=1h", "--format", "json")
    assert recent.returncode == 0, recent.stderr
    assert json.loads(recent.stdout) == []  # the reference store was written days ago
    spans = run("--name", "tool_error_rates", "--param", "since=5200w", "--format", "json")
    dated = run("--name", "tool_error_rates", "--param", "since=2020-01-01", "--format", "json")
    assert dated.returncode == 0 and json.loads(dated.stdout)
    assert json.loads(spans.stdout) == json.loads(dated.stdout)
    for param, expected in (
        ("since=yesterday", "Error: Invalid value for --param since: 'yesterday' (use a date"),
        ("until=2026-13-01", "Error: Invalid value for --param until: '2026-13-01' (use a date"),
        ("limit=abc", "Error: Invalid value for --param limit: 'abc' (use a whole number >= 1)"),
    ):
        name = "jobs_overview"
        result = run("--name", name, "--param", param)
        assert result.returncode == 2
        assert result.stderr.startswith(expected), result.stderr
        assert result.stderr.count("\n") == 1
    bucket = run("--name", "errors_over_time", "--param", "bucket=fortnight")
    assert (bucket.returncode, bucket.stderr) == (
        2,
        "Error: Invalid value for --param bucket: 'fortnight' "
        "(allowed: minute, hour, day, week, month)\n",
    )
