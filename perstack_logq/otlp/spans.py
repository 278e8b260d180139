"""Perstack's history as OpenTelemetry spans, following the GenAI semantic conventions.

A job is a trace; a run is an ``invoke_agent`` span, the child of the run that delegated to it;
a step is a ``chat`` span inside its run; a tool call is an ``execute_tool`` span inside its
step. Retries and waits for a user's answer are span events. Trace and span ids are digests of
Perstack's own ids, so sending a job again lands on the same trace and the same spans.

Besides the ``gen_ai.*`` attributes, spans carry OpenInference's (``openinference.span.kind``,
``llm.token_count.*``, ``tool.name``), which Arize Phoenix uses to show agents, LLM calls and
tools. docs/otlp.md lists every attribute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from perstack_logq import __version__

SCOPE = InstrumentationScope("perstack_logq", __version__)
# Attribute values are cut here: a receiver keeps spans small, and a result text can be MBs.
MAX_TEXT = 4_000


def trace_id(job_id: str) -> int:
    return _digest("job", job_id, size=16)


def run_span_id(job_id: str, run_id: str) -> int:
    return _digest("run", job_id, run_id, size=8)


def step_span_id(job_id: str, run_id: str, step_number: int) -> int:
    return _digest("step", job_id, run_id, str(step_number), size=8)


def tool_span_id(job_id: str, tool_call_id: str) -> int:
    return _digest("tool", job_id, tool_call_id, size=8)


def _digest(kind: str, *parts: str, size: int) -> int:
    text = "\0".join(("perstack", kind, *parts)).encode()
    value = int.from_bytes(hashlib.sha256(text).digest()[:size], "big")
    return value or 1  # zero is the invalid id


def resource(store_type: str, store_location: str, project: str) -> Resource:
    return Resource.create(
        {
            "service.name": "perstack",
            "perstack.store.type": store_type,
            "perstack.store.location": store_location,
            # Arize Phoenix files the spans under this project.
            "openinference.project.name": project,
        }
    )


@dataclass
class JobRows:
    """What one job's spans are made of (rows of sql/otlp/, as dicts)."""

    job_id: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    moments: list[dict[str, Any]] = field(default_factory=list)


