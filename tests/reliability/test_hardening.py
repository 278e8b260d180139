"""Issue 12's classes of attack and carelessness, each through the real CLI.

A key with a number too large for its column, a key with an empty job id, agent text that
would steer a terminal, secrets under other names or inside agent text, a query that runs
for ever or is interrupted, every former exit 1, and values the formatters used to print as
Python reprs. Stores are copies of the runtime-written fixture, on the filesystem and on S3
(moto over HTTP).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability_support import PERSTACK, cli
from support.cli import run_cli_as_a_user
from support.moto_server import create_bucket, upload_tree

from perstack_logq.views.query import canned_queries

JOB = "anaew4v18s62aanmx116dgi2"
RUN = "lq50yqsj2c393ajmhtf16dbw"
RUN_DIR = f"jobs/{JOB}/runs/{RUN}"
# Raw control characters a terminal obeys: C0 but tab and newline, DEL, C1.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
HOSTILE = "clear\x1b[2J title\x1b]0;pwned\x07 clip\x1b]52;c;ZXZpbA==\x07 back\r csi\x9b1m end"
SLOW_SQL = "SELECT count(*) FROM range(100000000000) t(a), range(10) u(b) WHERE a + b = -1"


def _event_body(store: Path, **changes: object) -> bytes:
    template = next((store / RUN_DIR).glob("event-*-startRun.json"))
    body = json.loads(template.read_text("utf-8"))
    body.update(changes)
    return json.dumps(body).encode()


def _args(store: Path | str, cache: Path) -> tuple[str, ...]:
    return ("--storage", str(store), "--cache-dir", str(cache))


@pytest.fixture
def bucket_of_store(
    moto_fixture_store: str,
    aws_test_credentials: None,
    store_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], Any]:
    """Makes a new bucket on the moto server holding a copy of ``store_copy``, with the CLI
    pointed at that server (AWS_ENDPOINT_URL_S3); returns a boto3 client of it."""
    from support.moto_server import client

    def holding(bucket: str) -> Any:
        create_bucket(moto_fixture_store, bucket)
        upload_tree(moto_fixture_store, bucket, "", store_copy)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_fixture_store)
        return client(moto_fixture_store)

    return holding


def _assert_one_line(result, code: int) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == code, (result.args, result.returncode, result.stderr)
    assert len(result.error_lines) == 1, result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


# -- 2. one file never takes down a store --------------------------------------------------


def test_numbers_too_large_for_their_columns_are_skipped_files(
    store_copy: Path, tmp_path: Path
) -> None:
    run_dir = store_copy / RUN_DIR
    (run_dir / "event-99999999999999999999-1-x.json").write_bytes(_event_body(store_copy))
    (run_dir / f"event-1-{'9' * 40}-x.json").write_bytes(_event_body(store_copy))
    (run_dir / "event-1764315100000-1-big.json").write_bytes(
        _event_body(store_copy, stepNumber=2**70, timestamp=1764315100000)
    )
    (run_dir / "event-1764315100001-1-time.json").write_bytes(
        _event_body(store_copy, timestamp=-(2**63))
    )
    args = _args(store_copy, tmp_path / "cache")
    for command in [(), ("--job", JOB), ("jobs",), ("info",), ("sync",), ("query", "SELECT 1")]:
        result = cli(*command, *args, store=store_copy)
        assert result.returncode == 0, (command, result.stderr)
    listed = cli("--job", JOB, "--show-skipped", *args).stderr
    assert "event-99999999999999999999-1-x.json: unknown layout (a number in the event file" in (
        listed
    )
    assert "stepNumber is out of range" in listed
    assert "timestamp is out of range" in listed


def test_a_file_too_large_is_named_and_never_read(store_copy: Path, tmp_path: Path) -> None:
    # 3 GB of zeros, sparse (no disk): read, it would take 3 GB of memory and many seconds,
    # and fail as invalid JSON; over the default limit (256 MB), it is named without a read.
    args = _args(store_copy, tmp_path / "cache")
    alone = _args(store_copy, tmp_path / "other-cache")
    counted = "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM skipped_files)"
    answer = cli("query", counted, "--format", "csv", "--no-cache", *args).stdout
    events = int(answer.splitlines()[1].split(",")[0])
    valid = _event_body(store_copy, timestamp=1764315100000, stepNumber=9)
    huge = store_copy / RUN_DIR / "event-1764315100000-9-startRun.json"
    with open(huge, "wb") as handle:
        handle.truncate(3 * 10**9)
    sync = cli("sync", "--show-skipped", *args, store=store_copy)
    assert sync.returncode == 0, sync.stderr
    assert (
        f"skipped: {RUN_DIR}/event-1764315100000-9-startRun.json: too large (3,000,000,000 "
        "bytes; files over 256,000,000 bytes are not read (PERSTACK_LOGQ_MAX_FILE_MB sets the "
        "limit in MB))"
    ) in sync.stderr
    assert "1 file skipped (1 too large)" in cli("--job", JOB, "--no-cache", *args).stderr
    answer = cli("query", counted, "--format", "csv", *args).stdout
    assert answer.splitlines()[1] == f"{events},1"
    # Made small and valid, it is read by the next sync like any changed file.
    huge.write_bytes(valid)
    for cache_args in (args, alone):
        answer = cli("query", counted, "--format", "csv", *cache_args)
        assert answer.stdout.splitlines()[1] == f"{events + 1},0", answer.stderr


def test_the_size_limit_is_set_in_megabytes_on_s3_too(
    bucket_of_store: Callable[[str], Any],
    tmp_path: Path,
    store_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = "hardening-size"
    s3 = bucket_of_store(bucket)
    # The fixture's biggest file is 16 KB: a limit of 20 KB leaves them all but this one.
    padded = _event_body(store_copy, timestamp=1764315100000, padding="x" * 30_000)
    key = f"{RUN_DIR}/event-1764315100000-9-startRun.json"
    s3.put_object(Bucket=bucket, Key=key, Body=padded)
    monkeypatch.setenv("PERSTACK_LOGQ_MAX_FILE_MB", "0.02")
    args = _args(f"s3://{bucket}/", tmp_path / "cache")
    listed = cli("sync", "--show-skipped", *args)
    assert listed.returncode == 0, listed.stderr
    assert f"skipped: {key}: too large ({len(padded):,} bytes; files over 20,000 bytes" in (
        listed.stderr
    )
    assert listed.stderr.count("skipped: ") == 1
    for wrong in ("0", "-1", "nan", "inf", "1e10", "a lot"):
        monkeypatch.setenv("PERSTACK_LOGQ_MAX_FILE_MB", wrong)
        result = cli("sync", *args)
        _assert_one_line(result, 2)
        assert f"PERSTACK_LOGQ_MAX_FILE_MB={wrong!r}: give a number of megabytes" in result.stderr


def test_a_float_column_takes_an_integer_no_double_holds_exactly(
    store_copy: Path, tmp_path: Path
) -> None:
    """``contextWindowUsage: 2**63 - 1``: Arrow refused it for a DOUBLE column, which failed
    the whole batch, and every command exited 1 (until 2026-12-07)."""
    checkpoint = next((store_copy / "jobs" / JOB / "checkpoints").glob("*.json"))
    record = json.loads(checkpoint.read_text("utf-8"))
    record["contextWindowUsage"] = 2**63 - 1
    checkpoint.write_text(json.dumps(record), "utf-8")
    args = _args(store_copy, tmp_path / "cache")
    assert cli("--job", JOB, "--json", *args).returncode == 0
    usage = cli(
        "query",
        f"SELECT context_window_usage FROM checkpoints WHERE source_key LIKE '%{checkpoint.name}'",
        "--format",
        "csv",
        *args,
    )
    assert usage.stdout.split() == ["context_window_usage", "9.223372036854776e+18"]


def _overflowing_and_misshapen(store: Path) -> None:
    """Token counts that each fit BIGINT, but not their sums or differences, and messages
    whose ``contents`` are not lists where lists belong."""
    usage = {
        "inputTokens": 2**62,
        "outputTokens": 2**62,
        "reasoningTokens": 2**62,
        "totalTokens": 2**63 - 1,
        "cachedInputTokens": -(2**63),
    }
    for path in store.glob("jobs/*/runs/*/event-*.json"):
        record = json.loads(path.read_text("utf-8"))
        for holder in (record, record.get("step"), record.get("checkpoint")):
            if isinstance(holder, dict) and isinstance(holder.get("usage"), dict):
                holder["usage"] = usage
        step = record.get("step")
        if isinstance(step, dict) and step.get("newMessages"):
            if record["type"] == "continueToNextStep":
                step["newMessages"][0]["contents"] = 1e-320
            else:
                step["newMessages"][0]["contents"] = [{"type": "toolResultPart", "contents": {}}]
        if record["type"] == "startRun":
            record["inputMessages"] = "a text, not a list"
        path.write_text(json.dumps(record), "utf-8")


def test_sums_too_large_for_their_columns_and_misshapen_messages_break_nothing(
    store_copy: Path, tmp_path: Path
) -> None:
    """A total beyond BIGINT is NULL, not an error; a message part of the wrong shape is not
    searched (both exited 1 or 4 until 2026-12-07: `cost`, `search`, `runs`, ...)."""
    _overflowing_and_misshapen(store_copy)
    args = _args(store_copy, tmp_path / "cache")
    names = cli(
        "query",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND NOT starts_with(table_name, '_') ORDER BY ALL",
        "--format",
        "csv",
        *args,
    ).stdout.split()[1:]
    assert {"runs", "jobs", "run_costs", "job_costs", "messages"} <= set(names)
    commands: list[tuple[str, ...]] = [("query", f"SELECT * FROM {name}") for name in names]
    commands += [("query", "--name", query.name) for query in canned_queries()]
    commands += [
        (),
        ("jobs",),
        ("info",),
        ("cost",),
        ("cost", "--by", "job"),
        ("cost", "--by", "step"),
        ("search", "the"),
        ("report", "--output", str(tmp_path / "report.html")),
    ]
    for command in commands:
        if command[1:] == ("--name", "delegation_tree"):
            command += ("--param", f"job_id={JOB}")
        result = cli(*command, *args, store=store_copy)
        assert result.returncode == 0, (command, result.stderr)
    runs = cli("query", "SELECT input_tokens FROM runs", "--format", "json", *args)
    assert None in [row["input_tokens"] for row in json.loads(runs.stdout)]


def test_keys_on_s3_with_large_numbers_or_an_empty_job_id_are_counted(
    bucket_of_store: Callable[[str], Any], tmp_path: Path, store_copy: Path
) -> None:
    bucket = "hardening-keys"
    s3 = bucket_of_store(bucket)
    body = _event_body(store_copy)
    s3.put_object(Bucket=bucket, Key=f"{RUN_DIR}/event-99999999999999999999-1-x.json", Body=body)
    s3.put_object(Bucket=bucket, Key="jobs//runs/r/event-1-1-startRun.json", Body=body)
    args = _args(f"s3://{bucket}/", tmp_path / "cache")
    for command in [("jobs",), ("info",), ("sync",), ("--job", JOB)]:
        assert cli(*command, *args).returncode == 0, command
    listed = cli("sync", "--show-skipped", *args).stderr
    assert "jobs//runs/r/event-1-1-startRun.json: unknown layout (empty job id" in listed
    assert "event-99999999999999999999-1-x.json: unknown layout" in listed
    info = json.loads(cli("info", "--json", *args).stdout)
    assert info["other_files"] == 2 and info["jobs"] == 11


def test_names_that_are_not_utf8_are_skipped_files(store_copy: Path, tmp_path: Path) -> None:
    """Linux takes any bytes in a name; DuckDB and Arrow take UTF-8 only. Such names once made
    every command on the store exit 1; now each is one skipped file, named."""
    run_dir = os.fsencode(store_copy / RUN_DIR)
    for name in (b"event-1-1-\xff.json", b"event-1-1-\xfe.json"):
        with open(os.path.join(run_dir, name), "wb") as file:
            file.write(_event_body(store_copy))
    odd_job = os.path.join(os.fsencode(store_copy / "jobs"), b"j\xff", b"runs", b"r")
    os.makedirs(odd_job)
    with open(os.path.join(odd_job, b"event-9999999999999-1-startRun.json"), "wb") as file:
        file.write(_event_body(store_copy))
    cache = tmp_path / "cache"
    skipped = {("sync",): 3, ("jobs",): 3, ("--job", JOB): 2, (): 0, ("--no-cache",): 0}
    for command, count in skipped.items():
        result = cli(*command, *_args(store_copy, cache))
        assert result.returncode == 0, (command, result.stderr)
        warning = f"{count} files skipped ({count} unknown layout)"
        assert (warning in result.stderr) == bool(count), (command, result.stderr)
    assert re.search(r"Other files: +3\n", cli("info", *_args(store_copy, cache)).stdout)
    listed = cli("sync", "--show-skipped", *_args(store_copy, cache)).stderr
    for key in (
        f"{RUN_DIR}/event-1-1-\ufffdff.json",
        f"{RUN_DIR}/event-1-1-\ufffdfe.json",
        "jobs/j\ufffdff",
    ):
        assert f"{key}: unknown layout (a name that is not UTF-8" in listed, listed
    # The job that is not one is not the latest, though its event time is the newest.
    latest = cli("--json", *_args(store_copy, cache))
    assert json.loads(latest.stdout)["job"]["id"] != "j\ufffdff"


def test_a_file_name_with_a_newline_is_listed_on_one_line(store_copy: Path, tmp_path: Path) -> None:
    """A skipped file's name cannot print lines of its own (a forged warning line)."""
    (store_copy / RUN_DIR / "x\nwarning: nothing was skipped\x1b[2J.json").write_bytes(b"{}")
    result = cli("sync", "--show-skipped", *_args(store_copy, tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"skipped: {RUN_DIR}/x\\nwarning: nothing was skipped\\x1b[2J.json: unknown layout "
        "(not a job, checkpoint, run setting or event file)",
    ]


KEY_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=30
)


