"""``perstack log``: the original command's view, answered by canned SQL over the engine.

The request names a scope (latest job, a job, a run, a checkpoint) and filters; the scope's
objects are synced into the database (only that job's objects: ``--job X`` lists and reads
nothing outside ``jobs/X/``), then the queries in ``sql/log/`` pick the job, its checkpoints
and its events, filtered and paginated in SQL. The result is a LogOutput for the renderers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from perstack_logq.decode.canonical import canonical_checkpoint, canonical_job
from perstack_logq.engine.conversations import ConversationRestorer
from perstack_logq.engine.database import Database, json_param
from perstack_logq.engine.sqlfiles import sql_file
from perstack_logq.errors import UsageError
from perstack_logq.storage.layout import KeyKind, validate_identifier
from perstack_logq.views.filters import (
    DELEGATION_TYPES,
    ERROR_TYPES,
    TOOL_TYPES,
    FilterCondition,
    StepFilter,
    parse_filter_expression,
    parse_non_negative_int,
    parse_step_filter,
    summarize,
)
from perstack_logq.views.model import LogOutput, StoredRecords
from perstack_logq.views.render import JsonText

DEFAULT_TAKE = 100
_FILTER_MARKER = "/* filters */ TRUE"
_FILTER_FUNCTION = "perstack_log_filter_matches"


@dataclass(frozen=True)
class LogRequest:
    """What ``perstack log`` was asked, already parsed and validated."""

    job: str | None = None
    run: str | None = None
    checkpoint: str | None = None
    step: StepFilter | None = None
    type: str | None = None
    errors: bool = False
    tools: bool = False
    delegations: bool = False
    filter: FilterCondition | None = None
    take: int = DEFAULT_TAKE
    offset: int = 0
    context: int = 0

    def __post_init__(self) -> None:
        for option, value in (
            ("--job", self.job),
            ("--run", self.run),
            ("--checkpoint", self.checkpoint),
        ):
            if value is not None:
                validate_identifier(option, value)


def parse_log_request(
    *,
    job: str | None = None,
    run: str | None = None,
    checkpoint: str | None = None,
    step: str | None = None,
    type: str | None = None,
    errors: bool = False,
    tools: bool = False,
    delegations: bool = False,
    filter: str | None = None,
    take: str | int | None = None,
    offset: str | int | None = None,
    context: str | int | None = None,
) -> LogRequest:
    """A LogRequest from the options as given, checked as the original checks them.

    The CLI (text) and the MCP server's show_job (JSON: counts are integers) both build their
    requests here, so this signature is the one list of the log view's options.
    """
    # The original parses --take/--offset/--context first (as options), then --step/--filter.
    # A count is checked as its text, so an integer gets the CLI's checks and clamping.
    take_value = DEFAULT_TAKE if take is None else parse_non_negative_int("--take", str(take))
    offset_value = 0 if offset is None else parse_non_negative_int("--offset", str(offset))
    context_value = 0 if context is None else parse_non_negative_int("--context", str(context))
    # Like the original (commander), an empty value means the option was not given.
    return LogRequest(
        job=job or None,
        run=run or None,
        checkpoint=checkpoint or None,
        step=parse_step_filter(step) if step else None,
        type=type or None,
        errors=errors,
        tools=tools,
        delegations=delegations,
        filter=parse_filter_expression(filter) if filter else None,
        take=take_value,
        offset=offset_value,
        context=context_value,
    )


def latest_job_id(database: Database) -> str | None:
    """The newest job, reading only job.json files and listings (spec §3, §4)."""
    return _latest_job(database)[0]


def _latest_job(database: Database) -> tuple[str | None, bool]:
    """The newest job, and whether the store was found as the last full listing saw it (its
    objects are then in that listing: ``Database.sync(..., as_listed=True)``)."""
    as_listed = False
    if database.path is None and database.storage.lists_jobs_cheaply:
        # A throw-away database has no last listing to build on and keeps none: the job.json
        # files, and the event names of the jobs without one, are all that is listed. Listing
        # the whole store stats every file: slower than the original command on 10,000 jobs.
        job_ids = database.storage.list_job_ids()
        database.sync(job_ids, kinds=[KeyKind.JOB])
        with_job_file = {
            job_id for (job_id,) in database.sql("SELECT job_id FROM job_files").fetchall()
        }
        without_job_file = [job_id for job_id in job_ids if job_id not in with_job_file]
        first_events: str | None = json_param(
            {
                "job_id": without_job_file,
                "first_event_ms": [
                    database.storage.first_event_ms(job_id) for job_id in without_job_file
                ],
            }
        )
    else:
        as_listed = database.sync(kinds=[KeyKind.JOB]).as_listed
        first_events = None
    row = database.sql(
        sql_file("log", "latest_job").text, params={"first_events": first_events}
    ).fetchone()
    return (row[0] if row else None), as_listed


def build_log(
    database: Database,
    request: LogRequest,
    *,
    conversations: bool = True,
    json_text: JsonText | None = None,
) -> LogOutput | None:
    """The answer to one ``perstack log`` request; None means the original's `No data found`.

    ``conversations``: the events and checkpoints hold their conversations, as the store does
    (what ``--json`` prints). The terminal view never shows an event's conversation, so it
    skips putting them back (the cache keeps each message once: engine/conversations.py).
    ``json_text``: they hold them as the JSON text ``--json`` prints, compact or pretty, for
    ``format_json`` or ``json_chunks`` with the same ``pretty`` alone (engine/conversations.py
    says why).
    """
    is_latest = request.job is None
    job_id, as_listed = (request.job, False) if request.job is not None else _latest_job(database)
    if job_id is None:
        return None
    database.sync([job_id], as_listed=as_listed)
    job = _job_record(database, job_id)
    if job is None:
        return None
    checkpoint = None
    run_id = request.run
    restorer = ConversationRestorer(database, job_id, render=json_text)
    if request.checkpoint is not None:
        row = database.sql(
            sql_file("log", "checkpoint").text,
            params={"job_id": job_id, "checkpoint_id": request.checkpoint},
        ).fetchone()
        if row is None:
            raise UsageError(f"checkpoint not found: {request.checkpoint}")
        checkpoint = canonical_checkpoint(restorer.restore(row[0], row[2], is_event=False))
        run_id = row[1]
    record_restorer = restorer if conversations else None
    shown, total_matched, kept = _events(database, job_id, run_id, request, record_restorer)
    checkpoints = None
    if request.job is not None and request.checkpoint is None and request.run is None:
        rows = database.sql(
            sql_file("log", "job_checkpoints").text, params={"job_id": job_id}
        ).fetchall()
        checkpoints = StoredRecords(
            rows,
            lambda record, key: canonical_checkpoint(
                _parsed(record, key, record_restorer, is_event=False)
            ),
        )
    return LogOutput(
        storage=database.storage.get_storage_info(),
        job=job,
        events=StoredRecords(
            shown, lambda record, key: _parsed(record, key, record_restorer, is_event=True)
        ),
        # From the records as kept: what it reads (type, stepNumber) is outside conversations.
        summary=summarize(orjson.loads(record) for record, _ in shown),
        total_events_before_limit=total_matched,
        matched_after_pagination=kept,
        checkpoint=checkpoint,
        checkpoints=checkpoints,
        is_latest_job=is_latest,
    )


def _job_record(database: Database, job_id: str) -> dict[str, Any] | None:
    relation = database.sql(sql_file("log", "job").text, params={"job_id": job_id})
    row = relation.fetchone()
    if row is None:
        return None
    # By column name, so this reads whatever order sql/log/job.sql selects in.
    job = dict(zip(relation.columns, row, strict=True))
    if job["record"] is not None:
        return canonical_job(orjson.loads(job["record"]))
    derived: dict[str, Any] = {
        "id": job_id,
        "status": job["status"],
        "coordinatorExpertKey": job["coordinator_expert_key"],
        "totalSteps": job["total_steps"],
    }
    if job["max_steps"] is not None:
        derived["maxSteps"] = job["max_steps"]
    derived["usage"] = {
        "inputTokens": job["input_tokens"] or 0,
        "outputTokens": job["output_tokens"] or 0,
        "reasoningTokens": job["reasoning_tokens"] or 0,
        "totalTokens": job["total_tokens"] or 0,
        "cachedInputTokens": job["cached_input_tokens"] or 0,
    }
    derived["startedAt"] = job["started_at_ms"]
    if job["finished_at_ms"] is not None:
        derived["finishedAt"] = job["finished_at_ms"]
    return canonical_job(derived)


def _filter_sql(request: LogRequest) -> tuple[str, dict[str, Any]]:
    """The WHERE clause for the original's filters, applied in its order (spec §3)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if request.step is not None:
        step_sql, step_params = request.step.to_sql("step_number")
        for index, value in enumerate(step_params):
            name = f"step_{index}"
            step_sql = step_sql.replace("?", f"${name}", 1)
            params[name] = value
        clauses.append(step_sql)
    if request.type is not None:
        clauses.append("type = $event_type")
        params["event_type"] = request.type
    for wanted, types, name in (
        (request.errors, ERROR_TYPES, "error_types"),
        (request.tools, TOOL_TYPES, "tool_types"),
        (request.delegations, DELEGATION_TYPES, "delegation_types"),
    ):
        if wanted:
            clauses.append(f"list_contains(${name}, type)")
            params[name] = sorted(types)
    if request.filter is not None:
        # With the event's file: a path into a conversation needs it to put the messages back.
        clauses.append(f"{_FILTER_FUNCTION}(record, source_key)")
    return (" AND ".join(f"({clause})" for clause in clauses) or "TRUE"), params


