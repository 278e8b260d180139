"""``perstack log query``: user SQL and canned queries, sandboxed, over the whole history."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import duckdb

from perstack_logq.engine.connections import CacheDatabase
from perstack_logq.engine.database import Database
from perstack_logq.engine.sandbox import check_read_only, lock_down, one_line
from perstack_logq.engine.sqlfiles import SqlFile, sql_file, sql_folder
from perstack_logq.errors import QueryError, UsageError

QUERY_FOLDER = "queries"


def canned_queries() -> tuple[SqlFile, ...]:
    return sql_folder(QUERY_FOLDER)


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``["since=2026-11-01", "limit=5"]`` -> a dict; malformed pairs are usage errors."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"Invalid value for --param: {pair!r} (use --param name=value)")
        params[name.strip()] = value
    return params


def bind_canned(name: str, given: Mapping[str, str]) -> tuple[SqlFile, dict[str, str | None]]:
    """A canned query and its parameters, defaults filled in, unknown or missing refused."""
    query = sql_file(QUERY_FOLDER, name)
    declared = {param.name: param for param in query.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        allowed = ", ".join(declared) or "none"
        raise UsageError(
            f"Unknown parameter {unknown[0]!r} for query {name!r} (parameters: {allowed})"
        )
    bound: dict[str, str | None] = {}
    for param in query.params:
        if param.name in given:
            bound[param.name] = given[param.name]
        elif param.default is None:
            raise UsageError(f"Query {name!r} needs --param {param.name}=... ({param.doc})")
        else:
            bound[param.name] = None if param.default.upper() == "NULL" else param.default
    return query, bound


@contextmanager
def query_errors() -> Iterator[None]:
    """DuckDB errors of a user query, at bind time or while its rows stream out, become
    one-line QueryErrors (exit code 4)."""
    try:
        yield
    except duckdb.Error as error:
        raise QueryError(one_line(error)) from error


def run_user_sql(
    database: Database, sql: str, params: Mapping[str, str | None] | None = None
) -> duckdb.DuckDBPyRelation:
    """Run SQL in the sandbox: read-only, no files, no network, no settings.

    The relation is lazy: consume it inside ``query_errors()``. Over the cache it runs on a
    read-only connection: DuckDB itself refuses any write that got past the statement check.
    """
    if isinstance(database, CacheDatabase):
        connection = database.read_only_connection()
    else:
        connection = database.connection
    check_read_only(connection, sql)
    lock_down(connection)
    with query_errors():
        return connection.sql(sql, params=dict(params) if params else None)
