"""Stored JSON -> Arrow record batches, one table at a time, without I/O.

The engine feeds objects in as ``(key, body)`` and takes batches out whenever it likes, so
memory is bounded by the batch, never by the store. A file that cannot be decoded becomes a
row of ``skipped_files`` saying why; it never stops the files around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from perstack_logq.decode import schema
from perstack_logq.decode.conversation import (
    MessageRow,
    conversation_holders,
    leave_out_conversation,
    strip_conversation,
)
from perstack_logq.decode.redact import redact_run_setting
from perstack_logq.decode.secrets import mask_secret_values
from perstack_logq.storage.layout import (
    KeyKind,
    ParsedKey,
    parse_key,
    unknown_layout_detail,
    unreadable_directory_reason,
)

if TYPE_CHECKING:
    import pyarrow as pa

JsonObject = dict[str, Any]
Row = tuple[Any, ...]

# The last millisecond DuckDB's TIMESTAMP and the other engines all accept (year 9999).
_MAX_TIMESTAMP_MS = 253_402_300_799_999
# Integer columns are BIGINT: a larger JSON number cannot be stored (and would stop the sync).
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_USAGE_KEYS = ("inputTokens", "outputTokens", "reasoningTokens", "totalTokens", "cachedInputTokens")
_TOOL_CALL_LISTS = {"callTools": "toolCalls", "callDelegate": "toolCalls"}
_STEP_ENDING = frozenset(
    {
        "continueToNextStep",
        "completeRun",
        "stopRunByError",
        "stopRunByDelegate",
        "stopRunByExceededMaxSteps",
        "stopRunByInteractiveTool",
    }
)


class InvalidRecord(ValueError):
    """A parsed JSON object that lacks what every record of its kind must have."""


def _json_type(value: Any) -> str:
    """What JSON calls a decoded value's type (messages speak JSON, not Python)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), "null")


def _number(record: JsonObject, key: str, *, required: bool = False) -> int | float | None:
    value = record.get(key)
    # bool is an int in Python but never a number in JSON.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if required or (value is not None and key in record):
        found = "nothing" if key not in record else _json_type(value)
        raise InvalidRecord(f"{key} must be a number (got {found})")
    return None


def _float(record: JsonObject, key: str) -> float | None:
    """A number for a DOUBLE column, as a float: Arrow refuses an int that a double cannot hold
    exactly (2**63 - 1), and one file would then fail its whole batch. (orjson reads no int
    beyond 64 bits, so float() cannot overflow.)"""
    value = _number(record, key)
    return None if value is None else float(value)


def _int(record: JsonObject, key: str, *, required: bool = False) -> int | None:
    value = _number(record, key, required=required)
    if value is None:
        return None
    number = int(value)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise InvalidRecord(f"{key} is out of range (got {value:.6g})")
    return number


def _str(record: JsonObject, key: str, *, required: bool = False) -> str | None:
    value = record.get(key)
    if isinstance(value, str):
        return value
    if required or (value is not None and key in record):
        found = "nothing" if key not in record else _json_type(value)
        raise InvalidRecord(f"{key} must be a string (got {found})")
    return None


def _loose_text(value: Any) -> str | None:
    """A value as text where any JSON is allowed: a string as it is, anything else as its JSON
    text (as DuckDB's ``->>`` gives it), None for null or what orjson cannot write."""
    if value is None or isinstance(value, str):
        return value
    try:
        return _json(value)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes
        return None


def _object(record: JsonObject, key: str) -> JsonObject:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _time(ms: int | None) -> int | None:
    return ms if ms is not None and 0 <= ms <= _MAX_TIMESTAMP_MS else None


def _required_time(record: JsonObject, key: str) -> int:
    """A time every record of its kind has: out of the range of dates, the record is invalid
    (the log view could not show it, and one file must not stop the view of its job)."""
    ms = _int(record, key, required=True)
    if _time(ms) is None:
        raise InvalidRecord(f"{key} is out of range (got {ms})")
    return ms  # type: ignore[return-value]


def _usage(record: JsonObject) -> tuple[int | None, ...]:
    usage = record.get("usage")
    if not isinstance(usage, dict):
        return (None,) * len(_USAGE_KEYS)
    return tuple(_int(usage, key) for key in _USAGE_KEYS)


