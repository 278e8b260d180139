"""bench/plain_events.sql, figure 1's reference for decoding in the engine, accepts only files
whose rows it makes exactly as the Python decoder does: hostile records are left to it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from perstack_logq.decode.records import StoreDecoder
from perstack_logq.storage.layout import EVENT_TYPES, event_key
from perstack_logq.synth import DirectoryWriter, generate_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import engine_decode  # bench/ is not a package

JOB, RUN = "job1abc", "run1abc"


def _key(event_type: str = "retry", step: int = 1) -> str:
    return event_key(JOB, RUN, 1_790_000_000_000 + step, step, event_type)


def _record(fields: str, event_type: str = "retry") -> bytes:
    return (
        f'{{"type":"{event_type}","id":"e1","expertKey":"x@1","timestamp":1790000000001,'
        f'"jobId":"{JOB}","runId":"{RUN}","stepNumber":1{fields}}}'
    ).encode()


# Files the SQL may accept, each of which the Python decoder decodes.
ORDINARY = {
    "plain": _record(""),
    "usage": _record(
        ',"usage":{"inputTokens":12,"outputTokens":0,"reasoningTokens":-0,'
        '"totalTokens":9223372036854775807,"cachedInputTokens":null}'
    ),
    "error": _record(
        ',"error":{"name":"APIError","message":"rate \\"limited\\"","isRetryable":true}'
    ),
    "retryable not a boolean": _record(',"error":{"name":"E","isRetryable":"yes"}'),
    "escapes": _record(',"text":"tab\\t nul\\u0000 smile\\ud83d\\ude00 \\u00e9"').replace(
        b'"expertKey":"x@1"', b'"expertKey":"x\\u0000\\ud83d\\ude00"'
    ),
    "null id and expert": _record("")
    .replace(b'"id":"e1"', b'"id":null')
    .replace(b'"expertKey":"x@1"', b'"expertKey":null'),
    "secret": _record(',"text":"key AKIAABCDEFGHIJKLMNOP here"'),
    "spaces": b"  \n" + _record(',"usage" : { "inputTokens" : 3 } ') + b"\n",
}

# Files the SQL must leave to the Python decoder: it skips them or decodes them otherwise.
HOSTILE = {
    "NaN": _record(',"x":[NaN]'),
    "Infinity": _record(',"x":{"y":-Infinity}'),
    "trailing comma": _record(',"x":[1,2,]'),
    "exponent beyond a double": _record(',"x":1e400'),
    "nesting deeper than orjson reads": _record(',"x":' + "[" * 1100 + "]" * 1100),
    "duplicate type": _record(',"type":"startRun"'),
    "duplicate usage key": _record(',"usage":{"inputTokens":1,"inputTokens":"2"}'),
    "usage of a string": _record(',"usage":{"inputTokens":"12"}'),
    "usage of a float": _record(',"usage":{"inputTokens":1.5}'),
    "usage not an object": _record(',"usage":"lots"'),
    "usage beyond BIGINT": _record(',"usage":{"inputTokens":9223372036854775808}'),
    "step as a float": _record("").replace(b'"stepNumber":1', b'"stepNumber":1.0'),
    "step as a string": _record("").replace(b'"stepNumber":1', b'"stepNumber":"1"'),
    "step missing": _record("").replace(b',"stepNumber":1', b""),
    "negative timestamp": _record("").replace(b"1790000000001", b"-1"),
    "timestamp past year 9999": _record("").replace(b"1790000000001", b"253402300800000"),
    "id a number": _record("").replace(b'"id":"e1"', b'"id":5'),
    "error name a number": _record(',"error":{"name":5}'),
    "error not an object": _record(',"error":"boom"'),
    "a conversation": _record(',"messages":[{"id":"m1","type":"userMessage","contents":[]}]'),
    "an embedded checkpoint": _record(',"checkpoint":{"id":"c1"}'),
    "type unlike the file name": _record("", event_type="attemptCompletion"),
    "type not a string": _record("").replace(b'"type":"retry"', b'"type":1'),
    "an array": b"[" + _record("") + b"]",
    "invalid JSON": _record("")[:-1],
    "lone surrogate": _record(',"x":"\\ud800"'),
}


def _files(bodies: dict[str, bytes]) -> list[tuple[str, bytes]]:
    return [(_key(step=index + 1), body) for index, body in enumerate(bodies.values())]


@pytest.fixture
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as opened:
        yield opened


def test_ordinary_files_are_accepted_with_the_python_decoders_rows(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    files = _files(ORDINARY)
    in_sql = engine_decode.decode_in_sql(connection, files)
    in_python = engine_decode.decode_in_python(files)
    assert in_sql.refused == []
    assert in_python.num_rows == len(files)
    assert in_sql.events.sort_by("source_key").equals(in_python.sort_by("source_key"))
    assert b"AKIA" not in "".join(in_sql.events["record"].to_pylist()).encode()


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_file_is_left_to_the_python_decoder(
    connection: duckdb.DuckDBPyConnection, case: str
) -> None:
    files = [(_key(), HOSTILE[case])]
    assert engine_decode.decode_in_sql(connection, files).refused == [files[0][0]]


def test_a_body_that_is_not_utf8_stops_the_batch_before_duckdb(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    """Arrow checks every body's UTF-8: such a batch would go to the Python decoder whole."""
    files = [(_key(), _record(',"x":"?"').replace(b'"?"', b'"\xff"'))]
    with pytest.raises(pa.ArrowInvalid):
        engine_decode.decode_in_sql(connection, files)


