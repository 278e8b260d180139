"""What the log view hands to its renderers: the original command's output, as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perstack_logq.storage.base import StorageInfo

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class LogSummary:
    total_events: int
    error_count: int
    tool_call_count: int
    delegation_count: int
    # (min, max); None when there are no events. Floats (even NaN) where the data holds a
    # non-integer step number: the original computes it with Math.min/Math.max.
    step_range: tuple[int | float, int | float] | None


@dataclass(frozen=True)
class LogOutput:
    """One ``perstack log`` answer. Records keep the original camelCase shapes and key order."""

    storage: StorageInfo
    job: JsonObject
    events: list[JsonObject]  # in display order, context events included
    summary: LogSummary
    total_events_before_limit: int
    matched_after_pagination: int
    checkpoint: JsonObject | None = None
    checkpoints: list[JsonObject] | None = None
    runs: list[JsonObject] | None = None
    is_latest_job: bool = False