def first_text(parts: Any) -> str | None:
    """The first textPart's text, the way the original log command previews content."""
    if not isinstance(parts, list):
        return None
    for part in parts:
        if isinstance(part, dict) and part.get("type") == "textPart" and "text" in part:
            return str(part["text"])
    return None


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def is_error_result(parts: Any, text: str | None) -> bool:
    """Whether a tool result reports a failure.

    The original log command only checks that the text starts with "error"; Perstack's own
    tools fail with a JSON text such as ``{"error": "Error", "message": "File ... not found"}``,
    and parts may carry ``isError``. All three count.
    """
    if isinstance(parts, list) and any(
        isinstance(part, dict) and part.get("isError") is True for part in parts
    ):
        return True
    if text is None:
        return False
    if text.lower().startswith("error"):
        return True
    if text.startswith("{") and '"error"' in text:
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        return isinstance(decoded, dict) and decoded.get("error") not in (None, False, "")
    return False


def rows_to_table(rows: list[Row], arrow_schema: pa.Schema) -> pa.Table:
    """Row tuples, in the schema's column order, as one Arrow table."""
    import pyarrow as pa  # here: reading an up-to-date cache never loads it (decode/schema.py)

    columns = zip(*rows, strict=True)
    return pa.Table.from_arrays(
        [pa.array(values, type=f.type) for values, f in zip(columns, arrow_schema, strict=True)],
        schema=arrow_schema,
    )


