"""The tables hold exactly what the store holds, on the filesystem, S3 and R2 alike.

Two stores, each checked against an account of it made without perstack_logq:

- the real store written by Perstack's runtime, against its STATS.txt, against a plain
  walk of its files (``RawFacts``: json.loads and counting, nothing shared with the decoder),
  and against a few rows checked by hand;
- a generated store, against the GenerationReport the generator returns and the same walk.

Every store is opened once per backend (S3 and R2 on a moto server) and every assertion runs
on all three.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import FIXTURE_BUCKET, FIXTURE_PREFIX, FIXTURE_STORE, R2_ACCOUNT_ID
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION, upload_tree

from perstack_logq.api import History, connect
from perstack_logq.config import R2Config, S3Config, StorageConfig
from perstack_logq.synth import DirectoryWriter, GenerationReport, generate_store

BACKENDS = ("filesystem", "s3", "r2")
STATS_FILE = FIXTURE_STORE.parents[1] / "STATS.txt"
GENERATED_BUCKET = "logq-tables-generated"
GENERATED_PREFIX = "history/"
BARE_BUCKET = "logq-tables-bare"
LONG_BUCKET = "logq-tables-long"
USAGE_KEYS = ("inputTokens", "outputTokens", "reasoningTokens", "totalTokens", "cachedInputTokens")
USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cached_input_tokens",
)


# -- an account of a store made without perstack_logq ----------------------------------------


@dataclass
class RawFacts:
    job_files: int = 0
    checkpoints: int = 0
    run_settings: int = 0
    events: int = 0
    runs: set[tuple[str, str]] = field(default_factory=set)
    events_by_type: Counter[str] = field(default_factory=Counter)
    steps: int = 0
    step_usage: Counter[str] = field(default_factory=Counter)  # over every step object
    step_tokens_by_job: Counter[str] = field(default_factory=Counter)
    tool_calls_by_kind: Counter[str] = field(default_factory=Counter)
    tool_results: int = 0
    job_usage: dict[str, dict[str, int]] = field(default_factory=dict)  # from job.json
    event_span_by_job: dict[str, tuple[int, int]] = field(default_factory=dict)  # ms


def raw_facts(root: Path) -> RawFacts:
    """Walk ``root/jobs`` with json.loads: what a careful person would count by hand."""
    facts = RawFacts()
    for path in sorted((root / "jobs").rglob("*.json")):
        parts = path.relative_to(root).parts  # jobs/{job}/...
        job_id = parts[1]
        record: dict[str, Any] = json.loads(path.read_bytes())
        if parts[2:] == ("job.json",):
            facts.job_files += 1
            facts.job_usage[job_id] = record["usage"]
        elif parts[2] == "checkpoints":
            facts.checkpoints += 1
        elif parts[2] == "runs":
            facts.runs.add((job_id, parts[3]))
            if parts[4] == "run-setting.json":
                facts.run_settings += 1
                continue
            facts.events += 1
            kind = record["type"]
            facts.events_by_type[kind] += 1
            first, last = facts.event_span_by_job.get(job_id, (record["timestamp"],) * 2)
            facts.event_span_by_job[job_id] = (
                min(first, record["timestamp"]),
                max(last, record["timestamp"]),
            )
            if isinstance(record.get("step"), dict):
                facts.steps += 1
                usage = record["step"].get("usage") or {}
                for key in USAGE_KEYS:
                    facts.step_usage[key] += usage.get(key, 0)
                facts.step_tokens_by_job[job_id] += usage.get("totalTokens", 0)
            if kind in ("callTools", "callDelegate"):
                facts.tool_calls_by_kind[kind] += len(record["toolCalls"])
            elif kind == "callInteractiveTool":
                facts.tool_calls_by_kind[kind] += 1
            elif kind == "resolveToolResults":
                facts.tool_results += len(record["toolResults"])
    return facts


@dataclass(frozen=True)
class StatsJob:
    status: str
    coordinator: str
    total_steps: int
    runs: int
    checkpoints: int
    events: int
    run_settings: int


@dataclass(frozen=True)
class Stats:
    totals: dict[str, int]
    events_by_type: dict[str, int]
    jobs: dict[str, StatsJob]


_STATS_JOB = re.compile(
    r"^(\w+) status=(\w+) coordinator=(\S+) totalSteps=(\d+) runs=(\d+) cps=(\d+) "
    r"events=(\d+) run-settings=(\d+)$"
)


def read_stats() -> Stats:
    """STATS.txt: one line per job, then the totals and the events per type as Python dicts."""
    lines = STATS_FILE.read_text(encoding="utf-8").splitlines()
    jobs = {}
    dicts = []
    for line in lines:
        if match := _STATS_JOB.match(line):
            jobs[match[1]] = StatsJob(match[2], match[3], *(int(match[i]) for i in range(4, 9)))
        elif line.startswith("{"):
            dicts.append(json.loads(line.replace("'", '"')))
    totals, by_type = dicts
    return Stats(totals, by_type, jobs)


# -- opening a store on each backend ----------------------------------------------------------


def storage_config(backend: str, endpoint: str, bucket: str, prefix: str) -> StorageConfig:
    if backend == "s3":
        return S3Config(
            bucket=bucket, region=REGION, prefix=prefix, endpoint=endpoint, force_path_style=True
        )
    return R2Config(account_id=R2_ACCOUNT_ID, bucket=bucket, prefix=prefix, endpoint=endpoint)


def open_synced(
    backend: str, root: Path, endpoint: str, bucket: str, prefix: str, home: Path
) -> History:
    """A History over ``root`` (filesystem) or its copy in ``bucket`` (S3/R2), fully read.

    Module-scoped fixtures run outside the per-test isolation, so the credentials and AWS
    files are set here, only while the store is read; afterwards the tables are in memory.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name in ("AWS_ACCESS_KEY_ID", "R2_ACCESS_KEY_ID"):
            env.setenv(name, DUMMY_KEY_ID)
        for name in ("AWS_SECRET_ACCESS_KEY", "R2_SECRET_ACCESS_KEY"):
            env.setenv(name, DUMMY_SECRET)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        location: str | StorageConfig = (
            str(root)
            if backend == "filesystem"
            else storage_config(backend, endpoint, bucket, prefix)
        )
        history = connect(location, cache=False)
        history.sync()
    return history


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    root = tmp_path_factory.mktemp("generated") / "perstack"
    report = generate_store(DirectoryWriter(root), jobs=12, seed=11)
    return root, report