def test_a_directory_that_cannot_be_read_is_one_skipped_entry(
    store_copy: Path, tmp_path: Path
) -> None:
    """A run directory and a whole job directory that cannot be read (permission denied) are
    two skipped entries, named with the reason; the rest of the store is there, every sync
    tries them again, and once readable they are read like any new files."""
    other_job = "zz965jclh954prwh046s5bt8"
    unreadable = [store_copy / RUN_DIR, store_copy / "jobs" / other_job]
    hidden_events = sum(len(list(d.rglob("event-*.json"))) for d in unreadable)
    assert hidden_events
    args = _args(store_copy, tmp_path / "cache")
    count_events = ("query", "SELECT count(*) FROM events", "-f", "csv", *args)
    all_events = int(run_cli_as_a_user("log", *count_events).stdout.splitlines()[1])
    for directory in unreadable:
        directory.chmod(0)
    try:
        for attempt in range(2):  # the second sync must not forget them
            synced = run_cli_as_a_user("log", "sync", "--show-skipped", *args)
            assert synced.returncode == 0, synced.stderr
            for key in (f"{RUN_DIR}/", f"jobs/{other_job}/"):
                line = f"{key}: unreadable (a directory that cannot be listed: permission denied)"
                assert line in synced.stderr, (attempt, synced.stderr)
        # The cache that read them before, a new cache and none agree.
        for where in ((), ("--cache-dir", str(tmp_path / "new")), ("--no-cache",)):
            counted = run_cli_as_a_user("log", *count_events, *where)
            assert "2 files skipped (2 unreadable)" in counted.stderr, (where, counted.stderr)
            assert int(counted.stdout.splitlines()[1]) == all_events - hidden_events, where
        shown = run_cli_as_a_user("log", "--job", JOB, *args)
        assert shown.returncode == 0 and "1 file skipped (1 unreadable)" in shown.stderr
        asked = run_cli_as_a_user("log", "--job", other_job, *args)
        assert asked.returncode == 3, asked.stderr
        assert asked.stderr.splitlines()[-1].endswith(f"jobs/{other_job}/: permission denied")
        for command in (("--no-cache",), ("jobs",), ("info",)):
            assert run_cli_as_a_user("log", *command, *args).returncode == 0, command
    finally:
        for directory in unreadable:
            directory.chmod(0o755)
    readable = run_cli_as_a_user("log", *count_events)
    assert int(readable.stdout.splitlines()[1]) == all_events
    assert "skipped" not in readable.stderr, readable.stderr


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.one_of(
        KEY_TEXT,
        st.builds(
            "event-{}-{}-{}.json".format,
            st.integers(-(10**30), 10**30),
            st.integers(-(10**30), 10**30),
            KEY_TEXT,
        ),
    ),
    job=KEY_TEXT,
)
@example(name="event-0-0-0.json", job="\\")  # once made `perstack log` exit 3 for the whole store
def test_no_key_name_on_the_filesystem_ends_in_exit_1(
    tmp_path_factory: pytest.TempPathFactory, name: str, job: str
) -> None:
    base = tmp_path_factory.mktemp("keys")
    store = base / "store"
    try:
        run_dir = store / "jobs" / job / "runs" / "r"
        run_dir.mkdir(parents=True)
        (run_dir / name).write_bytes(b'{"type":"startRun","timestamp":1,"stepNumber":1}')
    except (OSError, ValueError):
        return  # a name the filesystem refuses cannot be in a store
    args = _args(store, base / "cache")
    for command in [("jobs",), ("sync", "--show-skipped"), ("info",), ()]:
        result = cli(*command, *args)
        assert result.returncode in (0, 2), (command, result.stderr)
        assert "unexpected" not in result.stderr
        assert not RAW_CONTROL.search(result.stdout + result.stderr)
    shutil.rmtree(base)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    key=st.text(
        st.characters(codec="utf-8", exclude_characters="\x00\r\n"), min_size=1, max_size=60
    ).map(lambda text: f"jobs/{text}")
)
def test_no_key_name_on_s3_ends_in_exit_1(
    moto_fixture_store: str, tmp_path_factory: pytest.TempPathFactory, key: str
) -> None:
    from support.moto_server import client

    base = tmp_path_factory.mktemp("s3keys")
    bucket = "hardening-fuzz"
    s3 = client(moto_fixture_store)
    create_bucket(moto_fixture_store, bucket)
    for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=listed["Key"])
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"type":"startRun"}')
    env = {
        "AWS_ENDPOINT_URL_S3": moto_fixture_store,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        for command in [("sync", "--show-skipped"), ("jobs",), ("info",)]:
            result = cli(*command, *_args(f"s3://{bucket}/", base / "cache"))
            assert result.returncode in (0, 2, 3), (key, command, result.stderr)
            assert "unexpected" not in result.stderr
            assert not RAW_CONTROL.search(result.stdout + result.stderr)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- 3. terminal injection -----------------------------------------------------------------


def test_agent_text_never_reaches_the_terminal_raw(store_copy: Path, tmp_path: Path) -> None:
    run_dir = store_copy / RUN_DIR
    body = _event_body(store_copy, timestamp=1764315100000, expertKey=HOSTILE, id="id\x1b[31m")
    (run_dir / "event-1764315100000-1-startRun.json").write_bytes(body)
    text = json.loads(body)
    text["inputMessages"] = [
        {"type": "userMessage", "contents": [{"type": "textPart", "text": HOSTILE}]}
    ]
    (run_dir / "event-1764315100001-1-startRun.json").write_bytes(json.dumps(text).encode())
    (run_dir / "bad\x1b]0;x\x07name.json").write_bytes(b"{")
    args = _args(store_copy, tmp_path / "cache")
    commands = [
        ("--job", JOB),
        ("--job", JOB, "--verbose"),
        ("--job", JOB, "--json"),
        ("--job", JOB, "--show-skipped"),
        ("jobs", "--show-skipped"),
        ("info",),
        *(
            (
                "query",
                "SELECT expert_key, record FROM events WHERE expert_key LIKE 'clear%'",
                "-f",
                f,
            )
            for f in ("table", "csv", "markdown", "json", "jsonl")
        ),
    ]
    for command in commands:
        result = cli(*command, *args, store=store_copy)
        assert result.returncode == 0, (command, result.stderr)
        assert not RAW_CONTROL.search(result.stdout), (command, result.stdout[:500])
        assert not RAW_CONTROL.search(result.stderr), (command, result.stderr[:500])
    shown = cli("query", "SELECT expert_key FROM events WHERE expert_key LIKE 'clear%'", *args)
    assert "clear\\x1b[2J title\\x1b]0;pwned\\x07" in shown.stdout
    assert "back\\x0d csi\\x9b1m" in shown.stdout
    listed = cli("--job", JOB, "--show-skipped", *args).stderr
    assert "bad\\x1b]0;x\\x07name.json" in listed
    as_json = cli(
        "query", "SELECT expert_key FROM events WHERE expert_key LIKE 'clear%'", "-f", "json", *args
    ).stdout
    assert json.loads(as_json)[0]["expert_key"] == HOSTILE  # still the same JSON value


def test_the_installed_script_escapes_too(store_copy: Path, tmp_path: Path) -> None:
    message = {"type": "userMessage", "contents": [{"type": "textPart", "text": HOSTILE}]}
    (store_copy / RUN_DIR / "event-1764315100000-1-startRun.json").write_bytes(
        _event_body(store_copy, timestamp=1764315100000, inputMessages=[message])
    )
    result = cli("--job", JOB, *_args(store_copy, tmp_path / "cache"), process=True)
    assert result.returncode == 0, result.stderr
    assert not RAW_CONTROL.search(result.stdout)
    assert 'Query: "clear\\x1b[2J title\\x1b]0;pwned\\x07' in result.stdout


# -- 4. secrets under other names and inside agent text --------------------------------------

PLANTED = {
    "aws": "AKIAQWERTYUIOPASDFGH",
    "github": "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8",
    "slack": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "anthropic": "sk-ant-api03-" + "Zx9" * 12,
    "openai": "sk-proj-" + "Qw8" * 12,
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyMTIzIn0.c2lnbmF0dXJlMTIz",
    "pem": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7planted\n-----END RSA PRIVATE KEY-----"
    ),
}
SETTING_SECRETS = [f"PLANTEDSECRET{n}" for n in range(12)]


