"""Seeded generator of realistic Perstack stores, for tests and benchmarks.

Every shape here is copied from a store that Perstack's own runtime wrote (spec §4 and the
fixture store): the order of keys inside records, which optional keys appear when, how step
numbers continue across the runs of a job, how a continued job puts its events into a new run
directory while its checkpoints keep the old ``runId``, and where credentials sit in
``run-setting.json``. Readers are tested against this data, so it must be as awkward as the
real thing, not tidier.

Determinism: one ``random.Random(seed)`` drives everything (ids, texts, times); nothing reads
the clock or iterates a set, so the same arguments give byte-identical files.

Secrets: ``run-setting.json`` files carry fake credentials that all contain
``PLANTED_SECRET_MARKER``; the report lists every exact value written, so a test can grep any
output for them. The marker appears nowhere else.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import random
import string
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from perstack_logq.errors import UsageError
from perstack_logq.storage import layout
from perstack_logq.storage.layout import KeyKind

PLANTED_SECRET_MARKER = "PLANTEDSECRET"

Json = dict[str, Any]

# The runtime's event types, for lookups; any other type the generator writes is a planted unknown.
KNOWN_EVENT_TYPES = frozenset(layout.EVENT_TYPES)
_EVENT_BASE_KEYS = ("type", "id", "expertKey", "timestamp", "jobId", "runId", "stepNumber")
_KNOWN_EVENT_KEYS = frozenset(
    {
        *_EVENT_BASE_KEYS,
        "initialCheckpoint",
        "inputMessages",
        "messages",
        "reason",
        "newMessages",
        "newMessage",
        "toolCalls",
        "toolCall",
        "toolResults",
        "toolResult",
        "usage",
        "pendingToolCalls",
        "partialToolResults",
        "checkpoint",
        "step",
        "nextCheckpoint",
        "error",
        "text",
        "delta",
    }
)

# Job status from the last checkpoint's status (spec §4); anything unlisted is "running".
_JOB_STATUS = {
    "completed": "completed",
    "stoppedByError": "stoppedByError",
    "stoppedByExceededMaxSteps": "stoppedByMaxSteps",
    "stoppedByInteractiveTool": "stoppedByInteractiveTool",
}


def job_status_from_checkpoint(checkpoint_status: str) -> str:
    """The job status a reader derives from its last checkpoint when job.json is missing."""
    return _JOB_STATUS.get(checkpoint_status, "running")


# --------------------------------------------------------------------------------- writers


class StoreWriter(Protocol):
    """Where generated records go: ``key`` is store-relative (``jobs/{jobId}/...``)."""

    def write(self, key: str, body: bytes) -> None: ...


class DirectoryWriter:
    """Writes a store under ``root`` (the directory that holds ``jobs/``).

    Refuses a directory that already holds a store unless ``overwrite``: generating into a
    real store by mistake would mix fake jobs into someone's history. ``overwrite`` writes over
    files of the same name and deletes nothing.
    """

    def __init__(self, root: Path | str, *, overwrite: bool = False) -> None:
        self.root = Path(root)
        if (self.root / layout.JOBS_DIR).is_dir() and not overwrite:
            raise UsageError(
                f"{self.root} already holds a store ({layout.JOBS_DIR}/); "
                "choose an empty directory or pass overwrite=True (--overwrite)"
            )
        # Plain strings, not Path objects: this runs once per file, tens of thousands of times.
        self._root = str(self.root)
        self._made_dirs: set[str] = set()  # membership only: saves a mkdir per file

    def _path(self, key: str) -> str:
        parts = key.split("/")
        if key.startswith("/") or any(part in (".", "..") for part in parts):
            raise ValueError(f"not a store-relative key: {key!r}")
        return os.path.join(self._root, *parts)

    def write(self, key: str, body: bytes) -> None:
        path = self._path(key)
        directory, name = os.path.split(path)
        if directory not in self._made_dirs:
            os.makedirs(directory, exist_ok=True)
            self._made_dirs.add(directory)
        # Write-then-rename: a reader listing the store meanwhile never sees half a file.
        temporary = os.path.join(directory, f".{name}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(body)
        os.replace(temporary, path)

    def set_mtime(self, key: str, timestamp_ms: int) -> None:
        """Give a written file, or (key ending in ``/``) a directory, the record's own time.

        The original ``perstack log`` dates a job without job.json by its directory's mtime;
        realistic mtimes keep that behaviour testable.
        """
        seconds = timestamp_ms / 1000
        os.utime(self._path(key.rstrip("/")), (seconds, seconds))


class BucketWriter:
    """Writes a store into an S3/R2 bucket through a boto3 client the caller made.

    ``prefix`` is normalised like the runtime does (spec §1): "" stays "", "perstack" becomes
    "perstack/". boto3 is never imported here, so this module works without it.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"

    def write(self, key: str, body: bytes) -> None:
        self._client.put_object(
            Bucket=self._bucket, Key=self._prefix + key, Body=body, ContentType="application/json"
        )


# --------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class JobFacts:
    """What one generated job holds, taken from the records actually written.

    ``status``, ``started_at`` and ``finished_at`` are what a reader should show: job.json's
    values when the job has one, else the values derived from the data (spec §4: status from the
    last checkpoint, times from the first and last event, no finish time while running).
    """

    job_id: str
    scenario: str
    status: str
    last_checkpoint_status: str
    coordinator_expert_key: str
    total_steps: int  # stepNumber of the last checkpoint
    total_tokens: int  # usage.totalTokens of the last checkpoint
    usage: dict[str, int]  # usage of the last checkpoint
    run_ids: tuple[str, ...]  # run directories, in the order the runs started
    checkpoint_run_ids: tuple[str, ...]  # distinct runIds inside checkpoints, first seen first
    checkpoints: int
    events: int
    events_by_type: dict[str, int]
    run_settings: int
    has_job_file: bool
    started_at: int
    finished_at: int | None
    first_event_at: int
    last_event_at: int
    unknown_event_types: tuple[str, ...]
    extra_event_fields: tuple[str, ...]  # unknown keys on known event types
    files: int
    bytes: int


@dataclass
class GenerationReport:
    """Counts of what ``generate_store`` wrote, for tests that compare a reader against it."""

    seed: int
    scale: float
    jobs: int = 0
    runs: int = 0  # run directories
    checkpoints: int = 0
    events: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    job_files: int = 0
    run_settings: int = 0
    files: int = 0
    bytes: int = 0
    job_ids: list[str] = field(default_factory=list)  # in generation (= start time) order
    scenarios: dict[str, int] = field(default_factory=dict)  # jobs per scenario
    planted_secrets: set[str] = field(default_factory=set)
    job_facts: dict[str, JobFacts] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.jobs} jobs, {self.runs} runs, {self.checkpoints} checkpoints, "
            f"{self.events} events, {self.job_files} job.json, {self.run_settings} "
            f"run-setting.json: {self.files} files, {self.bytes / 1e6:.1f} MB"
        )


def planted_secrets(report: GenerationReport) -> set[str]:
    """Every exact secret value written into the store (each contains the marker)."""
    return set(report.planted_secrets)


