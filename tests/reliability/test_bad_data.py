"""Bad data in the store: each case has one decided outcome, and the records around it stay.

One copy of the runtime-written fixture store is damaged in every way at once, inside one job
(plus a few whole-job cases), and read through the real CLI. Outcomes (docs/reliability.md):

- skipped and counted in ``skipped_files`` (reason in brackets): empty file, truncated JSON,
  invalid UTF-8 [invalid_json]; an array, number or string [not_an_object]; required fields
  missing or of the wrong type, numbers too large for BIGINT [invalid_record]; an event file
  name that does not fit the pattern, stray files, files inside a directory where a file should
  be [unknown_layout];
- kept: unknown event types and unknown fields; an event whose jobId/runId disagree with its
  location (the location wins); events sharing an id (each file is one event);
- derived: a job without job.json, a run without run-setting.json (spec §4);
- ignored: symbolic links (never followed: a loop cannot hang a listing).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson
import pytest
from reliability_support import Result, cli, copy_fixture_store

from perstack_logq.engine.database import Database
from perstack_logq.storage.base import ReadFailure
from perstack_logq.storage.filesystem import FileSystemStorage
from perstack_logq.views.skipped import skipped_rows, skipped_summary

JOB = "mq65x3vs2c09epdmpdo634n5"  # 37 events in one run, job.json present
RUN = "jsnrahmhe2k82nsoph3r50vf"
VALID_EVENTS = 37
NO_JOB_FILE = "e85ixiyowknf70rghgs8z1hv"  # stoppedByMaxSteps, 16 events
NO_RUN_SETTING = "evfddf5yzwv1xprplk5khr1q"  # 6 events, one run
BAD_JOB_FILE = "xtcu14gwfvv2dw72kj2yw3k2"  # 6 events; job.json replaced by an invalid record

RUN_KEY = f"jobs/{JOB}/runs/{RUN}/"
TS = 1795851115300  # between the run's first events


def _event(event_type: str, ts: int, step: int = 1, **extra: object) -> bytes:
    record = {
        "type": event_type,
        "id": f"bad{ts}",
        "expertKey": "assistant",
        "timestamp": ts,
        "jobId": JOB,
        "runId": RUN,
        "stepNumber": step,
        **extra,
    }
    return orjson.dumps(record)


# Files added to RUN_KEY, with the reason each must be skipped for (None: kept as an event).
def _damaged_run_files(run_dir: Path) -> dict[str, tuple[bytes, str | None]]:
    real = (run_dir / "event-1795851115505-1-callTools.json").read_bytes()
    real_record = orjson.loads(real)
    return {
        f"event-{TS + 1}-1-startGeneration.json": (b"", "invalid_json"),
        f"event-{TS + 2}-1-callTools.json": (real[: len(real) // 2], "invalid_json"),
        f"event-{TS + 3}-1-retry.json": (
            _event("retry", TS + 3, reason="x").replace(b'"x"', b'"\xff\xfe"'),
            "invalid_json",
        ),
        f"event-{TS + 4}-1-startGeneration.json": (b"[1, 2, 3]", "not_an_object"),
        f"event-{TS + 5}-1-startGeneration.json": (b"42", "not_an_object"),
        f"event-{TS + 6}-1-startGeneration.json": (b'"an event"', "not_an_object"),
        f"event-{TS + 7}-1-startGeneration.json": (
            orjson.dumps({"id": "x", "jobId": JOB, "runId": RUN}),
            "invalid_record",
        ),
        f"event-{TS + 8}-1-startGeneration.json": (
            _event("startGeneration", TS + 8).replace(b'"stepNumber":1', b'"stepNumber":"one"'),
            "invalid_record",
        ),
        # A nested field of the wrong type: the event must not be half-decoded.
        f"event-{TS + 9}-1-callTools.json": (
            _event("callTools", TS + 9, toolCalls=[{"id": "c", "toolName": 7}]),
            "invalid_record",
        ),
        f"event-{TS + 10}-1-startGeneration.json": (
            _event("startGeneration", TS + 10).replace(
                b'"stepNumber":1', b'"stepNumber":18446744073709551615'
            ),
            "invalid_record",
        ),
        # Names that do not fit event-{ms}-{step}-{type}.json, and stray files.
        "event-abc-1-startRun.json": (_event("startRun", TS + 11), "unknown_layout"),
        "event-1795851115312-startRun.json": (_event("startRun", TS + 12), "unknown_layout"),
        "event-1795851115313-1-.json": (_event("startRun", TS + 13), "unknown_layout"),
        ".DS_Store": (b"\x00\x00\x00\x01Bud1", "unknown_layout"),
        "event-1795851115505-1-callTools.json~": (real, "unknown_layout"),
        ".event-1795851115505-1-callTools.json.swp": (b"b0VIM 9.0", "unknown_layout"),
        "notes.txt": (b"hello", "unknown_layout"),
        # Kept: an unknown type with unknown fields; a known type with an unknown field.
        f"event-{TS + 14}-1-brandNewEventType.json": (
            _event("brandNewEventType", TS + 14, novel={"nested": [1, 2]}),
            None,
        ),
        f"event-{TS + 15}-1-startGeneration.json": (
            _event("startGeneration", TS + 15, messages=[], futureField=True),
            None,
        ),
        # Kept under its location, whatever its body says.
        f"event-{TS + 16}-1-startGeneration.json": (
            orjson.dumps(
                {
                    **orjson.loads(_event("startGeneration", TS + 16)),
                    "jobId": "someOtherJob",
                    "runId": "someOtherRun",
                }
            ),
            None,
        ),
        # The same id as a real event, in a second file: both are events.
        f"event-{TS + 17}-1-callTools.json": (
            orjson.dumps({**real_record, "timestamp": TS + 17}),
            None,
        ),
    }


@pytest.fixture(scope="module")
def damaged_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The damaged copy, and the expected reason of every skipped key."""
    root = copy_fixture_store(tmp_path_factory.mktemp("damaged") / "store")
    run_dir = root / RUN_KEY
    expected: dict[str, str] = {}
    for name, (body, reason) in _damaged_run_files(run_dir).items():
        (run_dir / name).write_bytes(body)
        if reason is not None:
            expected[RUN_KEY + name] = reason
    # A directory where an event file should be, holding a file.
    as_dir = run_dir / f"event-{TS + 18}-1-callTools.json"
    as_dir.mkdir()
    (as_dir / "inner.json").write_bytes(_event("callTools", TS + 18))
    expected[f"{RUN_KEY}{as_dir.name}/inner.json"] = "unknown_layout"
    # Symbolic links: a loop, a link to a directory, a link posing as an event file.
    os.symlink(".", run_dir / "loop")
    os.symlink(str(root / "jobs"), run_dir / "jobs-link")
    os.symlink(
        "event-1795851115505-1-callTools.json", run_dir / f"event-{TS + 19}-1-callTools.json"
    )
    # Whole-job cases.
    (root / "jobs" / NO_JOB_FILE / "job.json").unlink()
    for setting in (root / "jobs" / NO_RUN_SETTING / "runs").glob("*/run-setting.json"):
        setting.unlink()
    bad_job = orjson.loads((root / "jobs" / BAD_JOB_FILE / "job.json").read_bytes())
    del bad_job["status"]
    (root / "jobs" / BAD_JOB_FILE / "job.json").write_bytes(orjson.dumps(bad_job))
    expected[f"jobs/{BAD_JOB_FILE}/job.json"] = "invalid_record"
    # A stray file at the top of a job, and one next to jobs/.
    (root / "jobs" / JOB / "Thumbs.db").write_bytes(b"\x00")
    (root / "jobs" / ".DS_Store").write_bytes(b"\x00")
    expected[f"jobs/{JOB}/Thumbs.db"] = "unknown_layout"
    return root, expected


