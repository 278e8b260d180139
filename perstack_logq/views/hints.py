"""What to say when a request finds nothing because of a typo: what was not found, what exists.

Commands keep their output as it was (``No data found``, an empty event list); these lines go
to stderr beside it, so a person or an agent that mistyped an id, an event type or a status
learns the closest ones that exist. Each function returns the line, or None when the request
was fine and simply matched nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from perstack_logq.engine.database import Database
from perstack_logq.storage.base import Storage
from perstack_logq.storage.layout import EVENT_TYPES
from perstack_logq.views.log import LogRequest
from perstack_logq.views.model import LogOutput

# The values of jobs.status, and `stale` (running, no event for an hour: docs/schema.md).
JOB_STATUSES = (
    "running",
    "completed",
    "stoppedByMaxSteps",
    "stoppedByInteractiveTool",
    "stoppedByError",
    "stale",
)
_SHOWN = 5


def closest(word: str, candidates: Iterable[str], count: int = _SHOWN) -> list[str]:
    """The candidates nearest to ``word``; the first ``count`` in order when none is near."""
    pool = sorted(set(candidates))
    near = difflib.get_close_matches(word, pool, n=count, cutoff=0.5)
    return near or pool[:count]


def _listed(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def missing_job(storage: Storage, job_id: str) -> str:
    """``--job X`` where the store has no job X (one listing of jobs/, only on this path)."""
    job_ids = storage.list_job_ids()
    if not job_ids:
        return empty_store(storage)
    return f"no job {job_id}; closest: {_listed(closest(job_id, job_ids))}"


def missing_run(database: Database, job_id: str, run_id: str) -> str | None:
    """``--run X`` that is not a run of the job shown (already synced, so no reads)."""
    runs = [
        run
        for (run,) in database.sql(
            "SELECT DISTINCT run_id FROM events WHERE job_id = $job_id", params={"job_id": job_id}
        ).fetchall()
    ]
    if run_id in runs:
        return None
    return f"no run {run_id} in job {job_id}; its runs: {_listed(closest(run_id, runs))}"


def unknown_event_type(database: Database, job_id: str, event_type: str) -> str | None:
    """``--type X`` that is neither a runtime event type nor a type this job has."""
    present = {
        kind
        for (kind,) in database.sql(
            "SELECT DISTINCT type FROM events WHERE job_id = $job_id", params={"job_id": job_id}
        ).fetchall()
    }
    known = set(EVENT_TYPES) | present
    if event_type in known:
        return None
    near = difflib.get_close_matches(event_type, sorted(known), n=3, cutoff=0.6)
    suggestion = f"did you mean {' or '.join(near)}? " if near else ""
    return (
        f"no event type {event_type}; {suggestion}event types: "
        + ", ".join(t for t in EVENT_TYPES)
        + "".join(f", {t}" for t in sorted(present - set(EVENT_TYPES)))
    )


def unknown_status(status: str) -> str | None:
    """``jobs --status X`` for a status no job can have."""
    if status in JOB_STATUSES:
        return None
    return f"no job status {status}; statuses: {', '.join(JOB_STATUSES)}"


def empty_store(storage: Storage) -> str:
    """A store with no job at all: most often a wrong prefix or path, said so."""
    location = storage.get_storage_info().location
    hint = "check the prefix" if "://" in location else "check the path"
    return f"no jobs/ under {location.rstrip('/')}/: {hint}"


def for_log(
    storage: Storage, database: Database, request: LogRequest, output: LogOutput | None
) -> list[str]:
    """What ``perstack log`` adds on stderr when a job, run or event type was not found."""
    if output is None:
        if request.job is not None:
            return [missing_job(storage, request.job)]
        return [] if storage.list_job_ids() else [empty_store(storage)]
    job_id = output.job["id"]
    lines = []
    if request.run is not None and request.checkpoint is None:
        lines.append(missing_run(database, job_id, request.run))
    if request.type is not None:
        lines.append(unknown_event_type(database, job_id, request.type))
    return [line for line in lines if line]


def for_jobs(storage: Storage, status: str | None) -> list[str]:
    """What ``perstack log jobs`` adds on stderr when it lists no job."""
    if status is not None and (line := unknown_status(status)):
        return [line]
    return [] if storage.list_job_ids() else [empty_store(storage)]
