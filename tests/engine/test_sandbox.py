"""User SQL runs in a sandbox: one read-only statement, no files, no network, no settings.

Each forbidden thing is tried twice: through ``run_user_sql`` (what the API and the CLI call)
and through the real ``perstack log query`` command, where it must end as one line
``Error: ...`` on stderr with exit code 4 and nothing on stdout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from support import FIXTURE_STORE
from support.cli import run_cli

from perstack_logq.api import History, connect
from perstack_logq.cli import main
from perstack_logq.errors import QueryError
from perstack_logq.views.query import run_user_sql

REFUSED_STATEMENT = "Only read-only queries are allowed"
NO_FILES = "file system operations are disabled by configuration"

# (what is tried, SQL, what the one-line error must say). {target} is a path under tmp_path.
FORBIDDEN = [
    ("copy-table", "COPY events TO '{target}'", "COPY statements are refused"),
    ("copy-query", "COPY (SELECT * FROM run_settings) TO '{target}' (FORMAT csv)", "COPY"),
    ("export", "EXPORT DATABASE '{target}'", "EXPORT statements are refused"),
    ("read-passwd-csv", "SELECT * FROM read_csv('/etc/passwd')", NO_FILES),
    ("read-passwd-text", "SELECT content FROM read_text('/etc/passwd')", NO_FILES),
    ("read-passwd-blob", "SELECT content FROM read_blob('file:///etc/passwd')", NO_FILES),
    ("read-environ", "SELECT content FROM read_text('/proc/self/environ')", NO_FILES),
    ("glob", "SELECT * FROM glob('/etc/*')", NO_FILES),
    ("url", "SELECT * FROM read_json('https://example.com/x.json')", NO_FILES),
    ("attach-file", "ATTACH '{target}' AS other", "ATTACH statements are refused"),
    ("attach-memory", "ATTACH ':memory:' AS other", "ATTACH statements are refused"),
    ("install", "INSTALL httpfs", "statements are refused"),
    ("load", "LOAD httpfs", "statements are refused"),
    ("set-access", "SET enable_external_access = true", "SET statements are refused"),
    ("set-memory", "SET memory_limit = '64GB'", "SET statements are refused"),
    ("reset", "RESET lock_configuration", "SET statements are refused"),
    ("pragma", "PRAGMA threads = 64", "SET statements are refused"),
    ("write", "DELETE FROM events", "DELETE statements are refused"),
    ("create", "CREATE TABLE loot AS SELECT * FROM run_settings", "CREATE statements are refused"),
    ("two-statements", "SELECT 1; COPY events TO '{target}'", "exactly one SQL statement"),
]


@pytest.fixture
def empty_history() -> Iterator[History]:
    """The tables and views exist; nothing is read: refusals need no data."""
    history = connect(str(FIXTURE_STORE), cache=False, sync=False)
    yield history
    history.close()


@pytest.mark.parametrize(
    ("sql", "message"), [c[1:] for c in FORBIDDEN], ids=[c[0] for c in FORBIDDEN]
)
def test_forbidden_sql_is_refused(
    empty_history: History, tmp_path: Path, sql: str, message: str
) -> None:
    target = tmp_path / "out"
    with pytest.raises(QueryError) as refused:
        run_user_sql(empty_history.database, sql.format(target=target)).fetchall()
    text = str(refused.value)
    assert message in text
    assert "\n" not in text
    assert not target.exists()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("COPY events TO '{target}'", "COPY statements are refused"),
        ("SELECT * FROM read_csv('/etc/passwd')", NO_FILES),
        ("ATTACH '{target}' AS other", "ATTACH statements are refused"),
        ("INSTALL httpfs", "statements are refused"),
        ("LOAD httpfs", "statements are refused"),
        ("SET enable_external_access = true", "SET statements are refused"),
    ],
    ids=["copy", "read-passwd", "attach", "install", "load", "set"],
)
def test_cli_refuses_with_one_line_and_exit_code_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, message: str
) -> None:
    target = tmp_path / "out"
    code = main(
        ["log", "query", "--storage", str(FIXTURE_STORE), "--no-cache", sql.format(target=target)]
    )
    out, err = capsys.readouterr()
    assert code == QueryError.exit_code == 4
    assert out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert message in err
    assert "root:" not in err  # nothing of /etc/passwd
    assert not target.exists()


def test_reading_still_works_inside_the_sandbox(tmp_path: Path) -> None:
    with connect(str(FIXTURE_STORE), cache=False) as history:
        history.sync()
        relation = run_user_sql(
            history.database,
            "SELECT type, count(*) AS n FROM events WHERE type = $kind GROUP BY type",
            {"kind": "startRun"},
        )
        assert relation.fetchall() == [("startRun", 18)]
        # The lock holds on the connection: nothing can switch file access back on.
        connection = history.database.connection
        assert connection.execute("SELECT current_setting('lock_configuration')").fetchone() == (
            True,
        )
        with pytest.raises(duckdb.Error, match="locked"):
            connection.execute("SET enable_external_access = true")
        # The refusals changed nothing.
        with pytest.raises(QueryError):
            run_user_sql(history.database, "DELETE FROM events")
        assert history.sql("SELECT count(*) FROM events").fetchone() == (145,)


# -- the cache: wrapping statements, every door -----------------------------------------------

# Statements that write, alone or wrapped in another, each refused before it runs. {target} is
# a path under tmp_path.
WRITES = [
    ("explain-analyze-delete", "EXPLAIN ANALYZE DELETE FROM events"),
    ("explain-options-update", "EXPLAIN (ANALYZE, FORMAT json) UPDATE events SET type = 'x'"),
    ("explain-comment-insert", "EXPLAIN /* x */ ANALYZE INSERT INTO events FROM events"),
    ("explain-create-table-as", "EXPLAIN ANALYZE CREATE TABLE loot AS SELECT 1"),
    ("explain-plain-delete", "EXPLAIN DELETE FROM events"),
    ("with-delete", "WITH doomed AS (SELECT 1) DELETE FROM events"),
    ("with-update", "WITH t AS (SELECT 1) UPDATE events SET type = 'x'"),
    ("prepare", "PREPARE wipe AS DELETE FROM events"),
    ("execute", "EXECUTE wipe"),
    ("create-view-as", "CREATE VIEW loot AS SELECT * FROM events"),
    ("create-table-as", "CREATE TABLE loot AS SELECT * FROM events"),
    ("create-temp-table-as", "CREATE TEMP TABLE loot AS SELECT * FROM events"),
    ("create-macro", "CREATE MACRO loot(a) AS a"),
    ("create-secret", "CREATE SECRET loot (TYPE s3, KEY_ID 'k', SECRET 's')"),
    ("copy-query", "COPY (SELECT * FROM events) TO '{target}'"),
    ("pivot-creating-a-type", "PIVOT events ON type"),
    ("summarize-delete", "SUMMARIZE DELETE FROM events"),
    ("describe-delete", "DESCRIBE DELETE FROM events"),
    ("query-function-delete", "SELECT * FROM query('DELETE FROM events')"),
    ("update", "UPDATE events SET type = 'x'"),
    ("insert", "INSERT INTO events FROM events"),
    ("delete", "DELETE FROM events"),
    ("truncate", "TRUNCATE events"),
    ("merge", "MERGE INTO events USING events AS e ON true WHEN MATCHED THEN DELETE"),
    ("drop", "DROP TABLE _objects"),
    ("alter-table", "ALTER TABLE events ADD COLUMN loot INTEGER"),
    ("comment-on", "COMMENT ON TABLE events IS 'x'"),
    ("attach", "ATTACH '{target}' AS other"),
    ("detach", "DETACH other"),
    ("use", "USE other"),
    ("install", "INSTALL httpfs"),
    ("load", "LOAD httpfs"),
    ("set", "SET enable_external_access = true"),
    ("reset", "RESET lock_configuration"),
    ("checkpoint", "CHECKPOINT"),
    ("vacuum", "VACUUM events"),
    ("call", "CALL checkpoint()"),
    ("begin", "BEGIN TRANSACTION"),
    ("export", "EXPORT DATABASE '{target}'"),
    ("import", "IMPORT DATABASE '{target}'"),
    ("two-statements", "SELECT 1; DELETE FROM events"),
]


@dataclass
class SyncedCache:
    store: Path
    cache_dir: Path
    file: Path

    def fingerprint(self) -> tuple[str, int]:
        """The cache file's bytes, and the events its tables hold."""
        digest = hashlib.sha256(self.file.read_bytes()).hexdigest()
        with duckdb.connect(str(self.file), read_only=True) as connection:
            events = connection.execute("SELECT count(*) FROM events").fetchone()
        assert events is not None
        return digest, events[0]