class StoreDecoder:
    """Accumulates decoded rows per table until ``flush`` turns them into Arrow tables.

    ``conversations=False``: records keep a marker in place of each conversation and no
    message becomes a row (decode/conversation.leave_out_conversation), for a history that
    shows none: a third of the decoding of a long session's files is its messages' rows.
    """

    def __init__(self, *, conversations: bool = True) -> None:
        self._conversations = conversations
        self._rows: dict[str, list[Row]] = {t.name: [] for t in schema.DATA_TABLES}
        self._decoders: dict[KeyKind, Callable[[ParsedKey, str, JsonObject, str, int], None]] = {
            KeyKind.JOB: self._job,
            KeyKind.CHECKPOINT: self._checkpoint,
            KeyKind.RUN_SETTING: self._run_setting,
            KeyKind.EVENT: self._event,
        }
        # Each message once per batch (the engine merges batches): (job, message id) -> the row
        # from its first holder. The record being decoded keeps its own until it is valid.
        self._messages: dict[tuple[str, str], MessageRow] = {}
        self._record_messages: dict[tuple[str, str], MessageRow] = {}
        self.pending_bytes = 0

    def add(self, key: str, body: bytes) -> None:
        """Decode one object. Never raises for bad data: it becomes a skipped_files row."""
        parsed = parse_key(key)
        if parsed is None or parsed.kind is KeyKind.UNKNOWN:
            self.skip_unknown_layout(key)
            return
        if not body.strip():
            self.skip(key, "invalid_json", "empty file")
            return
        size = len(body)
        # Before parsing: no table, output or export can then hold a well-known secret.
        body, masked = mask_secret_values(body)
        for kind, count in masked.items():
            self._rows["masked_secrets"].append((key, kind, count))
        try:
            record = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            self.skip(key, "invalid_json", str(error))
            return
        if not isinstance(record, dict):
            self.skip(key, "not_an_object", f"a JSON {_json_type(record)}, not an object")
            return
        # A record found invalid halfway leaves no rows behind (e.g. an event row without
        # its tool calls): the file is skipped as a whole.
        marks = {name: len(rows) for name, rows in self._rows.items()}
        self._record_messages.clear()
        try:
            # The raw bytes go to Arrow as they are: orjson has validated them as UTF-8, and
            # Arrow takes bytes for a string column several times faster than str.
            self._decoders[parsed.kind](parsed, key, record, body, size)
        except InvalidRecord as error:
            for name, mark in marks.items():
                del self._rows[name][mark:]
            self.skip(key, "invalid_record", str(error))
            return
        for message_key, row in self._record_messages.items():
            known = self._messages.get(message_key)
            if known is None or row.holder() < known.holder():
                self._messages[message_key] = row
        self.pending_bytes += size

    def skip_unknown_layout(self, key: str) -> None:
        """A file whose name or place is not part of the layout: skipped without reading it."""
        self.skip(key, "unknown_layout", unknown_layout_detail(key))

    def skip_unlisted(self, key: str, version: str) -> None:
        """A listed key that is not read: a file outside the layout, or a directory the
        listing could not read (its version says why)."""
        reason = unreadable_directory_reason(key, version)
        if reason is None:
            self.skip_unknown_layout(key)
        else:
            self.skip(key, "unreadable", f"a directory that cannot be listed: {reason}")

    def skip(self, key: str, reason: str, detail: str) -> None:
        self._rows["skipped_files"].append((key, reason, detail))

    @property
    def pending_rows(self) -> int:
        return sum(len(rows) for rows in self._rows.values()) + len(self._messages)

    def flush(self) -> dict[str, pa.Table]:
        """The rows decoded since the last flush, as one Arrow table per non-empty table."""
        tables: dict[str, pa.Table] = {}
        self._rows["messages"] = list(self._messages.values())
        self._messages.clear()
        for table in schema.DATA_TABLES:
            rows = self._rows[table.name]
            if not rows:
                continue
            tables[table.name] = rows_to_table(rows, table.arrow_schema)
            rows.clear()
        self.pending_bytes = 0
        return tables

    def _job(self, parsed: ParsedKey, key: str, record: JsonObject, text: bytes, size: int) -> None:
        self._rows["job_files"].append(
            (
                parsed.job_id,
                _str(record, "status", required=True),
                _str(record, "coordinatorExpertKey", required=True),
                _int(record, "totalSteps", required=True),
                _int(record, "maxSteps"),
                *_usage(record),
                _required_time(record, "startedAt"),
                None if record.get("finishedAt") is None else _required_time(record, "finishedAt"),
                text,
                key,
            )
        )

    def _strip_conversations(
        self, job_id: str, key: str, record: JsonObject, text: bytes, *, is_event: bool
    ) -> bytes:
        """The record's text with each conversation it holds replaced by a marker (its
        messages become rows of ``messages``); the text as read when it holds none."""
        if not self._conversations:
            left_out = [
                leave_out_conversation(holder)
                for holder, _ in conversation_holders(record, is_event=is_event)
                if isinstance(holder, dict)
            ]
            return orjson.dumps(record) if any(left_out) else text
        stripped = False
        pending = self._record_messages

        def known(message_id: str) -> MessageRow | None:
            message_key = (job_id, message_id)
            return pending.get(message_key) or self._messages.get(message_key)

        for holder, is_checkpoint in conversation_holders(record, is_event=is_event):
            if isinstance(holder, dict):
                rows = strip_conversation(
                    holder,
                    is_checkpoint=is_checkpoint,
                    job_id=job_id,
                    source_key=key,
                    known=known,
                )
                if rows is not None:
                    for row in rows:
                        pending[(job_id, row.message_id)] = row
                    stripped = True
        if not stripped:
            return text
        try:
            return orjson.dumps(record)
        except orjson.JSONEncodeError:
            # Nested deeper than orjson writes (it reads deeper): the record is kept as read,
            # its messages inline (and in `messages` too).
            return text

    def _checkpoint(
        self, parsed: ParsedKey, key: str, record: JsonObject, text: bytes, size: int
    ) -> None:
        expert = record.get("expert")
        if not isinstance(expert, dict) or not isinstance(expert.get("key"), str):
            raise InvalidRecord("expert.key must be a string")
        delegated_by = _object(record, "delegatedBy")
        delegate_to = record.get("delegateTo")
        error = _object(record, "error")
        messages = record.get("messages")
        retryable = error.get("isRetryable")
        run_id = _str(record, "runId", required=True)
        status = _str(record, "status", required=True)
        step_number = _int(record, "stepNumber", required=True)
        message_count = len(messages) if isinstance(messages, list) else None
        text = self._strip_conversations(parsed.job_id, key, record, text, is_event=False)
        self._rows["checkpoints"].append(
            (
                parsed.job_id,
                parsed.checkpoint_id,
                run_id,
                status,
                step_number,
                expert["key"],
                _str(expert, "name"),
                _str(expert, "version"),
                *_usage(record),
                _int(record, "contextWindow"),
                _float(record, "contextWindowUsage"),
                _int(record, "retryCount"),
                message_count,
                _str(_object(delegated_by, "expert"), "key"),
                _str(delegated_by, "checkpointId"),
                [
                    target["expert"]["key"]
                    for target in delegate_to
                    if isinstance(target, dict)
                    and isinstance(target.get("expert"), dict)
                    and isinstance(target["expert"].get("key"), str)
                ]
                if isinstance(delegate_to, list)
                else None,
                _str(error, "name"),
                _str(error, "message"),
                retryable if isinstance(retryable, bool) else None,
                _str(_object(record, "metadata"), "runtime"),
                text,
                key,
            )
        )

    def _run_setting(
        self, parsed: ParsedKey, key: str, record: JsonObject, text: bytes, size: int
    ) -> None:
        # Redact first: from here on nothing can copy a credential by mistake.
        setting = redact_run_setting(record)
        run_input = _object(setting, "input")
        answered = _object(run_input, "interactiveToolCallResult")
        budget = setting.get("reasoningBudget")
        self._rows["run_settings"].append(
            (
                parsed.job_id,
                parsed.run_id,
                _str(setting, "expertKey"),
                _str(setting, "model"),
                _str(_object(setting, "providerConfig"), "providerName"),
                _str(run_input, "text") or _str(answered, "text"),
                None if budget is None else str(budget),
                _int(setting, "maxSteps"),
                _int(setting, "maxRetries"),
                _int(setting, "timeout"),
                _time(_int(setting, "startedAt")),
                _time(_int(setting, "updatedAt")),
                _json(setting),
                key,
            )
        )

    def _event(
        self, parsed: ParsedKey, key: str, record: JsonObject, text: bytes, size: int
    ) -> None:
        event_type = _str(record, "type", required=True)
        timestamp = _required_time(record, "timestamp")
        step = _int(record, "stepNumber", required=True)
        event_id = _str(record, "id")
        expert_key = _str(record, "expertKey")
        event_time = _time(timestamp)
        # Columns of their own, so that nothing reads `record` (of every event) to find them.
        error = _object(record, "error")
        retryable = error.get("isRetryable")
        carried = (
            _loose_text(_object(record, "checkpoint").get("id")),
            _loose_text(error.get("name")),
            _loose_text(error.get("message")),
            retryable if isinstance(retryable, bool) else None,
        )
        text = self._strip_conversations(parsed.job_id, key, record, text, is_event=True)
        self._rows["events"].append(
            (
                parsed.job_id,
                parsed.run_id,
                event_id,
                event_type,
                step,
                event_time,
                timestamp,
                expert_key,
                *_usage(record),
                key.rsplit("/", 1)[1],
                size,
                *carried,
                text,
                key,
            )
        )
        context = (parsed.job_id, parsed.run_id, event_id, event_type, step, event_time, expert_key)
        if event_type in _TOOL_CALL_LISTS or event_type == "callInteractiveTool":
            calls = (
                [record.get("toolCall")]
                if event_type == "callInteractiveTool"
                else record.get(_TOOL_CALL_LISTS[event_type])
            )
            self._tool_calls(context, event_type, calls, key)
        elif event_type == "resolveToolResults":
            self._tool_results(context, record.get("toolResults"), key)
        elif event_type in _STEP_ENDING and isinstance(record.get("step"), dict):
            self._step(context, record["step"], key)

    def _step(self, context: Row, step: JsonObject, key: str) -> None:
        job_id, run_id, event_id, event_type, step_number, event_time, expert_key = context
        started = _time(_int(step, "startedAt"))
        finished = _time(_int(step, "finishedAt"))
        tool_calls = step.get("toolCalls")
        self._rows["steps"].append(
            (
                job_id,
                run_id,
                event_id,
                event_type,
                _int(step, "stepNumber") if "stepNumber" in step else step_number,
                event_time,
                expert_key,
                started,
                finished,
                None if started is None or finished is None else finished - started,
                *_usage(step),
                len(tool_calls) if isinstance(tool_calls, list) else 0,
                key,
            )
        )

    def _tool_calls(self, context: Row, kind: str, calls: Any, key: str) -> None:
        if not isinstance(calls, list):
            return
        for position, call in enumerate(calls):
            if not isinstance(call, dict):
                continue
            args = call.get("args")
            tool_name = _str(call, "toolName")
            delegate = None
            if kind == "callDelegate":
                args_object = args if isinstance(args, dict) else {}
                delegate = args_object.get("expertKey") or args_object.get("expert") or tool_name
            self._rows["tool_calls"].append(
                (
                    *context,
                    position,
                    kind,
                    _str(call, "id"),
                    _str(call, "skillName"),
                    tool_name,
                    None if delegate is None else str(delegate),
                    None if args is None else _json(args),
                    key,
                )
            )

    def _tool_results(self, context: Row, results: Any, key: str) -> None:
        if not isinstance(results, list):
            return
        for position, result in enumerate(results):
            if not isinstance(result, dict):
                continue
            parts = result.get("result")
            text = first_text(parts)
            self._rows["tool_results"].append(
                (
                    *context,
                    position,
                    _str(result, "id"),
                    _str(result, "skillName"),
                    _str(result, "toolName"),
                    is_error_result(parts, text),
                    text,
                    None if parts is None else _json(parts),
                    key,
                )
            )