@pytest.fixture(scope="module", params=BACKENDS)
def fixture_history(
    request: pytest.FixtureRequest,
    moto_fixture_store: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[History]:
    history = open_synced(
        request.param,
        FIXTURE_STORE,
        moto_fixture_store,
        FIXTURE_BUCKET,
        FIXTURE_PREFIX,
        tmp_path_factory.mktemp("aws"),
    )
    yield history
    history.close()


@pytest.fixture(scope="module")
def generated_bucket(moto_endpoint: str, generated: tuple[Path, GenerationReport]) -> str:
    upload_tree(moto_endpoint, GENERATED_BUCKET, GENERATED_PREFIX, generated[0])
    return moto_endpoint


@pytest.fixture(scope="module", params=BACKENDS)
def generated_history(
    request: pytest.FixtureRequest,
    generated_bucket: str,
    generated: tuple[Path, GenerationReport],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[History]:
    history = open_synced(
        request.param,
        generated[0],
        generated_bucket,
        GENERATED_BUCKET,
        GENERATED_PREFIX,
        tmp_path_factory.mktemp("aws"),
    )
    yield history
    history.close()


@pytest.fixture(scope="module")
def long_store(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Path:
    """Long sessions as the runtime writes them (the generator's long profile, small: 3 jobs,
    7 runs, 729 files, 9.5 MB), on disk and in a bucket."""
    root = tmp_path_factory.mktemp("long") / "perstack"
    generate_store(DirectoryWriter(root), jobs=3, seed=24, scale=0.01, profile="long")
    upload_tree(moto_endpoint, LONG_BUCKET, "", root)
    return root


@pytest.fixture(scope="module", params=BACKENDS)
def long_history(
    request: pytest.FixtureRequest,
    long_store: Path,
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[History]:
    history = open_synced(
        request.param, long_store, moto_endpoint, LONG_BUCKET, "", tmp_path_factory.mktemp("aws")
    )
    yield history
    history.close()


@pytest.fixture(scope="module")
def bare_store(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Path:
    """The fixture store without job.json and run-setting.json (what `perstack run` writes
    today), on disk and in a bucket."""
    root = tmp_path_factory.mktemp("bare") / "perstack"
    shutil.copytree(FIXTURE_STORE, root)
    for path in [*root.rglob("job.json"), *root.rglob("run-setting.json")]:
        path.unlink()
    upload_tree(moto_endpoint, BARE_BUCKET, "", root)
    return root


@pytest.fixture(scope="module", params=BACKENDS)
def bare_history(
    request: pytest.FixtureRequest,
    bare_store: Path,
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[History]:
    history = open_synced(
        request.param, bare_store, moto_endpoint, BARE_BUCKET, "", tmp_path_factory.mktemp("aws")
    )
    yield history
    history.close()


@pytest.fixture(scope="module")
def stats() -> Stats:
    return read_stats()


@pytest.fixture(scope="module")
def fixture_raw() -> RawFacts:
    return raw_facts(FIXTURE_STORE)


def count(history: History, table: str) -> int:
    return history.sql(f"SELECT count(*) FROM {table}").fetchone()[0]


def scalar(history: History, sql: str, params: dict[str, Any] | None = None) -> Any:
    return history.sql(sql, params).fetchone()[0]


# -- the real store -----------------------------------------------------------------------------


def test_fixture_row_counts_match_stats(fixture_history: History, stats: Stats) -> None:
    totals = stats.totals
    assert count(fixture_history, "jobs") == totals["jobs"] == 11
    assert count(fixture_history, "job_files") == totals["job.json"]
    assert count(fixture_history, "runs") == totals["runs"]
    assert count(fixture_history, "run_settings") == totals["run-setting.json"]
    assert count(fixture_history, "checkpoints") == totals["checkpoints"]
    assert count(fixture_history, "events") == totals["events"]
    # The store has no file to skip.
    assert fixture_history.sql("SELECT * FROM skipped_files").fetchall() == []


def test_fixture_events_per_type_match_stats(fixture_history: History, stats: Stats) -> None:
    rows = fixture_history.sql("SELECT type, count(*) FROM events GROUP BY type").fetchall()
    assert dict(rows) == stats.events_by_type


def test_fixture_jobs_match_stats_line_by_line(fixture_history: History, stats: Stats) -> None:
    rows = fixture_history.sql(
        "SELECT job_id, status, coordinator_expert_key, total_steps, run_count, "
        "checkpoint_count, event_count FROM jobs"
    ).fetchall()
    settings = dict(
        fixture_history.sql("SELECT job_id, count(*) FROM run_settings GROUP BY job_id").fetchall()
    )
    got = {
        job_id: StatsJob(status, expert, steps, runs, cps, events, settings[job_id])
        for job_id, status, expert, steps, runs, cps, events in rows
    }
    assert got == stats.jobs


def test_fixture_derived_tables_match_the_files(
    fixture_history: History, fixture_raw: RawFacts
) -> None:
    assert count(fixture_history, "steps") == fixture_raw.steps == 30
    kinds = fixture_history.sql("SELECT kind, count(*) FROM tool_calls GROUP BY kind").fetchall()
    assert dict(kinds) == dict(fixture_raw.tool_calls_by_kind)
    assert dict(kinds) == {"callTools": 19, "callDelegate": 3, "callInteractiveTool": 1}
    assert count(fixture_history, "tool_results") == fixture_raw.tool_results == 11
    runs = fixture_history.sql("SELECT job_id, run_id FROM runs").fetchall()
    assert set(runs) == fixture_raw.runs


def test_fixture_token_sums(fixture_history: History, fixture_raw: RawFacts) -> None:
    sums = fixture_history.sql(
        "SELECT " + ", ".join(f"sum({c})" for c in USAGE_COLUMNS) + " FROM steps"
    ).fetchone()
    assert dict(zip(USAGE_KEYS, sums, strict=True)) == dict(fixture_raw.step_usage)
    assert sums == (3120, 1092, 0, 4212, 780)
    # Steps add up to each job's usage (job.json's, here).
    per_job = fixture_history.sql(
        "SELECT j.job_id, j.total_tokens, coalesce(sum(s.total_tokens), 0) "
        "FROM jobs AS j LEFT JOIN steps AS s USING (job_id) GROUP BY ALL"
    ).fetchall()
    for job_id, job_tokens, step_tokens in per_job:
        assert job_tokens == step_tokens == fixture_raw.step_tokens_by_job[job_id], job_id
    assert scalar(fixture_history, "SELECT sum(total_tokens) FROM jobs") == 4212
    assert scalar(fixture_history, "SELECT sum(total_tokens) FROM runs") == 4212


def test_fixture_hand_checked_rows(fixture_history: History) -> None:
    # The delegation job: three runs, five steps, 648 tokens (job.json).
    assert fixture_history.sql(
        "SELECT status, coordinator_expert_key, total_steps, max_steps, input_tokens, "
        "output_tokens, total_tokens, cached_input_tokens, run_count, has_job_file "
        "FROM jobs WHERE job_id = 'anaew4v18s62aanmx116dgi2'"
    ).fetchall() == [("completed", "coordinator", 5, 100, 480, 168, 648, 120, 3, True)]
    # Its worker run was delegated by the coordinator's first run.
    assert fixture_history.sql(
        "SELECT expert_key, status, parent_run_id, parent_expert_key, first_step, last_step, "
        "step_count, total_tokens FROM runs WHERE run_id = 'vzzskerz0v4k5oeg7t55628d'"
    ).fetchall() == [
        ("worker", "completed", "lyx0er9sk85sdkur4ps12vz8", "coordinator", 2, 3, 2, 324)
    ]
    # The one failing tool call: a file that does not exist.
    assert fixture_history.sql(
        "SELECT job_id, step_number, skill_name, tool_name, left(result_text, 52) "
        "FROM tool_results WHERE is_error"
    ).fetchall() == [
        (
            "mq65x3vs2c09epdmpdo634n5",
            2,
            "@perstack/base",
            "readTextFile",
            '{"error":"Error","message":"File does-not-exist.txt ',
        )
    ]
    assert fixture_history.sql(
        "SELECT json_extract_string(args, '$.path') FROM tool_calls "
        "WHERE tool_call_id = (SELECT tool_call_id FROM tool_results WHERE is_error)"
    ).fetchall() == [("does-not-exist.txt",)]
    # A provider failure (HTTP 500): the slowest step of the store.
    assert fixture_history.sql(
        "SELECT job_id, type, step_number, duration_ms, total_tokens FROM steps "
        "ORDER BY duration_ms DESC LIMIT 1"
    ).fetchall() == [("j7qfj5j17cg46otdul9bo4nk", "stopRunByError", 1, 2072, 0)]
    # The runtime puts the error on the stopRunByError event only; the sync copies it onto
    # the checkpoint that event closed (sql/sync/30_checkpoint_errors.sql).
    assert fixture_history.sql(
        "SELECT c.status, c.error_name, e.record ->> '$.error.name', "
        "CAST(e.record -> '$.error.isRetryable' AS BOOLEAN) "
        "FROM checkpoints AS c JOIN events AS e USING (job_id) "
        "WHERE job_id = 'eqabmiq3bq3idcgghjuofcrt' AND e.type = 'stopRunByError'"
    ).fetchall() == [
        ("stoppedByError", "AI_NoOutputGeneratedError", "AI_NoOutputGeneratedError", False)
    ]
    # The run stopped by --max-steps 3, and its run setting.
    assert fixture_history.sql(
        "SELECT model, provider_name, max_steps, max_retries, reasoning_budget FROM run_settings "
        "WHERE job_id = 'e85ixiyowknf70rghgs8z1hv'"
    ).fetchall() == [("claude-sonnet-4-5", "anthropic", 3, 5, "low")]
    # The interactive question, asked once and answered in a second run.
    assert fixture_history.sql(
        "SELECT kind, tool_name, args ->> 'question' FROM tool_calls "
        "WHERE job_id = 'd8bv5fbzyrw4zxz5ernfv27z' ORDER BY kind"
    ).fetchall() == [
        ("callInteractiveTool", "askUser", "Which colour?"),
        ("callTools", "askUser", "Which colour?"),
    ]
    assert fixture_history.sql(
        "SELECT input_text FROM runs WHERE job_id = 'd8bv5fbzyrw4zxz5ernfv27z' ORDER BY started_at"
    ).fetchall() == [("SCENARIO=interactive Ask me a question",), ("blue",)]
    # One event by its file name: the name alone gives time, step and type.
    assert fixture_history.sql(
        "SELECT type, step_number, timestamp_ms, epoch_ms(event_time), expert_key "
        "FROM events WHERE event_id = 'ih3gawzs1jb9frt6nvlor3bu'"
    ).fetchall() == [("completeRun", 5, 1795851117693, 1795851117693, "coordinator")]


def test_fixture_event_columns_hold_what_the_files_say(fixture_history: History) -> None:
    """checkpoint_id and the error columns of every event, against the event files as read."""
    expected = {}
    for path in FIXTURE_STORE.glob("jobs/*/runs/*/event-*.json"):
        record = json.loads(path.read_bytes())
        error = record.get("error") or {}
        expected[path.relative_to(FIXTURE_STORE).as_posix()] = (
            (record.get("checkpoint") or {}).get("id"),
            error.get("name"),
            error.get("message"),
            error.get("isRetryable"),
        )
    rows = fixture_history.sql(
        "SELECT source_key, checkpoint_id, error_name, error_message, error_is_retryable "
        "FROM events"
    ).fetchall()
    assert {key: tuple(values) for key, *values in rows} == expected
    # Both kinds are there to compare: step-closing events and an error.
    assert sum(1 for values in expected.values() if values[0]) >= 30
    assert sum(1 for values in expected.values() if values[1]) >= 1


def test_odd_error_fields_keep_their_event(tmp_path: Path) -> None:
    """An event's error fields of any JSON type never make it invalid: text is kept as JSON
    text (as DuckDB's ->> gives it), isRetryable only as a boolean."""
    root = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, root, ignore=shutil.ignore_patterns("*.md", "*.txt"))
    run_dir = next(root.glob("jobs/*/runs/*"))
    odd = {
        "type": "stopRunByError",
        "id": "odd",
        "timestamp": 1795851115301,
        "stepNumber": 1,
        "checkpoint": {"id": 7},
        "error": {"name": {"code": [1, 2]}, "message": 3.5, "isRetryable": "yes"},
    }
    (run_dir / "event-1795851115301-1-stopRunByError.json").write_bytes(json.dumps(odd).encode())
    with connect(str(root), cache=False) as history:
        history.sync()
        assert history.sql(
            "SELECT checkpoint_id, error_name, error_message, error_is_retryable, "
            "checkpoint_id = (record ->> '$.checkpoint.id'), "
            "error_name = (record ->> '$.error.name') "
            "FROM events WHERE event_id = 'odd'"
        ).fetchall() == [("7", '{"code":[1,2]}', "3.5", None, True, True)]
        assert history.sql("SELECT count(*) FROM skipped_files").fetchone() == (0,)


def test_without_job_and_run_setting_files_the_jobs_are_derived_from_the_data(
    bare_history: History, stats: Stats, fixture_raw: RawFacts
) -> None:
    assert count(bare_history, "job_files") == count(bare_history, "run_settings") == 0
    assert count(bare_history, "events") == 145
    assert count(bare_history, "runs") == 18  # runs are directories, not run settings
    rows = bare_history.sql(
        "SELECT job_id, status, coordinator_expert_key, total_steps, run_count, "
        "checkpoint_count, event_count, has_job_file, "
        + ", ".join(USAGE_COLUMNS)
        + ", epoch_ms(started_at), epoch_ms(finished_at) FROM jobs"
    ).fetchall()
    assert len(rows) == 11
    for job_id, status, expert, steps, runs, cps, events, has_file, *rest in rows:
        expected = stats.jobs[job_id]
        # Spec §4: status from the last checkpoint, expert from the first, steps and usage
        # from the last, times from the first and last event (every job here has ended).
        assert (status, expert, steps, runs, cps, events) == (
            expected.status,
            expected.coordinator,
            expected.total_steps,
            expected.runs,
            expected.checkpoints,
            expected.events,
        )
        assert not has_file
        usage, times = rest[:5], tuple(rest[5:])
        assert usage == [fixture_raw.job_usage[job_id][key] for key in USAGE_KEYS], job_id
        assert times == fixture_raw.event_span_by_job[job_id], job_id
    assert bare_history.sql("SELECT count(*) FROM runs WHERE model IS NOT NULL").fetchone() == (0,)


# -- the generated store ------------------------------------------------------------------------


def test_generated_counts_match_the_report(
    generated_history: History, generated: tuple[Path, GenerationReport]
) -> None:
    report = generated[1]
    assert count(generated_history, "jobs") == report.jobs == 12
    assert count(generated_history, "runs") == report.runs
    assert count(generated_history, "checkpoints") == report.checkpoints
    assert count(generated_history, "events") == report.events
    assert count(generated_history, "job_files") == report.job_files
    assert count(generated_history, "run_settings") == report.run_settings
    assert count(generated_history, "skipped_files") == 0
    by_type = generated_history.sql("SELECT type, count(*) FROM events GROUP BY type").fetchall()
    assert dict(by_type) == report.events_by_type
    # The store mixes jobs with and without job.json, runs with and without run settings.
    assert 0 < report.job_files < report.jobs
    assert 0 < report.run_settings < report.runs


def test_generated_jobs_match_the_report(
    generated_history: History, generated: tuple[Path, GenerationReport]
) -> None:
    rows = generated_history.sql(
        "SELECT job_id, status, coordinator_expert_key, total_steps, "
        + ", ".join(USAGE_COLUMNS)
        + ", run_count, checkpoint_count, event_count, has_job_file, "
        "epoch_ms(started_at), epoch_ms(finished_at) FROM jobs"
    ).fetchall()
    got = {row[0]: row[1:] for row in rows}
    expected = {
        job_id: (
            facts.status,
            facts.coordinator_expert_key,
            facts.total_steps,
            *(facts.usage[key] for key in USAGE_KEYS),
            len(facts.run_ids),
            facts.checkpoints,
            facts.events,
            facts.has_job_file,
            facts.started_at,
            facts.finished_at,
        )
        for job_id, facts in generated[1].job_facts.items()
    }
    assert got == expected
    runs = generated_history.sql("SELECT job_id, run_id FROM runs").fetchall()
    assert set(runs) == {
        (job_id, run_id)
        for job_id, facts in generated[1].job_facts.items()
        for run_id in facts.run_ids
    }


def test_generated_tokens_and_tool_calls_match_the_files(
    generated_history: History, generated: tuple[Path, GenerationReport]
) -> None:
    root, report = generated
    raw = raw_facts(root)
    step_tokens = dict(
        generated_history.sql(
            "SELECT job_id, sum(total_tokens) FROM steps GROUP BY job_id"
        ).fetchall()
    )
    for job_id, facts in report.job_facts.items():
        assert step_tokens.get(job_id, 0) == facts.usage["totalTokens"], job_id
    assert sum(step_tokens.values()) == sum(f.total_tokens for f in report.job_facts.values())
    assert count(generated_history, "steps") == raw.steps
    kinds = generated_history.sql("SELECT kind, count(*) FROM tool_calls GROUP BY kind").fetchall()
    assert dict(kinds) == dict(raw.tool_calls_by_kind)
    assert count(generated_history, "tool_results") == raw.tool_results


# -- long sessions: each message once ----------------------------------------------------------


def _conversations(value: Any) -> Iterator[list[Any]]:
    """Every ``messages`` list anywhere in a record, however deep."""
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            yield value["messages"]
        for item in value.values():
            yield from _conversations(item)
    elif isinstance(value, list):
        for item in value:
            yield from _conversations(item)


def test_long_sessions_keep_each_message_once(long_history: History, long_store: Path) -> None:
    """`messages` holds each message of a job once, however many checkpoints and events
    carry it: the same messages, job by job, as a plain walk of the files finds."""
    distinct: set[tuple[str, str]] = set()
    carried = 0
    for path in (long_store / "jobs").rglob("*.json"):
        job_id = path.relative_to(long_store).parts[1]
        for conversation in _conversations(json.loads(path.read_bytes())):
            carried += len(conversation)
            distinct |= {(job_id, message["id"]) for message in conversation}
    # A long session carries its conversation again in every later checkpoint and event.
    assert carried > 20 * len(distinct) > 0
    rows = long_history.sql("SELECT job_id, message_id FROM messages").fetchall()
    assert len(rows) == len(distinct)
    assert set(rows) == distinct
