"""The renderers, against the 18 outputs of the original ``perstack log`` over the fixture store.

This module carries a small *reference pipeline*: a Python transcription of the original's
data fetcher (filesystem-storage.ts, data-fetcher.ts), its filters and pagination (filter.ts)
and its output assembly (log.ts), reading the fixture store directly. It feeds the renderers
a LogOutput built the original's way, so a golden mismatch here is a renderer bug (or a
canonical-order bug), not a log-view bug.

Reusable by other tests (tests/conftest.py puts tests/ on sys.path):
``from views.test_render import GOLDEN_CASES, GOLDEN_IDS, GOLDEN_DIR, expected_text``.
``GOLDEN_CASES`` holds ``(name, argv)`` for every golden file, argv without ``perstack log``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from support import FIXTURE_STORE

from perstack_logq.decode.canonical import canonical_checkpoint, canonical_job
from perstack_logq.errors import LogqError
from perstack_logq.storage.base import StorageInfo
from perstack_logq.views.filters import (
    DELEGATION_TYPES,
    ERROR_TYPES,
    TOOL_TYPES,
    FilterCondition,
    StepFilter,
    parse_filter_expression,
    parse_non_negative_int,
    parse_step_filter,
    summarize,
)
from perstack_logq.views.model import LogOutput, LogSummary, StoredRecords
from perstack_logq.views.render import (
    JsonText,
    format_json,
    format_terminal,
    js_length,
    js_number_to_string,
    js_slice_prefix,
    js_string,
    json_chunks,
)

GOLDEN_DIR = FIXTURE_STORE.parent.parent / "upstream-log-outputs"
STORAGE = StorageInfo("filesystem", str(FIXTURE_STORE))

_VALUE_OPTIONS = {"--job", "--run", "--checkpoint", "--step", "--type", "--filter"}
_VALUE_OPTIONS |= {"--take", "--offset", "--context"}


def _parse_index(path: Path) -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """``_index.txt``: the ids line, then ``name rc=0 lines=N :: perstack log <args>`` lines.

    The file lost the shell quoting, so arguments are split on spaces, except the value of
    ``--filter``, which runs up to the next ``--option`` (``.type == "callTools"`` is one argv).
    """
    first, *lines = path.read_text().splitlines()
    ids = dict(pair.split("=", 1) for pair in first.split())
    cases = []
    for line in lines:
        if not line.strip():
            continue
        name = line.split()[0]
        tokens = line.split(" :: ", 1)[1].split()[2:]  # drop "perstack log"
        argv: list[str] = []
        while tokens:
            token = tokens.pop(0)
            argv.append(token)
            if token == "--filter":
                value = []
                while tokens and not tokens[0].startswith("--"):
                    value.append(tokens.pop(0))
                argv.append(" ".join(value))
            elif token in _VALUE_OPTIONS:
                argv.append(tokens.pop(0))
        cases.append((name, argv))
    return ids, cases


GOLDEN_IDS, GOLDEN_CASES = _parse_index(GOLDEN_DIR / "_index.txt")


def expected_text(name: str, storage: StorageInfo) -> str:
    """A golden output as perstack_logq must print it over ``storage`` (with the final newline).

    The original printed ``Storage: <path>`` and ``"storagePath"`` only; we name the storage type
    on that line and add a ``storage`` object right after ``storagePath``.
    """
    text = (GOLDEN_DIR / f"{name}.txt").read_text(encoding="utf-8")
    text = text.replace("Storage: <STORE>", f"Storage: {storage.type} {storage.location}")
    location = orjson.dumps(storage.location).decode()
    storage_json = {"type": storage.type, "location": storage.location}
    compact = orjson.dumps(storage_json).decode()
    pretty = orjson.dumps(storage_json, option=orjson.OPT_INDENT_2).decode()
    pretty = pretty.replace("\n", "\n  ")
    text = text.replace(
        '"storagePath":"<STORE>",', f'"storagePath":{location},"storage":{compact},'
    )
    return text.replace(
        '\n  "storagePath": "<STORE>",\n',
        f'\n  "storagePath": {location},\n  "storage": {pretty},\n',
    )


# --- The reference pipeline ------------------------------------------------------------------


@dataclass
class Options:
    """The parsed command line, as commander hands it to the original's action."""

    values: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, argv: list[str]) -> Options:
        options = cls()
        args = list(argv)
        while args:
            arg = args.pop(0)
            if arg in _VALUE_OPTIONS:
                options.values[arg] = args.pop(0)
            else:
                options.flags.add(arg)
        return options

    def get(self, name: str) -> str | None:
        # The original tests `if (options.step)`: an empty value counts as not given.
        return self.values.get(name) or None