def _plant_secrets(store: Path) -> None:
    run_dir = store / RUN_DIR
    setting = json.loads((run_dir / "run-setting.json").read_text("utf-8"))
    s = SETTING_SECRETS
    setting.update(
        {
            "token": s[0],
            "auth": {"bearer": s[1], "pass": s[2], "pwd": s[3], "key": s[4], "username": "u"},
            "mcp": {
                "url": f"https://mcp.example/sse?token={s[5]}&key={s[6]}",
                "command": f"npx server --api-key={s[7]}",
                "shell": f"ANTHROPIC_API_KEY={s[8]} node run.js",
            },
            "proxyUrl": f" proxy.example:{s[9]}/x@proxy:8080",
            "extra": {"providerConfig": json.dumps({"apiKey": s[10]})},
            "env": [{"name": "TOKEN", "value": s[11]}],
            "headers": {"x-api-key": "PLANTEDSECRETHEADER"},
        }
    )
    (run_dir / "run-setting.json").write_text(json.dumps(setting), "utf-8")
    leaking = "Found these: " + " ".join(PLANTED.values())
    (run_dir / "event-1764315100000-1-startRun.json").write_bytes(
        _event_body(store, timestamp=1764315100000, leaked=leaking)
    )


def _assert_clean(text: str, where: str) -> None:
    for value in [*PLANTED.values(), *SETTING_SECRETS, "PLANTEDSECRETHEADER", "MIIEpAIBAAKCAQEA"]:
        assert value not in text, f"{value} leaks in {where}"


