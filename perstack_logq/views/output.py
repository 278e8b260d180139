"""Rows out: one formatter for every command that prints a table (query, jobs, queries, info).

Rows stream from DuckDB in batches, so a large result is never held whole in Python; only
the terminal table, which must measure its columns, reads at most ``TABLE_ROW_LIMIT`` rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import math
import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson

from perstack_logq.errors import QueryError, UsageError
from perstack_logq.views.terminal import json_text

FETCH_BATCH = 2_048
# DuckDB types that Parquet (through Arrow) has no column type for.
_NOT_IN_PARQUET = frozenset({"INTERVAL", "UNION"})
TABLE_ROW_LIMIT = 1_000
_ELLIPSIS = "…"
# A free-text column is never narrowed below this, so what is left of it still reads.
_MIN_TEXT_WIDTH = 16


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    parquet = "parquet"


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return _infinity(value) or value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return _iso_duration(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(type(value).__name__)


def _infinity(value: dt.date | dt.time) -> str | None:
    """DuckDB hands out its infinite timestamps and dates as Python's largest and smallest."""
    if type(value) is dt.datetime:
        if value.replace(tzinfo=None) == dt.datetime.max:
            return "infinity"
        if value.replace(tzinfo=None) == dt.datetime.min:
            return "-infinity"
    elif type(value) is dt.date:
        if value == dt.date.max:
            return "infinity"
        if value == dt.date.min:
            return "-infinity"
    return None


def format_interval(value: dt.timedelta) -> str:
    """``1d 00:00:03``, ``-01:30:00``, ``00:00:00.250000``: days, then a clock."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    seconds, micro = divmod(abs(micros), 1_000_000)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{sign}{f'{days}d ' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{text}.{micro:06d}" if micro else text


def _float_text(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "infinity" if value > 0 else "-infinity"
    return str(value)


def rows_relation(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> duckdb.DuckDBPyRelation:
    """Rows computed in Python (not by a query) as a relation, so they go out through
    ``write_relation`` in every format like any query result."""
    import pyarrow as pa

    table = pa.table({name: pa.array([row[i] for row in rows]) for i, name in enumerate(columns)})
    return duckdb.connect().from_arrow(table)


def _iso_duration(value: dt.timedelta) -> str:
    """ISO 8601 (``P3DT2040.5S``): what JSON readers parse, not Python's ``3 days, 0:34:00``."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    seconds = f"{value.seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".")
    return f"{sign}P{value.days}DT{seconds}S"


def _rows(relation: duckdb.DuckDBPyRelation) -> Iterator[tuple[Any, ...]]:
    relation.execute()
    while batch := relation.fetchmany(FETCH_BATCH):
        yield from batch


def _json_columns(relation: duckdb.DuckDBPyRelation) -> list[bool]:
    return [str(kind) == "JSON" for kind in relation.types]


def _as_object(columns: Sequence[str], json_columns: list[bool], row: tuple[Any, ...]) -> dict:
    # JSON columns hold JSON text: emit it as JSON, not as a string of JSON.
    return {
        name: orjson.Fragment(value) if is_json and isinstance(value, str) else value
        for name, is_json, value in zip(columns, json_columns, row, strict=True)
    }