@pytest.fixture(scope="module")
def job_log(damaged_store: tuple[Path, dict[str, str]]) -> Result:
    root, _ = damaged_store
    return cli(
        "--storage",
        str(root),
        "--no-cache",
        "--job",
        JOB,
        "--json",
        "--take",
        "0",
        store=root,
        process=True,
    )


def test_damaged_job_still_shows_every_valid_event(job_log: Result) -> None:
    assert job_log.returncode == 0, job_log.stderr
    output = orjson.loads(job_log.stdout)
    events = output["events"]
    # 37 real events + unknown type + unknown field + misplaced ids + duplicate id.
    assert len(events) == VALID_EVENTS + 4
    assert output["totalEventsBeforeLimit"] == VALID_EVENTS + 4
    types = [event["type"] for event in events]
    assert "brandNewEventType" in types
    novel = next(event for event in events if event["type"] == "brandNewEventType")
    assert novel["novel"] == {"nested": [1, 2]}  # unknown fields are kept as they are
    assert any(event.get("futureField") is True for event in events)
    misplaced = next(event for event in events if event["timestamp"] == TS + 16)
    assert misplaced["jobId"] == "someOtherJob"  # shown as stored, under its location's job
    real = next(event for event in events if event["timestamp"] == 1795851115505)
    twins = [event for event in events if event["id"] == real["id"]]
    assert len(twins) == 2
    assert output["job"]["id"] == JOB
    assert output["job"]["status"] == "completed"


