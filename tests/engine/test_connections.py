"""One cache file shared by processes, and repaired when it cannot serve (engine/connections.py).

Real processes throughout: a notebook-like Python process holding ``connect()`` open while the
real CLI syncs and queries; a process holding the write lock while the CLI waits for it; caches
damaged on disk (empty, truncated, random bytes, a table missing, an older schema) rebuilt with
one notice line; a disk too full for the cache (a real 2 MB tmpfs) giving one error line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from support import FIXTURE_STORE
from support.cli import run_cli

from perstack_logq.api import connect
from perstack_logq.engine.cache import cache_path
from perstack_logq.engine.database import SCHEMA_VERSION
from perstack_logq.storage.filesystem import FileSystemStorage

STORE_FILES = sum(1 for path in FIXTURE_STORE.rglob("*") if path.is_file())
EVENTS = 145
REBUILT = "rebuilding it from the store"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, root)
    return root


def _where(store: Path, cache_dir: Path) -> list[str]:
    return ["--storage", str(store), "--cache-dir", str(cache_dir)]


def _count(store: Path, cache_dir: Path, table: str, *extra: str) -> tuple[int, str]:
    """``select count(*)`` through the CLI: the count and what it wrote on stderr."""
    result = run_cli(
        "log", "query", f"SELECT count(*) FROM {table}", "--format", "csv",
        *_where(store, cache_dir), *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return int(result.stdout.splitlines()[1]), result.stderr


def _add_job(store: Path, new_id: str) -> int:
    """A copy of the first job under a new id, as the runtime would write a new job; how many
    files it holds."""
    source = sorted((store / "jobs").iterdir())[0]
    shutil.copytree(source, store / "jobs" / new_id)
    return sum(1 for path in (store / "jobs" / new_id).rglob("*") if path.is_file())


# -- one cache, many processes ----------------------------------------------------------------

# A notebook: connect() held open for the whole session, a query now and then, a relation kept
# in a variable; each step waits for a line on stdin and answers with one line on stdout.
_NOTEBOOK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import perstack_logq

    store, cache_dir = sys.argv[1], Path(sys.argv[2])
    history = perstack_logq.connect(store, cache_dir=cache_dir)
    kept = history.sql("SELECT count(*) FROM jobs")
    print("jobs", kept.fetchone()[0], flush=True)
    for command in sys.stdin:
        if command.strip() == "sync":
            report = history.sync()
            print("read", report.read, flush=True)
        else:
            print("jobs", history.sql("SELECT count(*) FROM jobs").fetchone()[0], flush=True)
    """
)


