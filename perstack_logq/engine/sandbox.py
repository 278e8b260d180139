"""Locking a connection down before it runs SQL written by a user.

User SQL may only read: one statement, a SELECT (or a read-only form of one). Once our own
tables and views exist, external access (files, URLs, ATTACH, INSTALL/LOAD, getenv) is
switched off and the configuration is locked so the query cannot switch it back on.
"""

from __future__ import annotations

import duckdb

from perstack_logq.errors import QueryError


def check_read_only(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but a single read-only statement, before DuckDB runs any of it.

    A statement that wraps another (``EXPLAIN ANALYZE DELETE ...`` runs the DELETE) is judged
    by what it wraps. WITH, PIVOT, SUMMARIZE, DESCRIBE and SHOW parse as SELECT, or as the
    statement they wrap (``WITH ... DELETE`` is a DELETE); PREPARE, EXECUTE, CREATE ... AS and
    COPY (query) are refused whatever they hold.
    """
    statement = _single_statement(connection, sql)
    wrappers: list[str] = []
    while statement.type == duckdb.StatementType.EXPLAIN:
        wrappers.append("EXPLAIN")
        statement = _single_statement(connection, _explained(statement.query))
    if statement.type != duckdb.StatementType.SELECT:
        # DuckDB reports INSTALL as a LOAD statement.
        kind = statement.type
        name = "INSTALL/LOAD" if kind == duckdb.StatementType.LOAD else kind.name
        inside = f" (inside {' '.join(wrappers)})" if wrappers else ""
        raise QueryError(
            f"Only read-only queries are allowed: {name} statements are refused{inside} "
            "(perstack_logq never changes the store or its cache from user SQL)"
        )


def _single_statement(connection: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    try:
        statements = connection.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryError(one_line(error)) from error
    if len(statements) != 1:
        raise QueryError(f"Give exactly one SQL statement (got {len(statements)})")
    return statements[0]


def _explained(sql: str) -> str:
    """What an EXPLAIN statement explains: the text after ``EXPLAIN [ANALYZE] [(options)]``.

    Found with DuckDB's own tokenizer, so comments between the words change nothing; text it
    cannot take apart is refused, never let through.
    """
    tokens = duckdb.tokenize(sql)
    words = [
        sql[start : (tokens[i + 1][0] if i + 1 < len(tokens) else len(sql))].strip()
        for i, (start, _) in enumerate(tokens)
    ]
    position = 1  # tokens[0] is EXPLAIN
    if position < len(words) and words[position].upper() == "ANALYZE":
        position += 1
    if position < len(words) and words[position] == "(":
        depth = 0
        while position < len(words):
            depth += words[position].count("(") - words[position].count(")")
            position += 1
            if depth <= 0:
                break
    if not words or words[0].upper() != "EXPLAIN" or position >= len(words):
        raise QueryError("Only read-only queries are allowed: EXPLAIN of nothing is refused")
    return sql[tokens[position][0] :]


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
