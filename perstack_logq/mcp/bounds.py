"""Answers fit for a model's context: bounded rows, cells and size, times in ISO 8601 UTC.

A tool's answer is plain JSON data. Long strings are shortened and long arrays thinned, with a
marker saying how much went; ids are never shortened (a cut id is a wrong id). When the answer
is still over its size budget, whole rows (or events) are left out from the end, and the
answer's ``cut`` notes say what went and how to ask for the rest.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson

# Keys of the original's JSON records that hold epoch milliseconds.
TIME_KEYS = frozenset({"startedAt", "finishedAt", "timestamp", "createdAt", "updatedAt"})
FETCH_BATCH = 512


@dataclass(frozen=True)
class Limits:
    """How big one answer may get."""

    max_rows: int = 200  # rows of a tabular answer unless the caller asks for fewer
    max_cell_chars: int = 2_000  # characters of one string value (ids excepted)
    max_list_items: int = 100  # items of one array inside a value
    max_answer_chars: int = 60_000  # the whole answer, serialised


def is_id_key(key: str) -> bool:
    """``id``, ``jobId``, ``tool_call_id``, ``source_key``: values that must stay whole."""
    return key == "id" or key.endswith(("Id", "_id", "_key", "Key"))


def iso_utc(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; naive datetimes from the tables are UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def epoch_ms_iso(value: int | float) -> str | int | float:
    """Epoch milliseconds as ISO 8601 UTC; a value out of datetime's range stays a number."""
    try:
        return iso_utc(dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=value))
    except (OverflowError, ValueError):
        return value


def plain(value: Any) -> Any:
    """A cell from DuckDB as JSON data (times as ISO 8601 UTC)."""
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return value


def record_times_iso(value: Any) -> Any:
    """The original's records with their epoch-millisecond times (TIME_KEYS) as ISO 8601."""
    if isinstance(value, dict):
        return {
            key: epoch_ms_iso(item)
            if key in TIME_KEYS and isinstance(item, int | float) and not isinstance(item, bool)
            else record_times_iso(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [record_times_iso(item) for item in value]
    return value


@dataclass
class Cuts:
    """What an answer lost on its way to the model, as notes the model can act on."""

    cells: int = 0
    lists: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self, limits: Limits) -> list[str]:
        notes = []
        if self.cells:
            notes.append(
                f"{self.cells} string value(s) longer than {limits.max_cell_chars} characters "
                "were shortened (marked '… [cut: N more characters]'); ids are never cut. "
                "Ask for one item at a time, or select substrings with the query tool."
            )
        if self.lists:
            notes.append(
                f"{self.lists} array(s) longer than {limits.max_list_items} items were thinned "
                "(the last item says how many went)."
            )
        return notes + self.notes


def cut_value(value: Any, limits: Limits, cuts: Cuts, key: str = "") -> Any:
    """``value`` with long strings shortened and long arrays thinned; id values untouched."""
    if isinstance(value, str):
        if len(value) <= limits.max_cell_chars or is_id_key(key):
            return value
        cuts.cells += 1
        more = len(value) - limits.max_cell_chars
        return value[: limits.max_cell_chars] + f"… [cut: {more} more characters]"
    if isinstance(value, dict):
        return {k: cut_value(v, limits, cuts, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [cut_value(v, limits, cuts, key) for v in value[: limits.max_list_items]]
        if len(value) > limits.max_list_items:
            cuts.lists += 1
            items.append(f"… [cut: {len(value) - limits.max_list_items} more items]")
        return items
    return value


def size_of(value: Any) -> int:
    return len(orjson.dumps(value))


def fit_items(items: list[Any], budget: int) -> int:
    """How many of ``items``, from the start, fit in ``budget`` serialised characters."""
    used = 0
    for count, item in enumerate(items):
        used += size_of(item) + 1
        if used > budget:
            return count
    return len(items)


def relation_rows(
    relation: duckdb.DuckDBPyRelation, offset: int, limit: int
) -> tuple[list[str], list[dict[str, Any]], bool]:
    """Rows ``offset`` .. ``offset + limit`` of a relation as JSON objects, and whether more
    follow. Rows stream in batches, so at most ``offset`` rows are skipped and ``limit + 1``
    held, whatever the relation's size."""
    columns = list(relation.columns)
    json_columns = [str(kind) == "JSON" for kind in relation.types]
    rows: list[dict[str, Any]] = []
    more = False
    for index, row in enumerate(_stream(relation)):
        if index < offset:
            continue
        if len(rows) == limit:
            more = True
            break
        rows.append(
            {
                name: orjson.loads(value) if is_json and isinstance(value, str) else plain(value)
                for name, is_json, value in zip(columns, json_columns, row, strict=True)
            }
        )
    return columns, rows, more


def _stream(relation: duckdb.DuckDBPyRelation) -> Iterator[tuple[Any, ...]]:
    relation.execute()
    while batch := relation.fetchmany(FETCH_BATCH):
        yield from batch


def table_answer(
    relation: duckdb.DuckDBPyRelation, *, offset: int, limit: int | None, limits: Limits
) -> dict[str, Any]:
    """A tabular answer: ``rows`` as the CLI's ``--format json`` gives them, bounded, with
    ``columns``, the ``offset`` it starts at, ``more`` and the notes of what was cut."""
    cap = min(limit, limits.max_rows) if limit is not None else limits.max_rows
    columns, rows, more = relation_rows(relation, offset, cap)
    cuts = Cuts()
    rows = [cut_value(row, limits, cuts) for row in rows]
    answer: dict[str, Any] = {"columns": columns, "offset": offset, "rows": []}
    # The rest of the answer (counts, notes) fits in the 2,000 characters kept back.
    kept = fit_items(rows, limits.max_answer_chars - size_of(answer) - 2_000)
    answer["rows"] = rows[:kept]
    if kept < len(rows):
        more = True
        cuts.notes.append(
            f"Only {kept} of the {len(rows)} rows fetched fit in {limits.max_answer_chars} "
            f"characters: call again with offset={offset + kept} for the next ones."
        )
    elif more:
        limit_note = (
            ""
            if limit is not None and limit <= limits.max_rows
            else (f" (at most {limits.max_rows} rows per answer)")
        )
        cuts.notes.append(
            f"More rows follow{limit_note}: call again with offset={offset + len(rows)}."
        )
    answer["returned"] = len(answer["rows"])
    answer["more"] = more
    notes = cuts.summary(limits)
    if notes:
        answer["cut"] = notes
    return answer
