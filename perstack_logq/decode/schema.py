"""The tables perstack_logq builds from a store: their columns, Arrow and DuckDB types, meaning.

This is the single source of truth: the engine creates its tables from it, the decoder fills
them in this column order, and ``docs/schema.md`` documents every column (a test checks that).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


@cache
def _arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow type the decoder fills a column of ``sql_type`` with. pyarrow is loaded only
    here: a query of an up-to-date cache never needs it, and it is a sixth of such a command's
    time."""
    import pyarrow as pa

    return {
        "VARCHAR": pa.string(),
        # large_string: one event can be tens of MB, and a batch of them must not overflow
        # Arrow's 32-bit string offsets.
        "JSON": pa.large_string(),
        "VARCHAR[]": pa.list_(pa.string()),
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "TIMESTAMP": pa.timestamp("ms"),
    }[sql_type]


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    doc: str

    @property
    def arrow_type(self) -> pa.DataType:
        return _arrow_type(self.sql_type)


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _text(name: str, doc: str) -> Column:
    return Column(name, "VARCHAR", doc)


def _json(name: str, doc: str) -> Column:
    return Column(name, "JSON", doc)


def _int(name: str, doc: str) -> Column:
    return Column(name, "BIGINT", doc)


def _float(name: str, doc: str) -> Column:
    return Column(name, "DOUBLE", doc)


def _bool(name: str, doc: str) -> Column:
    return Column(name, "BOOLEAN", doc)


def _time(name: str, doc: str) -> Column:
    return Column(name, "TIMESTAMP", doc)


def _text_list(name: str, doc: str) -> Column:
    return Column(name, "VARCHAR[]", doc)


def _usage(what: str) -> tuple[Column, ...]:
    return (
        _int("input_tokens", f"usage.inputTokens {what}"),
        _int("output_tokens", f"usage.outputTokens {what}"),
        _int("reasoning_tokens", f"usage.reasoningTokens {what}"),
        _int("total_tokens", f"usage.totalTokens {what}"),
        _int("cached_input_tokens", f"usage.cachedInputTokens {what}"),
    )


SOURCE_KEY = _text(
    "source_key", "store-relative key of the file the row came from (jobs/{jobId}/...)"
)
JOB_ID = _text("job_id", "job id, from the file's location")
RUN_ID_FROM_PATH = _text("run_id", "run id: the runs/{runId}/ directory the file is in")

JOB_FILES = Table(
    "job_files",
    "One row per job.json (often absent: see the `jobs` view for every job).",
    (
        JOB_ID,
        _text("status", "running, completed, stoppedByMaxSteps, stoppedByInteractiveTool, ..."),
        _text("coordinator_expert_key", "expert that ran the job"),
        _int("total_steps", "totalSteps"),
        _int("max_steps", "maxSteps (null when not set)"),
        *_usage("accumulated over the job"),
        _time("started_at", "startedAt, UTC"),
        _time("finished_at", "finishedAt, UTC (null while running)"),
        _json("record", "the job.json record as stored"),
        SOURCE_KEY,
    ),
)

CHECKPOINTS = Table(
    "checkpoints",
    "One row per checkpoint file.",
    (
        JOB_ID,
        _text("checkpoint_id", "checkpoint id (file name)"),
        _text("run_id", "runId written in the checkpoint (a continued run keeps the old one)"),
        _text("status", "init, proceeding, completed, stoppedBy..."),
        _int("step_number", "stepNumber"),
        _text("expert_key", "expert.key"),
        _text("expert_name", "expert.name"),
        _text("expert_version", "expert.version"),
        *_usage("accumulated up to this checkpoint"),
        _int("context_window", "model context window in tokens"),
        _float("context_window_usage", "share of the context window used, 0..1"),
        _int("retry_count", "consecutive retries"),
        _int("message_count", "number of messages in the conversation so far"),
        _text("delegated_by_expert_key", "parent expert when this run was delegated"),
        _text("delegated_by_checkpoint_id", "parent checkpoint when delegated"),
        _text_list(
            "delegate_to_expert_keys",
            "experts this checkpoint delegates to",
        ),
        _text("error_name", "error.name when stopped by an error"),
        _text("error_message", "error.message"),
        _bool("error_is_retryable", "error.isRetryable"),
        _text("runtime", "metadata.runtime (local, docker, ...)"),
        _json("record", "the checkpoint record as stored"),
        SOURCE_KEY,
    ),
)

RUN_SETTINGS = Table(
    "run_settings",
    "One row per run-setting.json, with every credential removed (see docs/schema.md).",
    (
        JOB_ID,
        RUN_ID_FROM_PATH,
        _text("expert_key", "expertKey"),
        _text("model", "model name"),
        _text("provider_name", "providerConfig.providerName"),
        _text("input_text", "input.text (the user's query), or the answered interactive result"),
        _text("reasoning_budget", "reasoningBudget as text"),
        _int("max_steps", "maxSteps"),
        _int("max_retries", "maxRetries"),
        _int("timeout", "timeout in ms"),
        _time("started_at", "startedAt, UTC"),
        _time("updated_at", "updatedAt, UTC (rewritten on each resume)"),
        _json("settings", 'the run setting with secrets redacted to "<redacted>"'),
        SOURCE_KEY,
    ),
)

