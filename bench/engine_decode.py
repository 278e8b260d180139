"""Figure 1's reference for decoding in the engine (issue 11, item 3), measured where it is
easiest: the event files that make only an events row, decoded by perstack_logq's Python
decoder and by DuckDB in SQL (``plain_events.sql``), with the checks that keep the SQL's rows
equal to the decoder's. Files holding conversations, tool calls, tool results or steps are left
out: their decoding in SQL measured slower still (docs/architecture.md, "Decoding in
Python").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perstack_logq.decode import schema
from perstack_logq.decode.records import _STEP_ENDING, _TOOL_CALL_LISTS, StoreDecoder
from perstack_logq.decode.secrets import mask_secret_values
from perstack_logq.storage.layout import KeyKind, parse_key

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

PLAIN_EVENTS_SQL = Path(__file__).with_name("plain_events.sql")

# Event types whose records make rows beyond their events row: those holding a conversation
# (decode.conversation), and those the decoder makes tool calls, tool results and steps of
# (its own lists, and the two types it names inline).
ROWS_BEYOND_EVENTS = frozenset(
    {
        "startRun",
        "startGeneration",
        "callInteractiveTool",
        "resolveToolResults",
        *_TOOL_CALL_LISTS,
        *_STEP_ENDING,
    }
)


def is_plain_event(key: str) -> bool:
    """Whether the file's name makes it an event whose type makes only an events row."""
    parsed = parse_key(key)
    return (
        parsed is not None
        and parsed.kind is KeyKind.EVENT
        and parsed.event is not None
        and parsed.event.type not in ROWS_BEYOND_EVENTS
    )


def plain_event_files(root: Path) -> list[tuple[str, bytes]]:
    """(store-relative key, bytes) of every plain event file of a filesystem store."""
    files = []
    for path in sorted((root / "jobs").rglob("event-*.json")):
        key = path.relative_to(root).as_posix()
        if is_plain_event(key):
            files.append((key, path.read_bytes()))
    return files


def decode_in_python(files: list[tuple[str, bytes]]) -> pa.Table:
    """The events rows perstack_logq's decoder makes of the files (those it skips make none)."""
    decoder = StoreDecoder()
    for key, body in files:
        decoder.add(key, body)
    events = decoder.flush().get("events")
    return events if events is not None else schema.EVENTS.arrow_schema.empty_table()


@dataclass
class SqlDecoded:
    events: pa.Table  # the accepted files' rows, in the columns of `events`
    refused: list[str]  # keys the SQL leaves to the Python decoder


def decode_in_sql(
    connection: duckdb.DuckDBPyConnection, files: list[tuple[str, bytes]]
) -> SqlDecoded:
    """The same files through ``plain_events.sql``: what a decoder in the engine would do
    (on the sync's connection: opening one is not counted). Python still names each file's job
    and run and masks secrets (one place for the patterns), as the Python decoder does before
    parsing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, list] = {
        name: [] for name in ("key", "job_id", "run_id", "file_name", "file_type", "size_bytes")
    }
    bodies = []
    for key, body in files:
        parsed = parse_key(key)
        assert parsed is not None and parsed.event is not None
        columns["key"].append(key)
        columns["job_id"].append(parsed.job_id)
        columns["run_id"].append(parsed.run_id)
        columns["file_name"].append(key.rsplit("/", 1)[1])
        columns["file_type"].append(parsed.event.type)
        columns["size_bytes"].append(len(body))
        bodies.append(mask_secret_values(body)[0])
    # Arrow checks the UTF-8 of every body here and raises for one that is not (orjson refuses
    # it too): a decoder in the engine would hand such a batch to the Python decoder whole.
    event_files = pa.table(
        {**columns, "body": pa.array(bodies, pa.binary()).cast(pa.large_string())}
    )
    connection.register("event_files", event_files)
    decoded = connection.sql(PLAIN_EVENTS_SQL.read_text(encoding="utf-8")).to_arrow_table()
    connection.unregister("event_files")
    accepted = decoded["accepted"]
    refused = decoded.filter(pc.invert(accepted))["source_key"].to_pylist()
    events = decoded.filter(accepted).drop_columns(["accepted"])
    return SqlDecoded(events.cast(schema.EVENTS.arrow_schema), refused)


@dataclass
class Comparison:
    files: int
    megabytes: float
    python_seconds: float
    sql_seconds: float
    accepted: int
    same_rows: bool  # the SQL's rows equal the Python decoder's rows of the same files


def compare(root: Path, rounds: int = 3) -> Comparison:
    """Both decoders on the store's plain event files, in turns; the fastest round of each."""
    import duckdb
    import pyarrow.compute as pc

    files = plain_event_files(root)
    connection = duckdb.connect()
    python_times, sql_times = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        in_python = decode_in_python(files)
        python_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        in_sql = decode_in_sql(connection, files)
        sql_times.append(time.perf_counter() - started)
    connection.close()
    accepted = in_sql.events["source_key"]
    same = in_python.filter(pc.is_in(in_python["source_key"], accepted)).sort_by("source_key")
    return Comparison(
        files=len(files),
        megabytes=sum(len(body) for _, body in files) / 1e6,
        python_seconds=min(python_times),
        sql_seconds=min(sql_times),
        accepted=len(accepted),
        same_rows=same.equals(in_sql.events.sort_by("source_key")),
    )


if __name__ == "__main__":
    # python bench/engine_decode.py STORE: this comparison alone, e.g. on a machine with more
    # cores, where DuckDB's parsing (on all of them) may overtake the decoder (on one).
    import sys

    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "jobs").is_dir():
        print(
            "usage: python bench/engine_decode.py STORE (a directory with jobs/)", file=sys.stderr
        )
        sys.exit(2)
    result = compare(Path(sys.argv[1]))
    print(
        f"{result.files:,} plain event files ({result.megabytes:.1f} MB): Python decoder "
        f"{result.python_seconds:.3f} s, SQL {result.sql_seconds:.3f} s "
        f"({result.accepted:,} accepted, rows equal: {'yes' if result.same_rows else 'NO'})"
    )
