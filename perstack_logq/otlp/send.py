"""Sending a store's history to an OTLP/HTTP receiver, job by job, incrementally if asked.

The receiver: ``--output`` (an http(s) URL; ``/v1/traces`` is added when it has no path), else
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is), else ``OTEL_EXPORTER_OTLP_ENDPOINT`` (plus
``/v1/traces``), as the OpenTelemetry SDKs read them; headers from ``OTEL_EXPORTER_OTLP_HEADERS``
/ ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` and ``--header KEY=VALUE`` (which win).

Jobs go in batches (bounded memory: a batch's rows and spans, never the store's). A batch is
sent with the SDK's OTLP exporter, which retries what the receiver says is retryable; a batch
that still fails is tried again after a pause (1 s, 2 s, 4 s), then the export stops with one
error line. ``--incremental`` keeps, beside the cache and per receiver, the fingerprint of each
job the receiver accepted, and sends only jobs whose fingerprint changed; a job still running
is left for a later run (sent once it has ended), so the receiver never holds a half job under
ids that a later send would repeat. Nothing is recorded as sent before the receiver said yes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import orjson

from perstack_logq.engine.sqlfiles import sql_file
from perstack_logq.errors import StorageError, UsageError

if TYPE_CHECKING:
    from perstack_logq.api import History

STATE_VERSION = 1
JOBS_PER_BATCH = 50
RETRY_PAUSES = (1.0, 2.0, 4.0)
DEFAULT_PROJECT = "perstack"
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http",
)


@dataclass(frozen=True)
class OtlpOptions:
    endpoint: str  # full URL of the traces endpoint
    headers: Mapping[str, str] = field(default_factory=dict)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    job_id: str | None = None
    incremental: bool = False
    project: str = DEFAULT_PROJECT
    # Seconds per request, the exporter's own retries included. None: what the OpenTelemetry
    # SDKs read, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT, else 10.
    timeout: float | None = None


@dataclass
class OtlpReport:
    endpoint: str
    jobs_sent: int = 0
    spans_sent: int = 0
    jobs_unchanged: int = 0  # --incremental: accepted before, fingerprint the same
    jobs_running: int = 0  # --incremental: left until they end
    batches_retried: int = 0


@dataclass(frozen=True)
class OtlpProgress:
    done: int
    total: int


def import_otlp() -> None:
    """Fail with one line, before any work, when the otlp extra is not installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        raise UsageError(
            "--format otlp needs the OpenTelemetry SDK: pip install 'perstack-logq[otlp]'"
        ) from None