def _read_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def _sorted_dirs(path: Path) -> list[Path]:
    # readdirSync goes through libuv's scandir, which sorts entries by name
    return sorted((p for p in path.iterdir() if p.is_dir()), key=lambda p: p.name)


class ReferenceStore:
    """The original FileSystemStorage + LogDataFetcher, read-only, over one store directory."""

    def __init__(self, root: Path) -> None:
        self.jobs_dir = root / "jobs"

    def job(self, job_id: str) -> dict[str, Any] | None:
        path = self.jobs_dir / job_id / "job.json"
        return canonical_job(_read_json(path)) if path.exists() else None

    def latest_job(self) -> dict[str, Any] | None:
        jobs = [self.job(d.name) for d in _sorted_dirs(self.jobs_dir)]
        present = [job for job in jobs if job is not None]
        present.sort(key=lambda job: -job["startedAt"])  # stable, newest first
        return present[0] if present else None

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        directory = self.jobs_dir / job_id / "checkpoints"
        files = sorted(p for p in directory.iterdir() if p.name.endswith(".json"))
        checkpoints = [canonical_checkpoint(_read_json(p)) for p in files]
        return sorted(checkpoints, key=lambda c: c["stepNumber"])

    def checkpoint(self, job_id: str, checkpoint_id: str) -> dict[str, Any]:
        path = self.jobs_dir / job_id / "checkpoints" / f"{checkpoint_id}.json"
        if not path.exists():
            raise LogqError(f"checkpoint not found: {checkpoint_id}")
        return canonical_checkpoint(_read_json(path))

    def run_events(self, job_id: str, run_id: str) -> list[dict[str, Any]]:
        run_dir = self.jobs_dir / job_id / "runs" / run_id
        if not run_dir.exists():
            return []
        names = sorted(p.name for p in run_dir.iterdir() if p.name.startswith("event-"))
        # sorted by the timestamp in the name (stable over the listing order)
        names.sort(key=lambda name: int(name.split(".")[0].split("-")[1]))
        return [_read_json(run_dir / name) for name in names]

    def all_runs(self) -> list[dict[str, Any]]:
        runs = []
        for job_dir in _sorted_dirs(self.jobs_dir):
            if (job_dir / "runs").is_dir():
                for run_dir in _sorted_dirs(job_dir / "runs"):
                    if (run_dir / "run-setting.json").exists():
                        runs.append(_read_json(run_dir / "run-setting.json"))
        return sorted(runs, key=lambda run: -run["updatedAt"])

    def job_events(self, job_id: str) -> list[dict[str, Any]]:
        events = []
        for run in self.all_runs():
            if run["jobId"] == job_id:
                events += self.run_events(job_id, run["runId"])
        return sorted(events, key=lambda e: e["timestamp"])


def step_matches(step: StepFilter, number: Any) -> bool:
    """The original's matchesStepFilter, on a JavaScript number."""
    if type(number) not in (int, float):
        return False
    if step.kind == "range":
        assert step.min is not None and step.max is not None
        return step.min <= number <= step.max
    assert step.value is not None
    return {
        "exact": number == step.value,
        "gt": number > step.value,
        "gte": number >= step.value,
        "lt": number < step.value,
        "lte": number <= step.value,
    }[step.kind]


