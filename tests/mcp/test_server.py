"""`perstack log mcp` through the real ``mcp`` client: the server runs as its own process over
stdio, on a generated store (with planted secrets) on the filesystem and on S3 (moto over
HTTP). Answers must equal what the CLI prints for the same question."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_cli, write_config
from support.mcp_client import McpSession, stdio_session
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION, upload_tree

from perstack_logq.mcp.bounds import record_times_iso
from perstack_logq.synth import (
    PLANTED_SECRET_MARKER,
    DirectoryWriter,
    generate_store,
    planted_secrets,
)
from perstack_logq.views.log import parse_log_request

TOOL_NAMES = {
    "store_info", "list_jobs", "show_job", "list_queries", "run_query", "query", "search", "cost",
}  # fmt: skip
BUCKET = "mcp-store"
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?$")


@dataclass
class Served:
    """A store, the CLI arguments and environment that reach it, and a server session on it."""

    args: list[str]
    env: dict[str, str]
    secrets: set[str]
    session: McpSession
    local_store: Path  # the same store on the filesystem

    def cli(self, *args: str) -> Any:
        result = run_cli(*args, *self.args, env=self.env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def cli_error(self, *args: str) -> str:
        """The CLI's error line; refusals depend on the SQL only, so the local copy answers."""
        result = run_cli(*args, "--storage", str(self.local_store), "--no-cache", env=self.env)
        assert result.returncode == 4, result.stderr
        return result.stderr.strip()


def _private_env(base: Path) -> dict[str, str]:
    """HOME, caches and AWS files in ``base``: the server never sees the user's own."""
    home = base / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(base / "xdg-cache"),
        "PERSTACK_LOGQ_CACHE_DIR": str(base / "logq-cache"),
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="module")
def generated_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    root = tmp_path_factory.mktemp("mcp-store") / "perstack"
    report = generate_store(DirectoryWriter(root), jobs=12, seed=23, with_run_settings=0.8)
    secrets = planted_secrets(report)
    raw = "".join(path.read_text("utf-8") for path in root.rglob("run-setting.json"))
    assert secrets and all(secret in raw for secret in secrets)
    return root, secrets


