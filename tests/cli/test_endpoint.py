"""``--endpoint`` (and ``connect(..., endpoint=)``) reach an s3:// store on an S3-compatible
server from the command line, and the Storage line names that server."""

from __future__ import annotations

from pathlib import Path

from support import FIXTURE_BUCKET, FIXTURE_PREFIX, FIXTURE_STORE
from support.cli import run_cli
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET

from perstack_logq import connect

CREDENTIALS = {"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET}
LOCATION = f"s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX}"


def _job_count() -> int:
    return sum(1 for p in (FIXTURE_STORE / "jobs").iterdir() if p.is_dir())


def test_endpoint_option_reads_the_store_and_names_the_server(moto_fixture_store: str) -> None:
    for position in ("before", "after"):
        where = ["--storage", LOCATION, "--endpoint", moto_fixture_store, "--no-cache"]
        args = ["log", *where, "jobs"] if position == "before" else ["log", "jobs", *where]
        result = run_cli(*args, env=CREDENTIALS)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == f"Storage: s3 {LOCATION} (endpoint {moto_fixture_store})"
        assert len(lines) == 4 + _job_count()


def test_aws_endpoint_url_works_too(moto_fixture_store: str) -> None:
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": moto_fixture_store}
    result = run_cli("log", "--storage", LOCATION, "--no-cache", "--take", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert f"Storage: s3 {LOCATION} (endpoint {moto_fixture_store})" in result.stdout


def test_connect_takes_an_endpoint(moto_fixture_store: str, aws_test_credentials: None) -> None:
    with connect(LOCATION, endpoint=moto_fixture_store, cache=False) as history:
        assert history.sql("select count(*) from jobs").fetchone()[0] == _job_count()
        assert f"(endpoint {moto_fixture_store})" in repr(history)


def test_endpoint_errors_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    for where, message in (
        (
            ["--storage", str(tmp_path), "--endpoint", "http://127.0.0.1:9"],
            "Error: --endpoint applies to s3:// and r2:// stores, not to a directory\n",
        ),
        (
            ["--storage", "s3://b/p", "--endpoint", "127.0.0.1:9"],
            "Error: Invalid value for --endpoint: '127.0.0.1:9' (use a URL such as "
            "http://127.0.0.1:9000, without credentials)\n",
        ),
    ):
        result = run_cli("log", "jobs", *where, "--no-cache", env=CREDENTIALS)
        assert (result.returncode, result.stderr) == (2, message)
