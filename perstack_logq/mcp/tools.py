"""The MCP server's tools: each a described JSON schema and a function over one History.

The functions call the same views the CLI calls (catalog, log, render, query) and only shape
and bound their answers (bounds.py); they import nothing of the ``mcp`` SDK, so a notebook or
a test can call them directly. A new tool is one decorated function::

    @tool("name", "What it answers and when to use it.", required=("x",), x=text_arg("..."))
    def name(ctx: ToolContext, x: str) -> dict: ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson

from perstack_logq.api import History
from perstack_logq.engine.connections import CacheDatabase
from perstack_logq.engine.database import Database
from perstack_logq.errors import QueryError, UsageError
from perstack_logq.mcp.bounds import (
    Cuts,
    Limits,
    cut_value,
    fit_items,
    plain,
    record_times_iso,
    size_of,
    table_answer,
)

DEFAULT_QUERY_TIMEOUT = 30.0

ToolFunction = Callable[..., dict[str, Any]]


@dataclass
class ToolContext:
    """What every tool call gets: the open history, the answer limits, the query timeout."""

    history: History
    limits: Limits = field(default_factory=Limits)
    query_timeout: float = DEFAULT_QUERY_TIMEOUT


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    function: ToolFunction

    def call(self, ctx: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.function(ctx, **arguments)


TOOLS: dict[str, Tool] = {}


def tool(
    name: str,
    description: str,
    /,
    *,
    required: tuple[str, ...] = (),
    **properties: dict[str, Any],
) -> Callable[[ToolFunction], ToolFunction]:
    """Register a tool: its arguments are the JSON-schema ``properties`` given here."""

    def register(function: ToolFunction) -> ToolFunction:
        schema = {
            "type": "object",
            "properties": properties,
            "required": list(required),
            "additionalProperties": False,
        }
        TOOLS[name] = Tool(name, description, schema, function)
        return function

    return register


def text_arg(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


def int_arg(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **more}


def flag_arg(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "default": False}


OFFSET = int_arg("Rows to skip, to page through a long answer (default 0).", minimum=0)
LIMIT = int_arg("At most this many rows (the server caps every answer).", minimum=1)


@contextmanager
def query_timeout(connection: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[None]:
    """Interrupt the connection's query after ``seconds``; the error says it was the timeout."""
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        connection.interrupt()

    timer = threading.Timer(seconds, interrupt)
    timer.start()
    try:
        yield
    except (duckdb.Error, QueryError) as error:
        if fired.is_set():
            raise QueryError(
                f"Query stopped after {seconds:g} s (the server's --query-timeout): "
                "narrow it with WHERE or LIMIT"
            ) from error
        raise
    finally:
        timer.cancel()


# -- the tools ------------------------------------------------------------------------------


@tool(
    "store_info",
    "Which store this server reads (type, location) and what it holds: counts of jobs, runs, "
    "checkpoints, events and files, total bytes, the oldest and newest job, the price data "
    "costs are computed with. Start here.",
)
def store_info(ctx: ToolContext) -> dict[str, Any]:
    from perstack_logq.cost.prices import price_data_label
    from perstack_logq.views.catalog import store_info as info

    # The same facts as `perstack log info --json`, prices included.
    return plain({**info(ctx.history.database), "prices": price_data_label()})


