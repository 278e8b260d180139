"""User SQL runs in a sandbox: one read-only statement, no files, no network, no settings.

Each forbidden thing is tried twice: through ``run_user_sql`` (what the API and the CLI call)
and through the real ``perstack log query`` command, where it must end as one line
``Error: ...`` on stderr with exit code 4 and nothing on stdout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from support import FIXTURE_STORE

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
