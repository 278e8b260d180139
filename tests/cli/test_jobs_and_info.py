"""`perstack log jobs` and `perstack log info` on a generated store, checked against what the
generator wrote (its GenerationReport), through the real CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from support.cli import run_cli

from perstack_logq.cli import main
from perstack_logq.synth import DirectoryWriter, GenerationReport, generate_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    root = tmp_path_factory.mktemp("jobs-info") / "store"
    report = generate_store(DirectoryWriter(root), jobs=30, seed=19)
    return root, report


def _jobs_json(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    assert main(["log", "jobs", "--storage", str(root), "--no-cache", "--json", *args]) == 0
    return orjson.loads(capsys.readouterr().out)


def test_jobs_lists_every_job_newest_first_with_the_generated_facts(
    store: tuple[Path, GenerationReport], capsys: pytest.CaptureFixture[str]
) -> None:
    root, report = store
    jobs = _jobs_json(root, capsys=capsys)
    assert len(jobs) == report.jobs
    started = [job["started_at"] for job in jobs]
    assert started == sorted(started, reverse=True)
    for job in jobs:
        facts = report.job_facts[job["job_id"]]
        assert job["status"] == facts.status
        assert job["expert"] == facts.coordinator_expert_key
        assert job["steps"] == facts.total_steps
        assert job["total_tokens"] == facts.total_tokens
        expected_start = dt.datetime.fromtimestamp(facts.started_at / 1000, dt.UTC)
        assert job["started_at"] == expected_start.replace(tzinfo=None).isoformat(
            timespec="microseconds"
        )


def test_jobs_filters(
    store: tuple[Path, GenerationReport], capsys: pytest.CaptureFixture[str]
) -> None:
    root, report = store
    facts = list(report.job_facts.values())
    status = facts[0].status
    assert {j["job_id"] for j in _jobs_json(root, "--status", status, capsys=capsys)} == {
        f.job_id for f in facts if f.status == status
    }
    expert = facts[1].coordinator_expert_key
    assert {j["job_id"] for j in _jobs_json(root, "--expert", expert, capsys=capsys)} == {
        f.job_id for f in facts if f.coordinator_expert_key == expert
    }
    middle = sorted(f.started_at for f in facts)[len(facts) // 2]
    moment = dt.datetime.fromtimestamp(middle / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    since = _jobs_json(root, "--since", moment, capsys=capsys)
    until = _jobs_json(root, "--until", moment, capsys=capsys)
    assert len(since) + len(until) == report.jobs
    assert {j["job_id"] for j in since} == {f.job_id for f in facts if f.started_at >= middle}
    assert len(_jobs_json(root, "--limit", "3", capsys=capsys)) == 3
    # The generated jobs lie in the past: a window of the last 7 days holds none of them.
    assert _jobs_json(root, "--since", "7d", capsys=capsys) == []


def test_jobs_table_output(store: tuple[Path, GenerationReport]) -> None:
    root, report = store
    result = run_cli("log", "jobs", "--storage", str(root), "--no-cache", "--limit", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Storage: filesystem {root}"
    assert lines[2].split() == [
        "job", "status", "expert", "steps", "tokens", "started", "(UTC)", "wall", "active"
    ]  # fmt: skip
    newest = max(report.job_facts.values(), key=lambda f: f.started_at)
    assert lines[4].startswith(newest.job_id)
    assert len(lines) == 4 + 5


def test_info_counts_the_store(store: tuple[Path, GenerationReport]) -> None:
    root, report = store
    result = run_cli("log", "info", "--storage", str(root), "--no-cache", "--json")
    assert result.returncode == 0, result.stderr
    info = orjson.loads(result.stdout)
    assert info["storage"] == {"type": "filesystem", "location": str(root)}
    assert info["jobs"] == report.jobs
    assert info["runs"] == report.runs
    assert info["checkpoints"] == report.checkpoints
    assert info["events"] == report.events
    assert info["job_files"] == report.job_files
    assert info["run_settings"] == report.run_settings
    assert info["total_bytes"] == report.bytes
    by_start = sorted(report.job_facts.values(), key=lambda f: f.started_at)
    assert info["oldest_job"] == by_start[0].job_id
    assert info["newest_job"] == by_start[-1].job_id
    text = run_cli("log", "info", "--storage", str(root), "--no-cache")
    assert f"Events:                 {report.events:,}" in text.stdout


def test_empty_store_says_no_data_found_and_to_check_the_path(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    hint = f"no jobs/ under {tmp_path}/: check the path\n"
    for args in ([], ["--job", "abc"], ["--json"]):
        result = run_cli("log", *args, "--storage", str(tmp_path), "--no-cache")
        assert (result.returncode, result.stdout, result.stderr) == (0, "No data found\n", hint)


def test_unknown_checkpoint_is_the_original_error(store: tuple[Path, GenerationReport]) -> None:
    root, _ = store
    result = run_cli("log", "--checkpoint", "nosuchcheckpoint", "--storage", str(root))
    assert result.returncode == 2
    assert result.stderr == "Error: checkpoint not found: nosuchcheckpoint\n"
