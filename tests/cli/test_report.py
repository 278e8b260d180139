"""`perstack log report` as a user runs it: the real store on every backend, and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import FIXTURE_STORE
from support.cli import Backend, run_cli

import perstack_logq


def _job_views(html: Path) -> list[str]:
    return re.findall(r'<section class="job-view" id="job-([^"]+)"', html.read_text("utf-8"))


def test_report_of_the_real_store_on_every_backend(
    fixture_backend: Backend, tmp_path: Path
) -> None:
    html = tmp_path / "report.html"
    result = fixture_backend.run("log", "report", "--output", str(html))
    assert result.returncode == 0, result.stderr
    with perstack_logq.connect(FIXTURE_STORE, cache=False) as history:
        jobs = sorted(row[0] for row in history.sql("SELECT job_id FROM jobs").fetchall())
    assert sorted(_job_views(html)) == jobs
    assert result.stdout == (
        f"Wrote {html} ({html.stat().st_size / 1e6:.2f} MB): {len(jobs)} job(s), "
        f"{len(jobs)} job view(s)\n"
    )
    assert fixture_backend.storage_line.removeprefix("Storage: ") in html.read_text("utf-8")


def test_report_of_one_job(tmp_path: Path) -> None:
    with perstack_logq.connect(FIXTURE_STORE, cache=False) as history:
        (job,) = history.sql("SELECT job_id FROM jobs ORDER BY job_id LIMIT 1").fetchone()
    html = tmp_path / "one.html"
    result = run_cli(
        "log",
        "report",
        "--storage",
        str(FIXTURE_STORE),
        "--no-cache",
        "--job",
        job,
        "-o",
        str(html),
    )
    assert result.returncode == 0, result.stderr
    assert _job_views(html) == [job]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--since", "yesterday"], 2, "Invalid value for --since: 'yesterday'"),
        (["--job", "nosuchjob"], 2, "No job 'nosuchjob' in the store"),
        (["-o", "{tmp}/missing/dir/report.html"], 2, "does not exist"),
        (["-o", "{tmp}"], 2, "is a directory"),
    ],
)
def test_bad_input_is_one_line_and_a_usage_exit_code(
    args: list[str], code: int, message: str, tmp_path: Path
) -> None:
    output = [] if "-o" in args else ["-o", str(tmp_path / "r.html")]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = run_cli("log", "report", "--storage", str(FIXTURE_STORE), "--no-cache", *output, *argv)
    assert result.returncode == code
    assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_a_missing_store_is_a_storage_error(tmp_path: Path) -> None:
    result = run_cli(
        "log", "report", "--storage", str(tmp_path / "nowhere"), "-o", str(tmp_path / "r.html")
    )
    assert result.returncode == 3
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1


def test_output_is_required(tmp_path: Path) -> None:
    result = run_cli("log", "report", "--storage", str(FIXTURE_STORE), "--no-cache")
    assert result.returncode == 2
    assert "--output" in result.stderr