def test_no_secret_under_any_name_or_shape_leaves(store_copy: Path, tmp_path: Path) -> None:
    _plant_secrets(store_copy)
    args = _args(store_copy, tmp_path / "cache")
    for command in [
        ("--job", JOB, "--json"),
        ("--job", JOB, "--verbose"),
        ("query", "SELECT * FROM run_settings", "-f", "jsonl"),
        ("query", "SELECT * FROM events", "-f", "csv"),
        ("query", "SELECT * FROM checkpoints", "-f", "jsonl"),
    ]:
        result = cli(*command, *args)
        assert result.returncode == 0, result.stderr
        _assert_clean(result.stdout, " ".join(command))
    exported = tmp_path / "export"
    assert (
        cli("export", "-o", str(exported), "--format", "jsonl", "--tables", "all", *args).returncode
        == 0
    )
    for path in exported.rglob("*"):
        if path.is_file():
            _assert_clean(path.read_text("utf-8", errors="replace"), str(path))
    assert cli("sync", *args).returncode == 0
    info = json.loads(cli("info", "--json", *args).stdout)
    assert info["masked_secrets"] >= len(PLANTED)
    assert "Secrets masked:" in cli("info", *args).stdout


def test_hostile_text_and_secrets_on_s3_are_escaped_and_masked(
    moto_fixture_store: str,
    aws_test_credentials: None,
    store_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Classes 3 and 4 on S3 (moto over HTTP): the CLI escapes and masks what it reads from a
    bucket as it does from a directory, and so does the API."""
    _plant_secrets(store_copy)
    message = {"type": "userMessage", "contents": [{"type": "textPart", "text": HOSTILE}]}
    (store_copy / RUN_DIR / "event-1764315100001-1-startRun.json").write_bytes(
        _event_body(store_copy, timestamp=1764315100001, inputMessages=[message])
    )
    bucket = "hardening-hostile"
    upload_tree(moto_fixture_store, bucket, "p/", store_copy)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_fixture_store)
    args = _args(f"s3://{bucket}/p/", tmp_path / "cache")
    for command in [
        ("--job", JOB),
        ("--job", JOB, "--json"),
        ("query", "SELECT * FROM run_settings", "-f", "csv"),
        ("query", "SELECT * FROM events", "-f", "jsonl"),
        ("query", "SELECT expert_key, record FROM events", "-f", "markdown"),
    ]:
        result = cli(*command, *args, process=True)
        assert result.returncode == 0, (command, result.stderr)
        assert not RAW_CONTROL.search(result.stdout + result.stderr), command
        _assert_clean(result.stdout, " ".join(command))
    assert 'Query: "clear\\x1b[2J title' in cli("--job", JOB, *args).stdout
    from perstack_logq.api import connect

    history = connect(f"s3://{bucket}/p/", cache_dir=tmp_path / "api-cache")
    rows = history.sql("SELECT * FROM run_settings").fetchall()
    rows += history.sql("SELECT * FROM events").fetchall()
    _assert_clean(repr(rows), "History.sql over S3")


def test_password_in_an_s3_url_is_never_echoed() -> None:
    for location in [
        "s3://user:PASSWORDX@bucket/",
        " s3://user:PASS/WORDX@bucket/p",
        "r2://user:PASSWORDX@acct/bucket/",
        "gs://user:PASSWORDX@bucket/",
    ]:
        result = cli("jobs", "--storage", location, "--debug")  # the traceback too
        assert result.returncode == 2 and len(result.error_lines) == 1, result.stderr
        assert "PASSWORDX" not in result.stderr and "WORDX" not in result.stderr


# -- 5. runaway work ---------------------------------------------------------------------


def test_query_timeout_stops_the_query(tmp_path: Path) -> None:
    from support import FIXTURE_STORE

    result = cli("query", SLOW_SQL, "--timeout", "1", *_args(FIXTURE_STORE, tmp_path / "c"))
    _assert_one_line(result, 4)
    assert "stopped after 1 s (--timeout" in result.stderr


def test_api_query_timeout(tmp_path: Path) -> None:
    from support import FIXTURE_STORE

    from perstack_logq.api import connect
    from perstack_logq.errors import QueryError

    history = connect(FIXTURE_STORE, cache_dir=tmp_path / "c", query_timeout=1)
    assert history.sql("SELECT 42").fetchall() == [(42,)]
    with pytest.raises(QueryError, match="stopped after 1 s"):
        history.sql(SLOW_SQL).fetchall()


def _interrupted(args: list[str], marker: str) -> subprocess.CompletedProcess[str]:
    """Start ``perstack log <args>``, send SIGINT once ``marker`` is on stderr."""
    process = subprocess.Popen(
        [PERSTACK, "log", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    seen = ""
    while marker not in seen:
        line = process.stderr.readline()
        assert line, f"ended before {marker!r}: {seen}"
        seen += line
    process.send_signal(signal.SIGINT)
    # The query alone would run for hours: ending at all proves the interrupt worked.
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(args, process.returncode, stdout, seen + stderr)


def test_ctrl_c_stops_a_running_query_with_130(store_copy: Path, tmp_path: Path) -> None:
    (store_copy / RUN_DIR / "junk.txt").write_text("x")  # a warning line: the query started
    args = _args(store_copy, tmp_path / "cache")
    assert cli("sync", *args).returncode == 0
    result = _interrupted(["query", SLOW_SQL, "--timeout", "0", *args], "warning:")
    assert result.returncode == 130, result.stderr
    assert "Interrupted" in result.stderr and "terminate" not in result.stderr


# -- 6. every former exit 1 -----------------------------------------------------------------


def test_former_exit_1_cases(store_copy: Path, tmp_path: Path) -> None:
    from support import FIXTURE_STORE

    args = _args(FIXTURE_STORE, tmp_path / "cache")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    endpoint = tmp_path / "endpoint.toml"
    endpoint.write_text(
        '[storage]\ntype = "s3"\n[storage.s3]\nbucket = "b"\nendpoint = "http://[::1"\n'
    )
    cases: list[tuple[tuple[str, ...], int]] = [
        (("jobs", "--since", "99999999d", *args), 0),
        (("jobs", "--limit", "9" * 30, *args), 0),
        (("--offset", "9" * 30, *args), 0),
        (("--context", "9" * 30, *args), 0),
        (("--take", "9" * 30, *args), 0),
        (("export", "-o", str(tmp_path / "x"), "--shard", "0/" + "9" * 20, *args), 2),
        (("jobs", "-f", "csv", "-o", str(tmp_path / "missing" / "x.csv"), *args), 2),
        (("jobs", "-f", "csv", "-o", "/proc/no-such/x.csv", *args), 2),
        (
            (
                "query",
                "SELECT 1",
                "-o",
                str(store_copy / "x.csv"),
                "--storage",
                str(store_copy),
                "--cache-dir",
                str(tmp_path / "c2"),
            ),
            2,
        ),
        (("jobs", "--storage", str(FIXTURE_STORE), "--cache-dir", str(blocker)), 2),
        (("jobs", "--config", str(deep)), 2),
        (("jobs", "--config", str(endpoint)), 2),
        (
            (
                "query",
                "SELECT INTERVAL 1 DAY AS i",
                "-f",
                "parquet",
                "-o",
                str(tmp_path / "i.pq"),
                *args,
            ),
            4,
        ),
        (
            (
                "query",
                "SELECT union_value(k := 1) AS u",
                "-f",
                "parquet",
                "-o",
                str(tmp_path / "u.pq"),
                *args,
            ),
            4,
        ),
        (("jobs", "--storage", "s3://bucket:99999/"), 2),
        (("jobs", "--storage", "s3://bad bucket/"), 2),
    ]
    if Path("/dev/full").exists():
        cases.append((("jobs", "-f", "csv", "-o", "/dev/full", *args), 2))
    for command, code in cases:
        result = cli(*command)
        assert result.returncode == code, (command, result.stderr)
        assert "unexpected" not in result.stderr, (command, result.stderr)
        if code:
            assert len(result.error_lines) == 1, (command, result.stderr)
    assert not (store_copy / "x.csv").exists()
    assert not (tmp_path / "i.pq").exists()
    huge = cli("query", "SELECT (2::HUGEINT ** 100)::HUGEINT AS h", "-f", "json", *args)
    assert huge.returncode == 0 and json.loads(huge.stdout) == [{"h": 2**100}]


def test_environment_endpoint_and_region_are_usage_errors(
    monkeypatch: pytest.MonkeyPatch, aws_test_credentials: None
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://[::1")
    _assert_one_line(cli("jobs", "--storage", "s3://bucket/"), 2)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:99999")
    _assert_one_line(cli("jobs", "--storage", "s3://bucket/"), 2)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "bad region!")
    _assert_one_line(cli("jobs", "--storage", "s3://bucket/"), 2)


def test_an_event_nested_hundreds_deep_shows_as_json(store_copy: Path, tmp_path: Path) -> None:
    nested: list = []
    for _ in range(600):
        nested = [nested]
    (store_copy / RUN_DIR / "event-1764315100000-1-startRun.json").write_bytes(
        _event_body(store_copy, timestamp=1764315100000, deep=nested)
    )
    for pretty in ((), ("--pretty",)):
        result = cli("--job", JOB, "--json", *pretty, *_args(store_copy, tmp_path / "cache"))
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)["events"]) > 0


@pytest.mark.parametrize(
    "command",
    [
        "jobs",
        "--take 0",
        # 170 KB of --json, written as bytes beneath the escaping stream: more than a pipe holds.
        "--job mq65x3vs2c09epdmpdo634n5 --take 0 --json --pretty",
        "query 'SELECT * FROM range(200000)'",
    ],
)
def test_a_closed_pipe_exits_quietly_with_0(command: str, tmp_path: Path) -> None:
    from support import FIXTURE_STORE

    err = tmp_path / "err"
    shell = (
        f"{PERSTACK} log {command} --storage {FIXTURE_STORE} --cache-dir {tmp_path / 'c'} "
        f"2>{err} | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    )
    for _ in range(3):  # the reader may leave before or after the first write
        code = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True)
        assert code.stdout.strip() == "0", err.read_text()
        assert "Error" not in err.read_text()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["--take 0", "--take 0 --json"])
def test_a_full_output_is_one_line_and_exit_2(command: str, tmp_path: Path) -> None:
    """`--json` goes to stdout as bytes, beneath the escaping stream: its errors still say
    one line."""
    from support import FIXTURE_STORE

    shell = (
        f"{PERSTACK} log {command} --storage {FIXTURE_STORE} --cache-dir {tmp_path / 'c'} "
        ">/dev/full"
    )
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: Cannot write the output: No space left on device")
    assert result.stderr.count("\n") == 1, result.stderr


# -- 7. rendering ------------------------------------------------------------------------------

VALUES_SQL = (
    "SELECT '-infinity'::TIMESTAMP AS t, 'infinity'::DATE AS d, INTERVAL 1 DAY + INTERVAL 3 SECOND"
    " AS i, -INTERVAL 90 MINUTE AS n, '\\xAA\\x00'::BLOB AS b, 'nan'::DOUBLE AS f"
)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("csv", "-infinity,infinity,1d 00:00:03,-01:30:00,0xaa00,nan"),
        ("markdown", "| -infinity | infinity | 1d 00:00:03 | -01:30:00 | 0xaa00 | nan |"),
        ("table", "-infinity  infinity  1d 00:00:03  -01:30:00  0xaa00  nan"),
    ],
)
def test_special_values_render_sensibly(fmt: str, expected: str, tmp_path: Path) -> None:
    from support import FIXTURE_STORE

    result = cli("query", VALUES_SQL, "-f", fmt, *_args(FIXTURE_STORE, tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "datetime" not in result.stdout and "b'" not in result.stdout


# -- hypothesis over the numeric options ------------------------------------------------------

NUMBER_TEXT = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.text("0123456789-+.e ", min_size=1, max_size=25),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    option=st.sampled_from(
        [
            ("--take",),
            ("--offset",),
            ("--context",),
            ("jobs", "--limit"),
            ("jobs", "--since", "d"),
            ("jobs", "--until", "h"),
            ("query", "SELECT 1", "--timeout"),
            ("jobs", "--concurrency"),
            ("export", "-o", "OUT", "--shard", "0/"),
            ("cost", "--limit"),
            ("search", "agent", "--limit"),
            ("demo", "--jobs"),
            ("demo", "--jobs", "1", "--seed"),
        ]
    ),
    number=NUMBER_TEXT,
)
# Limits past a BIGINT, which the examples above once found for cost and search (exit 1).
@example(option=("jobs", "--limit"), number=str(2**63))
@example(option=("cost", "--limit"), number=str(2**63))
@example(option=("search", "agent", "--limit"), number=str(10**30))
def test_no_numeric_option_ends_in_exit_1(
    tmp_path_factory: pytest.TempPathFactory, option: tuple[str, ...], number: str
) -> None:
    from support import FIXTURE_STORE

    base = tmp_path_factory.mktemp("numbers")
    *head, last = option
    value = number
    if last in ("d", "h"):
        *head, last = head
        value = number + option[-1]
    if last == "0/":
        *head, last = head
        value = "0/" + number
    head = [str(base / "out") if part == "OUT" else part for part in head]
    if head[:1] == ["demo"]:
        if last == "--jobs" and number.strip().isdigit() and int(number) > 3:
            return  # a valid count writes a store that large: not what this test is about
        args = [*head, last, value, "--directory", str(base / "demo")]
    else:
        args = [*head, last, value, *_args(FIXTURE_STORE, base / "cache")]
    result = cli(*args)
    assert result.returncode in (0, 2), (args, result.stderr)
    assert "unexpected" not in result.stderr


# -- no command path ends in "unexpected" ------------------------------------------------------

BAD_INPUTS: list[tuple[str, ...]] = [
    ("--job", "../x"),
    ("--job", "x", "--step", "5-2"),
    ("--take", "-1"),
    ("jobs", "--since", "yesterday"),
    ("jobs", "--format", "xml"),
    ("jobs", "--json", "--format", "csv"),
    ("query", "DELETE FROM events"),
    ("query", "SELECT * FROM nowhere"),
    ("query", "SELECT CAST('abc' AS INTEGER)"),
    ("query", "SELECT 1; SELECT 2"),
    ("query", "--name", "nope"),
    ("query", "SELECT 1", "-f", "parquet"),
    ("queries", "--format", "xml"),
    ("export", "-o", "s3://"),
    ("export", "-o", "OUT", "--tables", "nope"),
    ("export", "-o", "OUT", "--format", "xml"),
    ("sync", "--no-cache"),
    ("info", "--storage", "r2://acct"),
    ("jobs", "--storage", "s3://"),
    ("jobs", "--storage", "~nosuchuser/x"),
    ("jobs", "--config", "/no/such/perstack.toml"),
    ("report", "-o", "/no/such/dir/report.html"),
    ("report", "--since", "yesterday", "-o", "OUT"),
    ("cost", "--by", "year"),
    ("cost", "--prices", "/no/such/prices.toml"),
    ("search", ""),
    ("search", "*"),
    ("mcp", "--http", "nohost"),
    ("mcp", "--http", "0.0.0.0:1"),
    ("mcp", "--max-rows", "0"),
    ("demo", "--directory", "/proc/no-such/x"),
    ("demo", "--jobs", "0"),
]
# Commands that take no store options (the rest get --storage and --cache-dir added).
_STORELESS = {"demo", "queries"}


def test_the_bad_input_corpus_reaches_every_command() -> None:
    """A new command joins the corpus below, or this fails: no command path is left out."""
    import typer.main

    from perstack_logq.cli import log_app

    commands = set(typer.main.get_group(log_app).commands)
    reached = {bad[0] for bad in BAD_INPUTS if not bad[0].startswith("-")}
    assert commands <= reached, f"no bad input for: {sorted(commands - reached)}"
    assert any(bad[0].startswith("-") for bad in BAD_INPUTS)  # `perstack log` itself


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda args: " ".join(args)[:40])
def test_no_bad_input_ends_in_unexpected(bad: tuple[str, ...], tmp_path: Path) -> None:
    from support import FIXTURE_STORE

    args = [str(tmp_path / "out") if part == "OUT" else part for part in bad]
    if "--storage" not in args and "--config" not in args and bad[0] not in _STORELESS:
        args += _args(FIXTURE_STORE, tmp_path / "cache")
    result = cli(*args)
    assert result.returncode in (2, 3, 4), (args, result.stderr)
    _assert_one_line(result, result.returncode)
