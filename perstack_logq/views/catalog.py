"""``perstack log jobs`` and ``perstack log info``: what a store holds, at a glance."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import duckdb

from perstack_logq.engine.database import Database, row_limit
from perstack_logq.engine.sqlfiles import sql_file
from perstack_logq.errors import UsageError
from perstack_logq.storage.layout import KeyKind

_RELATIVE = re.compile(r"^(\d+)\s*(m|h|d|w)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time_bound(option: str, text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``7d``, ``12h``, ``30m``, ``2w`` (before now) or an ISO date/time (UTC) -> naive UTC."""
    now = now or dt.datetime.now(dt.UTC)
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        try:
            moment = now - dt.timedelta(**{_UNITS[match[2]]: int(match[1])})
        except (OverflowError, ValueError):
            # Further back than year 1 (or too many digits for int()): every job started after that.
            return dt.datetime.min
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"Invalid value for {option}: {text!r} (use a date like 2026-11-01, "
            "a UTC time like 2026-11-01T08:00, or a span back from now like 30m, 12h, 7d, 2w)"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    expert: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None


def list_jobs(database: Database, job_filter: JobFilter) -> duckdb.DuckDBPyRelation:
    """The store's jobs, newest first (syncs the whole store: every job's facts are needed)."""
    database.sync()
    return database.sql(
        sql_file("log", "jobs_list").text,
        params={
            "status": job_filter.status,
            "expert": job_filter.expert,
            "since": job_filter.since,
            "until": job_filter.until,
            "limit": None if job_filter.limit is None else row_limit(job_filter.limit),
        },
    )


def store_info(database: Database) -> dict[str, Any]:
    """Counts and extent of the store, from a listing and the job.json files only."""
    database.sync(kinds=[KeyKind.JOB])
    relation = database.sql(sql_file("log", "store_info").text)
    row = relation.fetchone()
    info = database.storage.get_storage_info()
    facts = dict(zip(relation.columns, row, strict=True))
    return {"storage": {"type": info.type, "location": info.location}, **facts}