def _secrets_in(value: Any) -> Iterator[str]:
    """Strings holding the marker, plus the password of any such URL (``proxyUrl``)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _secrets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secrets_in(item)
    elif isinstance(value, str) and PLANTED_SECRET_MARKER in value:
        yield value
        if "://" in value:
            password = urlsplit(value).password
            if password and PLANTED_SECRET_MARKER in password:
                yield password


@dataclass(frozen=True)
class _Written:
    kind: KeyKind
    size: int
    at: int
    event_type: str | None = None
    run_id: str | None = None
    extra_fields: tuple[str, ...] = ()
    checkpoint: tuple[int, str, Json, str] | None = None  # (stepNumber, status, usage, runId)


class _Recorder:
    """Serialises and writes records, and remembers what landed under which key.

    The report is built from this memory, not from the generator's intentions: a delta event
    overwritten by another one written in the same millisecond (as happens in real stores)
    is counted once, as it is on disk.
    """

    def __init__(self, writer: StoreWriter, report: GenerationReport) -> None:
        self._writer = writer
        self._set_mtime = getattr(writer, "set_mtime", None)  # optional hook
        self._report = report
        self._job: dict[str, _Written] = {}
        self._events_by_type: Counter[str] = Counter()

    def put(self, key: str, record: Json, at_ms: int) -> None:
        self._store(key, orjson.dumps(record), record, at_ms)

    def put_pretty(self, key: str, record: Json, at_ms: int) -> None:
        # JSON.stringify(x, null, 2) byte for byte: 2-space indent, raw UTF-8, no final newline.
        body = json.dumps(record, indent=2, ensure_ascii=False).encode()
        self._store(key, body, record, at_ms)

    def touch(self, key_prefix: str, at_ms: int) -> None:
        if self._set_mtime is not None:
            self._set_mtime(key_prefix, at_ms)

    def _store(self, key: str, body: bytes, record: Json, at_ms: int) -> None:
        parsed = layout.parse_key(key)
        if parsed is None or parsed.kind is KeyKind.UNKNOWN:
            raise AssertionError(f"generator built a key the reader cannot place: {key}")
        self._writer.write(key, body)
        if self._set_mtime is not None:
            self._set_mtime(key, at_ms)
        written = _Written(parsed.kind, len(body), at_ms)
        if parsed.kind is KeyKind.EVENT and parsed.event is not None:
            extra = ()
            if parsed.event.type in KNOWN_EVENT_TYPES:
                extra = tuple(k for k in record if k not in _KNOWN_EVENT_KEYS)
            written = _Written(
                parsed.kind, len(body), at_ms, parsed.event.type, parsed.run_id, extra
            )
        elif parsed.kind is KeyKind.CHECKPOINT:
            snapshot = (record["stepNumber"], record["status"], record["usage"], record["runId"])
            written = _Written(parsed.kind, len(body), at_ms, checkpoint=snapshot)
        elif parsed.kind is KeyKind.RUN_SETTING:
            self._report.planted_secrets.update(_secrets_in(record))
        self._job.pop(key, None)  # a rewrite moves the key to the end, as the newest
        self._job[key] = written

    def last_checkpoint(self) -> tuple[int, str, Json, str]:
        """The checkpoint with the highest stepNumber (the later-written one on a tie)."""
        best: tuple[int, str, Json, str] | None = None
        for written in self._job.values():
            if written.checkpoint is not None and (
                best is None or written.checkpoint[0] >= best[0]
            ):
                best = written.checkpoint
        if best is None:
            raise AssertionError("a job without checkpoints")
        return best

    def finish_job(
        self, job_id: str, scenario: str, coordinator: str, job_file: Json | None
    ) -> JobFacts:
        step, cp_status, usage, _ = self.last_checkpoint()
        run_starts: dict[str, int] = {}
        checkpoint_run_ids: dict[str, None] = {}
        events_by_type: Counter[str] = Counter()
        unknown: dict[str, None] = {}
        extra: dict[str, None] = {}
        event_times: list[int] = []
        counts: Counter[KeyKind] = Counter()
        for written in self._job.values():
            counts[written.kind] += 1
            if written.event_type is not None and written.run_id is not None:
                started = run_starts.setdefault(written.run_id, written.at)
                run_starts[written.run_id] = min(started, written.at)
                events_by_type[written.event_type] += 1
                event_times.append(written.at)
                if written.event_type not in KNOWN_EVENT_TYPES:
                    unknown.setdefault(written.event_type)
                for name in written.extra_fields:
                    extra.setdefault(name)
            elif written.checkpoint is not None:
                checkpoint_run_ids.setdefault(written.checkpoint[3])
        derived_status = job_status_from_checkpoint(cp_status)
        if job_file is not None:
            finished_at = job_file.get("finishedAt")
        else:
            finished_at = None if derived_status == "running" else max(event_times)
        facts = JobFacts(
            job_id=job_id,
            scenario=scenario,
            status=job_file["status"] if job_file else derived_status,
            last_checkpoint_status=cp_status,
            coordinator_expert_key=coordinator,
            total_steps=step,
            total_tokens=usage["totalTokens"],
            usage=dict(usage),
            run_ids=tuple(sorted(run_starts, key=run_starts.__getitem__)),
            checkpoint_run_ids=tuple(checkpoint_run_ids),
            checkpoints=counts[KeyKind.CHECKPOINT],
            events=counts[KeyKind.EVENT],
            events_by_type=dict(sorted(events_by_type.items())),
            run_settings=counts[KeyKind.RUN_SETTING],
            has_job_file=job_file is not None,
            started_at=job_file["startedAt"] if job_file else min(event_times),
            finished_at=finished_at,
            first_event_at=min(event_times),
            last_event_at=max(event_times),
            unknown_event_types=tuple(unknown),
            extra_event_fields=tuple(extra),
            files=len(self._job),
            bytes=sum(written.size for written in self._job.values()),
        )
        report = self._report
        report.jobs += 1
        report.runs += len(run_starts)
        report.checkpoints += facts.checkpoints
        report.events += facts.events
        report.job_files += counts[KeyKind.JOB]
        report.run_settings += facts.run_settings
        report.files += facts.files
        report.bytes += facts.bytes
        report.job_ids.append(job_id)
        report.job_facts[job_id] = facts
        self._events_by_type.update(events_by_type)
        report.events_by_type = dict(sorted(self._events_by_type.items()))
        self._job = {}
        return facts


# --------------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Model:
    name: str
    provider: str
    context_window: int
    chars_per_token: float
    # Hidden reasoning tokens billed per visible thinking token (0: folded into output).
    reasoning_factor: float
    tool_call_prefix: str
    signs_thinking: bool  # Anthropic returns a signature with each thinking block


_MODELS = (
    _Model("claude-sonnet-4-5", "anthropic", 200_000, 3.6, 0.0, "toolu_", True),
    _Model("gpt-5", "openai", 400_000, 4.1, 4.0, "call_", False),
    _Model("gemini-2.5-pro", "google", 1_048_576, 4.4, 2.5, "", False),
)
_MODEL_WEIGHTS = (5, 3, 2)
_PROVIDER_ENV = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "google": "GOOGLE_GENERATIVE_AI_API_KEY",
}

_BASE_SKILL = "@perstack/base"
_TOOL_SKILL = {
    "readTextFile": _BASE_SKILL,
    "writeTextFile": _BASE_SKILL,
    "listDirectory": _BASE_SKILL,
    "exec": _BASE_SKILL,
    "think": _BASE_SKILL,
    "todo": _BASE_SKILL,
    "attemptCompletion": _BASE_SKILL,
    "webSearch": "web-search",
    "askUser": "user-io",
}
_SKILL_DEFINITIONS: dict[str, Json] = {
    _BASE_SKILL: {
        "type": "mcpStdioSkill",
        "name": _BASE_SKILL,
        "description": "Base skill",
        "pick": [],
        "omit": [],
        "command": "npx",
        "args": ["-y", _BASE_SKILL],
        "requiredEnv": [],
        "lazyInit": False,
    },
    "web-search": {
        "type": "mcpStdioSkill",
        "name": "web-search",
        "description": "Search the web and fetch result snippets",
        "pick": [],
        "omit": [],
        "command": "npx",
        "args": ["-y", "tavily-mcp@0.2.4"],
        "requiredEnv": ["TAVILY_API_KEY"],
        "lazyInit": True,
    },
    "user-io": {
        "type": "interactiveSkill",
        "name": "user-io",
        "description": "Talk to the user",
        "tools": {
            "askUser": {
                "name": "askUser",
                "description": "Ask the user a question",
                "inputJsonSchema": (
                    '{"type":"object","properties":{"question":{"type":"string"}},'
                    '"required":["question"]}'
                ),
            }
        },
    },
}


@dataclass(frozen=True)
class _Expert:
    key: str
    name: str
    version: str
    description: str
    instruction: str
    skills: tuple[str, ...]
    tools: tuple[str, ...]  # what it calls in ordinary tool steps
    delegates: tuple[str, ...] = ()

    @property
    def ref(self) -> Json:
        return {"key": self.key, "name": self.name, "version": self.version}


_EXPERTS = (
    _Expert(
        "coordinator",
        "coordinator",
        "1.0.0",
        "Splits a request between specialists and merges their answers",
        "Plan the work, delegate each part to the best delegate, then merge their results "
        "into one answer. Never do a delegate's work yourself.",
        (_BASE_SKILL,),
        ("think", "todo", "listDirectory"),
        ("researcher@1.2.0", "writer", "reviewer"),
    ),
    _Expert(
        "researcher@1.2.0",
        "researcher",
        "1.2.0",
        "Finds and condenses sources on a topic",
        "Search the web and the workspace, read the most relevant sources and report the "
        "findings with links. Prefer primary sources.",
        (_BASE_SKILL, "web-search"),
        ("webSearch", "webSearch", "readTextFile", "think"),
    ),
    _Expert(
        "writer",
        "writer",
        "1.0.0",
        "Drafts and edits documents in the workspace",
        "Write clear, concise documents. Read the existing files first, ask the user when "
        "the audience or the tone is unclear, and save drafts with writeTextFile.",
        (_BASE_SKILL, "user-io"),
        ("readTextFile", "readTextFile", "writeTextFile", "listDirectory"),
    ),
    _Expert(
        "reviewer",
        "reviewer",
        "1.0.0",
        "Reviews code and documents for defects",
        "Review the given files. Run the tests, point out defects with file and line, and "
        "rate each finding by severity.",
        (_BASE_SKILL,),
        ("readTextFile", "readTextFile", "exec", "listDirectory", "think"),
    ),
    _Expert(
        "assistant",
        "assistant",
        "1.0.0",
        "General assistant for everyday engineering tasks",
        "You are a helpful assistant. Use tools when needed.",
        (_BASE_SKILL, "web-search", "user-io"),
        ("readTextFile", "listDirectory", "exec", "webSearch", "writeTextFile", "think", "todo"),
    ),
)
_EXPERT_BY_KEY = {expert.key: expert for expert in _EXPERTS}
_SOLO_EXPERTS = ("assistant", "assistant", "researcher@1.2.0", "writer", "reviewer")
_INTERACTIVE_EXPERTS = ("writer", "assistant")

# Perstack's own system prompt, as the runtime sends it (copied from the real store).
_PREAMBLE = """You are Perstack, an AI expert that tackles tasks requested by users by utilizing all available tools.

(The following information describes your nature and role as an AI, the mechanisms of the AI system, and other meta-cognitive aspects.)

IMPORTANT:
Based on the user's initial message, you must determine what needs to be done.
You must iterate through hypothesis and verification to fulfill the task.
YOU MUST CONTINUE TO CALL TOOLS UNTIL THE TASK IS COMPLETE.
If you do not call tools, the task will be considered complete, and the agent loop will end.

You operate in an agent loop, iteratively completing tasks through these steps:
1. Analyze Events: Understand user needs and current state through the event stream, focusing on the latest user messages and execution results
2. Select Tools: Choose the next tool call based on current state, task planning, relevant knowledge, and available data APIs
3. Wait for Execution: The selected tool action will be executed by the sandbox environment with new observations added to the event stream
4. Iterate: Choose only one tool call per iteration, patiently repeat the above steps until task completion
5. Notify Task Completion: Call attemptCompletion ONLY - do NOT include any text response with this tool call
6. Generate Final Results: AFTER attemptCompletion returns, you will be prompted to produce a final result in a SEPARATE response

Conditions for ending the agent loop:
If any of the following apply, **immediately call the attemptCompletion tool**.
When the agent loop must end, calling any tool other than attemptCompletion is highly dangerous.
Under all circumstances, strictly follow this rule.
- When the task is complete
- When the user's request is outside your expertise
- When the user's request is unintelligible

Rules for requests outside your area of expertise:
- Tell your area of expertise to the user in final results

Environment information:
- Current time is {now}
- Current working directory is {cwd}

---
(The following describes the objective, steps, rules, etc. regarding your expert task.)

{instruction}

---
(The following is an overview of each skill and the rules for calling tools.)



---
(The following is an overview of each delegate expert and the rules for calling tools.)

You can delegate tasks to the following experts by calling delegate expert name as a tool:

{delegates}"""  # noqa: E501 - the prompt's own line breaks

_QUERIES = {
    "coordinator": (
        "Prepare a short report on {topic}: research it, draft it and get it reviewed.",
        "We need a decision memo about {topic}. Collect the facts, write it up, review it.",
        "Audit {file} and the docs around it, then write a summary for the team.",
    ),
    "researcher@1.2.0": (
        "Research {topic} and summarise the trade-offs with sources.",
        "What changed recently around {topic}? Give me links.",
        "Compare the main options for {topic} and recommend one.",
    ),
    "writer": (
        "Draft release notes for {version} from CHANGELOG.md.",
        "Rewrite {file} so that a new team member understands it.",
        "Write a one-page onboarding guide about {topic}.",
    ),
    "reviewer": (
        "Review {file} for bugs and risky changes.",
        "Run the tests and review the failures in {file}.",
        "Check {file} against our style guide and list the issues.",
    ),
    "assistant": (
        "Read {file} and summarise it.",
        "Find out why the build fails and fix {file}.",
        "Explain how {topic} is used in this repository.",
        "List the TODOs in {file} and group them by area.",
    ),
}
_FOLLOW_UPS = (
    "Thanks. Now do the same for {file}.",
    "Can you go deeper on {topic}?",
    "Shorten that to five bullet points.",
    "tell me more",
)
_ANSWERS = (
    "Use the staging bucket, not production.",
    "The audience is the platform team.",
    "blue",
    "Yes, go ahead and overwrite it.",
    "Keep it under one page, please — no jargon.",
)
_TOPICS = (
    "S3 lifecycle rules",
    "DuckDB's httpfs extension",
    "zero-downtime Postgres migrations",
    "OpenTelemetry sampling",
    "rate limiting at the edge",
    "React server components",
    "vector search in SQLite",
    "Kubernetes pod disruption budgets",
)
_FILES = (
    "src/storage/filesystem.ts",
    "src/runtime/agent-loop.ts",
    "src/api/handlers.py",
    "tests/test_client.py",
    "docs/architecture.md",
    "README.md",
    "CHANGELOG.md",
    "infra/main.tf",
    "src/ui/Dashboard.tsx",
    "package.json",
)
_PREFACES = (
    "Let me inspect the workspace.",
    "I'll start by reading the relevant files.",
    "Checking the current state first.",
    "Next, I will verify this with the tests.",
    "Let me look this up.",
)
_RETRY_REASONS = (
    (
        "empty",
        '{"error":"Error: No tool call or text generated","message":"You must generate a '
        'tool call or provide a response. Try again."}',
    ),
    (
        "length",
        '{"error":"Error: Tool call generation failed","message":"Generation length '
        'exceeded. Try again."}',
    ),
)
_PROVIDER_ERRORS = (
    "No output generated. Check the stream for errors.",
    "Max retries (0) exceeded: No output generated. Check the stream for errors.",
)

_WORD_TEXT = (
    "the a of to and in is for that with on as by this be are from it at or an which "
    "storage bucket prefix runtime checkpoint event job run step expert delegate tool model "
    "token usage latency cache index query table partition schema record field value "
    "request response retry timeout error warning failure success build test deploy release "
    "config environment variable secret credential policy permission role user team review "
    "document summary report draft section paragraph source link reference version change "
    "migration rollback replica shard cluster node pod service endpoint gateway proxy "
    "stream delta buffer chunk batch pipeline worker queue scheduler budget limit quota "
    "should must can will may not only also then when because however therefore although "
    "fast slow large small new old first last next previous each every most some many "
    "naïve café résumé Zürich façade — → ✓ 日本語 déjà-vu"
)
_IDENTIFIER_TEXT = (
    "store client config events jobId runId checkpoint payload options result items "
    "buffer cursor handler request response logger cache index schema batch retries"
)
_CODE_LINES = (
    'import {{ {A} }} from "./{b}";',
    "export async function {b}({c}: {A}): Promise<{A}> {{",
    "  const {b} = await {c}.{d}({e});",
    "  if (!{b}) {{",
    '    throw new Error("{b} is missing");',
    "  }}",
    "  for (const {b} of {c}) {{",
    "    {c}.push({b});",
    "  return {b};",
    "}}",
    "",
    "// {w} {w} {w} {w}",
    "def {b}({c}, {d}=None):",
    '    """{W} {w} {w} {w}."""',
    "    {b} = {c}.get({d!r})",
    "    return {b}",
)

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = _LOWER + "0123456789"
_MIXED = _ALNUM + _LOWER.upper()
_HEX = "0123456789abcdef"
_DAY_MS = 86_400_000
_LOG_1KB, _LOG_100KB = math.log(1_000), math.log(100_000)
_LONG_MAX_STEPS = 140


class _Corpus:
    """Long prose and code strings that texts are sliced from: one RNG draw per text,
    however long, so a 1 GB store costs little more CPU per byte than a 1 MB one."""

    def __init__(self) -> None:
        rng = random.Random(0x5EED)  # fixed: the corpus is the same for every seed
        vocabulary = _WORD_TEXT.split()
        identifiers = _IDENTIFIER_TEXT.split()
        sentences: list[str] = []
        length = 0
        while length < 200_000:
            sentence = " ".join(rng.choices(vocabulary, k=rng.randint(6, 18)))
            sentence = sentence[0].upper() + sentence[1:] + ("." if rng.random() < 0.9 else ":\n")
            sentences.append(sentence)
            length += len(sentence) + 1
        self.prose = " ".join(sentences)
        lines: list[str] = []
        length = 0
        while length < 150_000:
            template = rng.choice(_CODE_LINES)
            names = rng.sample(identifiers, 4)
            lines.append(
                template.format(
                    A=names[0].capitalize(),
                    b=names[1],
                    c=names[2],
                    d=names[3],
                    e=rng.choice(identifiers),
                    w=rng.choice(vocabulary),
                    W=rng.choice(vocabulary).capitalize(),
                )
            )
            length += len(lines[-1]) + 1
        self.code = "\n".join(lines) + "\n"


@functools.cache
def _corpus() -> _Corpus:
    return _Corpus()  # built once per process (~0.1 s), shared by every store


# Long sessions read whole files and run whole test suites: their tool results are slices of
# a bigger, more varied corpus, so that a 100 KB result is not mostly another one, and code
# compresses like real code (zlib ~3.5x, not the ~5.6x of the short corpus's few templates).
_LONG_CODE_LINES = (
    *_CODE_LINES,
    'const {b} = {{ {c}: {n}, {d}: "{w}-{w}", {e}: [{n}, {n}, {n}] }};',
    "  if ({b}.length > {n} && !{c}.{d}) {{",
    '    logger.{lvl}("{w} {w} {w}", {{ {b}, {c} }});',
    "  }} catch ({b}) {{",
    "    return {{ ok: false, error: String({b}), retries: {n} }};",
    '  }} else if ({c} === "{w}") {{',
    "export const {B}_{C} = {n};",
    "interface {A} {{ {b}: string; {c}?: number; {d}: {A}[] }}",
    "  private readonly {b} = new Map<string, {A}>();",
    "    {b}.{c}[{n}] = await this.{d}.{e}({c}, {{ timeout: {n} }});",
    "class {A}({D}):",
    "    def __init__(self, {b}: {A}, {c}: int = {n}) -> None:",
    "        self.{b} = {b}",
    "        self._{c} = [{d} for {d} in {b}.{e}() if {d}.{c} > {n}]",
    "        if not self.{b}:",
    '            raise ValueError(f"{w} {w}: {{{b}!r}}")',
    "    @property",
    "    def {b}(self) -> list[{A}]:",
    "        return sorted(self._{c}, key=lambda {d}: {d}.{e})",
    '@pytest.mark.parametrize("{b}", [{n}, {n}, {n}])',
    "def test_{b}_{c}({d}: {A}) -> None:",
    '    assert {b}.{c}({d}) == {n}, "{w} {w}"',
    "        # {W} {w} {w} {w} {w} {w} ({w} {n})",
    "  /** {W} {w} {w} {w} {w}. */",
)
_LONG_LOG_LINES = (
    "PASS {path} ({n}.{n2} s)",
    "FAIL {path}",
    "  ✓ {w} {w} {w} {w} ({n} ms)",
    "  ✓ {w} {w} {w} ({n} ms)",
    "  ✕ {w} {w} {w} {w} ({n} ms)",
    "    at {A}.{b} ({path}:{n}:{n2})",
    "    Expected: {n}, received: {n2}",
    "{time} INFO  [{b}] {W} {w} {w} {w} id={hex} took={n}ms",
    "{time} WARN  [{b}] {W} {w} {w}: retry {n2}/5 after {n} ms",
    "{time} DEBUG [{b}] {c}={n} {d}={hex} {e}={w}",
    "{path}({n},{n2}): error TS{n4}: {W} {w} {w} '{A}' {w} {w}.",
    "npm WARN deprecated {b}@{n2}.{n}.{n2}: {W} {w} {w} {w}.",
    "  {path} | {n2}{n} | {n} | {n2}",
    "Tests: {n} failed, {n} passed, {n} total",
    "+ {b}@{n2}.{n}.{n} added {n} packages in {n2}s",
    "{hex} {W} {w} {w} {w} ({b})",
)
_LOG_LEVELS = ("debug", "info", "warn", "error")


class _LongCorpus:
    """The texts of long sessions: ~1 MB of prose, ~2 MB of code, ~1 MB of command output,
    with identifiers, numbers and paths drawn per line (built once per process, ~1 s)."""

    def __init__(self) -> None:
        rng = random.Random(0x10C0)  # fixed: the corpus is the same for every seed
        formatter = string.Formatter()
        vocabulary = _WORD_TEXT.split()
        words = _IDENTIFIER_TEXT.split() + vocabulary[20:100]
        identifiers = [
            words[i] + words[j].capitalize()
            for i, j in ((rng.randrange(len(words)), rng.randrange(len(words))) for _ in range(600))
        ] + words
        paths = [
            f"{rng.choice(('src', 'tests', 'lib', 'packages/core/src'))}/"
            f"{rng.choice(identifiers)}/{rng.choice(identifiers)}"
            f"{rng.choice(('.ts', '.test.ts', '.py', '.tsx'))}"
            for _ in range(300)
        ]

        def fresh(name: str) -> str:
            """A value drawn anew at each place the field appears (words, numbers)."""
            if name == "w":
                return rng.choice(vocabulary)
            if name == "W":
                return rng.choice(vocabulary).capitalize()
            if name == "n":
                return str(
                    rng.choice((rng.randrange(10), rng.randrange(100), rng.randrange(10**5)))
                )
            if name == "n2":
                return str(rng.randrange(60))
            if name == "n4":
                return str(rng.randrange(1000, 9999))
            if name == "hex":
                return rng.getrandbits(32).to_bytes(4).hex()
            if name == "lvl":
                return rng.choice(_LOG_LEVELS)
            if name == "path":
                return rng.choice(paths)
            at = 1_767_225_600_000 + rng.randrange(300 * _DAY_MS)  # "time"
            return datetime.fromtimestamp(at / 1000, tz=UTC).strftime("%H:%M:%S.") + (
                f"{at % 1000:03d}"
            )

        def fill(template: str) -> str:
            # Identifiers stay the same within a line, as a variable is used more than once.
            names = rng.sample(identifiers, 5)
            same = {
                "A": names[0][0].upper() + names[0][1:],
                "B": names[1].upper(),
                "C": names[2].upper(),
                "D": names[3][0].upper() + names[3][1:],
                "b": names[1],
                "c": names[2],
                "d": names[3],
                "e": names[4],
            }
            out: list[str] = []
            for literal, name, _, conversion in formatter.parse(template):
                out.append(literal)
                if name is not None:
                    value = same[name] if name in same else fresh(name)
                    out.append(repr(value) if conversion == "r" else value)
            return "".join(out)

        def lines(templates: Sequence[str], total: int, *, indent: bool) -> str:
            out: list[str] = []
            length = 0
            while length < total:
                line = fill(rng.choice(templates))
                if indent and line and rng.random() < 0.3:
                    line = "    " * rng.randint(1, 3) + line.lstrip()
                out.append(line)
                length += len(line) + 1
            return "\n".join(out) + "\n"

        sentences: list[str] = []
        length = 0
        while length < 1_000_000:
            sentence = " ".join(rng.choices(vocabulary, k=rng.randint(6, 18)))
            sentence = sentence[0].upper() + sentence[1:] + ("." if rng.random() < 0.9 else ":\n")
            if rng.random() < 0.08:
                sentence += "\n\n" + "#" * rng.randint(1, 3) + " " + rng.choice(identifiers)
            sentences.append(sentence)
            length += len(sentence) + 1
        self.prose = " ".join(sentences)
        self.code = lines(_LONG_CODE_LINES, 2_000_000, indent=True)
        self.logs = lines(_LONG_LOG_LINES, 1_000_000, indent=False)


@functools.cache
def _long_corpus() -> _LongCorpus:
    return _LongCorpus()


# --------------------------------------------------------------------------------- store level


@dataclass(frozen=True)
class _Profile:
    """One user's machine: its whole environment, keys and proxy, shared by all its runs."""

    cwd: str
    env: Json
    headers: Json | None
    perstack_api_key: str | None
    proxy_url: str | None
    base_urls: dict[str, str]


@dataclass
class _Call:
    """A tool call the model makes and what the tool answers."""

    tool_call: Json
    result_text: str
    is_error: bool
    duration_ms: int
    chars: int  # arguments, for the output-token bill

    @property
    def id(self) -> str:
        return str(self.tool_call["id"])


