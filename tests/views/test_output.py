"""Tables never cut what users copy, and every tabular command honours the same output options.

Widths come from a real pseudo-terminal (the CLI runs with its stdout on a pty of that size) or
from COLUMNS, as a user's shell sets them.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from support import FIXTURE_STORE
from support.cli import run_cli

from perstack_logq.views.output import cell_text, format_records, format_table
from perstack_logq.views.query import query_catalog

STORE = ("--storage", str(FIXTURE_STORE), "--no-cache")
_RUNS_WITHIN = 120.0  # seconds; a command that never ends fails its test, not the whole suite


def run_on_terminal(*args: str, columns: int, env: dict[str, str] | None = None) -> str:
    """``perstack <args>`` with stdout on a pseudo-terminal ``columns`` wide; what it showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    inherited = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env = {**inherited, **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "perstack_logq", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    chunks = []
    ends = time.monotonic() + _RUNS_WITHIN
    try:
        while time.monotonic() < ends:
            if not select.select([leader], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower closed: the program ended
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=max(ends - time.monotonic(), 1.0))
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stderr is not None
        error = process.stderr.read().decode()
        process.stderr.close()
    assert code == 0, error
    return b"".join(chunks).decode().replace("\r\n", "\n")


def _job_ids() -> list[str]:
    return [p.name for p in (FIXTURE_STORE / "jobs").iterdir() if p.is_dir()]


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_jobs_never_cuts_ids_at_any_width(columns: int) -> None:
    shown = run_on_terminal("log", "jobs", *STORE, columns=columns)
    assert "…" not in shown
    for job_id in _job_ids():
        assert job_id in shown
    table = [line for line in shown.splitlines() if not line.startswith("Storage: ")]
    assert all(len(line) <= columns for line in table)


def test_queries_never_cut_names_at_80_columns() -> None:
    shown = run_on_terminal("log", "queries", columns=80)
    names = [line.split()[0] for line in shown.splitlines()[2:]]
    assert names == [name for name, _, _ in query_catalog()]
    assert all(len(line) <= 80 for line in shown.splitlines())
    # The free text (what each query answers, the parameter lists) gave way instead.
    assert "…" in shown


def test_a_table_too_wide_for_the_terminal_becomes_records() -> None:
    shown = run_on_terminal("log", "query", "--name", "run_results", *STORE, columns=100)
    assert shown.startswith("-[ RECORD 1 ]")
    assert "job_id        | " in shown
    job_ids = {line.split("| ")[1] for line in shown.splitlines() if line.startswith("job_id ")}
    assert job_ids <= set(_job_ids()) and job_ids


def test_columns_sets_the_width_on_a_terminal() -> None:
    assert "…" not in run_on_terminal("log", "queries", columns=300)
    # COLUMNS wins over the terminal's size, as for every Unix tool.
    shown = run_on_terminal("log", "queries", columns=300, env={"COLUMNS": "80"})
    assert "…" in shown
    assert all(len(line) <= 80 for line in shown.splitlines())


def test_piped_output_is_never_cut() -> None:
    result = run_cli("log", "queries", env={"COLUMNS": "40"})
    for _, answers, _ in query_catalog():
        assert answers in result.stdout


def test_format_table_cuts_only_free_text() -> None:
    rows = [("a" * 30, "some long free text " * 5, 12345)]
    table = format_table(["id", "text", "n"], rows, width=60)
    assert "a" * 30 in table and "12345" in table and "…" in table
    assert all(len(line) <= 60 for line in table.splitlines())
    # Nothing left to give way: one record per row, every value whole.
    narrow = format_table(["id", "other_id"], [("a" * 30, "b" * 30)], width=40)
    assert narrow == format_records(["id", "other_id"], [("a" * 30, "b" * 30)])
    assert "a" * 30 in narrow and "b" * 30 in narrow


def test_intervals_print_as_durations() -> None:
    # Days, then a clock: the same shape in table, csv and markdown (tests/reliability too).
    assert cell_text(dt.timedelta(days=3, minutes=34, seconds=39.985)) == "3d 00:34:39.985000"
    assert cell_text(dt.timedelta(seconds=81.5)) == "00:01:21.500000"
    assert cell_text(dt.timedelta(milliseconds=1300)) == "00:00:01.300000"
    result = run_cli(
        "log", "query", "select interval 3 day + interval 2074 second as wait", *STORE, check=True
    )
    assert "3d 00:34:34" in result.stdout and "days" not in result.stdout
    as_json = run_cli(
        "log", "query", "select interval 1 day as d", *STORE, "--format", "json", check=True
    )
    assert orjson.loads(as_json.stdout) == [{"d": "P1DT0S"}]


# -- one definition of the output options, honoured by every tabular command ------------------


def test_every_tabular_command_takes_the_same_output_options() -> None:
    import typer

    from perstack_logq.cli import app

    group = typer.main.get_command(app).commands["log"]  # type: ignore[attr-defined]
    shapes: dict[str, set[tuple]] = {}
    for name, command in group.commands.items():
        options = {tuple(param.opts): param for param in command.params}
        if ("--format", "-f") not in options:
            continue
        shapes[name] = {
            (opts, options[opts].help, options[opts].default)
            for opts in (("--format", "-f"), ("--output", "-o"), ("--json",))
            if opts in options
        }
    assert {"jobs", "query", "queries"} <= set(shapes)
    reference = shapes["query"]
    assert len(reference) == 3
    for name, shape in shapes.items():
        assert shape == reference, f"`perstack log {name}` declares its own output options"


@pytest.mark.parametrize(
    "args",
    [
        ["queries"],
        ["jobs", *STORE],
        ["query", "select job_id, status from jobs order by job_id", *STORE],
    ],
    ids=["queries", "jobs", "query"],
)
def test_each_format_is_honoured(args: list[str], tmp_path: Path) -> None:
    as_csv = run_cli("log", *args, "--format", "csv", check=True).stdout
    rows = list(csv.reader(io.StringIO(as_csv)))
    assert len(rows) > 1 and len({len(row) for row in rows}) == 1
    markdown = run_cli("log", *args, "--format", "markdown", check=True).stdout.splitlines()
    assert markdown[0] == "| " + " | ".join(rows[0]) + " |"
    assert markdown[1] == "|" + "|".join(" --- " for _ in rows[0]) + "|"
    assert len(markdown) == len(rows) + 1
    as_json = orjson.loads(run_cli("log", *args, "--json", check=True).stdout)
    assert len(as_json) == len(rows) - 1 and list(as_json[0]) == rows[0]
    target = tmp_path / "out.parquet"
    run_cli("log", *args, "--format", "parquet", "--output", str(target), check=True)
    assert pq.read_table(target).num_rows == len(rows) - 1
    written = tmp_path / "out.csv"
    result = run_cli("log", *args, "--format", "csv", "--output", str(written), check=True)
    assert result.stdout == "" and written.read_text(encoding="utf-8") == as_csv
    refused = run_cli("log", *args, "--format", "parquet")
    assert refused.returncode == 2
    assert refused.stderr == "Error: --format parquet needs --output FILE\n"