def test_every_bad_file_is_skipped_with_its_reason(
    damaged_store: tuple[Path, dict[str, str]],
) -> None:
    root, expected = damaged_store
    result = cli(
        "--storage",
        str(root),
        "--no-cache",
        "query",
        "--format",
        "json",
        "SELECT source_key, reason, detail FROM skipped_files ORDER BY 1",
        store=root,
    )
    assert result.returncode == 0, result.stderr
    rows = orjson.loads(result.stdout)
    assert {row["source_key"]: row["reason"] for row in rows} == expected
    by_key = {row["source_key"]: row["detail"] for row in rows}
    assert by_key[f"{RUN_KEY}event-{TS + 1}-1-startGeneration.json"] == "empty file"
    assert by_key[f"{RUN_KEY}event-{TS + 4}-1-startGeneration.json"] == (
        "a JSON array, not an object"
    )
    assert "UTF-8" in by_key[f"{RUN_KEY}event-{TS + 3}-1-retry.json"]
    assert by_key[f"{RUN_KEY}event-{TS + 8}-1-startGeneration.json"] == (
        "stepNumber must be a number (got string)"
    )
    assert "out of range" in by_key[f"{RUN_KEY}event-{TS + 10}-1-startGeneration.json"]


def test_half_invalid_event_leaves_no_partial_rows(
    damaged_store: tuple[Path, dict[str, str]],
) -> None:
    root, _ = damaged_store
    key = f"{RUN_KEY}event-{TS + 9}-1-callTools.json"
    result = cli(
        "--storage",
        str(root),
        "--no-cache",
        "query",
        "--format",
        "json",
        "SELECT (SELECT count(*) FROM events WHERE source_key = $k) AS events, "
        "(SELECT count(*) FROM tool_calls WHERE source_key = $k) AS calls".replace(
            "$k", f"'{key}'"
        ),
        store=root,
    )
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout) == [{"events": 0, "calls": 0}]


def test_summary_line_and_list(damaged_store: tuple[Path, dict[str, str]]) -> None:
    root, expected = damaged_store
    database = Database(FileSystemStorage(root))
    try:
        database.sync()
        summary = skipped_summary(database)
        rows = skipped_rows(database)
        job_only = skipped_summary(database, [BAD_JOB_FILE])
        clean = skipped_summary(database, [NO_RUN_SETTING])
    finally:
        database.close()
    counts = {"invalid_json": 3, "not_an_object": 3, "invalid_record": 5, "unknown_layout": 9}
    assert sorted(expected.values()) == sorted(r for r, n in counts.items() for _ in range(n))
    assert summary == (
        "20 files skipped (9 unknown layout, 5 invalid record, 3 invalid JSON, "
        "3 not an object); run with --show-skipped for the list"
    )
    assert [row.key for row in rows] == sorted(expected)
    assert str(rows[0]).startswith(f"{rows[0].key}: ")
    assert job_only == ("1 file skipped (1 invalid record); run with --show-skipped for the list")
    assert clean is None