@dataclass(frozen=True)
class _Usage:
    input: int = 0
    output: int = 0
    reasoning: int = 0
    cached: int = 0

    def __add__(self, other: _Usage) -> _Usage:
        return _Usage(
            self.input + other.input,
            self.output + other.output,
            self.reasoning + other.reasoning,
            self.cached + other.cached,
        )

    def __sub__(self, other: _Usage) -> _Usage:
        return _Usage(
            self.input - other.input,
            self.output - other.output,
            self.reasoning - other.reasoning,
            self.cached - other.cached,
        )

    def json(self) -> Json:
        return {
            "inputTokens": self.input,
            "outputTokens": self.output,
            "reasoningTokens": self.reasoning,
            "totalTokens": self.input + self.output,
            "cachedInputTokens": self.cached,
        }


_ZERO = _Usage()

# job.json key orders: as first saved, and as re-saved by a later run (fixture store).
_JOB_KEYS_FIRST = (
    "id",
    "coordinatorExpertKey",
    "status",
    "totalSteps",
    "startedAt",
    "maxSteps",
    "usage",
    "finishedAt",
)
_JOB_KEYS_RESAVED = (
    "id",
    "status",
    "coordinatorExpertKey",
    "totalSteps",
    "maxSteps",
    "usage",
    "startedAt",
    "finishedAt",
)

# Checkpoint key orders, as the runtime writes them in each situation (fixture store):
# a run it created itself, a delegated child, and a run resumed from a stored checkpoint.
_FRESH_LAYOUT = (
    "id",
    "jobId",
    "runId",
    "expert",
    "stepNumber",
    "status",
    "messages",
    "usage",
    "contextWindow",
    "contextWindowUsage",
    "pendingToolCalls",
    "partialToolResults",
    "retryCount",
    "delegateTo",
)
_CHILD_LAYOUT = (
    "id",
    "jobId",
    "runId",
    "status",
    "stepNumber",
    "messages",
    "expert",
    "delegatedBy",
    "usage",
    "contextWindow",
    "contextWindowUsage",
    "retryCount",
)
_RESUMED_LAYOUT = (
    "id",
    "jobId",
    "runId",
    "status",
    "stepNumber",
    "messages",
    "expert",
    "delegateTo",
    "usage",
    "contextWindow",
    "contextWindowUsage",
    "pendingToolCalls",
    "partialToolResults",
    "retryCount",
)


def _reloaded(messages: list[Json]) -> list[Json]:
    """Messages as they come back from a stored checkpoint: the runtime's schema puts ``id``
    first (then ``type``) in every message and part, unlike messages built during the run."""
    return [_reloaded_node(message) for message in messages]


def _reloaded_node(node: Json) -> Json:
    out: Json = {"id": node["id"], "type": node["type"]}
    for key, value in node.items():
        if key == "contents":
            out[key] = [_reloaded_node(part) for part in value]
        elif key not in out:
            out[key] = value
    return out


