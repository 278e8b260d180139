"""Jobs and checkpoints in zod's schema order, with nothing dropped."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from support import FIXTURE_STORE

from perstack_logq.decode.canonical import canonical_checkpoint, canonical_job

GOLDEN_DIR = FIXTURE_STORE.parent.parent / "upstream-log-outputs"
DELEGATION_JOB = "anaew4v18s62aanmx116dgi2"


def _keys(value: Any) -> list[str]:
    return list(value)


def test_job_in_schema_order() -> None:
    stored = {
        "id": "j",
        "coordinatorExpertKey": "e",
        "status": "completed",
        "totalSteps": 2,
        "startedAt": 1,
        "maxSteps": 9,
        "usage": {
            "totalTokens": 3,
            "inputTokens": 1,
            "outputTokens": 2,
            "cachedInputTokens": 0,
            "reasoningTokens": 0,
        },
        "finishedAt": 2,
    }
    job = canonical_job(stored)
    assert _keys(job) == [
        "id",
        "status",
        "coordinatorExpertKey",
        "totalSteps",
        "maxSteps",
        "usage",
        "startedAt",
        "finishedAt",
    ]
    assert _keys(job["usage"]) == [
        "inputTokens",
        "outputTokens",
        "reasoningTokens",
        "totalTokens",
        "cachedInputTokens",
    ]
    assert job == stored


def test_unknown_keys_are_kept_after_the_known_ones_in_file_order() -> None:
    job = canonical_job({"zeta": 1, "id": "j", "alpha": {"b": 1, "a": 2}, "status": "running"})
    assert _keys(job) == ["id", "status", "zeta", "alpha"]
    assert _keys(job["alpha"]) == ["b", "a"]  # unknown values are not touched


def test_optional_keys_stay_absent() -> None:
    assert canonical_job({"id": "j"}) == {"id": "j"}
    assert canonical_checkpoint({}) == {}


def test_checkpoint_in_schema_order() -> None:
    stored = {
        "retryCount": 0,
        "error": {"isRetryable": False, "statusCode": 500, "message": "m", "name": "n"},
        "metadata": {"extra": 1, "runtime": "local"},
        "partialToolResults": [
            {
                "result": [{"text": "r", "type": "textPart", "id": "p"}],
                "toolName": "t",
                "skillName": "s",
                "id": "tr",
            }
        ],
        "pendingToolCalls": [
            {"args": {"b": 1, "a": 2}, "toolName": "t", "skillName": "s", "id": "c"}
        ],
        "contextWindowUsage": 0.00192,
        "contextWindow": 200000,
        "usage": {"inputTokens": 1},
        "delegatedBy": {
            "runId": "r0",
            "checkpointId": "c0",
            "toolName": "t",
            "toolCallId": "tc",
            "expert": {"version": "1", "name": "n", "key": "k"},
        },
        "delegateTo": [
            {"query": "q", "toolName": "t", "toolCallId": "tc", "expert": {"name": "n", "key": "k"}}
        ],
        "expert": {"version": "1", "name": "n", "key": "k"},
        "messages": [],
        "stepNumber": 1,
        "status": "proceeding",
        "runId": "r",
        "jobId": "j",
        "id": "c",
    }
    checkpoint = canonical_checkpoint(stored)
    assert checkpoint == stored
    assert _keys(checkpoint) == [
        "id",
        "jobId",
        "runId",
        "status",
        "stepNumber",
        "messages",
        "expert",
        "delegateTo",
        "delegatedBy",
        "usage",
        "contextWindow",
        "contextWindowUsage",
        "pendingToolCalls",
        "partialToolResults",
        "metadata",
        "error",
        "retryCount",
    ]
    assert _keys(checkpoint["expert"]) == ["key", "name", "version"]
    assert _keys(checkpoint["delegateTo"][0]) == ["expert", "toolCallId", "toolName", "query"]
    assert _keys(checkpoint["delegateTo"][0]["expert"]) == ["key", "name"]
    assert _keys(checkpoint["delegatedBy"]) == [
        "expert",
        "toolCallId",
        "toolName",
        "checkpointId",
        "runId",
    ]
    assert _keys(checkpoint["pendingToolCalls"][0]) == ["id", "skillName", "toolName", "args"]
    assert _keys(checkpoint["pendingToolCalls"][0]["args"]) == ["b", "a"]  # a record: as stored
    assert _keys(checkpoint["partialToolResults"][0]) == ["id", "skillName", "toolName", "result"]
    assert _keys(checkpoint["partialToolResults"][0]["result"][0]) == ["id", "type", "text"]
    assert _keys(checkpoint["metadata"]) == ["runtime", "extra"]  # passthrough
    assert _keys(checkpoint["error"]) == ["name", "message", "statusCode", "isRetryable"]


@pytest.mark.parametrize(
    ("part", "order"),
    [
        ({"text": "t", "type": "textPart", "id": "p"}, ["id", "type", "text"]),
        (
            {"signature": "s", "thinking": "t", "type": "thinkingPart", "id": "p"},
            ["id", "type", "thinking", "signature"],
        ),
        (
            {"mimeType": "m", "url": "u", "type": "imageUrlPart", "id": "p"},
            ["id", "type", "url", "mimeType"],
        ),
        (
            {"mimeType": "m", "encodedData": "d", "type": "imageInlinePart", "id": "p"},
            ["id", "type", "encodedData", "mimeType"],
        ),
        (
            {"mimeType": "m", "data": "d", "type": "imageBinaryPart", "id": "p"},
            ["id", "type", "data", "mimeType"],
        ),
        (
            {"mimeType": "m", "url": "u", "type": "fileUrlPart", "id": "p"},
            ["id", "type", "url", "mimeType"],
        ),
        (
            {"mimeType": "m", "encodedData": "d", "type": "fileInlinePart", "id": "p"},
            ["id", "type", "encodedData", "mimeType"],
        ),
        (
            {"mimeType": "m", "data": "d", "type": "fileBinaryPart", "id": "p"},
            ["id", "type", "data", "mimeType"],
        ),
        (
            {"args": {"z": 1, "a": 2}, "toolName": "n", "toolCallId": "c", "type": "toolCallPart"},
            ["type", "toolCallId", "toolName", "args"],
        ),
        (
            {"custom": 1, "type": "newPart", "id": "p"},  # unknown type: kept as stored
            ["custom", "type", "id"],
        ),
    ],
)
def test_parts_by_type(part: dict[str, Any], order: list[str]) -> None:
    message = {"contents": [part], "type": "userMessage", "cache": True, "id": "m"}
    out = canonical_checkpoint({"messages": [message]})["messages"][0]
    assert _keys(out) == ["id", "type", "contents", "cache"]
    assert _keys(out["contents"][0]) == order
    assert out["contents"][0] == part


def test_tool_result_part_orders_its_contents() -> None:
    part = {
        "isError": True,
        "contents": [
            {"text": "t", "type": "textPart", "id": "a"},
            {"mimeType": "m", "encodedData": "d", "type": "imageInlinePart", "id": "b"},
        ],
        "toolName": "n",
        "toolCallId": "c",
        "type": "toolResultPart",
        "id": "p",
    }
    message = {"type": "toolMessage", "contents": [part], "id": "m"}
    out = canonical_checkpoint({"messages": [message]})["messages"][0]["contents"][0]
    assert _keys(out) == ["id", "type", "toolCallId", "toolName", "contents", "isError"]
    assert [_keys(p) for p in out["contents"]] == [
        ["id", "type", "text"],
        ["id", "type", "encodedData", "mimeType"],
    ]


def test_unexpected_shapes_are_kept() -> None:
    # older runtimes wrote delegateTo as one object; zod would reject it, we keep it as is
    old = {"delegateTo": {"query": "q", "expert": {"name": "n", "key": "k"}}, "id": "c"}
    assert canonical_checkpoint(old) == old
    assert _keys(canonical_checkpoint(old)) == ["id", "delegateTo"]
    odd = {"messages": "none", "usage": None, "expert": [1], "error": 5}
    assert canonical_checkpoint(odd) == odd
    weird_parts = {"messages": [{"contents": [None, 3, {"type": 5, "id": "p"}], "id": "m"}]}
    assert canonical_checkpoint(weird_parts) == weird_parts


def test_inputs_are_not_modified() -> None:
    stored = orjson.loads(
        next((FIXTURE_STORE / "jobs" / DELEGATION_JOB / "checkpoints").iterdir()).read_bytes()
    )
    before = copy.deepcopy(stored)
    canonical_checkpoint(stored)
    assert stored == before
    assert _keys(stored) == _keys(before)


def _checkpoint_files(job_id: str) -> list[Path]:
    return sorted((FIXTURE_STORE / "jobs" / job_id / "checkpoints").iterdir())


def test_fixture_checkpoints_come_out_as_the_original_printed_them() -> None:
    golden = orjson.loads((GOLDEN_DIR / "job-json.txt").read_bytes())
    ours = [
        canonical_checkpoint(orjson.loads(p.read_bytes()))
        for p in _checkpoint_files(DELEGATION_JOB)
    ]
    ours.sort(key=lambda c: c["stepNumber"])
    assert orjson.dumps(ours) == orjson.dumps(golden["checkpoints"])  # values and key order
    job = canonical_job(
        orjson.loads((FIXTURE_STORE / "jobs" / DELEGATION_JOB / "job.json").read_bytes())
    )
    assert orjson.dumps(job) == orjson.dumps(golden["job"])


def test_every_fixture_record_keeps_its_content() -> None:
    for path in sorted(FIXTURE_STORE.glob("jobs/*/checkpoints/*.json")):
        stored = orjson.loads(path.read_bytes())
        assert canonical_checkpoint(stored) == stored
    for path in sorted(FIXTURE_STORE.glob("jobs/*/job.json")):
        stored = orjson.loads(path.read_bytes())
        assert canonical_job(stored) == stored
