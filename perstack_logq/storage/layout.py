"""The store's layout: how keys are built and what a key means (spec §1).

Both the reader and the sample-store generator go through this module, so the two cannot
disagree about names.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from perstack_logq.errors import UsageError

JOBS_DIR = "jobs"
JOB_FILE = "job.json"
RUN_SETTING_FILE = "run-setting.json"
EVENT_PREFIX = "event-"
JSON_SUFFIX = ".json"
# Numbers in a key land in BIGINT columns: a larger one makes the key unknown, never a crash.
_INT64_MAX = 2**63 - 1


# The event types of the runtime (storage format §2, RunEvent), in the order of its schema: the
# reader names them in hints and the generator writes them, so both take them from here. A
# store may hold newer ones; nothing refuses a type that is not listed.
EVENT_TYPES = (
    "startRun",
    "startGeneration",
    "retry",
    "callTools",
    "callInteractiveTool",
    "callDelegate",
    "resolveToolResults",
    "attemptCompletion",
    "finishToolCall",
    "resumeToolCalls",
    "finishAllToolCalls",
    "continueToNextStep",
    "stopRunByInteractiveTool",
    "stopRunByDelegate",
    "stopRunByExceededMaxSteps",
    "stopRunByError",
    "completeRun",
    "startStreamingReasoning",
    "streamReasoning",
    "completeStreamingReasoning",
    "startStreamingRunResult",
    "streamRunResult",
    "completeStreamingRunResult",
)


class KeyKind(Enum):
    JOB = "job"
    CHECKPOINT = "checkpoint"
    RUN_SETTING = "run_setting"
    EVENT = "event"
    UNKNOWN = "unknown"  # stray files, bad event names: counted and reported, never decoded


# NamedTuples, not dataclasses: a sync builds one per listed file, and a tuple is several
# times cheaper to create.
class EventName(NamedTuple):
    timestamp: int
    step_number: int
    type: str


class ParsedKey(NamedTuple):
    kind: KeyKind
    job_id: str
    run_id: str | None = None
    checkpoint_id: str | None = None
    event: EventName | None = None


def job_prefix(job_id: str) -> str:
    return f"{JOBS_DIR}/{job_id}/"


def job_key(job_id: str) -> str:
    return f"{JOBS_DIR}/{job_id}/{JOB_FILE}"


def checkpoint_key(job_id: str, checkpoint_id: str) -> str:
    return f"{JOBS_DIR}/{job_id}/checkpoints/{checkpoint_id}{JSON_SUFFIX}"


def run_prefix(job_id: str, run_id: str) -> str:
    return f"{JOBS_DIR}/{job_id}/runs/{run_id}/"


def run_setting_key(job_id: str, run_id: str) -> str:
    return f"{run_prefix(job_id, run_id)}{RUN_SETTING_FILE}"


def event_file_name(timestamp: int, step_number: int, event_type: str) -> str:
    return f"{EVENT_PREFIX}{timestamp}-{step_number}-{event_type}{JSON_SUFFIX}"


def event_key(job_id: str, run_id: str, timestamp: int, step_number: int, event_type: str) -> str:
    return f"{run_prefix(job_id, run_id)}{event_file_name(timestamp, step_number, event_type)}"


# What a filesystem listing puts before each byte of a name that is not UTF-8.
NOT_UTF8 = "\ufffd"
# A directory a filesystem listing could not read is listed as one entry: its own key (ending
# in "/") with this before the reason as its version.
_UNREADABLE_DIRECTORY = "unreadable directory: "
_MAX_DATE_MS = 8_640_000_000_000_000  # new Date(8.64e15): 275760-09-13, JavaScript's last day


def claimed_event_time(name: str) -> int | None:
    """The time a name that starts as an event file's (``event-{digits}-``) claims, the rest of
    the name unchecked (parse_event_file_name checks it); None for any other name, and for 20
    digits or more, which no event time has. A cheap first sieve over many names."""
    time_text = name[len(EVENT_PREFIX) : name.find("-", len(EVENT_PREFIX))]
    if not (
        name.startswith(EVENT_PREFIX)
        and time_text.isdigit()
        and time_text.isascii()
        and len(time_text) < 20
    ):
        return None
    return int(time_text)


def parse_event_file_name(name: str) -> EventName | None:
    """``event-{ms}-{step}-{type}.json`` -> its parts; None when the name does not fit.

    The type may itself contain ``-``: everything after the step is the type.
    """
    if not (name.startswith(EVENT_PREFIX) and name.endswith(JSON_SUFFIX)):
        return None
    fields = name[len(EVENT_PREFIX) : -len(JSON_SUFFIX)].split("-")
    if len(fields) < 3:
        return None
    timestamp, step, event_type = fields[0], fields[1], "-".join(fields[2:])
    if not (timestamp.isdigit() and step.isdigit()) or not event_type:
        return None
    if not (timestamp.isascii() and step.isascii()):
        return None
    # Compared as text first: int() of a 10,000-digit name would be slow (and refused).
    if len(timestamp) > 19 or len(step) > 19:
        return None
    timestamp_number, step_number = int(timestamp), int(step)
    # A time past JavaScript's last Date (the runtime writes Date.now()) fits no TIMESTAMP.
    if timestamp_number > _MAX_DATE_MS or step_number > _INT64_MAX:
        return None
    return EventName(timestamp_number, step_number, event_type)


def parse_key(key: str) -> ParsedKey | None:
    """What a store-relative key holds; None for keys outside ``jobs/{jobId}/``.

    A key with an empty job id (``jobs//runs/r/...``, possible in an object store) is UNKNOWN
    with job id "": counted as skipped like any stray file, never silently dropped.
    """
    parts = key.split("/")
    if NOT_UTF8 in key and len(parts) >= 2 and parts[0] == JOBS_DIR:
        # A name the runtime does not write, even a job's own (storage/filesystem.py).
        return ParsedKey(KeyKind.UNKNOWN, parts[1])
    if len(parts) < 3 or parts[0] != JOBS_DIR:
        return None
    job_id = parts[1]
    if not job_id:
        return ParsedKey(KeyKind.UNKNOWN, "")
    rest = parts[2:]
    if rest == [JOB_FILE]:
        return ParsedKey(KeyKind.JOB, job_id)
    if len(rest) == 2 and rest[0] == "checkpoints" and rest[1].endswith(JSON_SUFFIX):
        checkpoint_id = rest[1][: -len(JSON_SUFFIX)]
        if checkpoint_id:
            return ParsedKey(KeyKind.CHECKPOINT, job_id, checkpoint_id=checkpoint_id)
    if len(rest) == 3 and rest[0] == "runs" and rest[1]:
        run_id, name = rest[1], rest[2]
        if name == RUN_SETTING_FILE:
            return ParsedKey(KeyKind.RUN_SETTING, job_id, run_id=run_id)
        event = parse_event_file_name(name)
        if event is not None:
            return ParsedKey(KeyKind.EVENT, job_id, run_id=run_id, event=event)
    return ParsedKey(KeyKind.UNKNOWN, job_id)


def unknown_layout_detail(key: str) -> str:
    """Why a key is not part of the layout, for the skipped file's detail."""
    parts = key.split("/")
    if len(parts) >= 3 and parts[0] == JOBS_DIR and not parts[1]:
        return "empty job id in the key"
    if NOT_UTF8 in key:
        return "a name that is not UTF-8, each bad byte shown as U+FFFD and its hex value"
    name = parts[-1]
    if name.startswith(EVENT_PREFIX) and name.endswith(JSON_SUFFIX):
        fields = name[len(EVENT_PREFIX) : -len(JSON_SUFFIX)].split("-")
        numbers = [field for field in fields[:2] if field.isdigit() and field.isascii()]
        if any(len(field) > 19 or int(field) > _INT64_MAX for field in numbers):
            return "a number in the event file name is too large (over 2^63-1)"
    return "not a job, checkpoint, run setting or event file"


def unreadable_directory_version(reason: str) -> str:
    """The version a listing gives a directory it could not read (``permission denied``)."""
    return _UNREADABLE_DIRECTORY + reason


def unreadable_directory_reason(key: str, version: str) -> str | None:
    """Why the listed ``key`` is a directory that could not be read, or None if it is not one
    (an S3 folder marker also ends in "/", with an ETag for its version)."""
    if key.endswith("/") and version.startswith(_UNREADABLE_DIRECTORY):
        return version[len(_UNREADABLE_DIRECTORY) :]
    return None


def validate_identifier(option: str, value: str) -> str:
    """Refuse an id from the user that could escape its directory (spec §1).

    ``option`` names where it came from (``--job``), so the message says what to fix.
    """
    bad = next((s for s in ("/", "\\", "..", "\x00") if s in value), None)
    if bad is not None or not value.strip():
        printable = value.replace("\x00", "\\0")
        problem = f"contains {'a NUL byte' if bad == chr(0) else repr(bad)}" if bad else "is empty"
        raise UsageError(
            f"Invalid value for {option}: {printable!r} {problem}; "
            "ids are plain names like 'anaew4v18s62aanmx116dgi2'"
        )
    return value