def _parsed(record: str, key: str, restorer: ConversationRestorer | None, *, is_event: bool) -> Any:
    """A stored record parsed: with a ``restorer``, its conversations put back as stored;
    without one, they stay markers."""
    return restorer.restore(record, key, is_event=is_event) if restorer else orjson.loads(record)


def _events(
    database: Database,
    job_id: str,
    run_id: str | None,
    request: LogRequest,
    restorer: ConversationRestorer | None,
) -> tuple[list[tuple[str, str]], int, int]:
    """The shown events as their rows (record, source key), how many matched before
    pagination, and how many were kept.

    A --filter into conversations reads them through ``restorer`` when it puts them back as
    values (not as rendered text), else through a restorer of its own.
    """
    where, params = _filter_sql(request)
    query = sql_file("log", "scope_events").text.replace(_FILTER_MARKER, where)
    params.update(
        job_id=job_id,
        run_id=run_id,
        offset=request.offset,
        take=request.take,
        context=request.context,
    )
    connection = database.connection
    if request.filter is not None:
        # --filter keeps the original's JavaScript semantics exactly, so it runs as a Python
        # function inside the query rather than as a translation into SQL JSON paths.
        condition = request.filter
        matches: Callable[[str, str], bool]
        if "messages" in condition.field:
            # A path into a conversation (only a "messages" key reaches one): the event as
            # stored, its messages put back.
            # The filter reads the conversations as values, never as rendered text.
            plain = restorer is not None and restorer.render is None
            filter_restorer = restorer if plain else ConversationRestorer(database, job_id)
            filter_restorer.load()

            def matches(record: str, key: str) -> bool:
                return condition.matches(filter_restorer.restore(record, key, is_event=True))

        else:

            def matches(record: str, key: str) -> bool:
                return condition.matches_json(record)

        connection.create_function(_FILTER_FUNCTION, matches, ["VARCHAR", "VARCHAR"], "BOOLEAN")
    try:
        rows = connection.execute(query, params).fetchall()
    finally:
        if request.filter is not None:
            connection.remove_function(_FILTER_FUNCTION)
    total_matched = rows[0][3]
    shown = [(record, key) for record, key, _, _ in rows if record is not None]
    kept = sum(1 for record, _, is_kept, _ in rows if record is not None and is_kept)
    return shown, total_matched, kept
