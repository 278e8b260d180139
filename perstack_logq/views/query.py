"""``perstack log query``: user SQL and canned queries, sandboxed, over the whole history."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

import duckdb

from perstack_logq.engine.connections import CacheDatabase
from perstack_logq.engine.database import Database
from perstack_logq.engine.sandbox import check_read_only, lock_down, one_line
from perstack_logq.engine.sqlfiles import SqlFile, sql_file, sql_folder
from perstack_logq.errors import QueryError, UsageError
from perstack_logq.views.catalog import parse_time_bound

QUERY_FOLDER = "queries"
DEFAULT_TIMEOUT = 300.0  # seconds, for `perstack log query`
# How often the waiting main thread wakes up (Ctrl-C is handled at once regardless).
_POLL_SECONDS = 0.1

T = TypeVar("T")


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


CATALOG_COLUMNS = ("name", "answers", "params")
# Parameters are named alike across the canned queries, and mean the same in each: their
# values are checked here, so a typo is a usage error naming the parameter, not a DuckDB
# conversion error from deep inside the query.
_TIME_PARAMS = frozenset({"since", "until"})
_COUNT_PARAMS = frozenset({"limit"})
_CHOICES = {
    "bucket": ("minute", "hour", "day", "week", "month"),
    "reason": ("max_steps", "error", "interactive"),
}


def query_catalog() -> list[tuple[str, str, str]]:
    """One row per canned query: its name, what it answers, its parameters (``=default``)."""
    return [
        (
            query.name,
            query.summary,
            ", ".join(
                param.name + ("" if param.default is None else f"={param.default}")
                for param in query.params
            ),
        )
        for query in canned_queries()
    ]


def check_param(name: str, value: str, option: str) -> str:
    """A parameter value as the query binds it; a bad one raises UsageError naming ``option``.

    Times (``since``, ``until``) take what ``jobs --since`` takes: ``7d``, ``12h``, a date, a
    UTC time.
    """
    if name in _TIME_PARAMS:
        return parse_time_bound(option, value).isoformat(sep=" ")
    if name in _COUNT_PARAMS:
        if not value.strip().isdigit() or int(value) < 1:
            raise UsageError(f"Invalid value for {option}: {value!r} (use a whole number >= 1)")
        return value.strip()
    if name in _CHOICES and value not in _CHOICES[name]:
        allowed = ", ".join(_CHOICES[name])
        raise UsageError(f"Invalid value for {option}: {value!r} (allowed: {allowed})")
    return value


def bind_canned(
    name: str, given: Mapping[str, str], option: str = "--param {name}"
) -> tuple[SqlFile, dict[str, str | None]]:
    """A canned query and its parameters, defaults filled in, unknown or missing refused.

    ``option`` says how an error names a parameter (the CLI's ``--param since``, the API's
    ``since=``).
    """
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
            label = option.format(name=param.name)
            bound[param.name] = check_param(param.name, given[param.name], label)
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


def run_with_limits(
    connection: duckdb.DuckDBPyConnection, work: Callable[[], T], timeout: float | None
) -> T:
    """Run ``work`` (which executes SQL on ``connection``) so that it can always be stopped.

    DuckDB runs a query in C without returning to Python, so neither a Ctrl-C nor a timer
    could stop it from the thread that started it. The work runs in a helper thread while
    this one waits: a Ctrl-C, or ``timeout`` seconds passing, interrupts the connection
    (DuckDB stops at its next check, within milliseconds) and this thread raises
    KeyboardInterrupt or a QueryError.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the waiting thread, raised there
            outcome["error"] = error

    worker = threading.Thread(target=run, name="perstack-logq-query", daemon=True)
    worker.start()
    started = time.monotonic()
    try:
        while worker.is_alive():
            worker.join(_POLL_SECONDS)
            if timeout and worker.is_alive() and time.monotonic() - started >= timeout:
                connection.interrupt()
                worker.join()
                raise QueryError(
                    f"The query was stopped after {timeout:g} s (--timeout; 0 for no limit)"
                )
    except KeyboardInterrupt:
        connection.interrupt()
        worker.join(2.0)
        raise
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
