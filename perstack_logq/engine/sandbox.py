"""Locking a connection down before it runs SQL written by a user.

User SQL may only read: one statement, a SELECT (or a read-only form of one). Once our own
tables and views exist, external access (files, URLs, ATTACH, INSTALL/LOAD, getenv) is
switched off and the configuration is locked so the query cannot switch it back on.
"""

from __future__ import annotations

import duckdb

from perstack_logq.errors import QueryError

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def check_read_only(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but a single read-only statement, before DuckDB runs any of it."""
    try:
        statements = connection.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryError(one_line(error)) from error
    if len(statements) != 1:
        raise QueryError(f"Give exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type
    if kind not in _ALLOWED:
        # DuckDB reports INSTALL as a LOAD statement.
        name = "INSTALL/LOAD" if kind == duckdb.StatementType.LOAD else kind.name
        raise QueryError(
            f"Only read-only queries are allowed: {name} statements are refused "
            "(perstack_logq never changes the store or its cache from user SQL)"
        )


def lock_down(connection: duckdb.DuckDBPyConnection) -> None:
    """No more files, network, extensions or settings on this connection (idempotent)."""
    locked = connection.execute("SELECT current_setting('lock_configuration')").fetchone()
    if locked and locked[0]:
        return
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def one_line(error: Exception) -> str:
    """DuckDB's message, on one line (its messages carry LINE markers and candidates)."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return first
