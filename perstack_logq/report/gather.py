"""What a report shows, read from the tables with the SQL of ``sql/report/``.

Every query joins ``_report_jobs``, a temporary table of the selected jobs made first. Job
views are read in batches of jobs, so memory follows the batch, never the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from perstack_logq.engine.database import Database
from perstack_logq.engine.sqlfiles import sql_file

FOLDER = "report"
JOB_BATCH = 50


@dataclass(frozen=True)
class Selection:
    """Which jobs a report covers (all of them when every field is None)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    job_id: str | None = None
    expert: str | None = None


@dataclass
class Overview:
    extent: dict[str, Any]
    jobs_by_day: list[dict[str, Any]]
    tokens_by_day: list[dict[str, Any]]
    cost_by_day: list[dict[str, Any]]  # priced steps only
    unpriced_steps: list[dict[str, Any]]  # by model; model None: runs naming no model
    tools: list[dict[str, Any]]
    slowest_steps: list[dict[str, Any]]
    stopped_early: list[dict[str, Any]]
    stop_reasons: list[dict[str, Any]]
    jobs: list[dict[str, Any]]


@dataclass
class JobData:
    """Everything one job view shows."""

    job: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    retries: list[dict[str, Any]] = field(default_factory=list)
    event_counts: list[dict[str, Any]] = field(default_factory=list)


def _run(database: Database, name: str, params: dict[str, Any] | None = None) -> Any:
    query = sql_file(FOLDER, name)
    return database.sql(query.text, params=_bind(query.params, params or {}))


def _rows(database: Database, name: str, params: dict[str, Any] | None = None) -> list[dict]:
    relation = _run(database, name, params)
    columns = relation.columns
    return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]


def _bind(declared: Sequence[Any], given: dict[str, Any]) -> dict[str, Any] | None:
    """The file's declared parameters, each from ``given`` or its default ("NULL" is None)."""
    bound = {}
    for param in declared:
        if param.name in given:
            bound[param.name] = given[param.name]
        elif param.default is None or param.default.upper() == "NULL":
            bound[param.name] = None
        else:
            bound[param.name] = int(param.default)
    return bound or None


def select_jobs(database: Database, selection: Selection) -> None:
    _run(
        database,
        "00_selected_jobs",
        {
            "since": selection.since,
            "until": selection.until,
            "job_id": selection.job_id,
            "expert": selection.expert,
        },
    )


def read_overview(database: Database, *, jobs_limit: int) -> Overview:
    """The overview's data; the cost views must be priced first (``prepare_costs``)."""
    return Overview(
        extent=_rows(database, "extent")[0],
        jobs_by_day=_rows(database, "jobs_by_day_status"),
        tokens_by_day=_rows(database, "tokens_by_day_expert"),
        cost_by_day=_rows(database, "cost_by_day_expert"),
        unpriced_steps=_rows(database, "unpriced_steps"),
        tools=_rows(database, "tool_outcomes"),
        slowest_steps=_rows(database, "slowest_steps"),
        stopped_early=_rows(database, "stopped_early"),
        stop_reasons=_rows(database, "stop_reasons"),
        jobs=_rows(database, "jobs_table", {"limit": jobs_limit}),
    )


# The job views' data: made once per report as temporary tables, read back in batches.
JOB_TABLES = (
    ("job_runs", "_report_job_runs", "runs"),
    ("job_steps", "_report_job_steps", "steps"),
    ("job_tool_calls", "_report_job_calls", "tool_calls"),
    ("job_retries", "_report_job_retries", "retries"),
    ("job_event_counts", "_report_job_event_counts", "event_counts"),
)
TEMPORARY_TABLES = ("_report_jobs", *(table for _, table, _ in JOB_TABLES))


def read_jobs(database: Database, jobs: Sequence[dict[str, Any]]) -> Iterator[JobData]:
    """One JobData per job of ``jobs`` (the first rows of the jobs table), in order.

    Each of the job views' queries runs once over all of them (a query per batch would
    recompute the ``runs`` view every time); Python holds one batch of jobs at a time.
    """
    for name, _, _ in JOB_TABLES:
        _run(database, name, {"limit": len(jobs)})
    for start in range(0, len(jobs), JOB_BATCH):
        batch = jobs[start : start + JOB_BATCH]
        by_id = {job["job_id"]: JobData(job) for job in batch}
        for _, table, attribute in JOB_TABLES:
            relation = database.sql(
                f"SELECT * FROM {table} WHERE list_contains($ids, job_id)",
                params={"ids": list(by_id)},
            )
            columns = relation.columns
            for row in relation.fetchall():
                record = dict(zip(columns, row, strict=True))
                getattr(by_id[record["job_id"]], attribute).append(record)
        for data in by_id.values():
            data.runs.sort(key=_start_order)
            data.event_counts.sort(key=lambda row: (-row["events"], row["type"]))
        yield from by_id.values()


def _start_order(run: dict[str, Any]) -> tuple[bool, dt.datetime, str]:
    return (run["started_at"] is None, run["started_at"] or dt.datetime.min, run["run_id"])


def drop_temporary_tables(database: Database) -> None:
    for table in TEMPORARY_TABLES:
        database.sql(f"DROP TABLE IF EXISTS {table}")