class _Store:
    """Store-wide state: the RNG, texts, experts and user profiles."""

    def __init__(
        self, rng: random.Random, recorder: _Recorder, scale: float, *, long: bool = False
    ) -> None:
        self.rng = rng
        self.rec = recorder
        self.scale = scale
        self.long = long  # the "long" profile: long sessions, tool results of 1-100 KB
        self.corpus: _Corpus | _LongCorpus = _long_corpus() if long else _corpus()
        self.instructions = {
            expert.key: expert.instruction
            + "\n\nGuidelines:\n"
            + self.prose(self.size(300, spread=False))
            for expert in _EXPERTS
        }
        self.experts_json = {expert.key: self._expert_json(expert) for expert in _EXPERTS}
        self.profiles = [self._profile(index) for index in range(3)]

    # ids and sizes

    def new_id(self) -> str:
        """A cuid2-looking id: a letter, then 23 lowercase letters or digits."""
        return self.rng.choice(_LOWER) + "".join(self.rng.choices(_ALNUM, k=23))

    def token(self, alphabet: str, length: int) -> str:
        return "".join(self.rng.choices(alphabet, k=length))

    def below(self, bound: int) -> int:
        """A number in [0, bound) from exactly one draw, whatever the bound (randrange draws
        more for some bounds). Text lengths grow with ``scale``; drawing their offsets this
        way keeps the random sequence, hence every job, id and time, the same at any scale."""
        return int(self.rng.random() * bound)

    def size(self, base: int, *, spread: bool = True) -> int:
        """A text length around ``base`` chars at scale 1."""
        factor = self.rng.uniform(0.4, 1.9) if spread else 1.0
        return max(8, int(base * self.scale * factor))

    def result_size(self, base: int, *, parts: int = 1) -> int:
        """The length of a tool result (split into ``parts``): around ``base`` chars, or in a
        long session 1-100 KB, mostly a few KB (median ~4 KB, one in five over 20 KB)."""
        if not self.long:
            return self.size(base)
        size = math.exp(self.rng.triangular(_LOG_1KB, _LOG_100KB, _LOG_1KB))
        return max(8, int(size * self.scale) // parts)

    # texts

    def prose(self, length: int) -> str:
        text = self.corpus.prose
        if length >= len(text):
            return (text * (length // len(text) + 1))[:length]
        start = text.find(" ", self.below(len(text) - length)) + 1  # start on a word
        return text[start : start + length].strip()

    def command_output(self, length: int) -> str:
        """What a command prints: test-runner, compiler and log lines in a long session."""
        return self._lines(self.corpus.logs, length) if self.long else self.code(length)

    def code(self, length: int) -> str:
        return self._lines(self.corpus.code, length)

    def _lines(self, text: str, length: int) -> str:
        if length >= len(text):
            return (text * (length // len(text) + 1))[:length]
        start = text.find("\n", self.below(len(text) - length)) + 1
        end = text.find("\n", start + length)
        return text[start : end + 1 if end >= 0 else None]

    def iso_time(self) -> str:
        """Some moment of 2026, as JavaScript's toISOString() prints it."""
        at = 1_767_225_600_000 + self.rng.randrange(300 * _DAY_MS)
        moment = datetime.fromtimestamp(at / 1000, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at % 1000:03d}Z"

    def fill(self, template: str) -> str:
        return template.format(
            topic=self.rng.choice(_TOPICS),
            file=self.rng.choice(_FILES),
            version=f"v{self.rng.randint(1, 4)}.{self.rng.randint(0, 20)}.0",
        )

    def query(self, expert: _Expert) -> str:
        text = self.fill(self.rng.choice(_QUERIES[expert.key]))
        if self.rng.random() < 0.5:  # users often paste context under the request
            text += "\n\nContext: " + self.prose(self.size(220))
        return text

    def instruction_text(self, expert: _Expert, at_ms: int, cwd: str) -> str:
        delegates = "\n\n".join(
            f'About "{key}":\n{_EXPERT_BY_KEY[key].description}' for key in expert.delegates
        )
        return _PREAMBLE.format(
            now=datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{at_ms % 1000:03d}Z",
            cwd=cwd,
            instruction=self.instructions[expert.key],
            delegates=delegates,
        )

    # run-setting material

    def _expert_json(self, expert: _Expert) -> Json:
        return {
            "key": expert.key,
            "name": expert.name,
            "version": expert.version,
            "description": expert.description,
            "instruction": self.instructions[expert.key],
            "skills": {name: _SKILL_DEFINITIONS[name] for name in expert.skills},
            "delegates": list(expert.delegates),
            "tags": [],
        }

    def _secret(self, prefix: str, length: int = 32) -> str:
        return f"{prefix}{PLANTED_SECRET_MARKER}-{self.token(_MIXED, length)}"

    def _profile(self, index: int) -> _Profile:
        rng = self.rng
        user = ("dev", "mika", "ci-runner")[index]
        home = "/home/runner" if user == "ci-runner" else f"/home/{user}"
        cwd = f"{home}/{rng.choice(('project', 'work/app', 'src/agents'))}"
        env: Json = {
            "HOME": home,
            "USER": user,
            "SHELL": "/bin/zsh" if index == 1 else "/bin/bash",
            "LANG": "en_US.UTF-8",
            "TERM": "xterm-256color",
            "PATH": f"{home}/.local/bin:/usr/local/bin:/usr/bin:/bin",
            "ANTHROPIC_API_KEY": self._secret("sk-ant-api03-", 40),
            "OPENAI_API_KEY": self._secret("sk-proj-", 40),
            "GOOGLE_GENERATIVE_AI_API_KEY": self._secret("AIza", 30),
            "GITHUB_TOKEN": self._secret("ghp_", 30),
            "AWS_ACCESS_KEY_ID": f"AKIA{PLANTED_SECRET_MARKER}{self.token(_HEX.upper(), 8)}",
            "AWS_SECRET_ACCESS_KEY": self._secret("", 36),
            "TAVILY_API_KEY": self._secret("tvly-", 24),
            "NODE_PATH": f"{home}/.local/lib/node_modules",
            "PWD": cwd,
        }
        if index != 0:
            env["SLACK_BOT_TOKEN"] = self._secret("xoxb-", 40)
            env["DATABASE_URL"] = (
                f"postgres://app:{PLANTED_SECRET_MARKER}{self.token(_MIXED, 20)}"
                "@db.internal:5432/app"
            )
        if index == 2:
            env["CI"] = "true"
            env["PERSTACK_API_KEY"] = self._secret("psk_", 32)
        proxy = None
        if index == 1:
            password = f"{PLANTED_SECRET_MARKER}-{self.token(_MIXED, 16)}"
            proxy = f"http://{user}:{password}@proxy.corp.internal:8080"
        return _Profile(
            cwd=cwd,
            env=env,
            headers=(
                {"Helicone-Auth": f"Bearer {self._secret('sk-helicone-', 24)}"}
                if index == 1
                else None
            ),
            perstack_api_key=env.get("PERSTACK_API_KEY"),
            proxy_url=proxy,
            base_urls={"anthropic": "https://api.anthropic.com/v1"} if index == 0 else {},
        )

    # tool calls

    def tool_call_id(self, model: _Model) -> str:
        if model.tool_call_prefix == "toolu_":
            return "toolu_" + self.token(_HEX, 24)
        if model.tool_call_prefix == "call_":
            return "call_" + self.token(_MIXED, 24)
        return self.token(_MIXED, 16)

    def delegate_call(self, model: _Model, expert: _Expert, query: str) -> _Call:
        """A call of a delegate: the tool is the expert's name, its skill the expert's key."""
        args = {"query": query}
        call_json = {
            "id": self.tool_call_id(model),
            "skillName": expert.key,
            "toolName": expert.name,
            "args": args,
        }
        return _Call(call_json, "", False, 0, 12 + len(query))

    def call(self, model: _Model, tool: str, *, error: str | None = None) -> _Call:
        """A call of ``tool`` with realistic arguments, result text and duration;
        ``error`` picks a failure: "missing" / "enoent" (readTextFile) or "exec"."""
        args: Json
        rng = self.rng
        is_error = False
        duration = rng.randint(5, 120)
        if tool == "readTextFile":
            path = rng.choice(_FILES)
            args = {"path": path}
            size = self.result_size(1400)
            body = self.prose(size) if path.endswith(".md") else self.code(size)
            result = orjson.dumps(
                {"path": path, "content": body, "from": 0, "to": body.count("\n") + 1}
            ).decode()
            if error == "missing":
                args = {"path": "does-not-exist/" + path}
                result = orjson.dumps(
                    {"error": "Error", "message": f"File {args['path']} does not exist."}
                ).decode()
            elif error == "enoent":
                args = {"path": "old/" + path}
                result = f"Error: ENOENT: no such file or directory, open '{args['path']}'"
                is_error = True
        elif tool == "writeTextFile":
            path = "drafts/" + rng.choice(("summary.md", "notes.md", "report.md", "plan.md"))
            text = self.prose(self.result_size(900, parts=2))
            args = {"path": path, "text": text}
            result = orjson.dumps({"path": f"/home/dev/project/{path}", "text": text}).decode()
        elif tool == "listDirectory":
            directory = rng.choice((".", "src", "docs", "tests"))
            args = {"path": directory}
            items = [
                {
                    "name": name,
                    "path": name if directory == "." else f"{directory}/{name}",
                    "type": "file" if "." in name else "directory",
                    "size": rng.randint(40, 90_000) if "." in name else 4096,
                    "modified": self.iso_time(),
                }
                for name in rng.sample(
                    [path.rsplit("/", 1)[-1] for path in _FILES] + ["node_modules", "dist"],
                    rng.randint(3, 10),
                )
            ]
            result = orjson.dumps({"path": f"/home/dev/project/{directory}", "items": items})
            result = result.decode()
        elif tool == "exec":
            command = rng.choice((["run", "test"], ["run", "build"], ["run", "lint"]))
            args = {"command": "npm", "args": command, "cwd": ".", "stdout": True, "stderr": True}
            duration = rng.randint(800, 45_000)
            output = self.command_output(self.result_size(700))
            result = f"> app@1.4.2 {command[1]}\n" + output
            if error == "exec":
                result = f"Error: Command failed with exit code 1: npm {' '.join(command)}\n"
                result += output
                is_error = True
        elif tool == "webSearch":
            query = rng.choice(_TOPICS)
            args = {"query": query}
            duration = rng.randint(700, 4_000)
            hits = []
            for _ in range(rng.randint(3, 5)):
                host = f"{rng.choice(('docs', 'blog', 'www'))}.example.{rng.choice(('com', 'dev'))}"
                hits.append(
                    {
                        "title": self.prose(60).capitalize(),
                        "url": f"https://{host}/{self.token(_ALNUM, 10)}",
                        "content": self.prose(self.result_size(320, parts=4)),
                    }
                )
            result = orjson.dumps({"query": query, "results": hits}).decode()
        elif tool == "think":
            thought = self.prose(self.size(260))
            args = {"thought": thought}
            result = orjson.dumps({"thought": thought}).decode()
        elif tool == "todo":
            titles = [self.prose(30) for _ in range(rng.randint(1, 4))]
            args = {"newTodos": titles}
            todos = [{"id": n, "title": t, "completed": False} for n, t in enumerate(titles)]
            result = orjson.dumps({"todos": todos}).decode()
        elif tool == "attemptCompletion":
            args, result = {}, "{}"
        else:  # askUser: answered later, by the user
            args = {"question": self.fill("Before I continue: who is the audience for {file}?")}
            result = ""
        call_json = {
            "id": self.tool_call_id(model),
            "skillName": _TOOL_SKILL[tool],
            "toolName": tool,
            "args": args,
        }
        chars = 20 + sum(len(str(value)) for value in args.values())
        return _Call(call_json, result, is_error, duration, chars)


# --------------------------------------------------------------------------------- jobs and runs


class _Job:
    """One job: its model, user, runs, and the records they write."""

    def __init__(
        self,
        store: _Store,
        *,
        scenario: str,
        start_ms: int,
        with_job_file: bool,
        with_run_settings: bool,
        unknown_event: bool,
        extra_field: bool,
    ) -> None:
        rng = store.rng
        self.store = store
        self.rng = rng
        self.rec = store.rec
        self.scenario = scenario
        self.job_id = store.new_id()
        self.start_ms = start_ms
        self.model = rng.choices(_MODELS, weights=_MODEL_WEIGHTS)[0]
        self.profile = rng.choice(store.profiles)
        self.reasoning_budget: str | int = rng.choice(("low", "medium", "high", 2048, 8192))
        self.reasons = rng.random() < 0.4  # does this model stream reasoning in this job
        self.max_steps = 150 if store.long else 100  # long sessions need a raised limit
        self.with_job_file = with_job_file
        self.with_run_settings = with_run_settings
        self.compaction_pending = unknown_event
        self.trace_id = store.token(_HEX, 32) if extra_field else None
        self.runs: list[_Run] = []
        self.continued = False  # rewritten job.json key order, see finish()
        self.coordinator = ""

    def pick(self, keys: Sequence[str]) -> _Expert:
        return _EXPERT_BY_KEY[self.rng.choice(keys)]

    def tool_steps(self, low: int, high: int) -> int:
        """How many tool-calling steps a run makes: mostly few, sometimes many."""
        if self.store.long:
            return self.long_steps()
        return min(high, low + int(self.rng.expovariate(1 / 3)))

    def few_steps(self, choices: Sequence[int]) -> int:
        """The few tool steps of a side run (a continuation, an answer), long in a long store."""
        return self.long_steps() if self.store.long else self.rng.choice(choices)

    def long_steps(self) -> int:
        """Tens of steps, a hundred-plus now and then (mean ~40, 6% over 100)."""
        return min(_LONG_MAX_STEPS, 10 + int(self.rng.expovariate(1 / 32)))

    def new_process(self, at_ms: int) -> int:
        """When the ``perstack run`` process that starts at ``at_ms`` was launched."""
        return at_ms - self.rng.randint(300, 900)

    def fresh_run(self, expert: _Expert) -> _Run:
        """The job's first run, as ``perstack run`` starts it."""
        self.coordinator = expert.key
        process_start = self.new_process(self.start_ms)
        run = _Run(
            self,
            expert,
            layout_=_FRESH_LAYOUT,
            step=1,
            clock=self.start_ms + self.rng.randint(30, 90),
            process_start=process_start,
        )
        run.context_usage = 0
        query = self.store.query(expert)
        run.input = {"text": query}
        run.start("init", run.opening_messages(query))
        return run

    def finish(self) -> JobFacts:
        """Write the job's optional files, date its directories, and report what it holds."""
        rng = self.rng
        last_at = max(run.last_at for run in self.runs)
        # Drawn whether or not the files get written: leaving them out changes nothing else.
        settings_at = [run.last_at + rng.randint(1, 4) for run in self.runs]
        finished_at = last_at + rng.randint(2, 8)
        if self.with_run_settings:
            for run, updated in zip(self.runs, settings_at, strict=True):
                key = layout.run_setting_key(self.job_id, run.run_id)
                self.rec.put(key, run.setting(updated), updated)
        job_file = None
        if self.with_job_file:
            step, cp_status, usage, _ = self.rec.last_checkpoint()
            status = job_status_from_checkpoint(cp_status)
            values: Json = {
                "id": self.job_id,
                "status": status,
                "coordinatorExpertKey": self.coordinator,
                "totalSteps": step,
                "maxSteps": self.max_steps,
                "usage": usage,
                "startedAt": self.start_ms,
            }
            if status != "running":
                values["finishedAt"] = finished_at
            # A job re-saved by a later run (continued, answered) has the schema's key order;
            # a job saved once keeps the order it was built in (fixture store).
            order = _JOB_KEYS_RESAVED if self.continued else _JOB_KEYS_FIRST
            job_file = {key: values[key] for key in order if key in values}
            self.rec.put_pretty(layout.job_key(self.job_id), job_file, finished_at)
        # A directory's time is that of its last new entry (its run-setting.json, if any);
        # the job directory's, that of its runs/ and checkpoints/, made by the first run.
        for run, updated in zip(self.runs, settings_at, strict=True):
            run_dir_at = updated if self.with_run_settings else run.last_at
            self.rec.touch(layout.run_prefix(self.job_id, run.run_id), run_dir_at)
        self.rec.touch(layout.job_prefix(self.job_id), self.runs[0].started_at)
        return self.rec.finish_job(self.job_id, self.scenario, self.coordinator, job_file)


class _Run:
    """One run: a directory of events, and the checkpoint chain it extends.

    ``checkpoint_run_id`` differs from ``run_id`` for a continued job or an answered
    interactive tool: the runtime writes the new events under a new run directory but keeps
    the old ``runId`` in the checkpoints (spec §4).
    """

    def __init__(
        self,
        job: _Job,
        expert: _Expert,
        *,
        layout_: tuple[str, ...],
        step: int,
        clock: int,
        process_start: int,
        checkpoint_run_id: str | None = None,
        messages: list[Json] | None = None,
        history_chars: int = 0,
        usage: _Usage = _ZERO,
    ) -> None:
        self.job = job
        self.store = job.store
        self.rng = job.rng
        self.model = job.model
        self.expert = expert
        self.run_id = self.store.new_id()
        self.checkpoint_run_id = checkpoint_run_id or self.run_id
        self.layout = layout_
        self.step = step
        self.clock = clock
        self.started_at = clock
        self.last_at = clock
        self.process_start = process_start
        self.input: Json = {}
        self.messages: list[Json] = messages if messages is not None else []
        self.history_chars = history_chars
        self.usage = usage
        self.start_usage = usage
        self.last_input_tokens = 0
        self.final_text = ""
        # Optional checkpoint keys: None means "absent", which is a state of its own.
        self.context_usage: float | int | None = None
        self.retry_count: int | None = None
        self.delegate_to: list[Json] | None = None
        self.delegated_by: Json | None = None
        self.pending_tool_calls: list[Json] | None = None
        self.partial_tool_results: list[Json] | None = None
        self.checkpoint_id = self.store.new_id()
        self._new_step(clock)
        job.runs.append(self)

    # ---------------------------------------------------------------- records

    def tick(self, low: int, high: int) -> int:
        self.clock += self.rng.randint(low, high)
        return self.clock

    def emit(self, event_type: str, at: int, **payload: Any) -> None:
        event: Json = {
            "type": event_type,
            "id": self.store.new_id(),
            "expertKey": self.expert.key,
            "timestamp": at,
            "jobId": self.job.job_id,
            "runId": self.run_id,
            "stepNumber": self.step,
        }
        event.update(payload)
        if self.job.trace_id is not None:
            event["traceId"] = self.job.trace_id  # a field a newer runtime might add
        key = layout.event_key(self.job.job_id, self.run_id, at, self.step, event_type)
        self.job.rec.put(key, event, at)
        self.last_at = max(self.last_at, at)

    def checkpoint(self, status: str, *, checkpoint_id: str = "", step: int = 0) -> Json:
        values: Json = {
            "id": checkpoint_id or self.checkpoint_id,
            "jobId": self.job.job_id,
            "runId": self.checkpoint_run_id,
            "expert": self.expert.ref,
            "stepNumber": step or self.step,
            "status": status,
            "messages": self.messages,
            "usage": self.usage.json(),
            "contextWindow": self.model.context_window,
            "contextWindowUsage": self.context_usage,
            "pendingToolCalls": self.pending_tool_calls,
            "partialToolResults": self.partial_tool_results,
            "retryCount": self.retry_count,
            "delegateTo": self.delegate_to,
            "delegatedBy": self.delegated_by,
        }
        return {key: values[key] for key in self.layout if values[key] is not None}

    def write_checkpoint(self, checkpoint: Json, at: int) -> None:
        key = layout.checkpoint_key(self.job.job_id, checkpoint["id"])
        self.job.rec.put(key, checkpoint, at)

    def _new_step(self, at: int) -> None:
        self.step_input: list[Json] = []
        self.step_new: list[Json] = []
        self.step_usage = _ZERO
        self.step_started = at
        self.step_calls: list[Json] = []
        self.step_results: list[Json] = []

    def step_record(self, finished_at: int, *, stopped_on_calls: bool = False) -> Json:
        step: Json = {
            "stepNumber": self.step,
            "inputMessages": self.step_input,
            "newMessages": self.step_new,
            "usage": self.step_usage.json(),
            "startedAt": self.step_started,
        }
        if self.step_calls:
            step["toolCalls"] = self.step_calls
        if stopped_on_calls:
            step["partialToolResults"] = []
            step["pendingToolCalls"] = self.step_calls
        elif self.step_results:
            step["toolResults"] = self.step_results
        step["finishedAt"] = finished_at
        return step

    def setting(self, updated_at: int) -> Json:
        """run-setting.json, credentials where the runtime puts them (spec §2)."""
        job, profile = self.job, self.job.profile
        provider: Json = {
            "providerName": self.model.provider,
            "apiKey": profile.env[_PROVIDER_ENV[self.model.provider]],
        }
        if self.model.provider in profile.base_urls:
            provider["baseUrl"] = profile.base_urls[self.model.provider]
        if profile.headers is not None:
            provider["headers"] = profile.headers
        setting: Json = {
            "model": self.model.name,
            "providerConfig": provider,
            "jobId": job.job_id,
            "runId": self.run_id,
            "expertKey": self.expert.key,
            "input": self.input,
            "experts": self.store.experts_json,
            "reasoningBudget": job.reasoning_budget,
            "maxSteps": job.max_steps,
            "maxRetries": 5,
            "timeout": 300_000,
            "startedAt": self.process_start,
            "updatedAt": updated_at,
            "perstackApiBaseUrl": "https://api.perstack.ai",
        }
        if profile.perstack_api_key is not None:
            setting["perstackApiKey"] = profile.perstack_api_key
        setting["env"] = profile.env
        if profile.proxy_url is not None:
            setting["proxyUrl"] = profile.proxy_url
        return setting

    # ---------------------------------------------------------------- messages

    def text_part(self, text: str) -> Json:
        return {"type": "textPart", "text": text, "id": self.store.new_id()}

    def message(self, message_type: str, contents: list[Json]) -> Json:
        return {"type": message_type, "contents": contents, "id": self.store.new_id()}

    def append(self, message: Json, chars: int) -> None:
        self.messages.append(message)
        self.step_new.append(message)
        self.history_chars += chars

    def opening_messages(self, query: str) -> list[Json]:
        instruction = self.store.instruction_text(
            self.expert, self.process_start, self.job.profile.cwd
        )
        return [
            {
                "type": "instructionMessage",
                "contents": [{"id": self.store.new_id(), "type": "textPart", "text": instruction}],
                "id": self.store.new_id(),
                "cache": True,
            },
            self.message("userMessage", [self.text_part(query)]),
        ]

    def expert_message(self, thinking: str | None, text: str | None, calls: list[_Call]) -> Json:
        contents: list[Json] = []
        chars = 0
        if thinking is not None:
            part: Json = {"type": "thinkingPart", "thinking": thinking}
            if self.model.signs_thinking:
                part["signature"] = self.store.token(_BASE64, self.rng.randint(180, 520))
            part["id"] = self.store.new_id()
            contents.append(part)
            chars += len(thinking)
        if text is not None:
            contents.append(self.text_part(text))
            chars += len(text)
        for call in calls:
            contents.append(
                {
                    "type": "toolCallPart",
                    "toolCallId": call.id,
                    "toolName": call.tool_call["toolName"],
                    "args": call.tool_call["args"],
                    "id": self.store.new_id(),
                }
            )
            chars += call.chars
        message = self.message("expertMessage", contents)
        self.append(message, chars)
        return message

    def tool_message(self, results: list[tuple[_Call, Json]], *, reloaded: bool = False) -> Json:
        """The tool message that carries ``results``; ``reloaded`` results (delegates, user
        answers) come back with their text part's keys in the schema's order."""
        parts: list[Json] = []
        chars = 0
        for call, result in results:
            text = result["result"][0]["text"]
            inner = (
                {"type": "textPart", "id": self.store.new_id(), "text": text}
                if reloaded
                else self.text_part(text)
            )
            part: Json = {
                "type": "toolResultPart",
                "toolCallId": call.id,
                "toolName": call.tool_call["toolName"],
                "contents": [inner],
            }
            if call.is_error:
                part["isError"] = True
            part["id"] = self.store.new_id()
            parts.append(part)
            chars += len(text)
        message = self.message("toolMessage", parts)
        self.append(message, chars)
        return message

    def result_of(self, call: _Call) -> Json:
        return {
            "id": call.id,
            "skillName": call.tool_call["skillName"],
            "toolName": call.tool_call["toolName"],
            "result": [self.text_part(call.result_text)],
        }

    # ---------------------------------------------------------------- model calls

    def bill(
        self,
        output_chars: int,
        thinking: str | None,
        *,
        track_context: bool = True,
        advance: bool = True,
    ) -> _Usage:
        """Usage of one model call over the history so far (call it before appending the
        reply); ``advance`` moves the clock by the call's duration (not when the reply is
        streamed: its deltas already spend that time)."""
        model = self.model
        prompt = int(self.history_chars / model.chars_per_token) + 350 + 90 * len(self.expert.tools)
        if model.provider == "anthropic":  # the instruction message is marked cache: true
            cached = min(prompt, int(len(_PREAMBLE) / model.chars_per_token) + 700)
        elif model.provider == "openai":  # automatic prefix caching, in 128-token blocks
            cached = self.last_input_tokens // 128 * 128 if self.last_input_tokens >= 1024 else 0
        else:  # implicit caching: hits only sometimes
            cached = int(self.last_input_tokens * 0.75) if self.rng.random() < 0.4 else 0
        visible_thinking = int(len(thinking or "") / model.chars_per_token)
        reasoning = int(visible_thinking * model.reasoning_factor)
        output = int(output_chars / model.chars_per_token) + 8 + visible_thinking + reasoning
        usage = _Usage(prompt, output, reasoning, cached if self.last_input_tokens else 0)
        self.last_input_tokens = prompt
        self.usage = self.usage + usage
        self.step_usage = self.step_usage + usage
        if track_context:
            self.context_usage = round(prompt / model.context_window, 5)
        if advance:  # first token, then 20-400 tokens; not the real size, which grows with scale
            rng = self.rng
            self.clock += rng.randint(300, 900) + rng.randint(20, 400) * rng.randint(8, 30)
        return usage

    def stream(self, kind: str, text: str) -> None:
        """start/stream/complete events of a streamed text; deltas can share a millisecond
        (and then one file replaces the other, as in real stores)."""
        self.emit(f"startStreaming{kind}", self.tick(200, 1500))
        pieces = self.rng.randint(2, 3) if kind == "Reasoning" else self.rng.randint(3, 5)
        cuts = [len(text) * index // pieces for index in range(pieces + 1)]
        deltas = [text[start:end] for start, end in itertools.pairwise(cuts)]
        if kind == "Reasoning":
            deltas.append("")  # the runtime closes a reasoning stream with an empty delta
        for delta in deltas:
            gap = 0 if self.rng.random() < 0.06 else self.rng.randint(15, 160)
            self.emit(f"stream{kind}", self.tick(gap, gap), delta=delta)
        self.emit(f"completeStreaming{kind}", self.tick(1, 30), text=text)

    def maybe_reason(self, *, force: bool = False) -> str | None:
        if not (force or (self.job.reasons and self.rng.random() < 0.25)):
            return None
        thinking = self.store.prose(self.store.size(320))
        self.stream("Reasoning", thinking)
        return thinking

    # ---------------------------------------------------------------- run phases

    def start(self, status: str, input_messages: list[Json]) -> None:
        at = self.clock
        initial = self.checkpoint(status)
        self.emit("startRun", at, initialCheckpoint=initial, inputMessages=input_messages)
        self.messages.extend(input_messages)
        self.history_chars += sum(
            len(part.get("text", "")) for message in input_messages for part in message["contents"]
        )
        self.step_input = input_messages
        self.step_started = at - self.rng.randint(0, 2)

    def begin_generation(self) -> None:
        if self.job.compaction_pending and self.step >= 2:
            # A type this reader has never seen, as a newer runtime could write it.
            self.job.compaction_pending = False
            self.emit(
                "startCompaction",
                self.tick(2, 6),
                messageCount=len(self.messages),
                contextWindowUsage=self.context_usage or 0,
                strategy="summarizeOldToolResults",
            )
        at = self.tick(2, 12)
        self.step_started = at - self.rng.randint(0, 1)
        self.emit("startGeneration", at, messages=self.messages)

    def call_tools(
        self,
        *,
        error: str | None = None,
        parallel: bool = False,
        force_reasoning: bool = False,
        tools: Sequence[str] = (),
        calls: Sequence[_Call] = (),
        preface: str | None = None,
    ) -> tuple[Json, list[_Call], _Usage]:
        """A model turn that ends in tool calls: startGeneration .. callTools.

        Calls ``calls`` if given, else ``tools`` by name, else 1 (or, ``parallel``, 2-3) of
        the expert's tools; ``error`` makes the first call fail.
        """
        self.begin_generation()
        thinking = self.maybe_reason(force=force_reasoning)
        count = self.rng.randint(2, 3) if parallel else 1
        names = list(tools) or [self.rng.choice(self.expert.tools) for _ in range(count)]
        planned = list(calls)
        for index, name in enumerate([] if planned else names):
            kind = error if index == 0 else None
            if kind == "exec":
                name = "exec"
            elif kind in ("missing", "enoent"):
                name = "readTextFile"
            planned.append(self.store.call(self.model, name, error=kind))
        if preface is None and self.rng.random() < 0.35:
            preface = self.rng.choice(_PREFACES)
        usage = self.bill(sum(call.chars for call in planned) + len(preface or ""), thinking)
        message = self.expert_message(thinking, preface, planned)
        self.step_calls = [call.tool_call for call in planned]
        self.retry_count = self.retry_count or 0  # set once a run has called tools
        self.emit(
            "callTools",
            self.clock,
            newMessage=message,
            toolCalls=self.step_calls,
            usage=usage.json(),
        )
        return message, planned, usage

    def tool_step(
        self, *, error: str | None = None, parallel: bool = False, force_reasoning: bool = False
    ) -> None:
        """One model turn that calls tools, then the tools' results."""
        _, calls, _ = self.call_tools(
            error=error, parallel=parallel, force_reasoning=force_reasoning
        )
        self.tick(5, 20 + max(call.duration_ms for call in calls))
        results = [self.result_of(call) for call in calls]
        self.step_results = results
        self.emit("resolveToolResults", self.clock, toolResults=results)
        message = self.tool_message(list(zip(calls, results, strict=True)))
        self.emit("finishToolCall", self.tick(2, 8), newMessages=[message])

    def continue_step(self) -> None:
        at = self.tick(3, 15)
        checkpoint = self.checkpoint("proceeding")
        next_id = self.store.new_id()
        following = self.checkpoint("proceeding", checkpoint_id=next_id, step=self.step + 1)
        step = self.step_record(at - self.rng.randint(1, 3))
        self.emit(
            "continueToNextStep", at, checkpoint=checkpoint, step=step, nextCheckpoint=following
        )
        self.write_checkpoint(checkpoint, at)
        self.step += 1
        self.checkpoint_id = next_id
        self._new_step(at)

    def stop(self, event_type: str, status: str, *, on_calls: bool = False, **payload: Any) -> None:
        at = self.tick(2, 12)
        checkpoint = self.checkpoint(status)
        step = self.step_record(at - 1, stopped_on_calls=on_calls)
        self.emit(event_type, at, checkpoint=checkpoint, step=step, **payload)
        self.write_checkpoint(checkpoint, at)

    def final_step(
        self,
        *,
        attempt: bool,
        stream_result: bool,
        attempt_event: bool = True,
        force_reasoning: bool = False,
        child: bool = False,
    ) -> None:
        """The last model turn(s): optionally attemptCompletion, then the final text."""
        answer = self.store.prose(self.store.size(700 if attempt else 350))
        answer = answer[:1].upper() + answer[1:]
        if attempt:
            # A delegated child states its result next to the call (fixture store).
            _, (call,), _ = self.call_tools(
                force_reasoning=force_reasoning,
                tools=("attemptCompletion",),
                preface=answer[:120] if child else None,
            )
            result = self.result_of(call)
            self.step_results = [result]
            if attempt_event:
                self.emit("attemptCompletion", self.tick(3, 12), toolResult=result)
            self.tool_message([(call, result)])
        else:
            self.begin_generation()
        thinking = self.maybe_reason(force=force_reasoning)
        usage = self.bill(len(answer), thinking, advance=not stream_result)
        if stream_result:
            self.stream("RunResult", answer)
        self.expert_message(thinking, answer, [])
        self.final_text = answer
        at = self.tick(3, 12)
        checkpoint = self.checkpoint("completed")
        step = self.step_record(at - self.rng.randint(2, 8))
        # A child's completeRun reports zero usage; its checkpoint holds the real numbers.
        event_usage = _ZERO if child else usage
        self.emit(
            "completeRun",
            at,
            checkpoint=checkpoint,
            step=step,
            text=answer,
            usage=event_usage.json(),
        )
        self.write_checkpoint(checkpoint, at)

    def retry_step(self, variant: str, reason: str) -> None:
        """A reply the runtime rejects (empty, or cut at max_tokens), fed back and retried."""
        self.begin_generation()
        if variant == "empty":
            usage = self.bill(0, None, track_context=False)
            message = self.message("userMessage", [self.text_part(reason)])
            self.append(message, len(reason))
            self.emit("retry", self.clock, reason=reason, newMessages=[message], usage=usage.json())
        else:
            call = self.store.call(self.model, "readTextFile")
            usage = self.bill(call.chars, None, track_context=False)
            assistant = self.expert_message(None, None, [call])
            result = {
                "id": call.id,
                "skillName": call.tool_call["skillName"],
                "toolName": call.tool_call["toolName"],
                "result": [{"type": "textPart", "id": self.store.new_id(), "text": reason}],
            }
            tool = self.tool_message([(call, result)])
            self.step_calls = [call.tool_call]
            self.step_results = [result]
            self.emit(
                "retry",
                self.clock,
                reason=reason,
                newMessages=[assistant, tool],
                toolCalls=self.step_calls,
                toolResults=self.step_results,
                usage=usage.json(),
            )
        self.retry_count = (self.retry_count or 0) + 1
        self.continue_step()

    def finish_all_tool_calls(self, results: list[tuple[_Call, Json]]) -> None:
        """First step of a resumed run: the answers it waited for join the history."""
        message = self.tool_message(results, reloaded=True)
        self.step_results = [result for _, result in results]
        self.emit("finishAllToolCalls", self.tick(2, 14), newMessages=[message])
        self.partial_tool_results = None
        self.continue_step()


# --------------------------------------------------------------------------------- scenarios


def _error_kinds(rng: random.Random, expert: _Expert) -> list[str]:
    """Two failing tool calls: the runtime's own JSON form ({"error":"Error",...}) and a
    result text starting with "Error" (flagged isError), which readers show differently."""
    return ["missing", rng.choice(["enoent", "exec"] if "exec" in expert.tools else ["enoent"])]


def _scenario_plain(job: _Job) -> None:
    run = job.fresh_run(job.pick(_SOLO_EXPERTS))
    run.final_step(attempt=False, stream_result=job.rng.random() < 0.4)


def _work(
    run: _Run, steps: int, *, errors: Sequence[str] = (), parallel_once: bool = False
) -> None:
    """``steps`` ordinary tool steps, each continued to the next; the ``errors`` (kinds of
    failing calls) land on distinct random steps."""
    rng = run.rng
    error_at = dict(zip(rng.sample(range(steps), min(steps, len(errors))), errors, strict=False))
    parallel_at = rng.randrange(steps) if parallel_once and steps else -1
    for index in range(steps):
        run.tool_step(
            error=error_at.get(index),
            parallel=index == parallel_at or rng.random() < 0.2,
            force_reasoning=index == 0 and parallel_once,
        )
        run.continue_step()


def _scenario_tools(job: _Job) -> None:
    run = job.fresh_run(job.pick(_SOLO_EXPERTS))
    _work(
        run,
        job.tool_steps(2, 14),
        errors=_error_kinds(job.rng, run.expert),
        parallel_once=True,
    )
    run.final_step(attempt=True, stream_result=True)


def _scenario_delegation(job: _Job, *, parallel: bool) -> None:
    rng = job.rng
    coordinator = job.fresh_run(_EXPERT_BY_KEY["coordinator"])
    _work(coordinator, rng.choice((0, 0, 1)))
    delegates = rng.sample(_EXPERT_BY_KEY["coordinator"].delegates, 2 if parallel else 1)
    if parallel and rng.random() < 0.3:
        delegates = list(_EXPERT_BY_KEY["coordinator"].delegates)
    # The coordinator's turn: delegate calls, reported as callTools, then as callDelegate.
    planned = [
        job.store.delegate_call(job.model, expert, job.store.query(expert))
        for expert in map(_EXPERT_BY_KEY.__getitem__, delegates)
    ]
    preface = None if parallel else f"I will delegate this to the {delegates[0]}."
    message, calls, usage = coordinator.call_tools(calls=planned, preface=preface)
    coordinator.emit(
        "callDelegate",
        coordinator.tick(2, 9),
        newMessage=message,
        toolCalls=coordinator.step_calls,
        usage=usage.json(),
    )
    coordinator.delegate_to = [
        {
            "expert": _EXPERT_BY_KEY[key].ref,
            "toolCallId": call.id,
            "toolName": call.tool_call["toolName"],
            "query": call.tool_call["args"]["query"],
        }
        for key, call in zip(delegates, calls, strict=True)
    ]
    coordinator.partial_tool_results = []
    coordinator.stop("stopRunByDelegate", "stoppedByDelegate", on_calls=True)
    stopped_messages = list(coordinator.messages)

    children: list[_Run] = []
    for key, call in zip(delegates, calls, strict=True):
        # Parallel children start from zero usage; a single child inherits the parent's.
        start_usage = _ZERO if parallel else coordinator.usage
        child = _Run(
            job,
            _EXPERT_BY_KEY[key],
            layout_=_CHILD_LAYOUT,
            step=coordinator.step + 1,
            clock=coordinator.clock + rng.randint(4, 30),
            process_start=coordinator.process_start,
            usage=start_usage,
        )
        child.delegated_by = {
            "expert": coordinator.expert.ref,
            "toolCallId": call.id,
            "toolName": call.tool_call["toolName"],
            "checkpointId": coordinator.checkpoint_id,
            "runId": coordinator.run_id,
        }
        query = call.tool_call["args"]["query"]
        child.input = {"text": query}
        child.start("init", child.opening_messages(query))
        _work(child, job.tool_steps(0, 6))
        child.final_step(
            attempt=True,
            stream_result=rng.random() < 0.5,
            attempt_event=rng.random() < 0.5,
            child=True,
        )
        children.append(child)

    finished = sorted(children, key=lambda child: child.last_at)
    partials = [
        (
            call,
            {
                "id": call.id,
                "skillName": f"delegate/{child.expert.key}",
                "toolName": call.tool_call["toolName"],
                "result": [
                    {"type": "textPart", "id": job.store.new_id(), "text": child.final_text}
                ],
            },
        )
        for child in finished
        for call in calls
        if call.tool_call["skillName"] == child.expert.key
    ]
    usage_total = coordinator.usage
    for child in children:
        usage_total = usage_total + (child.usage - child.start_usage)
    resume = _Run(
        job,
        coordinator.expert,
        layout_=_RESUMED_LAYOUT,
        step=max(child.step for child in children) + 1,
        clock=finished[-1].last_at + rng.randint(5, 25),
        process_start=coordinator.process_start,
        # The single-delegate resume reloads the history from disk; the parallel one does not.
        messages=stopped_messages if parallel else _reloaded(stopped_messages),
        history_chars=coordinator.history_chars,
        usage=usage_total,
    )
    if not parallel:
        resume.delegate_to = coordinator.delegate_to
        resume.context_usage = coordinator.context_usage
        resume.retry_count = coordinator.retry_count
    resume.partial_tool_results = [result for _, result in partials]
    # The resuming run is started by the last delegate to finish, with its result as input.
    last_call, last_result = partials[-1]
    resume.input = {
        "interactiveToolCallResult": {
            "toolCallId": last_call.id,
            "toolName": last_call.tool_call["toolName"],
            "skillName": last_result["skillName"],
            "text": last_result["result"][0]["text"],
        }
    }
    resume.start("stoppedByDelegate", [])
    resume.finish_all_tool_calls(partials)
    _work(resume, job.few_steps((0, 0, 1)))
    resume.final_step(attempt=False, stream_result=rng.random() < 0.3)


def _scenario_retry(job: _Job) -> None:
    rng = job.rng
    run = job.fresh_run(job.pick(_SOLO_EXPERTS))
    variant, reason = rng.choice(_RETRY_REASONS)
    run.retry_step(variant, reason)
    _work(run, job.long_steps() if job.store.long else rng.randint(0, 3))
    run.final_step(attempt=rng.random() < 0.5, stream_result=rng.random() < 0.5)


def _scenario_provider_error(job: _Job) -> None:
    rng = job.rng
    run = job.fresh_run(job.pick(_SOLO_EXPERTS))
    _work(run, job.few_steps((0, 0, 1, 2, 3)))
    run.begin_generation()
    run.tick(400, 90_000)  # an overloaded provider can hang a long time before failing
    error = {
        "name": "AI_NoOutputGeneratedError",
        "message": rng.choice(_PROVIDER_ERRORS),
        "isRetryable": False,
    }
    run.stop("stopRunByError", "stoppedByError", error=error)


def _scenario_max_steps(job: _Job) -> None:
    job.max_steps = job.rng.randint(30, 100) if job.store.long else job.rng.randint(3, 6)
    run = job.fresh_run(job.pick(_SOLO_EXPERTS))
    _work(run, job.max_steps - 1)
    run.tool_step()
    run.stop("stopRunByExceededMaxSteps", "stoppedByExceededMaxSteps")


def _scenario_interactive(job: _Job) -> None:
    rng = job.rng
    run = job.fresh_run(job.pick(_INTERACTIVE_EXPERTS))
    _work(run, job.few_steps((0, 0, 1, 2)))
    message, (call,), usage = run.call_tools(tools=("askUser",))
    run.emit(
        "callInteractiveTool",
        run.tick(3, 15),
        newMessage=message,
        toolCall=call.tool_call,
        usage=usage.json(),
    )
    run.pending_tool_calls = [call.tool_call]
    run.partial_tool_results = []
    run.stop("stopRunByInteractiveTool", "stoppedByInteractiveTool", on_calls=True)
    if rng.random() < 0.2:
        return  # never answered: the job stays stoppedByInteractiveTool
    job.continued = True
    answer_at = run.clock + rng.randint(15_000, 3_600_000)  # the user takes their time
    answer = _continuation(job, run, answer_at)
    result = {
        "id": call.id,
        "skillName": call.tool_call["skillName"],
        "toolName": call.tool_call["toolName"],
        "result": [{"type": "textPart", "id": job.store.new_id(), "text": rng.choice(_ANSWERS)}],
    }
    answer.retry_count = run.retry_count
    answer.partial_tool_results = [result]
    answer.input = {
        "interactiveToolCallResult": {
            "toolCallId": call.id,
            "toolName": call.tool_call["toolName"],
            "skillName": call.tool_call["skillName"],
            "text": result["result"][0]["text"],
        }
    }
    answer.start("stoppedByInteractiveTool", [])
    answer.finish_all_tool_calls([(call, result)])
    _work(answer, job.few_steps((0, 1, 2)))
    answer.final_step(attempt=rng.random() < 0.5, stream_result=rng.random() < 0.5)


def _continuation(job: _Job, previous: _Run, at: int) -> _Run:
    """A later run of the same job: a new run directory, checkpoints still under the first
    run's runId, history reloaded from the last checkpoint, step numbers continuing."""
    run = _Run(
        job,
        previous.expert,
        layout_=_RESUMED_LAYOUT,
        step=previous.step + 1,
        clock=at,
        process_start=job.new_process(at),
        checkpoint_run_id=previous.checkpoint_run_id,
        messages=_reloaded(previous.messages),
        history_chars=previous.history_chars,
        usage=previous.usage,
    )
    run.context_usage = previous.context_usage
    return run


def _scenario_continued(job: _Job) -> None:
    rng = job.rng
    job.continued = True
    run = job.fresh_run(job.pick(_SOLO_EXPERTS))
    _work(run, job.few_steps((0, 0, 1, 2)))
    run.final_step(attempt=rng.random() < 0.4, stream_result=rng.random() < 0.4)
    for _ in range(rng.choice((1, 1, 2))):
        later = _continuation(job, run, run.last_at + rng.randint(60_000, 2 * _DAY_MS))
        query = job.store.fill(rng.choice(_FOLLOW_UPS))
        later.input = {"text": query}
        later.start("completed", [later.message("userMessage", [later.text_part(query)])])
        _work(later, job.few_steps((0, 0, 1)))
        later.final_step(attempt=False, stream_result=rng.random() < 0.4)
        run = later


def _scenario_running(job: _Job) -> None:
    rng = job.rng
    run = job.fresh_run(job.pick(_SOLO_EXPERTS))
    _work(run, job.long_steps() if job.store.long else rng.randint(1, 5))
    # Caught mid-generation: a step has begun, nothing has ended it.
    run.begin_generation()
    if job.reasons:
        run.emit("startStreamingReasoning", run.tick(200, 1500))
        for delta in run.store.prose(run.store.size(120)).split(" ")[: rng.randint(1, 6)]:
            run.emit("streamReasoning", run.tick(15, 160), delta=delta + " ")


_SCENARIOS = {
    "tools": _scenario_tools,
    "plain": _scenario_plain,
    "delegation": lambda job: _scenario_delegation(job, parallel=False),
    "parallel_delegation": lambda job: _scenario_delegation(job, parallel=True),
    "retry": _scenario_retry,
    "provider_error": _scenario_provider_error,
    "max_steps": _scenario_max_steps,
    "interactive": _scenario_interactive,
    "continued": _scenario_continued,
    "running": _scenario_running,
}
# Relative frequencies; the first jobs of a store cover every scenario once anyway.
SCENARIO_WEIGHTS = {
    "tools": 28,
    "plain": 12,
    "delegation": 9,
    "parallel_delegation": 6,
    "retry": 8,
    "provider_error": 8,
    "max_steps": 6,
    "interactive": 9,
    "continued": 8,
    "running": 6,
}
SCENARIOS = tuple(SCENARIO_WEIGHTS)
# The "long" profile: the same scenarios, mostly long tool sessions.
LONG_SCENARIO_WEIGHTS = {
    "tools": 50,
    "plain": 2,
    "delegation": 10,
    "parallel_delegation": 6,
    "retry": 5,
    "provider_error": 5,
    "max_steps": 4,
    "interactive": 6,
    "continued": 8,
    "running": 4,
}
PROFILES = ("default", "long")


def _job_starts(rng: random.Random, jobs: int, start_ms: int) -> list[int]:
    """Start times over ~30 days, increasing with the job index; about one gap in six is
    seconds to minutes, so that job overlaps its predecessor."""
    span = 30 * _DAY_MS
    short = [rng.random() < 0.17 for _ in range(jobs)]
    gaps = [rng.randint(2_000, 600_000) if s else 0 for s in short]
    long_weights = [0.0 if s else rng.expovariate(1.0) for s in short]
    budget = span - sum(gaps)
    total_weight = sum(long_weights[1:]) or 1.0  # the first job has no gap before it
    starts, at = [], start_ms
    for index in range(jobs):
        if index:
            at += gaps[index] or max(2_000, int(budget * long_weights[index] / total_weight))
        starts.append(at)
    return starts


def generate_store(
    writer: StoreWriter,
    *,
    jobs: int = 20,
    seed: int = 0,
    start_ms: int = 1_790_000_000_000,
    with_job_files: float | None = None,
    with_run_settings: float | None = None,
    scale: float = 1.0,
    profile: str = "default",
    until_bytes: int | None = None,
) -> GenerationReport:
    """Write ``jobs`` realistic jobs through ``writer``; same arguments, same bytes.

    The first 10 jobs cover every scenario once (in a seeded order), later ones are drawn by
    ``SCENARIO_WEIGHTS``. ``with_job_files`` / ``with_run_settings``: probability that a job
    gets job.json / that its runs get run-setting.json (the current runtime writes neither);
    they change nothing else, so stores with and without them hold the same events. Left
    unset they are 0.5, or 0 in the "long" profile.
    ``scale`` multiplies the length of message texts and changes nothing else either (same
    jobs, ids, times and file names), to build big stores fast. Jobs are written one at a
    time: memory holds one job.

    ``profile="long"`` models long sessions as today's runtime writes them (spec §5): runs of
    tens to a hundred-plus steps, tool results of 1-100 KB of code, prose and command output,
    so checkpoints and the events that carry them grow with the square of a session; no
    job.json or run-setting.json unless asked. ``until_bytes`` stops after the job that brings
    the store to that size (``jobs`` is then an upper bound; start times stay those of
    ``jobs`` jobs over a month, so a store cut short spans less of it).
    """
    if jobs < 0 or scale <= 0:
        raise ValueError("jobs must be >= 0 and scale > 0")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    long = profile == "long"
    optional = 0.0 if long else 0.5
    with_job_files = optional if with_job_files is None else with_job_files
    with_run_settings = optional if with_run_settings is None else with_run_settings
    weights = LONG_SCENARIO_WEIGHTS if long else SCENARIO_WEIGHTS
    rng = random.Random(seed)
    report = GenerationReport(seed=seed, scale=scale)
    store = _Store(rng, _Recorder(writer, report), scale, long=long)
    names = list(SCENARIOS)
    rng.shuffle(names)
    picks = names[:jobs] + rng.choices(
        SCENARIOS, weights=[weights[name] for name in SCENARIOS], k=max(0, jobs - len(names))
    )
    starts = _job_starts(rng, jobs, start_ms)
    # Planted quirks: a few % of jobs, plus one tools job (it always reaches step 2, where
    # the unknown event goes) in any store of 10+ jobs, which always has one.
    tools_jobs = [index for index, name in enumerate(picks) if name == "tools"]
    later = [index for index in tools_jobs if index >= jobs // 2]
    forced = (later or tools_jobs)[0] if jobs >= 10 else None
    counts: Counter[str] = Counter()
    for index, (scenario, start) in enumerate(zip(picks, starts, strict=True)):
        job = _Job(
            store,
            scenario=scenario,
            start_ms=start,
            with_job_file=rng.random() < with_job_files,
            with_run_settings=rng.random() < with_run_settings,
            unknown_event=index == forced or rng.random() < 0.03,
            extra_field=index == forced or rng.random() < 0.03,
        )
        _SCENARIOS[scenario](job)
        job.finish()
        counts[scenario] += 1
        if until_bytes is not None and report.bytes >= until_bytes:
            break
    report.scenarios = {name: counts[name] for name in SCENARIOS if counts[name]}
    return report


# --------------------------------------------------------------------------------- CLI


def _byte_size(text: str) -> int:
    """A size such as ``2G``, ``500M``, ``64K`` or a plain number of bytes."""
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    number, unit = (text[:-1], text[-1].upper()) if text[-1:].upper() in units else (text, "")
    try:
        value = float(number) * units.get(unit, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 2G, 500M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (must be > 0)")
    return int(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m perstack_logq.synth",
        description="Write a realistic, seeded Perstack store (for tests and benchmarks).",
    )
    parser.add_argument("--output", required=True, type=Path, help="store root (holds jobs/)")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="default",
        help=(
            "long: sessions of tens to a hundred-plus steps with 1-100 KB tool results, "
            "no job.json or run-setting.json by default (as today's runtime writes)"
        ),
    )
    parser.add_argument("--jobs", type=int, help="jobs to write (default 20; with --size, 1000)")
    parser.add_argument(
        "--size", type=_byte_size, metavar="BYTES", help="stop once the store holds this much (2G)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies message text sizes")
    parser.add_argument(
        "--with-job-files", type=float, metavar="P", help="share of jobs with job.json"
    )
    parser.add_argument(
        "--with-run-settings", type=float, metavar="P", help="share with run-setting.json"
    )
    parser.add_argument("--overwrite", action="store_true", help="write into an existing store")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    try:
        report = generate_store(
            DirectoryWriter(args.output, overwrite=args.overwrite),
            jobs=args.jobs if args.jobs is not None else (20 if args.size is None else 1000),
            seed=args.seed,
            scale=args.scale,
            with_job_files=args.with_job_files,
            with_run_settings=args.with_run_settings,
            profile=args.profile,
            until_bytes=args.size,
        )
    except (UsageError, ValueError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - began
    rate = report.bytes / 1e6 / elapsed if elapsed else 0.0
    print(f"{report.summary()} in {args.output} ({elapsed:.1f} s, {rate:.0f} MB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