def job_spans(rows: JobRows, res: Resource) -> Iterator[ReadableSpan]:
    """Every span of one job: its runs, their steps, the steps' tool calls."""
    job_id = rows.job_id
    trace = trace_id(job_id)
    run_ids = {run["run_id"] for run in rows.runs}
    steps = {(s["run_id"], s["step_number"]) for s in rows.steps}
    retries: dict[tuple[str, int], list[Event]] = {}
    waits: dict[str, list[Event]] = {}
    for moment in rows.moments:
        if moment["type"] == "retry":
            event = Event("perstack.retry", {"perstack.retry.reason": _text(moment["reason"])},
                          moment["at_ns"])  # fmt: skip
            retries.setdefault((moment["run_id"], moment["step_number"]), []).append(event)
        else:
            event = Event("perstack.interactive_wait", {}, moment["at_ns"])
            waits.setdefault(moment["run_id"], []).append(event)

    models: dict[str, str | None] = {}
    for run in rows.runs:
        models[run["run_id"]] = run["model"]
        parent_run = run["parent_run_id"] if run["parent_run_id"] in run_ids else None
        failed = run["status"] == "stoppedByError"
        yield _span(
            name=f"invoke_agent {run['expert_key']}",
            trace=trace,
            span=run_span_id(job_id, run["run_id"]),
            parent=run_span_id(job_id, parent_run) if parent_run else None,
            res=res,
            kind=SpanKind.INTERNAL,
            start=run["start_ns"],
            end=run["end_ns"],
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": run["expert_key"],
                "gen_ai.agent.id": run["run_id"],
                "gen_ai.conversation.id": job_id,
                "gen_ai.request.model": run["model"],
                "gen_ai.provider.name": run["provider_name"],
                "gen_ai.usage.input_tokens": run["input_tokens"],
                "gen_ai.usage.output_tokens": run["output_tokens"],
                "gen_ai.usage.cache_read.input_tokens": run["cached_input_tokens"],
                "perstack.job.id": job_id,
                "perstack.run.id": run["run_id"],
                "perstack.run.status": run["status"],
                "perstack.run.parent_id": run["parent_run_id"],
                "perstack.run.step_count": run["step_count"],
                "error.type": run["error_name"] if failed else None,
                "openinference.span.kind": "AGENT",
                "output.value": _text(run["result_text"]),
            },
            events=waits.get(run["run_id"], []),
            status=Status(StatusCode.ERROR, _text(run["error_message"]) or run["status"])
            if failed
            else Status(StatusCode.OK),
        )

    for step in rows.steps:
        if step["run_id"] not in run_ids:
            continue
        model = models.get(step["run_id"])
        tokens = {
            "gen_ai.usage.input_tokens": step["input_tokens"],
            "gen_ai.usage.output_tokens": step["output_tokens"],
            "gen_ai.usage.cache_read.input_tokens": step["cached_input_tokens"],
            "llm.token_count.prompt": step["input_tokens"],
            "llm.token_count.completion": step["output_tokens"],
            "llm.token_count.total": step["total_tokens"],
        }
        yield _span(
            name=f"chat {model}" if model else "chat",
            trace=trace,
            span=step_span_id(job_id, step["run_id"], step["step_number"]),
            parent=run_span_id(job_id, step["run_id"]),
            res=res,
            kind=SpanKind.CLIENT,
            start=step["start_ns"],
            end=step["end_ns"],
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.agent.name": step["expert_key"],
                "gen_ai.conversation.id": job_id,
                **tokens,
                "perstack.step.number": step["step_number"],
                "perstack.step.reasoning_tokens": step["reasoning_tokens"],
                "perstack.step.closed_by": step["closed_by"],
                "openinference.span.kind": "LLM",
                "llm.model_name": model,
            },
            events=retries.get((step["run_id"], step["step_number"]), []),
            status=Status(StatusCode.UNSET),
        )

    for call in rows.tool_calls:
        if call["run_id"] not in run_ids:
            continue
        in_step = (call["run_id"], call["step_number"]) in steps
        parent = (
            step_span_id(job_id, call["run_id"], call["step_number"])
            if in_step
            else run_span_id(job_id, call["run_id"])
        )
        failed = bool(call["is_error"])
        yield _span(
            name=f"execute_tool {call['tool_name']}",
            trace=trace,
            span=tool_span_id(job_id, call["tool_call_id"]),
            parent=parent,
            res=res,
            kind=SpanKind.INTERNAL,
            start=call["start_ns"],
            end=call["end_ns"],
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": call["tool_name"],
                "gen_ai.tool.call.id": call["tool_call_id"],
                "gen_ai.tool.type": "extension",
                "gen_ai.conversation.id": job_id,
                "perstack.tool.skill": call["skill_name"],
                "perstack.tool.kind": call["kind"],
                "perstack.tool.answered": call["is_error"] is not None,
                "error.type": "tool_error" if failed else None,
                "openinference.span.kind": "TOOL",
                "tool.name": call["tool_name"],
            },
            events=[],
            status=Status(StatusCode.ERROR, _text(call["result_text"]) or "tool error")
            if failed
            else Status(StatusCode.UNSET),
        )


def _span(
    *,
    name: str,
    trace: int,
    span: int,
    parent: int | None,
    res: Resource,
    kind: SpanKind,
    start: int | None,
    end: int | None,
    attributes: Mapping[str, Any],
    events: Iterable[Event],
    status: Status,
) -> ReadableSpan:
    context = SpanContext(trace, span, is_remote=False, trace_flags=TraceFlags.SAMPLED)
    parent_context = (
        SpanContext(trace, parent, is_remote=False, trace_flags=TraceFlags.SAMPLED)
        if parent
        else None
    )
    start = start or end or 0
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent_context,
        resource=res,
        # OTLP has no null: an attribute without a value is left out.
        attributes={k: v for k, v in attributes.items() if v is not None},
        events=tuple(events),
        kind=kind,
        instrumentation_scope=SCOPE,
        status=status,
        start_time=start,
        end_time=max(end or start, start),
    )


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
