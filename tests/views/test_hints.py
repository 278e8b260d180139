"""Typos get answers: stdout stays the original's, one line on stderr says what was not found
and what exists (run through the real CLI, on the reference store and on S3 served by moto)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from support import FIXTURE_STORE
from support.cli import run_cli
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION

from perstack_logq.storage.layout import EVENT_TYPES
from perstack_logq.views.hints import closest

STORE = ("--storage", str(FIXTURE_STORE), "--no-cache")


def _job_ids() -> list[str]:
    return sorted(p.name for p in (FIXTURE_STORE / "jobs").iterdir() if p.is_dir())


def test_closest_prefers_near_ids() -> None:
    assert closest("abcdeg", ["abcdef", "zzzzzz", "qqqqqq"])[0] == "abcdef"
    assert closest("x", ["b", "a"]) == ["a", "b"]  # nothing near: the first ones, in order


def test_unknown_job_names_the_closest_ids_and_keeps_stdout() -> None:
    job = _job_ids()[3]
    typo = job[:-2]
    result = run_cli("log", "--job", typo, *STORE)
    assert (result.returncode, result.stdout) == (0, "No data found\n")
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"no job {typo}; closest: {job}")


def test_unknown_event_type_lists_the_known_types() -> None:
    job = _job_ids()[0]
    plain = run_cli("log", "--job", job, "--type", "nosuchtype", *STORE)
    typo = run_cli("log", "--job", job, "--type", "callTool", *STORE)
    assert typo.returncode == 0
    assert typo.stdout == plain.stdout  # the original's output, events or not
    assert typo.stderr.startswith("no event type callTool; did you mean callTools? event types: ")
    assert all(kind in typo.stderr for kind in EVENT_TYPES)
    # A known type with no event in the job is an answer, not a typo: nothing on stderr.
    fine = run_cli("log", "--job", job, "--type", "callInteractiveTool", *STORE)
    assert (fine.returncode, fine.stderr) == (0, "")


def test_unknown_status_lists_the_statuses() -> None:
    result = run_cli("log", "jobs", "--status", "failed", *STORE)
    assert result.returncode == 0
    assert result.stdout.endswith("\nNo jobs found\n")
    assert result.stderr == (
        "no job status failed; statuses: running, completed, stoppedByMaxSteps, "
        "stoppedByInteractiveTool, stoppedByError, stale\n"
    )
    known = run_cli("log", "jobs", "--status", "stale", *STORE)
    assert (known.returncode, known.stderr) == (0, "")


def test_run_of_another_job_names_the_runs_of_the_job_shown() -> None:
    jobs = _job_ids()
    other_run = next((FIXTURE_STORE / "jobs" / jobs[0] / "runs").iterdir()).name
    job = next(
        j for j in jobs[1:] if not (FIXTURE_STORE / "jobs" / j / "runs" / other_run).exists()
    )
    runs = sorted(p.name for p in (FIXTURE_STORE / "jobs" / job / "runs").iterdir())
    result = run_cli("log", "--job", job, "--run", other_run, *STORE)
    assert result.returncode == 0
    assert result.stderr.startswith(f"no run {other_run} in job {job}; its runs: ")
    assert all(run in result.stderr for run in runs[:5])
    fine = run_cli("log", "--job", job, "--run", runs[0], *STORE)
    assert (fine.returncode, fine.stderr) == (0, "")


def test_wrong_s3_prefix_says_to_check_it(moto_endpoint: str) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET,
    )
    client.create_bucket(Bucket="typo-bucket")
    client.put_object(Bucket="typo-bucket", Key="perstack/jobs/j1/job.json", Body=b"{}")
    env = {"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET}
    where = ("--storage", "s3://typo-bucket/perstak", "--endpoint", moto_endpoint, "--no-cache")
    for args, stdout in ((["log"], "No data found\n"), (["log", "jobs"], None)):
        result = run_cli(*args, *where, env=env)
        assert result.returncode == 0, result.stderr
        if stdout:
            assert result.stdout == stdout
        assert result.stderr == "no jobs/ under s3://typo-bucket/perstak/: check the prefix\n"
    right = run_cli("log", "jobs", "--storage", "s3://typo-bucket/perstack", "--endpoint",
                    moto_endpoint, "--no-cache", env=env)  # fmt: skip
    assert "no jobs/" not in right.stderr


def test_missing_directory_is_still_a_storage_error(tmp_path: Path) -> None:
    result = run_cli("log", "--storage", str(tmp_path / "nope"), "--no-cache")
    assert result.returncode == 3


@pytest.mark.parametrize("args", [["log"], ["log", "jobs"]])
def test_a_store_with_jobs_adds_nothing_to_stderr(args: list[str]) -> None:
    result = run_cli(*args, *STORE)
    assert (result.returncode, result.stderr) == (0, "")
