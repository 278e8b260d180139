"""The persistent cache gives the same answers as reading the store afresh (``--no-cache``).

On all three backends (filesystem, S3 and R2 on a moto server), after adds, changes and deletes
in the store, and after a sync killed with SIGKILL half-way: every table and view of a synced
cache equals, row for row, an in-memory database loaded from the store in one go.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FIXTURE_STORE, R2_ACCOUNT_ID
from support.moto_server import (
    DUMMY_KEY_ID,
    DUMMY_SECRET,
    REGION,
    client,
    create_bucket,
    put_objects_in_process,
)

from perstack_logq.api import TABLES
from perstack_logq.config import R2Config, S3Config
from perstack_logq.decode import schema
from perstack_logq.engine import database as database_module
from perstack_logq.engine.cache import cache_path, open_database
from perstack_logq.engine.database import Database, columns_sql, insert_rows
from perstack_logq.storage.base import Storage
from perstack_logq.storage.filesystem import FileSystemStorage
from perstack_logq.storage.s3 import R2Storage, S3Storage

REPO = Path(__file__).resolve().parents[2]
MANIFEST = "_objects"


def snapshot(database: Database) -> dict[str, pa.Table]:
    """Every table and view, plus the manifest, sorted on all columns, as Arrow."""
    return {
        name: database.sql(f"SELECT * FROM {name} ORDER BY ALL").to_arrow_table()
        for name in (*TABLES, MANIFEST)
    }


def assert_same_tables(actual: dict[str, pa.Table], expected: dict[str, pa.Table]) -> None:
    assert actual.keys() == expected.keys()
    for name, table in expected.items():
        assert actual[name].num_rows == table.num_rows, name
        assert actual[name].equals(table), f"table {name} differs"


def fresh_snapshot(storage: Storage) -> dict[str, pa.Table]:
    """What ``--no-cache`` sees: an in-memory database synced from nothing."""
    database = Database(storage)
    try:
        database.sync()
        return snapshot(database)
    finally:
        database.close()


def fixture_files() -> dict[str, bytes]:
    return {
        path.relative_to(FIXTURE_STORE).as_posix(): path.read_bytes()
        for path in sorted(FIXTURE_STORE.rglob("*"))
        if path.is_file()
    }


# -- stores we can change, one per backend ----------------------------------------------------


@dataclass
class MutableStore:
    storage: Storage
    write: Callable[[str, bytes], None]
    delete: Callable[[str], None]


def _filesystem_store(root: Path) -> MutableStore:
    shutil.copytree(FIXTURE_STORE, root)

    def write(key: str, body: bytes) -> None:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        # A rewrite within the filesystem's mtime granularity must still count as a change.
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    def delete(key: str) -> None:
        (root / key).unlink()

    return MutableStore(FileSystemStorage(root), write, delete)


def _bucket_store(endpoint: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> MutableStore:
    bucket = f"cache-{kind}-{uuid.uuid4().hex[:12]}"
    prefix = "perstack/"
    create_bucket(endpoint, bucket)
    put_objects_in_process(bucket, {prefix + key: body for key, body in fixture_files().items()})
    s3 = client(endpoint)
    storage: Storage
    if kind == "s3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
        config = S3Config(
            bucket=bucket, region=REGION, prefix=prefix, endpoint=endpoint, force_path_style=True
        )
        storage = S3Storage(config, concurrency=8)
    else:
        monkeypatch.setenv("R2_ACCESS_KEY_ID", DUMMY_KEY_ID)
        monkeypatch.setenv("R2_SECRET_ACCESS_KEY", DUMMY_SECRET)
        storage = R2Storage(
            R2Config(account_id=R2_ACCOUNT_ID, bucket=bucket, prefix=prefix, endpoint=endpoint),
            concurrency=8,
        )
    return MutableStore(
        storage,
        lambda key, body: s3.put_object(Bucket=bucket, Key=prefix + key, Body=body),
        lambda key: s3.delete_object(Bucket=bucket, Key=prefix + key),
    )


@pytest.fixture(params=["filesystem", "s3", "r2"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MutableStore]:
    if request.param == "filesystem":
        made = _filesystem_store(tmp_path / "store")
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        made = _bucket_store(endpoint, request.param, monkeypatch)
    yield made
    made.storage.close()


# -- the changes ------------------------------------------------------------------------------


def _job_keys(files: dict[str, bytes], job_id: str) -> list[str]:
    return sorted(key for key in files if key.startswith(f"jobs/{job_id}/"))


def _job_ids(files: dict[str, bytes]) -> list[str]:
    return sorted({key.split("/")[1] for key in files})


def test_cache_matches_no_cache_after_adds_changes_and_deletes(
    store: MutableStore, tmp_path: Path
) -> None:
    files = fixture_files()
    job_ids = _job_ids(files)
    cache_dir = tmp_path / "cache"

    def sync_and_compare() -> int:
        database = open_database(store.storage, cache_dir=cache_dir)
        try:
            assert database.path == cache_path(store.storage, cache_dir)
            report = database.sync()
            assert_same_tables(snapshot(database), fresh_snapshot(store.storage))
            return report.read
        finally:
            database.close()

    assert sync_and_compare() == len(files)
    assert sync_and_compare() == 0  # nothing changed: nothing read

    # Adds: a new job (a copy of one under a new id), and a new event in an existing job, as a
    # job that was still running writes it.
    source = job_ids[0]
    added = {
        key.replace(f"jobs/{source}/", "jobs/zzaddedjob0000000000000/"): files[key]
        for key in _job_keys(files, source)
    }
    running_event = next(k for k in _job_keys(files, job_ids[1]) if "/event-" in k)
    late_event = running_event.rsplit("/", 1)[0] + "/event-1999999999999-99-startGeneration.json"
    added[late_event] = files[running_event]
    for key, body in added.items():
        store.write(key, body)
    assert sync_and_compare() == len(added)

    # Changes: a job.json rewritten with another status, an event rewritten with other bytes.
    job_file = next(k for k in files if k.endswith("/job.json"))
    store.write(job_file, files[job_file].replace(b'"completed"', b'"stoppedByError"', 1))
    store.write(running_event, files[running_event].replace(b'"id"', b'"id" ', 1))
    assert sync_and_compare() == 2

    # Deletes: a whole job leaves the cache, and so does one checkpoint of another job.
    for key in _job_keys(files, job_ids[2]):
        store.delete(key)
    # And the first file to hold some messages of a third job: the other checkpoints and
    # events of that job may hold them too, and are read again (only those).
    database = open_database(store.storage, cache_dir=cache_dir)
    try:
        (first_holder,) = database.sql(
            "SELECT min(source_key) FROM messages WHERE job_id = ?", params=[job_ids[3]]
        ).fetchone()
    finally:
        database.close()
    store.delete(first_holder)
    read_again = [
        key
        for key in _job_keys(files, job_ids[3])
        if key != first_holder and ("/checkpoints/" in key or "/event-" in key)
    ]
    assert sync_and_compare() == len(read_again)


def test_job_scoped_sync_then_full_sync_matches(store: MutableStore, tmp_path: Path) -> None:
    """``perstack log --job X`` fills part of the cache; a later full sync completes it."""
    files = fixture_files()
    job_id = _job_ids(files)[0]
    database = open_database(store.storage, cache_dir=tmp_path / "cache")
    try:
        assert database.sync([job_id]).read == len(_job_keys(files, job_id))
        assert database.sync().read == len(files) - len(_job_keys(files, job_id))
        assert_same_tables(snapshot(database), fresh_snapshot(store.storage))
    finally:
        database.close()


@pytest.mark.parametrize("store", ["filesystem"], indirect=True)
def test_a_listing_appended_without_arrow_is_the_same_as_with_it(
    store: MutableStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small listings are inserted as one JSON text, big ones through Arrow: same rows."""
    listed: dict[int, dict[str, pa.Table]] = {}
    for small_append in (0, 1_000_000):
        monkeypatch.setattr(database_module, "_SMALL_APPEND", small_append)
        database = open_database(store.storage, cache_dir=tmp_path / f"cache-{small_append}")
        try:
            database.sync()
            database.sync([_job_ids(fixture_files())[0]])
            listed[small_append] = {
                **snapshot(database),
                **{
                    name: database.sql(f"SELECT * FROM {name} ORDER BY ALL").to_arrow_table()
                    for name in ("_listing", "_dirs")
                },
            }
        finally:
            database.close()
    assert listed[0]["_listing"].num_rows == len(fixture_files())
    assert listed[0]["_dirs"].num_rows > 0
    assert_same_tables(listed[1_000_000], listed[0])


