"""What perstack_logq never does: change the store, or let a credential out.

- Filesystem: a checksum of the whole store tree (names, modes, sizes, mtimes, contents) is
  the same before and after every command (``cli(..., store=...)`` checks it).
- S3: the request log of the fault proxy in front of moto shows only GET and HEAD requests
  (ListObjectsV2 is a GET), and only against the source bucket.
- Secrets: no credential of a run setting appears in any output, table, export, error message
  or ``--debug`` traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from reliability_support import cli
from support import FIXTURE_BUCKET, FIXTURE_PREFIX
from support.fault_proxy import FaultProxy, running_fault_proxy

JOB = "mq65x3vs2c09epdmpdo634n5"
RUN = "jsnrahmhe2k82nsoph3r50vf"
URL = f"s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX}"


def _commands(store: str, cache: Path, output: Path) -> list[tuple[str, ...]]:
    """Every command, cached, then the --no-cache forms (each reads everything)."""
    no_cache = ("--storage", store, "--no-cache")
    cached = ("--storage", store, "--cache-dir", str(cache))
    commands = [
        (*cached,),
        (*cached, "--job", JOB, "--json", "--verbose", "--take", "0"),
        (*cached, "--job", JOB, "--summary", "--verbose", "--context", "2", "--type", "callTools"),
        (*cached, "--job", JOB, "--run", RUN, "--errors", "--tools", "--delegations"),
        (*cached, "--job", JOB, "--step", "2-3", "--filter", '.type == "callTools"'),
        ("jobs", *cached),
        ("jobs", *cached, "--format", "csv", "--output", str(output / "jobs.csv")),
        ("info", *cached, "--json"),
        ("sync", *cached),
        ("query", *cached, "SELECT count(*) FROM events"),
        ("query", *cached, "--name", "tool_error_rates", "--format", "jsonl"),
        (
            "query",
            *cached,
            "SELECT * FROM run_settings",
            "--format",
            "parquet",
            "--output",
            str(output / "settings.parquet"),
        ),
        ("query", *cached, "SELECT * FROM events", "--format", "json"),
        ("query", *cached, "DELETE FROM events"),
        ("query", *cached, "COPY events TO 'events.csv'"),
    ]
    return [
        *commands,
        no_cache,
        (*no_cache, "--job", JOB, "--json"),
        ("jobs", *no_cache),
        ("query", *no_cache, "SELECT count(*) FROM tool_calls"),
    ]


def test_filesystem_store_is_never_changed(store_copy: Path, tmp_path: Path) -> None:
    """Each command runs with a checksum of the whole tree before and after it."""
    for args in _commands(str(store_copy), tmp_path / "cache", tmp_path):
        result = cli(*args, store=store_copy)
        assert result.returncode in (0, 4), (args, result.stderr)  # 4: the refused writes
    assert not any(path.name == "events.csv" for path in store_copy.rglob("*"))
    assert (tmp_path / "settings.parquet").stat().st_size > 0


def test_filesystem_store_is_never_changed_by_the_installed_script(store_copy: Path) -> None:
    result = cli(
        "--storage", str(store_copy), "--no-cache", "--job", JOB, store=store_copy, process=True
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def proxied(
    moto_fixture_store: str, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    with running_fault_proxy(moto_fixture_store) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        yield proxy


def test_s3_store_only_sees_reads(proxied: FaultProxy, tmp_path: Path) -> None:
    """The commands that read differently (latest job, one job, everything, refused writes);
    with a cache, the others answer from it and add no request of another kind."""
    cached = ("--storage", URL, "--cache-dir", str(tmp_path / "cache"))
    for args in [
        cached,
        (*cached, "--job", JOB, "--json"),
        ("jobs", *cached),
        ("info", *cached),
        ("sync", *cached),
        ("query", *cached, "--name", "tool_error_rates"),
        ("query", *cached, "DELETE FROM events"),
        ("query", *cached, "COPY events TO 'events.csv'"),
    ]:
        result = cli(*args)
        assert result.returncode in (0, 4), (args, result.stderr)
    requests = proxied.requests()
    assert len(requests) > 200
    assert {entry.method for entry in requests} <= {"GET", "HEAD"}
    assert all(entry.path.startswith(f"/{FIXTURE_BUCKET}") for entry in requests), {
        entry.path.split("?")[0] for entry in requests
    }


# --- secrets ----------------------------------------------------------------------------------

PLANTED = {
    "apiKey": "sk-ant-PLANTED-provider-key-0001",
    "accessKeyId": "AKIAPLANTED0000000002",
    "secretAccessKey": "PLANTED/secret/access/key/0003",
    "sessionToken": "PLANTED-session-token-0004",
    "header": "Bearer PLANTED-header-0005",
    "perstackApiKey": "PLANTED-perstack-api-key-0006",
    "env": "ghp_PLANTEDenvtoken0007",
    "proxyPassword": "PLANTEDproxypw0008",
}


@pytest.fixture
def secret_store(store_copy: Path) -> Path:
    """The fixture store with credentials planted everywhere a run setting holds them."""
    path = store_copy / f"jobs/{JOB}/runs/{RUN}/run-setting.json"
    setting = orjson.loads(path.read_bytes())
    setting["providerConfig"].update(
        apiKey=PLANTED["apiKey"],
        accessKeyId=PLANTED["accessKeyId"],
        secretAccessKey=PLANTED["secretAccessKey"],
        sessionToken=PLANTED["sessionToken"],
        headers={"Authorization": PLANTED["header"]},
    )
    setting["perstackApiKey"] = PLANTED["perstackApiKey"]
    setting["env"]["GITHUB_TOKEN"] = PLANTED["env"]
    setting["proxyUrl"] = f"http://user:{PLANTED['proxyPassword']}@proxy.example:3128"
    path.write_bytes(orjson.dumps(setting))
    # A run setting cut short: skipped, and its error must not quote it either.
    broken = store_copy / f"jobs/{JOB}/runs/brokenrun/run-setting.json"
    broken.parent.mkdir()
    broken.write_bytes(orjson.dumps(setting)[:-40])
    return store_copy


def _assert_no_secret(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for name, value in [*PLANTED.items(), ("fixture", "sk-ant-FAKE-KEY-for-local-test")]:
        assert value.encode() not in data, f"{name} leaked in {where}"


def test_no_credential_in_any_output_table_or_export(secret_store: Path, tmp_path: Path) -> None:
    cache = ("--storage", str(secret_store), "--cache-dir", str(tmp_path / "cache"))
    exports = tmp_path / "exports"
    exports.mkdir()
    runs: list[tuple[str, ...]] = [
        (*cache, "--job", JOB, "--json", "--verbose", "--take", "0", "--debug"),
        (*cache, "--job", JOB, "--verbose", "--messages", "--summary", "--take", "0"),
        ("jobs", *cache, "--format", "json"),
        ("info", *cache, "--json"),
        ("query", *cache, "--name", "run_results", "--format", "json"),
    ]
    tables = (
        "job_files",
        "checkpoints",
        "run_settings",
        "events",
        "steps",
        "tool_calls",
        "tool_results",
        "skipped_files",
        "jobs",
        "runs",
        "messages",
    )
    every_row = ", ".join(
        f"(SELECT list(to_json(t)) FROM {name} AS t) AS {name}" for name in tables
    )
    runs.append(("query", *cache, f"SELECT {every_row}", "--format", "json"))
    for fmt in ("csv", "parquet", "jsonl"):
        runs.append(
            (
                "query",
                *cache,
                "SELECT * FROM run_settings",
                "--format",
                fmt,
                "--output",
                str(exports / f"run_settings.{fmt}"),
            )
        )
    for args in runs:
        result = cli(*args, store=secret_store)
        assert result.returncode == 0, (args, result.stderr)
        _assert_no_secret(result.stdout + result.stderr, " ".join(args))
    for export in exports.iterdir():
        _assert_no_secret(export.read_bytes(), export.name)
    settings = cli(
        *cache,
        "query",
        "--no-sync",
        "--format",
        "json",
        "SELECT settings->>'$.providerConfig.apiKey' AS api_key, "
        "settings->>'$.proxyUrl' AS proxy_url, "
        "settings->>'$.providerConfig.providerName' AS provider "
        f"FROM run_settings WHERE run_id = '{RUN}'",
    )
    assert orjson.loads(settings.stdout) == [
        {
            "api_key": "<redacted>",
            "proxy_url": "http://<redacted>@proxy.example:3128",
            "provider": "anthropic",
        }  # the rest is kept
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT CAST(settings AS INTEGER) FROM run_settings",
        "SELECT CAST(json_extract_string(settings, '$.providerConfig.apiKey') AS INTEGER) "
        "FROM run_settings",
        "SELECT error('leak: ' || settings) FROM run_settings",
    ],
)
def test_no_credential_in_error_messages_or_debug_tracebacks(
    secret_store: Path, tmp_path: Path, sql: str
) -> None:
    result = cli(
        "--storage", str(secret_store), "--no-cache", "--debug", "query", sql, store=secret_store
    )
    assert result.returncode != 0
    assert result.stderr.count("Error: ") >= 1
    _assert_no_secret(result.stdout + result.stderr, sql)