@dataclass(frozen=True)
class Filters:
    step: StepFilter | None = None
    type: str | None = None
    errors: bool = False
    tools: bool = False
    delegations: bool = False
    condition: FilterCondition | None = None
    take: int = 100
    offset: int = 0
    context: int = 0

    @classmethod
    def from_options(cls, options: Options) -> Filters:
        step, condition = options.get("--step"), options.get("--filter")
        take, offset, context = (options.values.get(o) for o in ("--take", "--offset", "--context"))
        return cls(
            step=parse_step_filter(step) if step else None,
            type=options.get("--type"),
            errors="--errors" in options.flags,
            tools="--tools" in options.flags,
            delegations="--delegations" in options.flags,
            condition=parse_filter_expression(condition) if condition else None,
            take=100 if take is None else parse_non_negative_int("--take", take),
            offset=0 if offset is None else parse_non_negative_int("--offset", offset),
            context=0 if context is None else parse_non_negative_int("--context", context),
        )

    def matching(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The filter chain of applyFilters, in its order."""
        step, condition = self.step, self.condition
        if step is not None:
            events = [e for e in events if step_matches(step, e.get("stepNumber"))]
        if self.type:
            events = [e for e in events if e.get("type") == self.type]
        for wanted, types in (
            (self.errors, ERROR_TYPES),
            (self.tools, TOOL_TYPES),
            (self.delegations, DELEGATION_TYPES),
        ):
            if wanted:
                events = [e for e in events if e.get("type") in types]
        if condition is not None:
            events = [e for e in events if condition.matches(e)]
        return events

    def apply(self, events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, int]:
        """applyFilters: (shown events, matched before pagination, kept after pagination)."""
        matched = self.matching(events)
        kept = matched[self.offset :] if self.offset > 0 else matched
        if self.take > 0:
            kept = kept[: self.take]
        shown = kept
        if self.context > 0:
            wanted_ids: set[Any] = set()
            for event in kept:
                index = next((i for i, e in enumerate(events) if e["id"] == event["id"]), -1)
                if index == -1:
                    continue
                low = max(0, index - self.context)
                high = min(len(events) - 1, index + self.context)
                wanted_ids.update(e["id"] for e in events[low : high + 1])
            shown = [e for e in events if e["id"] in wanted_ids]
        return shown, len(matched), len(kept)


def reference_output(argv: list[str], root: Path = FIXTURE_STORE) -> LogOutput | None:
    """log.ts's buildOutput over the fixture store."""
    options = Options.parse(argv)
    filters = Filters.from_options(options)
    store = ReferenceStore(root)
    job_id, run_id, checkpoint_id = (options.get(o) for o in ("--job", "--run", "--checkpoint"))
    job = store.job(job_id) if job_id else store.latest_job()
    if job is None:
        return None
    checkpoint = checkpoints = None
    if checkpoint_id:
        checkpoint = store.checkpoint(job["id"], checkpoint_id)
        events = store.run_events(job["id"], checkpoint["runId"])
    elif run_id:
        events = store.run_events(job["id"], run_id)
    else:
        events = store.job_events(job["id"])
        if job_id:
            checkpoints = store.checkpoints(job["id"])
    shown, matched, kept = filters.apply(events)
    return LogOutput(
        storage=STORAGE,
        job=job,
        events=shown,
        summary=summarize(shown),
        total_events_before_limit=matched,
        matched_after_pagination=kept,
        checkpoint=checkpoint,
        checkpoints=checkpoints,
        is_latest_job=not job_id,
    )


def render(argv: list[str], output: LogOutput) -> str:
    flags = Options.parse(argv).flags
    if "--json" in flags:
        return format_json(output, pretty="--pretty" in flags)
    return format_terminal(
        output,
        verbose="--verbose" in flags,
        messages="--messages" in flags,
        summary="--summary" in flags,
    )


# --- Golden tests ----------------------------------------------------------------------------


def test_index_lists_every_golden_file() -> None:
    files = {p.stem for p in GOLDEN_DIR.glob("*.txt")} - {"_index"}
    assert {name for name, _ in GOLDEN_CASES} == files
    assert len(GOLDEN_CASES) == 18
    assert dict(GOLDEN_CASES)["filter-callTools"] == ["--filter", '.type == "callTools"']
    assert dict(GOLDEN_CASES)["step-gt1"] == ["--step", ">1"]
    assert dict(GOLDEN_CASES)["no-args"] == []


@pytest.mark.parametrize(("name", "argv"), GOLDEN_CASES, ids=[n for n, _ in GOLDEN_CASES])
def test_golden_output(name: str, argv: list[str]) -> None:
    output = reference_output(argv)
    assert output is not None
    # the CLI prints the rendered text with console.log's newline
    assert render(argv, output) + "\n" == expected_text(name, STORAGE)


@pytest.mark.parametrize(
    ("name", "argv"),
    [(n, a) for n, a in GOLDEN_CASES if "--json" in a],
    ids=[n for n, a in GOLDEN_CASES if "--json" in a],
)
def test_golden_json_structure(name: str, argv: list[str]) -> None:
    """The same comparison on parsed JSON, for readable diffs: equal values, equal key order."""
    output = reference_output(argv)
    assert output is not None
    ours = orjson.loads(render(argv, output))
    assert ours.pop("storage") == {"type": "filesystem", "location": str(FIXTURE_STORE)}
    assert ours.pop("storagePath") == str(FIXTURE_STORE)
    golden = orjson.loads((GOLDEN_DIR / f"{name}.txt").read_bytes())
    golden.pop("storagePath")
    assert ours == golden
    assert _key_orders(ours) == _key_orders(golden)


def _key_orders(value: Any, path: str = "$") -> list[tuple[str, tuple[str, ...]]]:
    if isinstance(value, dict):
        out = [(path, tuple(value))]
        for key, item in value.items():
            out += _key_orders(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [pair for i, item in enumerate(value) for pair in _key_orders(item, f"{path}[{i}]")]
    return []


@pytest.mark.parametrize(("name", "argv"), GOLDEN_CASES, ids=[n for n, _ in GOLDEN_CASES])
def test_sql_filters_agree_with_reference(
    connection: duckdb.DuckDBPyConnection, name: str, argv: list[str]
) -> None:
    """The SQL pieces the log view uses (step predicate, type sets, the UDF) pick the same
    events as the reference chain, on every golden command line."""
    options = Options.parse(argv)
    filters = Filters.from_options(options)
    job_id = options.get("--job") or GOLDEN_IDS["LATEST"]
    events = ReferenceStore(FIXTURE_STORE).job_events(job_id)
    assert _sql_matching(connection, events, filters) == filters.matching(events)


@pytest.fixture(scope="module")
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        yield con


def _sql_matching(
    connection: duckdb.DuckDBPyConnection, events: list[dict[str, Any]], filters: Filters
) -> list[dict[str, Any]]:
    table = pa.table(
        {
            "idx": pa.array(range(len(events)), pa.int32()),
            "step_number": pa.array([e["stepNumber"] for e in events], pa.int64()),
            "type": pa.array([e["type"] for e in events], pa.string()),
            "record": pa.array([orjson.dumps(e).decode() for e in events], pa.string()),
        }
    )
    connection.register("events", table)
    clauses, params = ["TRUE"], []
    if filters.step is not None:
        sql, step_params = filters.step.to_sql()
        clauses.append(sql)
        params += step_params
    if filters.type:
        clauses.append("type = ?")
        params.append(filters.type)
    for wanted, types in (
        (filters.errors, ERROR_TYPES),
        (filters.tools, TOOL_TYPES),
        (filters.delegations, DELEGATION_TYPES),
    ):
        if wanted:
            clauses.append("list_contains(?, type)")
            params.append(sorted(types))
    if filters.condition is not None:
        connection.create_function(
            "filter_matches", filters.condition.matches_json, ["VARCHAR"], "BOOLEAN"
        )
        clauses.append("filter_matches(record)")
    where = " AND ".join(clauses)
    try:
        rows = connection.execute(f"SELECT idx FROM events WHERE {where} ORDER BY idx", params)
        return [events[i] for (i,) in rows.fetchall()]
    finally:
        if filters.condition is not None:
            connection.remove_function("filter_matches")


@pytest.mark.parametrize(
    "expression",
    [
        '.type == "callTools"',
        ".stepNumber >= 2",
        ".toolCalls[].toolName == askUser",
        ".toolCalls.0.skillName != 'x'",
        ".toolCalls.length > 0",
        ".type.length > 0",
        ".constructor != 1",
        ".checkpoint.usage.totalTokens < 100",
    ],
)
def test_filter_udf_over_every_job(connection: duckdb.DuckDBPyConnection, expression: str) -> None:
    condition = parse_filter_expression(expression)
    store = ReferenceStore(FIXTURE_STORE)
    for job_dir in _sorted_dirs(store.jobs_dir):
        events = store.job_events(job_dir.name)
        filters = Filters(condition=condition)
        assert _sql_matching(connection, events, filters) == filters.matching(events)


@pytest.mark.parametrize("text", ["1", ">1", ">=2", "<3", "<=1", "2-4", "99999999999999999999"])
def test_step_sql_over_every_job(connection: duckdb.DuckDBPyConnection, text: str) -> None:
    filters = Filters(step=parse_step_filter(text))
    store = ReferenceStore(FIXTURE_STORE)
    for job_dir in _sorted_dirs(store.jobs_dir):
        events = store.job_events(job_dir.name)
        assert _sql_matching(connection, events, filters) == filters.matching(events)


# --- Terminal details ------------------------------------------------------------------------


def _event(event_type: str, **payload: Any) -> dict[str, Any]:
    return {
        "id": f"e-{event_type}",
        "type": event_type,
        "stepNumber": 1,
        "timestamp": 1795851117419,
        **payload,
    }


_JOB = {
    "id": "job1",
    "status": "completed",
    "coordinatorExpertKey": "expert",
    "totalSteps": 1,
    "startedAt": 1795851117419,
}


def _output(events: list[dict[str, Any]], **kwargs: Any) -> LogOutput:
    values: dict[str, Any] = {
        "storage": StorageInfo("s3", "s3://bucket/prefix/"),
        "job": _JOB,
        "events": events,
        "summary": summarize(events),
        "total_events_before_limit": len(events),
        "matched_after_pagination": len(events),
    }
    values.update(kwargs)
    return LogOutput(**values)


def _terminal(output: LogOutput, **options: bool) -> str:
    flags = {"verbose": False, "messages": False, "summary": False} | options
    return format_terminal(output, **flags)


def _event_lines(event: dict[str, Any], verbose: bool = False) -> list[str]:
    """The lines between the header line and the blank line of one event."""
    lines = _terminal(_output([event]), verbose=verbose).split("\n")
    start = lines.index("─" * 50) + 2
    return lines[start : lines.index("", start)]


def test_storage_line_and_header() -> None:
    text = _terminal(_output([]))
    assert text.split("\n")[:7] == [
        "Storage: s3 s3://bucket/prefix/",
        "",
        "Job: job1 (completed)",
        "Expert: expert",
        "Started: 2026-11-28 07:31:57",
        "Steps: 1",
        "",
    ]
    assert text.endswith("Steps: 1\n")  # no events: no Events block at all


def test_finished_at_zero_is_not_shown_like_javascript_falsy() -> None:
    text = _terminal(_output([], job=_JOB | {"finishedAt": 0}))
    assert "Finished" not in text
    text = _terminal(_output([], job=_JOB | {"finishedAt": 1}))
    assert "Finished: 1970-01-01 00:00:00" in text


def test_events_available_hint_when_offset_skips_everything() -> None:
    text = _terminal(_output([], total_events_before_limit=7, matched_after_pagination=0))
    assert text.endswith("Steps: 1\n\n(7 events available, use --offset to view)")


def test_pagination_note_counts_context_events() -> None:
    events = [_event("startRun"), _event("callTools", toolCalls=[]), _event("completeRun")]
    text = _terminal(_output(events, total_events_before_limit=5, matched_after_pagination=1))
    assert text.endswith(
        "(showing 1 of 5 matched events (+2 context))\n"
        "Use --take and --offset to paginate, or --take 0 for all"
    )
    # context alone (nothing cut by pagination) shows no note
    text = _terminal(_output(events, total_events_before_limit=1, matched_after_pagination=1))
    assert text.endswith("─" * 50)


def test_type_column_is_padded_to_24_utf16_units() -> None:
    header = _terminal(_output([_event("retry")])).split("\n")[9]
    assert header == "[Step 1] retry                   07:31:57"
    long_type = "stopRunByExceededMaxSteps"  # longer than 24: no space before the time
    header = _terminal(_output([_event(long_type)])).split("\n")[9]
    assert header == f"[Step 1] {long_type}07:31:57"


def test_start_run_query_preview_cuts_at_60_utf16_units() -> None:
    def query(text: str) -> list[str]:
        message = {"type": "userMessage", "contents": [{"type": "textPart", "text": text}]}
        return _event_lines(_event("startRun", inputMessages=[message]))

    assert query("a" * 60) == [f'  Query: "{"a" * 60}"']
    assert query("a" * 61) == [f'  Query: "{"a" * 60}..."']
    # an emoji is two UTF-16 units: cutting through it leaves a lone half, printed as U+FFFD
    assert query("a" * 59 + "😀b") == [f'  Query: "{"a" * 59}\ufffd..."']
    assert query("a" * 58 + "😀b") == [f'  Query: "{"a" * 58}😀..."']
    assert query("a" * 58 + "😀") == [f'  Query: "{"a" * 58}😀"']


def test_start_run_without_user_message_or_text() -> None:
    instruction = {"type": "instructionMessage", "contents": [{"type": "textPart", "text": "x"}]}
    assert _event_lines(_event("startRun", inputMessages=[instruction])) == []
    image_only = {"type": "userMessage", "contents": [{"type": "imageUrlPart", "url": "u"}]}
    assert _event_lines(_event("startRun", inputMessages=[image_only])) == ['  Query: ""']
    assert _event_lines(_event("startRun")) == []


def test_call_tools_plain_and_verbose() -> None:
    calls = [
        {"skillName": "fs", "toolName": "read", "args": {"path": "a", "n": 0.00192, "2": 1}},
        {"skillName": "fs", "toolName": None, "args": {"x": 1e-7, "y": 1.0, "z": 1e21}},
    ]
    assert _event_lines(_event("callTools", toolCalls=calls)) == ["  Tools: read, "]
    assert _event_lines(_event("callTools", toolCalls=calls), verbose=True) == [
        "  [fs] read",
        '    Args: {"2":1,"path":"a","n":0.00192}',
        "  [fs] null",
        '    Args: {"x":1e-7,"y":1,"z":1e+21}',
    ]
    no_args = [{"skillName": "fs", "toolName": "t"}]
    assert _event_lines(_event("callTools", toolCalls=no_args), verbose=True) == [
        "  [fs] t",
        "    Args: undefined",
    ]


def test_resolve_tool_results_marks_error_text() -> None:
    def results(*texts: str) -> list[str]:
        items = [
            {"toolName": "t", "result": [{"type": "textPart", "text": text}]} for text in texts
        ]
        return _event_lines(_event("resolveToolResults", toolResults=items))

    assert results("ok", "Error: nope", "ERROR", "an error") == [
        "  ✓ t: ok",
        "  ✗ t: Error: nope",
        "  ✗ t: ERROR",
        "  ✓ t: an error",
    ]
    assert results("x" * 41) == [f"  ✓ t: {'x' * 40}..."]
    no_text = [{"toolName": "t", "result": [{"type": "imageInlinePart"}]}]
    assert _event_lines(_event("resolveToolResults", toolResults=no_text)) == ["  ✓ t: "]


def test_stop_run_by_error_prints_values_like_javascript() -> None:
    error = {"name": "APICallError", "message": "Overloaded", "isRetryable": True}
    assert _event_lines(_event("stopRunByError", error=error)) == [
        "  Error: APICallError",
        "  Message: Overloaded",
        "  Retryable: true",
    ]
    assert _event_lines(_event("stopRunByError", error={"name": "E"})) == [
        "  Error: E",
        "  Message: undefined",
        "  Retryable: undefined",
    ]


def test_call_delegate_expert_key_fallbacks() -> None:
    calls = [
        {"toolName": "a", "args": {"expertKey": "x@1", "expert": "y"}},
        {"toolName": "b", "args": {"expertKey": None, "expert": "y"}},
        {"toolName": "c", "args": {"query": "q"}},
        {"toolName": "d", "args": {"expert": 5}},
    ]
    assert _event_lines(_event("callDelegate", toolCalls=calls)) == [
        "  Delegate to: x@1",
        "  Delegate to: y",
        "  Delegate to: unknown",
        "  Delegate to: 5",
    ]


def test_complete_run_and_retry() -> None:
    assert _event_lines(_event("completeRun", text="r" * 80)) == [f"  Result: {'r' * 80}"]
    assert _event_lines(_event("completeRun", text="r" * 81)) == [f"  Result: {'r' * 80}..."]
    assert _event_lines(_event("retry", reason="empty reply")) == ["  Reason: empty reply"]
    assert _event_lines(_event("streamRunResult", delta="x")) == []


def test_checkpoint_header_and_messages() -> None:
    checkpoint = {
        "id": "cp1",
        "status": "proceeding",
        "stepNumber": 2,
        "expert": {"key": "e@1"},
        "messages": [
            {"type": "userMessage", "contents": [{"type": "textPart", "text": "q" * 101}]},
            {"type": "expertMessage", "contents": [{"type": "toolCallPart"}]},
        ],
    }
    header = ["Checkpoint: cp1", "Status: proceeding", "Step: 2", "Expert: e@1"]
    lines = _terminal(_output([], checkpoint=checkpoint)).split("\n")
    assert lines[7:12] == [*header, ""]
    lines = _terminal(_output([], checkpoint=checkpoint), messages=True).split("\n")
    assert lines[7:16] == [
        *header,
        "",
        "Messages:",
        f"  [userMessage] {'q' * 100}...",
        "  [expertMessage] ",
        "",
    ]


def test_summary_section() -> None:
    events = [_event("retry"), _event("callTools", toolCalls=[], stepNumber=4)]
    text = _terminal(_output(events), summary=True)
    assert (
        "Summary:\n  Total Events: 2\n  Errors: 1\n  Tool Calls: 1\n  Delegations: 0\n"
        "  Step Range: 1 - 4\n\nEvents:"
    ) in text
    empty = _terminal(_output([]), summary=True)
    assert empty.endswith(
        "Summary:\n  Total Events: 0\n  Errors: 0\n  Tool Calls: 0\n  Delegations: 0\n"
    )


def test_latest_job_line() -> None:
    assert _terminal(_output([], is_latest_job=True)).startswith(
        "(showing latest job)\n\nStorage: s3 s3://bucket/prefix/\n"
    )


def test_times_are_utc_and_follow_javascript_dates() -> None:
    def started(value: Any) -> str:
        return _terminal(_output([], job=_JOB | {"startedAt": value})).split("\n")[4]

    assert started(0) == "Started: 1970-01-01 00:00:00"
    assert started(-1.5) == "Started: 1969-12-31 23:59:59"  # truncated toward zero: -1 ms
    assert started(1795851117419.9) == "Started: 2026-11-28 07:31:57"
    assert started(253402300800000) == "Started: +010000-01-01 00:00:00"
    assert started(8.64e15) == "Started: +275760-09-13 00:00:00"
    for bad in (8.64e15 + 1, "2026-01-01", [], {}):
        with pytest.raises(LogqError, match=r"^Invalid time value$"):
            started(bad)


# --- JSON details ----------------------------------------------------------------------------


def test_json_key_order_and_optional_keys() -> None:
    output = _output([], checkpoints=[], runs=[], is_latest_job=False)
    assert list(orjson.loads(format_json(output, pretty=False))) == [
        "job",
        "events",
        "summary",
        "storagePath",
        "storage",
        "totalEventsBeforeLimit",
        "matchedAfterPagination",
    ]
    output = _output(
        [], checkpoint={"id": "c"}, checkpoints=[{"id": "c"}], runs=[{"r": 1}], is_latest_job=True
    )
    data = orjson.loads(format_json(output, pretty=False))
    assert list(data)[3:8] == ["checkpoint", "checkpoints", "runs", "isLatestJob", "storagePath"]
    assert data["summary"] == {
        "totalEvents": 0,
        "errorCount": 0,
        "toolCallCount": 0,
        "delegationCount": 0,
    }


def test_json_pretty_matches_json_stringify_indent() -> None:
    text = format_json(_output([_event("x", a=[], b={}, c=[1])]), pretty=True)
    assert '\n      "a": [],\n      "b": {},\n      "c": [\n        1\n      ]\n' in text
    assert text.startswith('{\n  "job": {\n    "id": "job1",')


@pytest.mark.parametrize("pretty", [False, True], ids=["compact", "pretty"])
def test_a_conversation_as_text_writes_what_the_parsed_one_writes(pretty: bool) -> None:
    """JsonText puts a conversation back as text, indented for its depth in the record (the
    record's own messages, an embedded checkpoint's): the record then writes the same bytes
    as with the messages parsed, wherever it stands in the output (`checkpoint`, an item of
    `checkpoints`)."""
    messages = [
        {"role": "user", "contents": [{"type": "text", "text": "a\nb", "n": [1.0, 1e21]}]},
        {"role": "assistant", "contents": [], "meta": {}, "ids": {"2": 2, "1": 1}},
    ]
    json_text = JsonText(pretty=pretty)

    def as_text(conversation: list[dict[str, Any]], depth: int) -> orjson.Fragment:
        parts = [json_text.message(orjson.dumps(message), False) for message in conversation]
        assert all(part is not None for part in parts)
        return orjson.Fragment(json_text.array(parts, depth))  # type: ignore[arg-type]

    for own, embedded in ((messages, messages[:1]), ([], messages)):
        parsed = {"type": "x", "messages": own, "checkpoint": {"id": "c", "messages": embedded}}
        rendered = {
            **parsed,
            "messages": as_text(own, 1),
            "checkpoint": {"id": "c", "messages": as_text(embedded, 2)},
        }
        for shown in ({"checkpoint": parsed}, {"checkpoints": [parsed, parsed]}):
            expected = format_json(_output([], **shown), pretty=pretty)
            as_rendered = {
                key: rendered if key == "checkpoint" else [rendered] * 2 for key in shown
            }
            assert format_json(_output([], **as_rendered), pretty=pretty) == expected


def test_json_numbers_keys_and_strings_like_javascript() -> None:
    event = {
        "b": 1.0,
        "10": "ten",
        "2": "two",
        "01": "not an index",
        "4294967295": "not an index either",
        "x": [0.00192, 1e-7, 1e21, 1e20, -0.0, 2**60, 18446744073709551615, math.nan],
        "s": "é 😀 \u2028 \x1f \ud800",
    }
    text = format_json(_output([event]), pretty=False)
    start = text.index('"events":[') + len('"events":[')
    assert text[start:].startswith(
        '{"2":"two","10":"ten","b":1,"01":"not an index","4294967295":"not an index either",'
        '"x":[0.00192,1e-7,1e+21,100000000000000000000,0,1152921504606847000,'
        "18446744073709552000,null],"
        '"s":"é 😀 \u2028 \\u001f \\ud800"}'
    )


def test_summary_step_range_nan_is_null_in_json_and_nan_on_terminal() -> None:
    summary = LogSummary(1, 0, 0, 0, (math.nan, math.nan))
    output = _output([_event("x")], summary=summary)
    assert '"stepRange":{"min":null,"max":null}' in format_json(output, pretty=False)
    assert "  Step Range: NaN - NaN" in _terminal(output, summary=True)


# --- JavaScript helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.00192, "0.00192"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (1e20, "100000000000000000000"),
        (123.456, "123.456"),
        (-0.0, "0"),
        (100.0, "100"),
        (5e-324, "5e-324"),
        (2**60, "1152921504606847000"),
        (10**400, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
        (-42, "-42"),
    ],
)
def test_js_number_to_string(value: float, text: str) -> None:
    assert js_number_to_string(value) == text


def test_js_string_and_utf16_helpers() -> None:
    assert [js_string(v) for v in (None, True, False, 1.0, "s", {"a": 1})] == [
        "null",
        "true",
        "false",
        "1",
        "s",
        "[object Object]",
    ]
    assert js_string([1, None, [2, "x"], True]) == "1,,2,x,true"
    assert js_length("a😀") == 3
    assert js_slice_prefix("a😀b", 2) == "a\ud83d"
    assert js_slice_prefix("a😀b", 3) == "a😀"
    assert js_slice_prefix("é😀", 1) == "é"


@pytest.mark.parametrize("pretty", [False, True])
def test_stored_records_are_written_one_at_a_time_as_one_document(pretty: bool) -> None:
    """`--json` of a long session's job is never held whole: each stored record is parsed
    (its conversations put back) only once the records before it are written, and the
    pieces join to the text of the whole document written at once."""
    events = [
        _event("callTools", toolCalls=[{"id": "t1", "args": {"path": "a", "deep": [1, {}]}}]),
        _event("resolveToolResults", toolResults=[], empty={}),
        _event("completeRun", text="done\nwith a newline"),
    ]
    checkpoints = [{"id": "c1", "messages": [{"type": "userMessage", "n": 2.5}]}]
    written: list[bytes] = []
    parsed: list[tuple[str, int]] = []

    def parse(record: str, key: str) -> dict[str, Any]:
        parsed.append((key, len(b"".join(written))))
        return orjson.loads(record)

    def stored(records: list[dict[str, Any]], prefix: str) -> StoredRecords:
        rows = [(orjson.dumps(r).decode(), f"{prefix}{i}") for i, r in enumerate(records)]
        return StoredRecords(rows, parse)

    output = _output(stored(events, "e"), checkpoints=stored(checkpoints, "c"))
    parsed.clear()  # _output's summary read them
    for chunk in json_chunks(output, pretty=pretty):
        written.append(chunk)
    assert [key for key, _ in parsed] == ["e0", "e1", "e2", "c0"]
    offsets = [offset for _, offset in parsed]
    assert offsets == sorted(set(offsets)) and offsets[0] > 0
    # The same document, written whole by orjson from the values.
    whole = orjson.loads(format_json(_output(events, checkpoints=checkpoints), pretty=False))
    option = orjson.OPT_INDENT_2 if pretty else 0
    assert b"".join(written) == orjson.dumps(whole, option=option)
    empty = _output(StoredRecords([], parse), checkpoints=StoredRecords([], parse))
    assert orjson.loads(format_json(empty, pretty=pretty))["events"] == []