def resolve_endpoint(output: str | None, env: Mapping[str, str] | None = None) -> str:
    """The traces URL from ``--output`` or the OpenTelemetry environment variables."""
    env = os.environ if env is None else env
    if output:
        return _traces_url(output, "--output", add_path=True)
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        value = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        return _traces_url(value, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", add_path=False)
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
        return _traces_url(value, "OTEL_EXPORTER_OTLP_ENDPOINT", add_path=False)
    raise UsageError(
        "--format otlp needs a receiver: --output http://host:4318 (or set "
        "OTEL_EXPORTER_OTLP_ENDPOINT)"
    )


def _traces_url(value: str, where: str, *, add_path: bool) -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"Invalid {where}: {_safe(value)!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"Invalid {where}: {_safe(value)!r} (an OTLP/HTTP receiver: http(s)://host:port)"
        )
    if parts.username or parts.password:
        raise UsageError(f"Invalid {where}: give credentials with --header, not in the URL")
    del port
    if add_path and parts.path in ("", "/"):
        return value.rstrip("/") + "/v1/traces"
    return value


def _safe(value: str) -> str:
    """A URL for an error message, without what could be a credential."""
    try:
        parts = urlsplit(value)
        try:
            port = "" if parts.port is None else f":{parts.port}"
        except ValueError:  # the port is what is wrong: shown as given
            port = parts.netloc[parts.netloc.rfind(":") :]
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # IPv6, bracketed as in the URL
        return f"{parts.scheme}://{host}{port}{parts.path}"
    except ValueError:
        return value.partition("@")[2][:80] or value.partition("://")[0]


def resolve_headers(given: Sequence[str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers from the environment (W3C baggage format, as the SDKs read it), then --header."""
    env = os.environ if env is None else env
    headers: dict[str, str] = {}
    for name in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        for item in filter(None, (i.strip() for i in env.get(name, "").split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"Invalid {name}: entries are key=value, separated by commas")
            headers[unquote(key.strip()).lower()] = unquote(value.strip())
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"Invalid value for --header: {item.split('=')[0]!r}... (KEY=VALUE)")
        headers[key.strip().lower()] = value.strip()
    return headers


def state_path(history: History, endpoint: str, cache_dir: Path | None) -> Path:
    """Where ``--incremental`` remembers what this receiver accepted from this store."""
    from perstack_logq.engine.cache import default_cache_dir

    info = history.storage_info
    digest = hashlib.sha256(f"{info.type}\0{info.location}\0{endpoint}".encode()).hexdigest()[:20]
    return (cache_dir or default_cache_dir()) / "otlp" / f"{digest}.json"


def export_otlp(
    history: History,
    options: OtlpOptions,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[OtlpProgress], None] | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> OtlpReport:
    """Send the history's jobs to the receiver as traces (see the module docstring)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from perstack_logq.otlp.spans import JobRows, job_spans, resource

    history.sync()
    report = OtlpReport(options.endpoint)
    state_file = state_path(history, options.endpoint, cache_dir)
    sent = _load_state(state_file, options.endpoint) if options.incremental else {}
    connection = history.database.connection
    jobs_query = sql_file("otlp", "10_jobs")
    jobs = connection.execute(
        jobs_query.text,
        {"since": options.since, "until": options.until, "job_id": options.job_id},
    ).fetchall()
    todo: list[tuple[str, str]] = []
    for job_id, status, fingerprint in jobs:
        if options.incremental and sent.get(job_id) == fingerprint:
            report.jobs_unchanged += 1
        elif options.incremental and status == "running":
            report.jobs_running += 1
        else:
            todo.append((job_id, fingerprint))
    info = history.storage_info
    res = resource(info.type, info.location, options.project)
    exporter = OTLPSpanExporter(
        endpoint=options.endpoint, headers=dict(options.headers), timeout=options.timeout
    )
    try:
        for start in range(0, len(todo), JOBS_PER_BATCH):
            batch = todo[start : start + JOBS_PER_BATCH]
            rows = _job_rows(connection, [job_id for job_id, _ in batch], JobRows)
            spans = [span for job in rows for span in job_spans(job, res)]
            report.batches_retried += _send(exporter, spans, options.endpoint, pause)
            report.jobs_sent += len(batch)
            report.spans_sent += len(spans)
            if options.incremental:
                sent.update(batch)
                _save_state(state_file, options.endpoint, sent)
            if progress:
                progress(OtlpProgress(min(start + JOBS_PER_BATCH, len(todo)), len(todo)))
    finally:
        exporter.shutdown()
    return report


def _job_rows(connection: Any, job_ids: list[str], job_rows: type) -> list[Any]:
    by_job = {job_id: job_rows(job_id) for job_id in job_ids}
    for name, attribute in (
        ("20_runs", "runs"),
        ("30_steps", "steps"),
        ("40_tool_calls", "tool_calls"),
        ("50_moments", "moments"),
    ):
        cursor = connection.execute(sql_file("otlp", name).text, {"job_ids": job_ids})
        columns = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            record = dict(zip(columns, row, strict=True))
            getattr(by_job[record["job_id"]], attribute).append(record)
    return list(by_job.values())


def _send(exporter: Any, spans: list[Any], endpoint: str, pause: Callable[[float], None]) -> int:
    """Send one batch; returns how many times it had to be tried again."""
    from opentelemetry.sdk.trace.export import SpanExportResult

    if not spans:
        return 0
    for attempt in range(len(RETRY_PAUSES) + 1):
        with _exporter_messages() as messages:
            result = exporter.export(spans)
        if result is SpanExportResult.SUCCESS:
            return attempt
        if attempt < len(RETRY_PAUSES):
            pause(RETRY_PAUSES[attempt])
    reason = messages[-1] if messages else "no answer"
    raise StorageError(
        f"The OTLP receiver at {_safe(endpoint)} did not accept a batch of {len(spans)} "
        f"span(s) after {len(RETRY_PAUSES) + 1} tries: {reason}"
    )


@contextmanager
def _exporter_messages() -> Iterator[list[str]]:
    """What the OTLP exporter logs about a failure, kept for our one error line instead of
    printed (it logs one line per failed try)."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage().strip().splitlines()[0][:300])

    handler = Keep()
    loggers = [logging.getLogger(name) for name in _EXPORTER_LOGGERS]
    propagated = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield messages
    finally:
        for logger, propagate in zip(loggers, propagated, strict=True):
            logger.removeHandler(handler)
            logger.propagate = propagate


def _load_state(path: Path, endpoint: str) -> dict[str, str]:
    try:
        state = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError):
        logging.getLogger("perstack_logq").warning(
            "the OTLP export state %s is unreadable: every job is sent again", path
        )
        return {}
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        return {}
    if state.get("endpoint") != endpoint or not isinstance(state.get("jobs"), dict):
        return {}
    return {str(k): str(v) for k, v in state["jobs"].items()}


def _save_state(path: Path, endpoint: str, jobs: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    body = {"version": STATE_VERSION, "endpoint": endpoint, "jobs": dict(sorted(jobs.items()))}
    temporary.write_bytes(orjson.dumps(body))
    os.replace(temporary, path)