@pytest.fixture(scope="module")
def synced_cache(tmp_path_factory: pytest.TempPathFactory) -> SyncedCache:
    root = tmp_path_factory.mktemp("sandbox-cache")
    cache_dir = root / "cache"
    run_cli(
        "log", "sync", "--storage", str(FIXTURE_STORE), "--cache-dir", str(cache_dir), check=True
    )
    (file,) = cache_dir.glob("*.duckdb")
    return SyncedCache(FIXTURE_STORE, cache_dir, file)


@pytest.mark.parametrize("sql", [c[1] for c in WRITES], ids=[c[0] for c in WRITES])
def test_writes_through_the_cli_are_refused_and_leave_the_cache_unchanged(
    synced_cache: SyncedCache, tmp_path: Path, sql: str
) -> None:
    before = synced_cache.fingerprint()
    target = tmp_path / "out"
    result = run_cli(
        "log", "query", sql.format(target=target), "--no-sync",
        "--storage", str(synced_cache.store), "--cache-dir", str(synced_cache.cache_dir),
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert synced_cache.fingerprint() == before == (before[0], 145)
    assert not target.exists()


def test_writes_through_the_api_are_refused_and_leave_the_cache_unchanged(
    synced_cache: SyncedCache, tmp_path: Path
) -> None:
    before = synced_cache.fingerprint()
    target = tmp_path / "out"
    with connect(str(synced_cache.store), cache_dir=synced_cache.cache_dir, sync=False) as history:
        for name, sql in WRITES:
            with pytest.raises((QueryError, duckdb.Error)):
                history.sql(sql.format(target=target)).fetchall()
            assert synced_cache.fingerprint() == before, name
        assert history.sql("EXPLAIN ANALYZE SELECT count(*) FROM events").fetchall()
        assert history.sql(
            "PIVOT (SELECT type FROM events) ON type IN ('startRun') USING count(*)"
        ).fetchall() == [(18,)]
    assert not target.exists()


def test_the_query_connection_of_a_cache_cannot_write(synced_cache: SyncedCache) -> None:
    """The proof beneath the statement check: what a query runs on is read-only in DuckDB."""
    with connect(str(synced_cache.store), cache_dir=synced_cache.cache_dir, sync=False) as history:
        connection = history.database.connection
        for sql in ("DELETE FROM events", "CREATE TABLE loot (x INTEGER)", "DROP VIEW jobs"):
            with pytest.raises(duckdb.Error, match="read-only"):
                connection.execute(sql)
        assert run_user_sql(history.database, "SELECT count(*) FROM events").fetchone() == (145,)