def test_cli_warns_with_the_summary_of_the_job_shown(job_log: Result) -> None:
    """One warning line on stderr (never in the JSON on stdout), for the job shown."""
    assert job_log.stderr == (
        "warning: 19 files skipped (9 unknown layout, 4 invalid record, 3 invalid JSON, "
        "3 not an object); run with --show-skipped for the list\n"
    )


def test_show_skipped_lists_each_file(damaged_store: tuple[Path, dict[str, str]]) -> None:
    root, expected = damaged_store
    result = cli(
        "query", "--storage", str(root), "--no-cache", "--show-skipped", "SELECT 1", store=root
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines] == sorted(expected)
    assert lines[0].startswith("skipped: jobs/")
    assert all(" (" in line and line.endswith(")") for line in lines)


def test_job_without_job_json_is_derived_from_its_data(
    damaged_store: tuple[Path, dict[str, str]],
) -> None:
    root, _ = damaged_store
    result = cli(
        "--storage",
        str(root),
        "--no-cache",
        "--job",
        NO_JOB_FILE,
        "--json",
        "--take",
        "0",
        store=root,
    )
    assert result.returncode == 0, result.stderr
    output = orjson.loads(result.stdout)
    assert len(output["events"]) == 16
    assert output["job"]["id"] == NO_JOB_FILE
    assert output["job"]["status"] == "stoppedByMaxSteps"  # from the last checkpoint (§4)


def test_run_without_run_setting_and_job_with_invalid_job_json(
    damaged_store: tuple[Path, dict[str, str]],
) -> None:
    root, _ = damaged_store
    for job_id in (NO_RUN_SETTING, BAD_JOB_FILE):
        result = cli(
            "--storage",
            str(root),
            "--no-cache",
            "--job",
            job_id,
            "--json",
            "--take",
            "0",
            store=root,
        )
        assert result.returncode == 0, result.stderr
        output = orjson.loads(result.stdout)
        assert len(output["events"]) == 6
        assert output["job"]["id"] == job_id


def test_every_command_survives_the_damaged_store(
    damaged_store: tuple[Path, dict[str, str]],
) -> None:
    root, _ = damaged_store
    for args in (
        ("--storage", str(root), "--no-cache"),
        ("--storage", str(root), "--no-cache", "--job", JOB, "--verbose", "--take", "0"),
        ("jobs", "--storage", str(root), "--no-cache"),
        ("info", "--storage", str(root), "--no-cache"),
    ):
        result = cli(*args, store=root)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_50_mb_event_is_read_and_shown(tmp_path: Path) -> None:
    root = copy_fixture_store(tmp_path / "store")
    run_dir = root / RUN_KEY
    image = {
        "type": "imageInlinePart",
        "id": "img",
        "mimeType": "image/png",
        "encodedData": "A" * (50 * 1024 * 1024),
    }
    message = {"id": "m", "type": "userMessage", "contents": [image]}
    big = _event("startGeneration", TS + 20, messages=[message])
    assert len(big) > 50 * 1024 * 1024
    (run_dir / f"event-{TS + 20}-1-startGeneration.json").write_bytes(big)
    result = cli("--storage", str(root), "--no-cache", "--job", JOB, "--take", "0", store=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("[Step ") == VALID_EVENTS + 1
    assert len(result.stdout) < 100_000  # the image is not printed


@pytest.mark.parametrize("ids", [["m1"], [["m1"]], [{"id": "m1"}], "m1"])
@pytest.mark.parametrize("cache", ["--no-cache", "cache"])
def test_a_file_that_holds_our_own_marker_is_shown_as_it_holds_it(
    tmp_path: Path, ids: object, cache: str
) -> None:
    """The cache keeps a marker in place of each conversation (decode/conversation.py); a
    store's file may hold one of its own, whatever its ids: it is never put back, nor breaks
    the job's view."""
    root = copy_fixture_store(tmp_path / "store")
    forged = {"$perstack_logq": "messages", "ids": ids, "digest": "0"}
    event = _event("startGeneration", TS + 20, messages=forged)
    (root / RUN_KEY / f"event-{TS + 20}-1-startGeneration.json").write_bytes(event)
    where = ["--no-cache"] if cache == "--no-cache" else ["--cache-dir", str(tmp_path / "cache")]
    args = ("--storage", str(root), *where, "--job", JOB, "--json", "--take", "0")
    result = cli(*args, store=root)
    assert result.returncode == 0, result.stderr
    events = orjson.loads(result.stdout)["events"]
    assert len(events) == VALID_EVENTS + 1
    assert [e["messages"] for e in events if e["timestamp"] == TS + 20] == [forged]


class _VanishingStorage(FileSystemStorage):
    """The real filesystem store, where one file disappears between listing and reading
    (a live store, a cleanup, a permission change), and comes back once ``restore`` is set."""

    def __init__(self, root: Path, key: str) -> None:
        super().__init__(root)
        self.key = key
        self.restore = False

    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]:
        path, hidden = self.root / self.key, self.root / "hidden"
        if not self.restore:
            path.rename(hidden)
        try:
            yield from super().read_objects(keys, max_bytes=max_bytes)
        finally:
            if not self.restore:
                hidden.rename(path)


