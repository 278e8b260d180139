"""Active time (the sum of steps) beside wall time, and running jobs that went quiet shown as
stale: through the real CLI, on the demo's store and on a copy of its running job moved to now."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import orjson
import pytest
from support.cli import run_cli

_EVENT = re.compile(r"^event-(\d+)-(.*)$")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("durations") / "perstack"
    run_cli("log", "demo", "--directory", str(store), check=True)
    return store


def _jobs(store: Path, *args: str) -> list[dict]:
    result = run_cli("log", "jobs", "--storage", str(store), "--no-cache", "--json", *args)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def _steps(store: Path) -> dict[str, list[tuple[int, int]]]:
    rows = orjson.loads(
        run_cli(
            "log", "query", "--storage", str(store), "--no-cache", "--json",
            "select job_id, epoch_ms(started_at) as s, epoch_ms(finished_at) as f from steps",
            check=True,
        ).stdout
    )  # fmt: skip
    spans: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        spans.setdefault(row["job_id"], []).append((row["s"], row["f"]))
    return spans


def _busy_ms(spans: list[tuple[int, int]]) -> int:
    """How long at least one step ran: each millisecond once, however many steps overlap."""
    busy, end = 0, None
    for start, finish in sorted(spans):
        if end is None or start > end:
            busy += finish - start
            end = finish
        elif finish > end:
            busy += finish - end
            end = finish
    return busy


def test_active_time_is_the_time_steps_ran_beside_wall_time(demo_store: Path) -> None:
    jobs = {job["job_id"]: job for job in _jobs(demo_store)}
    steps = _steps(demo_store)
    assert steps
    for job_id, spans in steps.items():
        assert jobs[job_id]["active_ms"] == _busy_ms(spans)
        assert jobs[job_id]["active_ms"] <= jobs[job_id]["duration_ms"]
    # Parallel delegates: their steps overlap, and count once.
    assert any(sum(f - s for s, f in spans) > _busy_ms(spans) for spans in steps.values())
    # A job that waited for a user's answer: days of wall time, seconds of work.
    waited = [job for job in jobs.values() if job["active_ms"] * 100 < job["duration_ms"]]
    assert waited
    table = run_cli("log", "jobs", "--storage", str(demo_store), "--no-cache", check=True).stdout
    header = table.splitlines()[2].split()
    assert header[-2:] == ["wall", "active"]
    line = next(line for line in table.splitlines() if line.startswith(waited[0]["job_id"]))
    assert re.search(r"\d+h\d\dm\s+\d+(\.\d)?s$", line), line


def _move_job_to_now(source: Path, job_id: str, target: Path) -> None:
    """A copy of one job whose latest event happened five minutes ago."""
    shutil.copytree(source / "jobs" / job_id, target / "jobs" / job_id)
    events = sorted((target / "jobs" / job_id).rglob("event-*.json"))
    latest = max(int(_EVENT.match(path.name)[1]) for path in events)
    shift = int(time.time() * 1000) - 5 * 60_000 - latest
    for path in events:
        stamp, rest = _EVENT.match(path.name).groups()
        record = orjson.loads(path.read_bytes())
        record["timestamp"] += shift
        path.with_name(f"event-{int(stamp) + shift}-{rest}").write_bytes(orjson.dumps(record))
        path.unlink()
    job_file = target / "jobs" / job_id / "job.json"
    if job_file.exists():
        job = orjson.loads(job_file.read_bytes())
        job["startedAt"] += shift
        job_file.write_bytes(orjson.dumps(job))


def test_a_running_job_without_events_for_long_is_stale(demo_store: Path, tmp_path: Path) -> None:
    running = [job for job in _jobs(demo_store) if job["status"] == "running"]
    assert running, "the demo has a running job"
    assert all(job["stale"] for job in running)
    assert all(job["last_event_at"] for job in running)
    stale = _jobs(demo_store, "--status", "stale")
    assert [job["job_id"] for job in stale] == [job["job_id"] for job in running]
    assert not [job for job in _jobs(demo_store) if job["stale"] and job["status"] != "running"]
    table = run_cli("log", "jobs", "--storage", str(demo_store), "--no-cache", check=True).stdout
    assert re.search(rf"^{running[0]['job_id']}\s+stale\s", table, re.MULTILINE)

    # The same job with its latest event five minutes ago is running, not stale.
    _move_job_to_now(demo_store, running[0]["job_id"], tmp_path)
    (moved,) = _jobs(tmp_path)
    assert (moved["status"], moved["stale"]) == ("running", False)
    assert _jobs(tmp_path, "--status", "stale") == []
    table = run_cli("log", "jobs", "--storage", str(tmp_path), "--no-cache", check=True).stdout
    assert re.search(rf"^{moved['job_id']}\s+running\s", table, re.MULTILINE)
    runs = orjson.loads(
        run_cli(
            "log", "query", "--storage", str(tmp_path), "--no-cache", "--json",
            "select is_stale, active_ms from runs", check=True,
        ).stdout
    )  # fmt: skip
    assert runs and not any(run["is_stale"] for run in runs)