@tool(
    "list_jobs",
    "The store's jobs, newest first: job_id, status, coordinator expert, steps, tokens, "
    "started_at/finished_at (ISO 8601 UTC), duration. Filter by status (completed, "
    "stoppedByError, running, ...), expert, and start time.",
    status=text_arg("Only jobs with this status, e.g. completed or stoppedByError."),
    expert=text_arg("Only jobs whose coordinator expert key is this."),
    since=text_arg("Started at or after: a date (2026-11-01), a UTC time, or 30m/12h/7d/2w ago."),
    until=text_arg("Started before: same forms as since."),
    limit=LIMIT,
    offset=OFFSET,
)
def list_jobs(
    ctx: ToolContext,
    status: str | None = None,
    expert: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    from perstack_logq.views import catalog

    job_filter = catalog.JobFilter(
        status=status,
        expert=expert,
        since=catalog.parse_time_bound("since", since) if since else None,
        until=catalog.parse_time_bound("until", until) if until else None,
        limit=limit + offset if limit is not None else None,
    )
    relation = catalog.list_jobs(ctx.history.database, job_filter)
    return table_answer(relation, offset=offset, limit=limit, limits=ctx.limits)


@tool(
    "show_job",
    "One job's events, as `perstack log --json` shows them: the job, its events (filtered, "
    "paginated), a summary, and the checkpoints when a job is named. Without job, the latest "
    "job. Times are ISO 8601 UTC. Use errors=true to see what failed, tools=true for tool "
    "calls and results, delegations=true for delegations; page with take and offset.",
    job=text_arg("Job id (default: the latest job)."),
    run=text_arg("Only this run's events."),
    checkpoint=text_arg("Show this checkpoint's details and its run's events."),
    step=text_arg("Step filter: 5, >5, >=5, <5, <=5 or 1-10."),
    type=text_arg("Only events of this type, e.g. callTools, stopRunByError."),
    errors=flag_arg("Only error-related events."),
    tools=flag_arg("Only tool call events."),
    delegations=flag_arg("Only delegation events."),
    filter=text_arg('A filter expression, e.g. .type == "callTools" or .stepNumber > 3.'),
    take=int_arg("Events to show (default 100; 0 for all, still bounded).", minimum=0),
    offset=int_arg("Matching events to skip (default 0).", minimum=0),
    context=int_arg("Also show N events before and after each match.", minimum=0),
)
def show_job(ctx: ToolContext, **options: Any) -> dict[str, Any]:
    from perstack_logq.views.log import build_log, parse_log_request
    from perstack_logq.views.render import JsonText, format_json

    # The server has checked the options against the schema above; parse_log_request holds
    # the one list of them and checks their values as the CLI's.
    request = parse_log_request(**options)
    output = build_log(ctx.history.database, request, json_text=JsonText(pretty=False))
    if output is None:
        return {"message": "No data found"}
    view = record_times_iso(orjson.loads(format_json(output, pretty=False)))
    return _bounded_view(view, request.offset, request.context, ctx.limits)


def _bounded_view(
    view: dict[str, Any], offset: int, context_events: int, limits: Limits
) -> dict[str, Any]:
    """The log view within the limits: events first, then checkpoints, get the room left."""
    cuts = Cuts()
    order = list(view)
    # The events and checkpoints are paged, not thinned: each is cut on its own, and only
    # the cuts of those kept are counted.
    item_cuts: dict[str, list[Cuts]] = {}
    lists: dict[str, list[Any]] = {}
    for name in ("events", "checkpoints"):
        if name in view:
            item_cuts[name] = [Cuts() for _ in view[name]]
            lists[name] = [
                cut_value(item, limits, counted)
                for item, counted in zip(view[name], item_cuts[name], strict=True)
            ]
    view = cut_value({k: v for k, v in view.items() if k not in lists}, limits, cuts)
    room = limits.max_answer_chars - size_of(view) - 2_000
    for name, items in lists.items():
        kept = fit_items(items, room)
        room -= size_of(items[:kept])
        for counted in item_cuts[name][:kept]:
            cuts.cells += counted.cells
            cuts.lists += counted.lists
        if kept == len(items):
            continue
        if name == "events":
            how = (
                f"call again with offset={offset + kept} (and take={kept})"
                if context_events == 0
                else "call again with a smaller take or context"
            )
        else:
            how = "ask for one checkpoint with checkpoint=<id>"
        cuts.notes.append(
            f"Only {kept} of {len(items)} {name} fit in {limits.max_answer_chars} characters: "
            f"{how}."
        )
        lists[name] = items[:kept]
    view = {key: lists[key] if key in lists else view[key] for key in order}
    notes = cuts.summary(limits)
    if notes:
        view["cut"] = notes
    return view


@tool(
    "list_queries",
    "The canned queries: name, what each answers, and its parameters (required ones have no "
    "default). Run one with run_query.",
)
def list_queries(ctx: ToolContext) -> dict[str, Any]:
    from perstack_logq.views.query import canned_queries

    return {
        "queries": [
            {
                "name": query.name,
                "answers": query.summary,
                "params": [
                    {
                        "name": param.name,
                        "default": param.default,
                        "required": param.default is None,
                        "doc": param.doc,
                    }
                    for param in query.params
                ],
            }
            for query in canned_queries()
        ]
    }


@tool(
    "run_query",
    "Run a canned query by name (see list_queries) with its parameters, e.g. name="
    "tool_error_rates. Answers rows as objects, bounded; page with offset.",
    required=("name",),
    name=text_arg("The canned query's name."),
    params={
        "type": "object",
        "description": 'Parameter values by name, as strings, e.g. {"job_id": "..."}.',
        "additionalProperties": {"type": "string"},
    },
    limit=LIMIT,
    offset=OFFSET,
)
def run_query(
    ctx: ToolContext,
    name: str,
    params: dict[str, str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    from perstack_logq.views.query import bind_canned

    query, bound = bind_canned(name, params or {})
    return _sql_answer(ctx, query.text, bound, limit, offset)


@tool(
    "query",
    "One read-only SQL statement (DuckDB dialect) over the tables and views described by the "
    "resource perstack-logq://schema (jobs, runs, events, tool_calls, tool_results, steps, "
    "checkpoints, messages, ...). No writes, no files, no network. Answers rows as objects, "
    "bounded; page with offset, and say when rows were cut.",
    required=("sql",),
    sql=text_arg("The SQL: one SELECT (WITH ... SELECT, EXPLAIN) statement."),
    limit=LIMIT,
    offset=OFFSET,
)
def query(ctx: ToolContext, sql: str, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    return _sql_answer(ctx, sql, None, limit, offset)


def _sql_answer(
    ctx: ToolContext,
    sql: str,
    params: dict[str, str | None] | None,
    limit: int | None,
    offset: int,
) -> dict[str, Any]:
    from perstack_logq.engine.sandbox import check_read_only
    from perstack_logq.views.query import query_errors, run_user_sql

    database = ctx.history.database
    check_read_only(database.connection, sql)  # refused before anything is read
    ctx.history.sync()
    if not isinstance(database, CacheDatabase):
        _load_what_search_needs(database)
    with query_timeout(database.connection, ctx.query_timeout), query_errors():
        relation = run_user_sql(database, sql, params)
        return table_answer(relation, offset=offset, limit=limit, limits=ctx.limits)


def _load_what_search_needs(database: Database) -> None:
    """Without a cache, user SQL runs on the history's own connection and locks it against
    files for the rest of the server's life (engine/sandbox.lock_down): the search's extension
    must be loaded before, or no search could load it after."""
    from perstack_logq.search.index import load_fts

    with suppress(UsageError):  # no search extra: the search tool says so itself
        load_fts(database.connection)


@tool(
    "search",
    "Full-text search (BM25) over everything the agents said and saw: user and expert "
    "messages, reasoning, tool-call arguments, tool results, errors and run results. Words "
    'match in any form, "a phrase" only as written, prefix* any word starting so. Each hit: '
    "job_id, run_id, step_number, event_time, event_type, kind, expert_key and a snippet with "
    "the match marked «so». Best hits first.",
    required=("text",),
    text=text_arg('What to find: words, "a phrase", prefix*.'),
    job=text_arg("Only this job."),
    expert=text_arg("Only what this expert said or saw."),
    type=text_arg("Only hits from this event type, e.g. callTools or stopRunByError."),
    since=text_arg("At or after: a date, a UTC time, or 30m/12h/7d/2w ago."),
    until=text_arg("Before: same forms as since."),
    limit=LIMIT,
)
def search(
    ctx: ToolContext,
    text: str,
    job: str | None = None,
    expert: str | None = None,
    type: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    from perstack_logq.search.query import SearchRequest
    from perstack_logq.search.query import search as run_search
    from perstack_logq.views.catalog import parse_time_bound

    request = SearchRequest(
        text,
        job,
        expert,
        type,
        parse_time_bound("since", since) if since else None,
        parse_time_bound("until", until) if until else None,
        limit or 20,
    )
    ctx.history.sync()
    hits = run_search(ctx.history.database, request)
    return table_answer(hits, offset=0, limit=None, limits=ctx.limits)


@tool(
    "cost",
    "What the history cost in USD, priced from its token usage with shipped list prices "
    "(genai-prices) or the user's [pricing]: grouped by day, week, month, expert, model or job, "
    "or the costliest steps (by=step). A model without a price gives a null cost, never $0; "
    "reprice answers what the same tokens would have cost on another model.",
    by=text_arg("day (default), week, month, expert, model, job or step."),
    since=text_arg("Steps at or after: a date, a UTC time, or 30m/12h/7d/2w ago."),
    until=text_arg("Steps before: same forms as since."),
    model=text_arg("The model of runs whose run setting names none (as --model)."),
    reprice=text_arg("Also price every step as if it had run on this model."),
    limit=LIMIT,
)
def cost(
    ctx: ToolContext,
    by: str = "day",
    since: str | None = None,
    until: str | None = None,
    model: str | None = None,
    reprice: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    from perstack_logq.cost.report import CostGrouping
    from perstack_logq.errors import UsageError
    from perstack_logq.views.catalog import parse_time_bound

    if by not in {g.value for g in CostGrouping}:
        allowed = ", ".join(g.value for g in CostGrouping)
        raise UsageError(f"Invalid value for by: {by!r} (allowed: {allowed})")
    report = ctx.history.cost(
        by,
        since=parse_time_bound("since", since) if since else None,
        until=parse_time_bound("until", until) if until else None,
        limit=limit,
        model=model,
        reprice=reprice,
    )
    answer = table_answer(report.relation, offset=0, limit=None, limits=ctx.limits)
    answer["total_usd"] = report.total_usd
    answer["unpriced_models"] = report.pricing.unpriced_models
    return answer
