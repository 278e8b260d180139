"""Live stores and interrupted syncs.

- A job being written while perstack_logq reads it: files appearing, growing and half-written
  never crash a read nor give wrong totals; what was half-written is skipped that time (named
  in skipped_files) and picked up by the next read, because its size and mtime change.
- A sync killed with SIGKILL loses nothing: each batch commits its rows with their manifest
  entries, so the next sync completes the cache, and it then equals a fresh one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import orjson
from reliability_support import PERSTACK, cli, copy_fixture_store

from perstack_logq.engine.database import Database
from perstack_logq.storage.filesystem import FileSystemStorage

JOB = "mq65x3vs2c09epdmpdo634n5"
RUN = "jsnrahmhe2k82nsoph3r50vf"
EVENTS = 37
TS = 1795851116000  # after the job's last event
TOTALS = "SELECT count(*), count(DISTINCT event_id), sum(size_bytes) FROM events WHERE job_id = ?"


def _event(index: int, padding: int = 0) -> bytes:
    return orjson.dumps(
        {
            "type": "streamRunResult",
            "id": f"live{index}",
            "expertKey": "assistant",
            "timestamp": TS + index,
            "jobId": JOB,
            "runId": RUN,
            "stepNumber": 5,
            "delta": "x" * padding,
        }
    )


def _event_path(store: Path, index: int) -> Path:
    return store / f"jobs/{JOB}/runs/{RUN}/event-{TS + index}-5-streamRunResult.json"


def _job_events(store: Path, cache: Path) -> tuple[int, list[str]]:
    """What ``perstack log --job`` shows of the job, and the keys skipped meanwhile."""
    shown = cli(
        "--storage", str(store), "--cache-dir", str(cache), "--job", JOB, "--json", "--take", "0"
    )
    assert shown.returncode == 0, shown.stderr
    skipped = cli(
        "--storage",
        str(store),
        "--cache-dir",
        str(cache),
        "query",
        "--no-sync",
        "--format",
        "json",
        "SELECT source_key FROM skipped_files ORDER BY 1",
    )
    assert skipped.returncode == 0, skipped.stderr
    keys = [row["source_key"] for row in orjson.loads(skipped.stdout)]
    return len(orjson.loads(shown.stdout)["events"]), keys


def test_half_written_file_is_picked_up_on_the_next_read(store_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    body = _event(1, padding=3000)
    path = _event_path(store_copy, 1)
    key = path.relative_to(store_copy).as_posix()
    for partial in (b"", body[:1000]):  # created empty, then half written
        path.write_bytes(partial)
        count, skipped = _job_events(store_copy, cache)
        assert (count, skipped) == (EVENTS, [key])
    with path.open("ab") as file:  # the writer finishes the same file
        file.write(body[1000:])
    assert _job_events(store_copy, cache) == (EVENTS + 1, [])


def _write_live_job(store: Path, files: int, stop: threading.Event) -> None:
    """Like the runtime with a slow disk: each file appears empty, grows in pieces, ends whole."""
    for index in range(files):
        if stop.is_set():
            return
        body = _event(100 + index, padding=2000)
        with _event_path(store, 100 + index).open("wb") as file:
            for start in range(0, len(body), 700):
                file.write(body[start : start + 700])
                file.flush()
                time.sleep(0.001)


def test_reading_while_a_job_is_written(store_copy: Path) -> None:
    files = 150
    stop = threading.Event()
    writer = threading.Thread(target=_write_live_job, args=(store_copy, files, stop))
    database = Database(FileSystemStorage(store_copy))
    try:
        writer.start()
        syncs = 0
        while writer.is_alive() and syncs < 50:
            database.sync([JOB])
            count = database.sql("SELECT count(*) FROM events WHERE job_id = ?", [JOB]).fetchone()
            assert EVENTS <= count[0] <= EVENTS + files  # never more than exist
            syncs += 1
        writer.join()
        database.sync([JOB])
        totals = database.sql(TOTALS, [JOB]).fetchone()
        skipped = database.sql("SELECT count(*) FROM skipped_files").fetchone()
    finally:
        stop.set()
        writer.join()
        database.close()
    fresh = Database(FileSystemStorage(store_copy))
    try:
        fresh.sync([JOB])
        expected = fresh.sql(TOTALS, [JOB]).fetchone()
    finally:
        fresh.close()
    assert syncs >= 2
    assert totals == expected
    assert totals[0] == EVENTS + files
    assert skipped == (0,)


def _many_jobs_store(root: Path, copies: int) -> Path:
    """The fixture store's 11 jobs, ``copies`` times under new ids (hard links: fast)."""
    source = copy_fixture_store(root / "source")
    store = root / "many"
    for index in range(copies):
        for job in (source / "jobs").iterdir():
            shutil.copytree(
                job, store / "jobs" / f"{job.name[:20]}{index:04d}", copy_function=os.link
            )
    return store


def _table_counts(store: Path, cache: Path) -> list[dict[str, int]]:
    result = cli(
        "--storage",
        str(store),
        "--cache-dir",
        str(cache),
        "query",
        "--no-sync",
        "--format",
        "json",
        "SELECT (SELECT count(*) FROM events) AS events, "
        "(SELECT count(*) FROM checkpoints) AS checkpoints, "
        "(SELECT count(*) FROM run_settings) AS run_settings, "
        "(SELECT count(*) FROM tool_calls) AS tool_calls, "
        "(SELECT count(*) FROM _objects) AS objects",
    )
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def test_sync_killed_with_sigkill_is_completed_by_the_next(tmp_path: Path) -> None:
    copies = 12
    store = _many_jobs_store(tmp_path, copies)
    cache = tmp_path / "cache"
    sync = [PERSTACK, "log", "sync", "--storage", str(store), "--cache-dir", str(cache)]
    killed = subprocess.Popen(sync, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not any(cache.glob("*.duckdb")) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # now inside the sync: listing, reading, committing
        killed.send_signal(signal.SIGKILL)
    finally:
        killed.wait(timeout=30)
    assert killed.returncode == -signal.SIGKILL, "the sync ended before it could be killed"
    completed = cli("--storage", str(store), "--cache-dir", str(cache), "sync", store=store)
    assert completed.returncode == 0, completed.stderr
    fresh = tmp_path / "fresh"
    assert cli("--storage", str(store), "--cache-dir", str(fresh), "sync").returncode == 0
    assert _table_counts(store, cache) == _table_counts(store, fresh)
    assert _table_counts(store, cache)[0]["events"] == 145 * copies
