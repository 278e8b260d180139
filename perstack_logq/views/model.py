"""What the log view hands to its renderers: the original command's output, as data."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from perstack_logq.storage.base import StorageInfo

JsonObject = dict[str, Any]


class StoredRecords(Sequence[JsonObject]):
    """A view's records as the cache's rows hold them ``(record, source key)``, each parsed,
    its conversations put back, only when read, and not kept: the ``--json`` of a long
    session's job (150 MB, nearly all of it conversations) is then written one record at a
    time, never held whole."""

    def __init__(
        self, rows: Sequence[tuple[str, str]], parse: Callable[[str, str], JsonObject]
    ) -> None:
        self._rows = rows
        self._parse = parse

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> JsonObject: ...
    @overload
    def __getitem__(self, index: slice) -> list[JsonObject]: ...
    def __getitem__(self, index: int | slice) -> JsonObject | list[JsonObject]:
        if isinstance(index, slice):
            return [self._parse(*row) for row in self._rows[index]]
        return self._parse(*self._rows[index])

    def __iter__(self) -> Iterator[JsonObject]:
        for record, key in self._rows:
            yield self._parse(record, key)


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
    events: Sequence[JsonObject]  # in display order, context events included
    summary: LogSummary
    total_events_before_limit: int
    matched_after_pagination: int
    checkpoint: JsonObject | None = None
    checkpoints: Sequence[JsonObject] | None = None
    runs: list[JsonObject] | None = None
    is_latest_job: bool = False
