"""Jobs and checkpoints in the key order the original ``perstack log --json`` prints them.

The original reads ``job.json`` and checkpoint files through zod (``jobSchema.parse``,
``checkpointSchema.parse``), and a zod object builds its output in *schema* order, whatever the
file's order: a checkpoint written as ``id, jobId, runId, expert, stepNumber, status, ...`` is
printed as ``id, jobId, runId, status, stepNumber, messages, expert, ...``. Events are not parsed
that way (they are printed as stored), so only jobs and checkpoints go through this module.

The schemas mirrored here are those of packages/core/src/schemas (job.ts, checkpoint.ts,
message.ts, message-part.ts, usage.ts, tool-call.ts, tool-result.ts) as the December 2025
runtime that wrote the reference store had them; the golden outputs confirm every order they
exercise. Two orders are inferred, not confirmed by a golden: ``thinkingPart`` as
``id, type, thinking, signature`` and ``delegatedBy.runId`` after ``checkpointId`` (the order
the runtime writes, and the one the goldens show).

Deliberate deviation from zod: zod drops keys its schema does not know and rejects records that
do not fit (the original then silently skips the checkpoint, or fails on ``--checkpoint``). We
drop nothing and validate nothing: known keys come first in schema order, then every unknown key
in file order, untouched. A value of an unexpected shape (say ``delegateTo`` as one object, as
older runtimes wrote it) is kept as it is. Objects only reorder; ``args`` and ``metadata``
contents keep their own order (``z.unknown()``, ``z.record()`` and ``.passthrough()`` do not
reorder). Pure functions: nothing is read or written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Converter = Callable[[Any], Any]


def _keep(value: Any) -> Any:
    return value


def _object(shape: dict[str, Converter]) -> Converter:
    """A zod object: known keys in shape order (converted), then unknown keys as they come."""

    def convert(value: Any) -> Any:
        if type(value) is not dict:
            return value
        out = {key: conv(value[key]) for key, conv in shape.items() if key in value}
        for key, item in value.items():
            if key not in shape:
                out[key] = item
        return out

    return convert


def _array(item: Converter) -> Converter:
    def convert(value: Any) -> Any:
        return [item(v) for v in value] if type(value) is list else value

    return convert


def _fields(*names: str) -> dict[str, Converter]:
    return dict.fromkeys(names, _keep)


_usage = _object(
    _fields("inputTokens", "outputTokens", "reasoningTokens", "totalTokens", "cachedInputTokens")
)
_expert = _object(_fields("key", "name", "version"))

# Every part is basePartSchema ({id}) extended with its type and fields.
_PART_FIELDS: dict[str, tuple[str, ...]] = {
    "textPart": ("text",),
    "thinkingPart": ("thinking", "signature"),
    "imageUrlPart": ("url", "mimeType"),
    "imageInlinePart": ("encodedData", "mimeType"),
    "imageBinaryPart": ("data", "mimeType"),
    "fileUrlPart": ("url", "mimeType"),
    "fileInlinePart": ("encodedData", "mimeType"),
    "fileBinaryPart": ("data", "mimeType"),
    "toolCallPart": ("toolCallId", "toolName", "args"),
    "toolResultPart": ("toolCallId", "toolName", "contents", "isError"),
}


def _part(value: Any) -> Any:
    """A message part, ordered by its own type; a part of unknown type is kept as it is."""
    part_type = value.get("type") if type(value) is dict else None
    if type(part_type) is not str or part_type not in _PART_FIELDS:
        return value
    return _PART_CONVERTERS[part_type](value)


_parts = _array(_part)
_PART_CONVERTERS: dict[str, Converter] = {
    name: _object(
        {"id": _keep, "type": _keep}
        | {field: _parts if field == "contents" else _keep for field in fields}
    )
    for name, fields in _PART_FIELDS.items()
}

# The four message types share one shape: {id, type, contents, cache?}.
_message = _object({"id": _keep, "type": _keep, "contents": _parts, "cache": _keep})
_tool_call = _object(_fields("id", "skillName", "toolName", "args"))
_tool_result = _object(_fields("id", "skillName", "toolName") | {"result": _parts})

_job = _object(
    _fields("id", "status", "coordinatorExpertKey", "totalSteps", "maxSteps")
    | {"usage": _usage}
    | _fields("startedAt", "finishedAt")
)

_checkpoint = _object(
    _fields("id", "jobId", "runId", "status", "stepNumber")
    | {
        "messages": _array(_message),
        "expert": _expert,
        "delegateTo": _array(
            _object({"expert": _expert} | _fields("toolCallId", "toolName", "query"))
        ),
        "delegatedBy": _object(
            {"expert": _expert} | _fields("toolCallId", "toolName", "checkpointId", "runId")
        ),
        "usage": _usage,
        "contextWindow": _keep,
        "contextWindowUsage": _keep,
        "pendingToolCalls": _array(_tool_call),
        "partialToolResults": _array(_tool_result),
        "metadata": _object({"runtime": _keep}),  # .passthrough(): the rest follows as stored
        "error": _object(_fields("name", "message", "statusCode", "isRetryable")),
        "retryCount": _keep,
    }
)


def canonical_job(obj: dict[str, Any]) -> dict[str, Any]:
    """``job.json`` as ``jobSchema.parse`` would order it (unknown keys kept, last)."""
    return _job(obj)


def canonical_message(obj: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's message as ``messageSchema.parse`` would order it."""
    return _message(obj)


def canonical_checkpoint(obj: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint as ``checkpointSchema.parse`` would order it (unknown keys kept, last)."""
    return _checkpoint(obj)
