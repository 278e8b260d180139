"""Which job `perstack log` shows by default (views/log.py latest_job_id).

A cache answers from its last full listing; a throw-away database (`--no-cache`) lists only
the job.json files and the event names of the jobs without one. Both must name the job that
the files themselves name: the newest startedAt of job.json, else of the earliest event file
name (spec §4), ties to the first job id. The expected job is worked out here from the files.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from perstack_logq.engine.cache import open_database
from perstack_logq.storage.filesystem import FileSystemStorage
from perstack_logq.synth import DirectoryWriter, generate_store
from perstack_logq.views.log import latest_job_id

EVENT_NAME = re.compile(r"^event-(\d{1,19})-(\d{1,19})-(.+)\.json$")
LAST_JS_DATE_MS = 8_640_000_000_000_000


def expected_latest(root: Path) -> str | None:
    started: dict[str, int] = {}
    for job in sorted((root / "jobs").iterdir()):
        try:
            started[job.name] = orjson.loads((job / "job.json").read_bytes())["startedAt"]
            continue
        except (FileNotFoundError, orjson.JSONDecodeError):
            pass
        times = [
            int(match[1])
            for path in job.glob("runs/*/*")
            if path.is_file() and (match := EVENT_NAME.match(path.name))
            if int(match[1]) <= LAST_JS_DATE_MS
        ]
        if times:
            started[job.name] = min(times)
    if not started:
        return None
    return min(started, key=lambda job_id: (-started[job_id], job_id))


def _newest_time(root: Path) -> int:
    times = [int(m[1]) for p in root.glob("jobs/*/runs/*/*") if (m := EVENT_NAME.match(p.name))]
    return max(times)


def _event(root: Path, job_id: str, name: str) -> None:
    run = root / "jobs" / job_id / "runs" / "r"
    run.mkdir(parents=True, exist_ok=True)
    (run / name).write_bytes(b'{"type":"startRun"}')


def _newest_job_loses_its_job_file(root: Path) -> None:
    newest = max(
        (orjson.loads(path.read_bytes())["startedAt"], path)
        for path in root.glob("jobs/*/job.json")
    )[1]
    newest.unlink()


def _newest_job_file_is_not_json(root: Path) -> None:
    newest = max(
        (orjson.loads(path.read_bytes())["startedAt"], path)
        for path in root.glob("jobs/*/job.json")
    )[1]
    newest.write_bytes(b"{not json")


def _new_job_with_leading_zeros(root: Path) -> None:
    """A later job whose event time is written with leading zeros, beside names that are not
    event times (too long a number, no step) which must not count."""
    later = _newest_time(root) + 60_000
    _event(root, "zz-later", f"event-000{later}-1-startRun.json")
    _event(root, "zz-later", "event-1-startRun.json")
    _event(root, "zz-later", f"event-{'9' * 25}-1-startRun.json")
    _event(root, "zz-not-a-job", f"event-{'1' * 25}-1-startRun.json")


def _two_new_jobs_tie(root: Path) -> None:
    later = _newest_time(root) + 60_000
    for job_id in ("tie-b", "tie-a"):
        _event(root, job_id, f"event-{later}-1-startRun.json")
        _event(root, job_id, f"event-{later + 5}-2-callTools.json")


def _jobs_without_job_files_that_overlap(root: Path) -> None:
    """What a job's start is: its earliest event, not its latest, nor the first one listed,
    nor the smallest as text (a time of nine digits is earlier than one of thirteen)."""
    later = _newest_time(root) + 60_000
    _event(root, "a-long-runner", f"event-{later}-1-startRun.json")
    _event(root, "a-long-runner", f"event-{later + 600_000}-9-completeRun.json")
    _event(root, "b-started-next", f"event-{later + 60_000}-1-startRun.json")
    _event(root, "c-started-in-1970", f"event-{later + 900_000}-9-completeRun.json")
    _event(root, "c-started-in-1970", "event-999999999-1-startRun.json")
    _event(root, "c-started-in-1970", f"event-{later + 800_000}-5-callTools.json")


CASES: dict[str, Callable[[Path], None]] = {
    "jobs without job.json that overlap": _jobs_without_job_files_that_overlap,
    "as generated": lambda root: None,
    "the newest job loses its job.json": _newest_job_loses_its_job_file,
    "the newest job.json is not JSON": _newest_job_file_is_not_json,
    "event times with leading zeros and names that are none": _new_job_with_leading_zeros,
    "a tie": _two_new_jobs_tie,
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("latest") / "store"
    generate_store(DirectoryWriter(root), jobs=30, seed=5, with_job_files=0.5)
    return root


@pytest.mark.parametrize("case", CASES)
def test_cache_and_no_cache_name_the_latest_job_the_files_name(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    root = tmp_path / "store"
    shutil.copytree(generated, root)
    CASES[case](root)
    expected = expected_latest(root)
    assert expected is not None
    storage = FileSystemStorage(root)
    cached = open_database(storage, cache_dir=tmp_path / "cache")
    try:
        assert latest_job_id(cached) == expected
    finally:
        cached.close()

    def whole_store_listed(*args: object, **kwargs: object) -> None:
        raise AssertionError("--no-cache listed the whole store")

    monkeypatch.setattr(FileSystemStorage, "list_changes", whole_store_listed)
    throw_away = open_database(storage, use_cache=False)
    try:
        assert latest_job_id(throw_away) == expected
    finally:
        throw_away.close()