def test_what_the_sql_accepts_among_hostile_files_the_python_decoder_makes_alike(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    """Mixed in one batch, the accepted rows are still the Python decoder's rows."""
    bodies = {**ORDINARY, **HOSTILE}
    files = _files(bodies)
    in_sql = engine_decode.decode_in_sql(connection, files)
    in_python = engine_decode.decode_in_python(files)
    accepted = in_sql.events["source_key"]
    assert len(accepted) == len(ORDINARY)
    same_files = in_python.filter(pc.is_in(in_python["source_key"], accepted))
    assert in_sql.events.sort_by("source_key").equals(same_files.sort_by("source_key"))


def test_no_type_the_bench_calls_plain_makes_more_than_an_events_row() -> None:
    """A plain type's record, given every field the decoder makes rows of, still makes only
    its events row. (The bench also leaves out the types that carry a conversation, startRun
    and startGeneration; the SQL refuses any record that holds one.)"""
    rich = (
        ',"toolCalls":[{"id":"t","toolName":"x","args":{}}],"toolCall":{"id":"t"},'
        '"toolResults":[{"id":"t","result":[]}],"step":{"stepNumber":1}'
    )
    conversation_types = {"startRun", "startGeneration"}
    for event_type in EVENT_TYPES:
        decoder = StoreDecoder()
        decoder.add(_key(event_type), _record(rich, event_type))
        made = {name for name, table in decoder.flush().items() if table.num_rows}
        if engine_decode.is_plain_event(_key(event_type)):
            assert made == {"events"}, event_type
        elif event_type not in conversation_types:
            assert made != {"events"}, event_type


def test_the_comparison_runs_alone_on_a_store(tmp_path: Path) -> None:
    """``python bench/engine_decode.py STORE``: the figure's row on any store, as a process."""
    generate_store(DirectoryWriter(tmp_path / "store"), jobs=3, seed=5, scale=0.01)
    script = str(Path(engine_decode.__file__))
    ran = subprocess.run(
        [sys.executable, script, str(tmp_path / "store")], capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.endswith("rows equal: yes)\n") and "plain event files" in ran.stdout
    refused = subprocess.run(
        [sys.executable, script, str(tmp_path)], capture_output=True, text=True
    )
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.startswith("usage: ")