EVENTS = Table(
    "events",
    "One row per event file; unknown event types are kept.",
    (
        JOB_ID,
        RUN_ID_FROM_PATH,
        _text("event_id", "event id"),
        _text("type", "event type (startRun, callTools, ..., or a type this tool does not know)"),
        _int("step_number", "stepNumber"),
        _time("event_time", "event timestamp, UTC"),
        _int("timestamp_ms", "event timestamp, Unix epoch milliseconds"),
        _text("expert_key", "expertKey"),
        *_usage("reported by this event (null when it reports none)"),
        _text("file_name", "event file name"),
        _int("size_bytes", "size of the event file"),
        _text("checkpoint_id", "checkpoint.id: the checkpoint the event carries"),
        _text("error_name", "error.name (stopRunByError)"),
        _text("error_message", "error.message"),
        _bool("error_is_retryable", "error.isRetryable"),
        _json("record", "the event record as stored"),
        SOURCE_KEY,
    ),
)

_EVENT_CONTEXT = (
    JOB_ID,
    RUN_ID_FROM_PATH,
    _text("event_id", "id of the event the row comes from"),
    _text("type", "type of that event"),
    _int("step_number", "stepNumber of that event"),
    _time("event_time", "timestamp of that event, UTC"),
    _text("expert_key", "expert that made the call"),
    _int("position", "index within the event's list, from 0"),
)

TOOL_CALLS = Table(
    "tool_calls",
    "One row per tool call in callTools, callDelegate and callInteractiveTool events.",
    (
        *_EVENT_CONTEXT,
        _text("kind", "callTools, callDelegate or callInteractiveTool"),
        _text("tool_call_id", "tool call id"),
        _text("skill_name", "skill that provides the tool"),
        _text("tool_name", "tool name"),
        _text("delegate_expert_key", "for callDelegate: args.expertKey, args.expert or tool name"),
        _json("args", "the call's arguments"),
        SOURCE_KEY,
    ),
)

STEPS = Table(
    "steps",
    "One row per finished step: the step object embedded in continueToNextStep, completeRun "
    "and stopRunBy* events. Its usage is the step's own (they add up to the job's usage).",
    (
        JOB_ID,
        RUN_ID_FROM_PATH,
        _text("event_id", "id of the event that closed the step"),
        _text("type", "type of that event (continueToNextStep, completeRun, stopRunBy...)"),
        _int("step_number", "step.stepNumber"),
        _time("event_time", "timestamp of that event, UTC"),
        _text("expert_key", "expert that ran the step"),
        _time("started_at", "step.startedAt, UTC"),
        _time("finished_at", "step.finishedAt, UTC"),
        _int("duration_ms", "finished_at - started_at in ms (null if either is missing)"),
        *_usage("of this step alone"),
        _int("tool_call_count", "number of tool calls made in the step"),
        SOURCE_KEY,
    ),
)

TOOL_RESULTS = Table(
    "tool_results",
    "One row per result in resolveToolResults events.",
    (
        *_EVENT_CONTEXT,
        _text("tool_call_id", "id of the call this answers"),
        _text("skill_name", "skill that provides the tool"),
        _text("tool_name", "tool name"),
        _bool(
            "is_error",
            "a part says isError, the first text starts with 'error' (the original's rule), "
            'or the text is a JSON object with an "error" key (how Perstack tools fail)',
        ),
        _text("result_text", "the first text part of the result"),
        _json("result", "the result parts"),
        SOURCE_KEY,
    ),
)

MESSAGES = Table(
    "messages",
    "One row per message of a job, however many records held it (a record's `messages` "
    "keep the ids it held, in order: `record -> '$.messages.ids'`).",
    (
        _text("job_id", "job of the conversation"),
        _text("run_id", "runId of the first record that held it (a continued run keeps it)"),
        _text("message_id", "message id (the same in every record that holds the message)"),
        _int("position", "index of the message in its conversation, from 0"),
        _text("type", "instructionMessage, userMessage, expertMessage or toolMessage"),
        _text("text", "the message's text parts joined by newlines (null when it has none)"),
        _text_list(
            "tool_call_ids",
            "ids of the tool calls its parts make or answer (tool_calls/tool_results.tool_call_id)",
        ),
        _json("message", "the message as stored: id, type, contents (its parts), cache"),
        _text("checkpoint_id", "the first checkpoint that held it (null: a startGeneration)"),
        _int("step_number", "the stepNumber of the first record that held it"),
        _text(
            "source_key",
            "key of the file it was read from (a checkpoint, or an event "
            "embedding that checkpoint)",
        ),
    ),
)

SKIPPED_FILES = Table(
    "skipped_files",
    "Files that were not decoded, and why (bad JSON, unknown layout, ...).",
    (
        _text("source_key", "store-relative key of the skipped file"),
        _text("reason", "invalid_json, not_an_object, invalid_record, unknown_layout, unreadable"),
        _text("detail", "what exactly was wrong"),
    ),
)

MASKED_SECRETS = Table(
    "masked_secrets",
    "Values of well-known secret formats masked in a file (decode/secrets.py), per kind.",
    (
        _text("source_key", "store-relative key of the file"),
        _text("kind", "aws_access_key, github_token, private_key, jwt, ... (decode/secrets.py)"),
        _int("count", "how many were masked"),
    ),
)

DATA_TABLES: tuple[Table, ...] = (
    JOB_FILES,
    CHECKPOINTS,
    RUN_SETTINGS,
    EVENTS,
    STEPS,
    TOOL_CALLS,
    TOOL_RESULTS,
    MESSAGES,
    SKIPPED_FILES,
    MASKED_SECRETS,
)
TABLES_BY_NAME = {t.name: t for t in DATA_TABLES}