def cell_text(value: Any) -> str:
    """A value as text for a table, CSV or Markdown cell: never a Python repr."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if type(value) is float:
        return _float_text(value)
    if isinstance(value, dt.datetime):
        return _infinity(value) or value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return _infinity(value) or value.isoformat()
    if isinstance(value, dt.timedelta):
        return format_interval(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | dict | tuple):
        return _json_value(value)
    return str(value)


def _json_row(columns: Sequence[str], json_columns: list[bool], row: tuple[Any, ...]) -> str:
    return _json_value(_as_object(columns, json_columns, row))


def _json_value(value: Any) -> str:
    try:
        # Dates through _default too: infinite ones read "infinity", in both paths.
        return orjson.dumps(
            value, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME
        ).decode()
    except orjson.JSONEncodeError:
        # orjson stops at 64-bit integers (HUGEINT, UHUGEINT) and at 254 levels of nesting.
        return _stdlib_json(value)


def _stdlib_json(value: Any) -> str:
    """The slow path of _json_row: Python's encoder writes integers of any size."""
    import json

    def fragments(item: Any) -> Any:
        if isinstance(item, orjson.Fragment):
            return json.loads(orjson.dumps(item))
        if isinstance(item, dt.datetime | dt.date | dt.time | decimal.Decimal | uuid.UUID):
            return _default(item)
        if isinstance(item, dt.timedelta | bytes):
            return _default(item)
        if isinstance(item, float) and not math.isfinite(item):
            return None  # as orjson writes them: JSON has no NaN or Infinity
        if isinstance(item, dict):
            return {k: fragments(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [fragments(v) for v in item]
        return item

    try:
        return json.dumps(fragments(value), ensure_ascii=False, separators=(",", ":"))
    except (RecursionError, ValueError) as error:
        raise QueryError(f"A row cannot be written as JSON: {error}") from None


def write_relation(
    relation: duckdb.DuckDBPyRelation,
    output_format: OutputFormat,
    stream: IO[str],
    *,
    output_path: Path | None = None,
    width: int | None = None,
) -> int:
    """Write a relation's rows in the chosen format; returns the number of rows."""
    columns = list(relation.columns)
    if output_format is OutputFormat.parquet:
        if output_path is None:
            raise UsageError("--format parquet needs --output FILE")
        return _write_parquet(relation, output_path)
    if output_format is OutputFormat.table:
        rows = []
        for row in _rows(relation):
            rows.append(row)
            if len(rows) > TABLE_ROW_LIMIT:
                break
        truncated = len(rows) > TABLE_ROW_LIMIT
        rows = rows[:TABLE_ROW_LIMIT]
        stream.write(format_table(columns, rows, width=width))
        if truncated:
            stream.write(
                f"(first {TABLE_ROW_LIMIT} rows shown; use --format csv/jsonl/parquet "
                "for all of them)\n"
            )
        return len(rows)
    count = 0
    if output_format is OutputFormat.csv:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        for row in _rows(relation):
            writer.writerow([cell_text(value) for value in row])
            count += 1
    elif output_format in (OutputFormat.json, OutputFormat.jsonl):
        json_columns = _json_columns(relation)
        as_lines = output_format is OutputFormat.jsonl
        if not as_lines:
            stream.write("[")
        for row in _rows(relation):
            text = json_text(_json_row(columns, json_columns, row))
            if as_lines:
                stream.write(text + "\n")
            else:
                stream.write(("," if count else "") + "\n  " + text)
            count += 1
        if not as_lines:
            stream.write("\n]\n" if count else "]\n")
    elif output_format is OutputFormat.markdown:
        stream.write("| " + " | ".join(_markdown_cell(c) for c in columns) + " |\n")
        stream.write("|" + "|".join(" --- " for _ in columns) + "|\n")
        for row in _rows(relation):
            stream.write("| " + " | ".join(_markdown_cell(cell_text(v)) for v in row) + " |\n")
            count += 1
    return count


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def refuse_output_in_store(output: Path, storage: Any) -> None:
    """``--output`` may not lie in the store being read: perstack_logq never writes to a store."""
    root = getattr(storage, "root", None)
    if root is None:
        return
    out = Path(os.path.realpath(output))
    store = Path(os.path.realpath(root))
    if out == store or out.is_relative_to(store):
        raise UsageError(
            f"--output {output} is inside the store ({store}); perstack_logq never writes to a "
            "store: choose a place outside it"
        )


def _write_parquet(relation: duckdb.DuckDBPyRelation, path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Closed on every way out: a reader left part-read keeps the cache's DuckDB instance alive
    # after its connection closes (see connections._collect_closed_instance).
    with relation.to_arrow_reader(FETCH_BATCH * 16) as reader:
        try:  # in memory first: a schema Parquet cannot hold must not cost the file
            pq.ParquetWriter(pa.BufferOutputStream(), reader.schema).close()
        except pa.ArrowNotImplementedError:
            kinds = ", ".join(
                f"{name} {kind}"
                for name, kind in zip(relation.columns, relation.types, strict=True)
                if str(kind).split("(")[0] in _NOT_IN_PARQUET
            )
            raise QueryError(
                f"--format parquet cannot hold {kinds or 'a column of this result'}: "
                "cast it in the SQL (e.g. CAST(x AS VARCHAR)) or use --format jsonl"
            ) from None
        count = 0
        with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)
                count += batch.num_rows
    return count


def format_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, width: int | None = None
) -> str:
    """A plain-text table; on a terminal it fits the width without cutting what users copy.

    Only free-text columns (some value is a string with a space in it: messages, queries,
    summaries) give way, widest first, down to ``_MIN_TEXT_WIDTH``; ids, names, numbers and
    times are never cut. When the table still does not fit, each row becomes a record of
    ``column | value`` lines instead (like psql's ``\\x``), every value whole. Piped or
    redirected output is never cut: a script reading it wants every character.
    """
    if width is None:
        width = terminal_width()
    texts = [[cell_text(v).replace("\n", "⏎") for v in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in texts)]) for i, name in enumerate(columns)]
    free_text = [
        any(isinstance(row[i], str) and " " in row[i] for row in rows) for i in range(len(columns))
    ]
    separator = "  "
    budget = width - len(separator) * (len(columns) - 1)
    while sum(widths) > budget:
        shrinkable = [i for i, w in enumerate(widths) if free_text[i] and w > _MIN_TEXT_WIDTH]
        if not shrinkable:
            return format_records(columns, rows)
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1

    def fit(text: str, size: int) -> str:
        return text if len(text) <= size else text[: size - 1] + _ELLIPSIS

    lines = [
        separator.join(fit(name, w).ljust(w) for name, w in zip(columns, widths, strict=True)),
        separator.join("─" * w for w in widths),
    ]
    lines += [
        separator.join(fit(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in texts
    ]
    out = io.StringIO()
    for line in lines:
        out.write(line.rstrip() + "\n")
    return out.getvalue()


def format_records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Each row as a block of ``column | value`` lines, values whole (psql's expanded mode)."""
    label_width = max((len(name) for name in columns), default=0)
    out = io.StringIO()
    for number, row in enumerate(rows, start=1):
        out.write(f"-[ RECORD {number} ]" + "-" * max(label_width - 8, 4) + "\n")
        for name, value in zip(columns, row, strict=True):
            text = cell_text(value).replace("\n", "⏎")
            out.write(f"{name.ljust(label_width)} | {text}".rstrip() + "\n")
    return out.getvalue()


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` wins, as for every Unix tool); unlimited when stdout
    is not a terminal."""
    if not sys.stdout.isatty():
        return 1_000_000
    return shutil.get_terminal_size().columns


def format_duration(ms: float | None) -> str:
    """``1.3s``, ``1m21s``, ``36h44m``: a span as people read it (empty for null)."""
    if ms is None:
        return ""
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    if ms < 60_000:
        return f"{sign}{ms / 1000:.1f}s"
    minutes, seconds = divmod(int(ms // 1000), 60)
    if minutes < 60:
        return f"{sign}{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}h{minutes:02d}m"