_ROWS_TABLE = schema.Table(
    "rows_in",
    "what insert_rows is given",
    (
        schema.Column("text", "VARCHAR", ""),
        schema.Column("number", "BIGINT", ""),
        schema.Column("flag", "BOOLEAN", ""),
    ),
)


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\x00")),
            st.none() | st.integers(-(2**63), 2**63 - 1),
            st.none() | st.booleans(),
        ),
        max_size=30,
    )
)
def test_insert_rows_puts_any_values_in_as_given(rows: list[tuple]) -> None:
    """Rows handed over as one JSON text: quotes, backslashes, controls, any script, the ends
    of BIGINT and NULLs come out as they went in, in order."""
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE rows_in ({columns_sql(_ROWS_TABLE)})")
    if rows:
        insert_rows(connection, _ROWS_TABLE, rows)
    assert connection.execute("SELECT * FROM rows_in").fetchall() == rows


# -- interrupted sync -------------------------------------------------------------------------

# `perstack log sync` with small batches, announcing each commit on stdout so that the test
# can kill it, deterministically, after a few of them.
_SYNC_WITH_SMALL_BATCHES = textwrap.dedent(
    """
    import signal
    import sys
    from perstack_logq import cli
    from perstack_logq.engine import database

    # Ctrl-C as on a terminal, even when this test runs where SIGINT is inherited ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    database._BATCH_KEYS = 20
    commit = database.Database._commit

    def announced_commit(self, tables, keys):
        commit(self, tables, keys)
        if keys:
            print("committed", len(keys), flush=True)

    database.Database._commit = announced_commit
    sys.exit(cli.main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_sync_killed_midway_is_completed_by_the_next_sync(
    tmp_path: Path, stop: signal.Signals
) -> None:
    root = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, root)
    cache_dir = tmp_path / "cache"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SYNC_WITH_SMALL_BATCHES,
            "log",
            "sync",
            "--storage",
            str(root),
            "--cache-dir",
            str(cache_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    commits = 0
    for line in process.stdout:
        if line.startswith("committed"):
            commits += 1
            if commits == 3:
                process.send_signal(stop)
                break
    rest = process.stdout.read()
    process.wait(timeout=60)
    assert "listed" not in rest, "the sync ended before it could be stopped"
    if stop == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL

    storage = FileSystemStorage(root)
    database = open_database(storage, cache_dir=cache_dir)
    try:
        assert database.path == cache_path(storage, cache_dir)  # not the in-memory fallback
        held = database.sql(f"SELECT count(*) FROM {MANIFEST}").fetchone()
        assert held is not None and 3 * 20 <= held[0] < len(fixture_files())
        report = database.sync()
        assert report.read == len(fixture_files()) - held[0]
        assert_same_tables(snapshot(database), fresh_snapshot(storage))
    finally:
        database.close()


def test_query_syncs_first_unless_no_sync(tmp_path: Path) -> None:
    from support.cli import run_cli

    root = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, root)
    query = ["log", "query", "SELECT count(*) AS n FROM events", "--format", "csv"]
    where = ["--storage", str(root), "--cache-dir", str(tmp_path / "cache")]
    before = run_cli(*query, *where, check=True).stdout.splitlines()[1]
    event = next(key for key in fixture_files() if "/event-" in key)
    new_event = event.rsplit("/", 1)[0] + "/event-1999999999999-99-startGeneration.json"
    shutil.copyfile(root / event, root / new_event)
    stale = run_cli(*query, *where, "--no-sync", check=True).stdout.splitlines()[1]
    fresh = run_cli(*query, *where, check=True).stdout.splitlines()[1]
    assert stale == before
    assert int(fresh) == int(before) + 1