def test_a_notebook_and_the_cli_share_one_cache(store: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    notebook = subprocess.Popen(
        [sys.executable, "-c", _NOTEBOOK, str(store), str(cache_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert notebook.stdin is not None and notebook.stdout is not None

    def ask(command: str) -> str:
        assert notebook.stdin is not None and notebook.stdout is not None
        notebook.stdin.write(command + "\n")
        notebook.stdin.flush()
        return notebook.stdout.readline().strip()

    try:
        first = notebook.stdout.readline()
        assert first.startswith("jobs "), notebook.stderr.read() if notebook.stderr else first
        jobs_before = int(first.split()[1])
        # The notebook is open (and has read the whole store into the cache). New jobs arrive;
        # the CLI syncs them into the same cache, reading only their files.
        added = _add_job(store, "zzaddedjob0000000000000")
        sync = run_cli("log", "sync", *_where(store, tmp_path / "cache"))
        assert sync.returncode == 0, sync.stderr
        assert f"read {added}," in sync.stdout
        assert sync.stderr == ""  # no fallback, no waiting
        assert _count(store, cache_dir, "jobs") == (jobs_before + 1, "")
        # A second CLI while the first one's answer is fresh: nothing left to read.
        assert "read 0," in run_cli("log", "sync", *_where(store, cache_dir), check=True).stdout

        # The notebook sees the new job after its next sync, which finds nothing left to read.
        assert ask("sync") == "read 0"
        assert ask("count") == f"jobs {jobs_before + 1}"
        # And the CLI still syncs while the notebook stays open, another job later.
        _add_job(store, "zzaddedjob0000000000001")
        assert _count(store, cache_dir, "jobs") == (jobs_before + 2, "")
        assert ask("count") == f"jobs {jobs_before + 2}"  # its answers come from the cache
    finally:
        assert notebook.stdin is not None
        notebook.stdin.close()
        notebook.wait(timeout=60)
    assert notebook.returncode == 0, notebook.stderr.read() if notebook.stderr else ""


# Holds the cache's write lock (as a long sync does) until its stdin closes.
_WRITER = textwrap.dedent(
    """
    import sys
    import duckdb

    connection = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.read()
    connection.close()
    """
)


_READER = _WRITER.replace(
    "duckdb.connect(sys.argv[1])", "duckdb.connect(sys.argv[1], read_only=True)"
)


@contextmanager
def _holding(script: str, store: Path, cache_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding the store's cache file (``_WRITER`` or ``_READER``) until the end
    of the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(cache_path(FileSystemStorage(store), cache_dir))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_a_process_waits_for_the_one_that_holds_the_cache(store: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    assert _count(store, cache_dir, "events")[0] == EVENTS
    with _holding(_WRITER, store, cache_dir) as holder:
        waiting = subprocess.Popen(
            [sys.executable, "-m", "perstack_logq", "log", "query", "SELECT count(*) FROM events",
             "--format", "csv", *_where(store, cache_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert waiting.stderr is not None
        # It says once why it waits, and keeps waiting: the holder lets go only now.
        notice = waiting.stderr.readline()
        assert notice.startswith("warning: waiting for another process that is using the cache")
        assert f"PID {holder.pid}" in notice
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert err == ""
    assert out.splitlines()[1] == str(EVENTS)


@pytest.mark.parametrize(
    "command",
    [
        ["query", "SELECT count(*) FROM events", "--format", "csv"],
        [],  # `perstack log`: the latest job's sync, then the job's
        ["--job", "anaew4v18s62aanmx116dgi2", "--json"],  # the job listed, and compared
    ],
    ids=["query", "log", "log-job"],
)
def test_a_warm_command_does_not_wait_for_a_process_reading_the_cache(
    store: Path, tmp_path: Path, command: list[str]
) -> None:
    """A store that did not change is found so on a read-only connection: a warm command then
    needs no write lock, and runs beside another reader instead of waiting for it."""
    an_hour_ago = time.time() - 3600  # directories changed just now are not trusted yet
    for directory in [store / "jobs", *(store / "jobs").rglob("*")]:
        if directory.is_dir():
            os.utime(directory, (an_hour_ago, an_hour_ago))
    cache_dir = tmp_path / "cache"
    assert _count(store, cache_dir, "events")[0] == EVENTS
    alone = run_cli("log", *command, *_where(store, cache_dir), check=True).stdout
    with _holding(_READER, store, cache_dir):
        beside = subprocess.run(
            [sys.executable, "-m", "perstack_logq", "log", *command, *_where(store, cache_dir)],
            capture_output=True,
            text=True,
            timeout=60,  # waiting for the reader would take 600 s (LOCK_WAIT_SECONDS)
        )
    assert beside.returncode == 0, beside.stderr
    assert beside.stderr == ""  # no "waiting for another process"
    assert beside.stdout == alone
    if command[:1] == ["query"]:
        assert beside.stdout.splitlines()[1] == str(EVENTS)


# A relation read part of the way, kept only by a reference cycle (as an exception's traceback
# keeps one), with the cycle collector off so that nothing frees it by chance; then what a
# notebook or the MCP server does next: reopen the cache in the same process.
_REOPEN_AFTER_A_LEFTOVER = textwrap.dedent(
    """
    import gc, sys
    from pathlib import Path
    gc.disable()
    from perstack_logq.cli import main
    from perstack_logq.engine.cache import open_database
    from perstack_logq.storage.filesystem import FileSystemStorage

    store, cache_dir = sys.argv[1], sys.argv[2]
    database = open_database(FileSystemStorage(store), cache_dir=Path(cache_dir))
    database.sync()
    leftover = database.connection.sql("SELECT * FROM events")
    leftover.fetchone()
    cycle = [leftover]
    cycle.append(cycle)
    del leftover, cycle
    database.release()
    database.sync()
    database.close()
    print("reopened", flush=True)
    where = ["--storage", store, "--cache-dir", cache_dir]
    interval = ["query", "SELECT INTERVAL 1 DAY AS i", "-f", "parquet", "-o", sys.argv[3]]
    print("refused", main(["log", *interval, *where]), flush=True)
    print("next", main(["log", "query", "SELECT 1 AS one", *where]), flush=True)
    """
)


def test_a_closed_connection_left_over_does_not_hang_the_next_open(
    store: Path, tmp_path: Path
) -> None:
    """DuckDB's connect spins for ever while an instance of the file outlives its connections
    (duckdb issue 25965); CI once hung 20 minutes on it. A part-read relation kept by garbage
    must not keep the next open waiting, nor must a command refused half-way."""
    completed = subprocess.run(
        [sys.executable, "-c", _REOPEN_AFTER_A_LEFTOVER, str(store), str(tmp_path / "cache"),
         str(tmp_path / "i.parquet")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["reopened", "refused 4", "one", "───", "1", "next 0"]


def test_history_sql_answers_hold_no_lock_and_cannot_write(store: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    with connect(str(store), cache_dir=cache_dir) as history:
        kept = history.sql("SELECT * FROM events")
        # Another connection may write at once: the notebook's answer holds nothing open.
        writer = duckdb.connect(str(cache_path(FileSystemStorage(store), cache_dir)))
        writer.close()
        assert len(kept.fetchall()) == EVENTS


# -- damaged caches ---------------------------------------------------------------------------


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _drop_manifest(path: Path) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("DROP TABLE _objects")


def _older_schema(path: Path) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("UPDATE _meta SET schema_version = ?", [SCHEMA_VERSION - 1])


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "zero-bytes": (_empty, "cannot be opened"),
    "truncated": (_truncate, "cannot be opened"),
    "random-bytes": (_random_bytes, "cannot be opened"),
    "missing-table": (_drop_manifest, "lacks its table _objects"),
    "older-schema": (_older_schema, f"has schema version {SCHEMA_VERSION - 1}"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_cache_is_rebuilt_with_one_notice(
    store: Path, tmp_path: Path, damage: str
) -> None:
    cache_dir = tmp_path / "cache"
    run_cli("log", "sync", *_where(store, cache_dir), check=True)
    damage_file, reason = DAMAGE[damage]
    damage_file(cache_path(FileSystemStorage(store), cache_dir))

    count, err = _count(store, cache_dir, "events")
    assert count == EVENTS
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("warning: cache ") and reason in lines[0] and REBUILT in lines[0]
    # Repaired for good: the next command says nothing and reads nothing.
    assert _count(store, cache_dir, "events") == (EVENTS, "")
    assert "read 0," in run_cli("log", "sync", *_where(store, cache_dir), check=True).stdout


def test_rebuild_reads_the_whole_store_again(store: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    run_cli("log", "sync", *_where(store, cache_dir), check=True)
    # A row the store never had: only a rebuild from scratch forgets it.
    with duckdb.connect(str(cache_path(FileSystemStorage(store), cache_dir))) as connection:
        connection.execute("INSERT INTO events SELECT * FROM events LIMIT 1")
    assert _count(store, cache_dir, "events")[0] == EVENTS + 1
    rebuilt = run_cli("log", "sync", "--rebuild", *_where(store, cache_dir), check=True)
    assert f"read {STORE_FILES}," in rebuilt.stdout
    assert _count(store, cache_dir, "events") == (EVENTS, "")

    with connect(str(store), cache_dir=cache_dir) as history:
        assert history.sync().read == 0
        assert history.sync(rebuild=True).read == STORE_FILES
        assert history.sql("SELECT count(*) FROM events").fetchone() == (EVENTS,)
    with connect(str(store), cache=False) as history:
        assert history.sync().read == history.sync(rebuild=True).read == STORE_FILES


# -- where the cache cannot go ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB tmpfs: smaller than the fixture store's cache (about 4 MB)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_full_disk_gives_one_line_and_leaves_no_cache(store: Path, small_disk: Path) -> None:
    result = run_cli("log", "sync", *_where(store, small_disk))
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("Error: no space left on the disk of the cache")
    assert result.stderr.count("\n") == 1, result.stderr
    left = sorted(p.name for p in small_disk.iterdir() if p.suffix in (".duckdb", ".wal"))
    assert left == []


def test_cache_dir_that_is_a_file_is_a_usage_error(store: Path, tmp_path: Path) -> None:
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("x")
    for where in (not_a_directory, not_a_directory / "below"):
        result = run_cli("log", "jobs", *_where(store, where))
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"Error: cache directory {where} is not a directory (see --cache-dir)\n"
        )