@pytest.fixture(scope="module", params=["filesystem", "s3"])
def served(
    request: pytest.FixtureRequest,
    generated_store: tuple[Path, set[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    root, secrets = generated_store
    base = tmp_path_factory.mktemp(f"mcp-{request.param}")
    env = _private_env(base)
    if request.param == "filesystem":
        args = ["--storage", str(root), "--no-cache"]
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        upload_tree(endpoint, BUCKET, "perstack/", root)
        config = write_config(
            base,
            f'[storage]\ntype = "s3"\n[storage.s3]\nbucket = "{BUCKET}"\nregion = "{REGION}"\n'
            f'prefix = "perstack/"\nendpoint = "{endpoint}"\nforcePathStyle = true\n',
        )
        args = ["--config", str(config), "--no-cache"]
        env |= {"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET}
    # Limits far above the store's answers: here every answer must equal the CLI's whole
    # (test_http.py cuts answers at the default limits). Rows too: the schema has more than
    # the default 200 columns since the cost and search views.
    limits = ["--max-rows", "100000", "--max-cell-chars", "10000000"]
    limits += ["--max-answer-chars", "1000000000"]
    with stdio_session([*args, *limits], env) as session:
        yield Served(args, env, secrets, session, root)


def same_times(value: Any) -> Any:
    """Times as datetimes to the second: the CLI prints `2026-11-01 08:00:00` or ISO without a
    zone, the server ISO 8601 with milliseconds and Z; the moment must be the same."""
    if isinstance(value, dict):
        return {key: same_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [same_times(item) for item in value]
    if isinstance(value, str) and _TIME.match(value):
        moment = dt.datetime.fromisoformat(value.removesuffix("Z"))
        return moment.replace(microsecond=0)
    return value


def answer(served: Served, name: str, arguments: dict[str, Any] | None = None) -> Any:
    result = served.session.call(name, arguments)
    assert not result.is_error, result.text
    assert json.loads(result.text) == result.data  # the text block is the same JSON
    assert "cut" not in result.data, result.data["cut"]
    return result.data


# -- the tools and their schemas ------------------------------------------------------------


def test_tools_are_listed_with_described_schemas(served: Served) -> None:
    tools = {tool.name: tool for tool in served.session.list_tools()}
    assert set(tools) == TOOL_NAMES
    for tool in tools.values():
        assert len(tool.description) > 40
        schema = tool.input_schema
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        for name, prop in schema["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
        assert tool.annotations.read_only_hint is True
    assert tools["query"].input_schema["required"] == ["sql"]
    # show_job passes its arguments on to parse_log_request: the two must name the same.
    assert set(tools["show_job"].input_schema["properties"]) == set(
        inspect.signature(parse_log_request).parameters
    )


# -- answers equal to the CLI's ---------------------------------------------------------------


def test_store_info_equals_log_info_json(served: Served) -> None:
    assert same_times(answer(served, "store_info")) == same_times(
        served.cli("log", "info", "--json")
    )


def test_list_jobs_equals_log_jobs_json(served: Served) -> None:
    every_job = served.cli("log", "jobs", "--json")  # one CLI run: S3 ones are slow
    data = answer(served, "list_jobs", {"limit": 5})
    assert len(every_job) == 12 and data["returned"] == 5 and data["more"] is False
    assert same_times(data["rows"]) == same_times(every_job[:5])
    failed = answer(served, "list_jobs", {"status": "stoppedByError"})
    expected = [job for job in every_job if job["status"] == "stoppedByError"]
    assert expected and same_times(failed["rows"]) == same_times(expected)
    second = answer(served, "list_jobs", {"limit": 2, "offset": 3})
    assert same_times(second["rows"]) == same_times(every_job[3:5])


def test_show_job_equals_log_json(served: Served) -> None:
    jobs = answer(served, "list_jobs", {"status": "stoppedByError"})["rows"]
    job_id = jobs[0]["job_id"]
    for arguments, options in (
        ({}, []),
        ({"job": job_id, "errors": True}, ["--job", job_id, "--errors"]),
        ({"job": job_id, "tools": True, "take": 3, "offset": 1}, ["--job", job_id, "--tools",
         "--take", "3", "--offset", "1"]),
        ({"job": job_id, "filter": '.type == "callTools"', "context": 1},
         ["--job", job_id, "--filter", '.type == "callTools"', "--context", "1"]),
        ({"job": job_id, "step": "1-2", "delegations": True},
         ["--job", job_id, "--step", "1-2", "--delegations"]),
    ):  # fmt: skip
        data = answer(served, "show_job", arguments)
        expected = record_times_iso(served.cli("log", "--json", *options))
        assert data == expected, arguments
    assert isinstance(data["job"]["startedAt"], str) and data["job"]["startedAt"].endswith("Z")


def test_search_equals_log_search_json(served: Served) -> None:
    expected = served.cli("log", "search", "error", "--limit", "5", "--json")
    data = answer(served, "search", {"text": "error", "limit": 5})
    assert expected and same_times(data["rows"]) == same_times(expected)


def test_search_answers_after_a_query_too(served: Served) -> None:
    """Without a cache, user SQL runs on the history's own connection and locks it against
    files for good (engine/sandbox.lock_down): a search after it could no longer load its
    extension (PermissionException, until 2026-12-07)."""
    answer(served, "query", {"sql": "SELECT count(*) AS n FROM events"})
    expected = served.cli("log", "search", "result", "--limit", "3", "--json")
    data = answer(served, "search", {"text": "result", "limit": 3})
    assert expected and same_times(data["rows"]) == same_times(expected)


def test_cost_equals_log_cost_json(served: Served) -> None:
    options = ["--by", "expert", "--model", "claude-sonnet-4-5"]
    expected = served.cli("log", "cost", *options, "--json")
    data = answer(served, "cost", {"by": "expert", "model": "claude-sonnet-4-5"})
    assert expected and same_times(data["rows"]) == same_times(expected)
    # Each row's cost is rounded to 6 decimals, the total is not: half a micro-dollar a row.
    rows_sum = sum(row["cost_usd"] for row in expected)
    assert data["total_usd"] == pytest.approx(rows_sum, abs=0.5e-6 * len(expected))


def test_list_queries_equals_log_queries_json(served: Served) -> None:
    queries = answer(served, "list_queries")["queries"]
    expected = json.loads(run_cli("log", "queries", "--json", check=True).stdout)
    assert [(q["name"], q["answers"]) for q in queries] == [
        (q["name"], q["answers"]) for q in expected
    ]
    for query, listed in zip(queries, expected, strict=True):
        shown = [
            p["name"] + ("" if p["default"] is None else f"={p['default']}")
            for p in query["params"]
        ]
        assert ", ".join(shown) == listed["params"]


def test_run_query_and_query_equal_log_query_json(served: Served) -> None:
    data = answer(served, "run_query", {"name": "tool_error_rates"})
    expected = served.cli("log", "query", "--name", "tool_error_rates", "--format", "json")
    assert expected and same_times(data["rows"]) == same_times(expected)
    job_id = answer(served, "list_jobs", {"limit": 1})["rows"][0]["job_id"]
    data = answer(served, "run_query", {"name": "run_results", "params": {"job_id": job_id}})
    expected = served.cli(
        "log", "query", "--name", "run_results", "--param", f"job_id={job_id}", "--format", "json"
    )
    assert expected and same_times(data["rows"]) == same_times(expected)
    sql = (
        "SELECT job_id, type, event_time, record FROM events "
        "ORDER BY timestamp_ms, source_key LIMIT 40"
    )
    data = answer(served, "query", {"sql": sql})
    assert data["columns"] == ["job_id", "type", "event_time", "record"]
    assert same_times(data["rows"]) == same_times(
        served.cli("log", "query", sql, "--format", "json")
    )


# -- refusals, errors, survival ------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE events",
        "INSERT INTO skipped_files VALUES ('a', 'b', 'c')",
        "SELECT 1; DELETE FROM events",
        "COPY events TO '/tmp/stolen.csv'",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_json_auto('/etc/hostname')",
        "SELECT getenv('HOME')",
        "ATTACH '/tmp/other.duckdb' AS other",
        "SET enable_external_access = true",
    ],
)
def test_writes_and_file_reads_are_tool_errors_with_the_clis_message(
    served: Served, sql: str
) -> None:
    result = served.session.call("query", {"sql": sql})
    assert result.is_error and result.data is None
    assert result.text == served.cli_error("log", "query", sql)
    assert "root:" not in result.text
    assert not Path("/tmp/stolen.csv").exists()
    assert answer(served, "query", {"sql": "SELECT count(*) AS n FROM events"})["rows"][0]["n"] > 0


def test_the_server_survives_bad_calls(served: Served) -> None:
    for name, arguments, message in (
        ("list_jobs", {"limit": "ten"}, "Error: Invalid arguments for list_jobs: limit: 'ten' "
         "is not of type 'integer'"),
        ("list_jobs", {"since": "yesterday-ish"}, "Error: Invalid value for since: "),
        ("show_job", {"job": "../../etc"}, "Error: "),
        ("show_job", {"step": "banana"}, "Error: Invalid step filter"),
        ("run_query", {"name": "no_such_query"}, "Error: "),
        ("run_query", {"name": "delegation_tree"}, "Error: Query 'delegation_tree' needs"),
        ("query", {"sql": "SELECT no_such_column FROM jobs"}, "Error: Binder Error"),
        ("query", {}, "Error: Invalid arguments for query: 'sql' is a required property"),
        ("no_such_tool", {}, "Error: Unknown tool 'no_such_tool'"),
    ):  # fmt: skip
        result = served.session.call(name, arguments)
        assert result.is_error, (name, arguments)
        assert result.text.startswith(message) and "\n" not in result.text, result.text
        assert answer(served, "store_info")["jobs"] == 12


# -- the schema resource and secrets ---------------------------------------------------------


def test_schema_resource_lists_every_table_and_view(served: Served) -> None:
    text = served.session.read_resource("perstack-logq://schema")
    rows = answer(served, "query", {"sql": "SELECT table_name, column_name FROM "
        "duckdb_columns() WHERE schema_name = 'main' AND NOT internal AND NOT "
        "starts_with(table_name, '_')"})["rows"]  # fmt: skip
    assert len(rows) > 200
    for row in rows:
        assert f"## `{row['table_name']}`" in text
        assert f"| `{row['column_name']}` |" in text
    assert "## `jobs` (view)" in text and "## `events` (table)" in text


def test_no_answer_holds_a_secret(served: Served) -> None:
    for table in ("run_settings", "jobs", "runs", "events", "checkpoints"):
        served.session.call("query", {"sql": f"SELECT * FROM {table}", "limit": 200})
    served.session.call("show_job", {"take": 0})
    served.session.read_resource("perstack-logq://schema")
    everything = "\n".join(served.session.texts)
    assert "run_settings" in everything and len(everything) > 100_000
    assert PLANTED_SECRET_MARKER.lower() not in everything.lower()
    leaked = sorted(secret for secret in served.secrets if secret in everything)
    assert not leaked, leaked[:3]