def test_unreadable_file_is_skipped_then_read_by_the_next_sync(store_copy: Path) -> None:
    key = f"{RUN_KEY}event-1795851115505-1-callTools.json"
    storage = _VanishingStorage(store_copy, key)
    database = Database(storage)
    try:
        report = database.sync()
        assert report.unreadable == [key]
        assert skipped_summary(database) == (
            "1 file skipped (1 unreadable); run with --show-skipped for the list"
        )
        assert [str(row) for row in skipped_rows(database)] == [f"{key}: unreadable (not found)"]
        storage.restore = True
        database.sync()
        assert skipped_summary(database) is None
        events = database.sql("SELECT count(*) FROM events WHERE source_key = ?", [key])
        assert events.fetchone() == (1,)
    finally:
        database.close()


class _GrowingStorage(FileSystemStorage):
    """The real filesystem store, where one listed file grows to ``size`` bytes (sparse: no
    disk) before it is read: a live store's file rewritten between the listing and the read."""

    def __init__(self, root: Path, key: str, size: int) -> None:
        super().__init__(root)
        self.key = key
        self.size = size

    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]:
        with open(self.root / self.key, "r+b") as handle:
            handle.truncate(self.size)
        yield from super().read_objects(keys, max_bytes=max_bytes)


def test_a_file_grown_past_the_limit_after_the_listing_is_not_read(
    store_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read, it would be 5 MB of mostly zeros in memory, and an invalid JSON skip; refused at
    the read, it is left for the next sync, whose listing sees its size."""
    key = f"{RUN_KEY}event-1795851115505-1-callTools.json"
    monkeypatch.setenv("PERSTACK_LOGQ_MAX_FILE_MB", "1")
    database = Database(_GrowingStorage(store_copy, key, 5 * 10**6))
    try:
        assert database.sync().unreadable == [key]
        assert [str(row) for row in skipped_rows(database)] == [
            f"{key}: unreadable (5,000,000 bytes when read, over the limit of 1,000,000 bytes)"
        ]
        database.sync()
        assert [str(row) for row in skipped_rows(database)] == [
            f"{key}: too large (5,000,000 bytes; files over 1,000,000 bytes are not read "
            "(PERSTACK_LOGQ_MAX_FILE_MB sets the limit in MB))"
        ]
    finally:
        database.close()


class _DeletingStorage(FileSystemStorage):
    """The real filesystem store, where one listed file is deleted before it is read."""

    def __init__(self, root: Path, key: str) -> None:
        super().__init__(root)
        self.key = key

    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]:
        (self.root / self.key).unlink(missing_ok=True)
        yield from super().read_objects(keys, max_bytes=max_bytes)


def test_unreadable_file_that_left_the_store_is_forgotten(store_copy: Path) -> None:
    database = Database(_DeletingStorage(store_copy, f"jobs/{JOB}/job.json"))
    try:
        database.sync()
        database.sync()
        assert skipped_summary(database) is None
    finally:
        database.close()
