"""FileSystemStorage over the runtime-written fixture store, and over bad or odd directories."""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support import FIXTURE_STORE
from support.cli import run_cli_as_a_user

from perstack_logq.errors import StorageError
from perstack_logq.storage.base import DirectoryState, ObjectInfo, ReadFailure
from perstack_logq.storage.filesystem import FileSystemStorage
from perstack_logq.storage.layout import KeyKind, parse_key

STATS = FIXTURE_STORE.parent.parent / "STATS.txt"
WHERE = "set [storage.filesystem] path in perstack.toml, PERSTACK_STORAGE_PATH or --storage"


def stats_per_job() -> dict[str, dict[str, int]]:
    """STATS.txt lines like ``<jobId> status=... runs=3 cps=5 events=19 run-settings=3``."""
    jobs = {}
    for line in STATS.read_text().splitlines():
        match = re.match(r"^([a-z0-9]{20,}) (.*)$", line)
        if match:
            fields = dict(field.split("=", 1) for field in match[2].split())
            jobs[match[1]] = {k: int(v) for k, v in fields.items() if v.isdigit()}
    return jobs


@pytest.fixture
def fixture_storage() -> FileSystemStorage:
    return FileSystemStorage(FIXTURE_STORE)


@pytest.fixture
def store_copy(tmp_path: Path) -> Path:
    root = tmp_path / "perstack"
    shutil.copytree(FIXTURE_STORE, root)
    return root


def test_info_and_check(fixture_storage: FileSystemStorage) -> None:
    fixture_storage.check()
    info = fixture_storage.get_storage_info()
    assert (info.type, info.location) == ("filesystem", str(FIXTURE_STORE))
    assert str(info) == f"filesystem {FIXTURE_STORE}"


def test_relative_root_is_made_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURE_STORE.parent)
    storage = FileSystemStorage(Path("perstack"))
    # The working directory is reported with symlinks resolved (shared/ may be a link).
    assert storage.get_storage_info().location == str(FIXTURE_STORE.resolve())
    assert len(storage.list_job_ids()) == 11


def test_fixture_counts(fixture_storage: FileSystemStorage) -> None:
    expected = stats_per_job()
    assert fixture_storage.list_job_ids() == sorted(expected)
    assert len(expected) == 11
    objects = list(fixture_storage.list_objects())
    kinds = Counter(parse_key(info.key).kind for info in objects)  # type: ignore[union-attr]
    assert kinds == {
        KeyKind.JOB: 11,
        KeyKind.RUN_SETTING: 18,
        KeyKind.CHECKPOINT: 30,
        KeyKind.EVENT: 145,
    }
    assert len({info.key for info in objects}) == len(objects) == 204


def test_per_job_and_per_run_listing(fixture_storage: FileSystemStorage) -> None:
    for job_id, stats in stats_per_job().items():
        keys = [info.key for info in fixture_storage.list_job_objects(job_id)]
        assert all(key.startswith(f"jobs/{job_id}/") for key in keys)
        kinds = Counter(parse_key(key).kind for key in keys)  # type: ignore[union-attr]
        assert kinds[KeyKind.EVENT] == stats["events"]
        assert kinds[KeyKind.CHECKPOINT] == stats["cps"]
        assert kinds[KeyKind.RUN_SETTING] == stats["run-settings"]
        run_ids = {parse_key(key).run_id for key in keys if "/runs/" in key}  # type: ignore[union-attr]
        assert len(run_ids) == stats["runs"]
        in_runs = sum(
            len(list(fixture_storage.list_run_objects(job_id, run_id))) for run_id in run_ids
        )
        assert in_runs == stats["events"] + stats["run-settings"]


def test_sizes_versions_and_bytes_match_the_files(fixture_storage: FileSystemStorage) -> None:
    objects = list(fixture_storage.list_objects())
    for info in objects:
        st = (FIXTURE_STORE / info.key).stat()
        assert (info.size, info.version) == (st.st_size, str(st.st_mtime_ns))
    bodies = dict(fixture_storage.read_objects(info.key for info in objects))
    assert len(bodies) == 204
    for key, body in bodies.items():
        assert body == (FIXTURE_STORE / key).read_bytes()
    key = objects[0].key
    assert fixture_storage.read_object(key) == (FIXTURE_STORE / key).read_bytes()


def test_prefixes(fixture_storage: FileSystemStorage) -> None:
    everything = [info.key for info in fixture_storage.list_objects("")]
    assert sorted(everything) == sorted(info.key for info in fixture_storage.list_objects())
    assert [info.key for info in fixture_storage.list_objects("jobs")] == everything
    job_id = fixture_storage.list_job_ids()[0]
    events = [i.key for i in fixture_storage.list_objects(f"jobs/{job_id}/runs/")]
    run_prefix = events[0].rsplit("/", 1)[0] + "/"
    starts = [i.key for i in fixture_storage.list_objects(f"{run_prefix}event-")]
    assert starts and all(k.startswith(f"{run_prefix}event-") for k in starts)
    assert list(fixture_storage.list_objects("jobs/no-such-job/")) == []
    assert list(fixture_storage.list_objects(f"{run_prefix}run-setting.json/")) == []


@pytest.mark.parametrize("prefix", ["../", "jobs/../../", "/etc/", "jobs//x/"])
def test_prefix_may_not_leave_the_store(fixture_storage: FileSystemStorage, prefix: str) -> None:
    with pytest.raises(StorageError, match=r"^Invalid store key prefix: "):
        list(fixture_storage.list_objects(prefix))


@pytest.mark.skipif(os.sep == "\\", reason="a backslash separates directories here")
def test_a_backslash_is_part_of_a_name(tmp_path: Path) -> None:
    """Outside Windows a job directory may be called ``\\`` or ``a\\b``: its files are listed
    and read like any other (a whole store once failed on a job named ``\\``)."""
    for job in ("\\", "a\\b"):
        (tmp_path / "jobs" / job / "runs" / "r").mkdir(parents=True)
        (tmp_path / "jobs" / job / "runs" / "r" / "event-1-1-startRun.json").write_text("{}")
    storage = FileSystemStorage(tmp_path)
    assert storage.list_job_ids() == ["\\", "a\\b"]
    keys = [info.key for info in storage.list_objects("jobs/\\/")]
    assert keys == ["jobs/\\/runs/r/event-1-1-startRun.json"]
    assert dict(storage.read_objects(keys)) == {keys[0]: b"{}"}


def test_only_regular_files_are_objects_and_symlinks_are_not_followed(store_copy: Path) -> None:
    job = store_copy / "jobs" / "weird"
    (job / "runs" / "r1").mkdir(parents=True)
    (job / "runs" / "r1" / "event-1-1-startRun.json").write_text("{}")
    (job / "runs" / "r1" / "loop").symlink_to(job)  # a loop, if followed
    (job / "checkpoints").mkdir()
    (job / "checkpoints" / "link.json").symlink_to(job / "runs" / "r1" / "event-1-1-startRun.json")
    (job / "checkpoints" / "dir.json").mkdir()  # a directory where a file would be
    os.mkfifo(job / "checkpoints" / "fifo.json")
    (store_copy / "jobs" / "linked-job").symlink_to(job)
    (store_copy / "stray.txt").write_text("not in jobs/")

    storage = FileSystemStorage(store_copy)
    assert "weird" in storage.list_job_ids()
    assert "linked-job" not in storage.list_job_ids()
    keys = [info.key for info in storage.list_job_objects("weird")]
    assert keys == ["jobs/weird/runs/r1/event-1-1-startRun.json"]
    assert "stray.txt" in [info.key for info in storage.list_objects("")]
    assert len(list(storage.list_objects())) == 205

    failures = dict(
        storage.read_objects(
            [
                "jobs/weird/checkpoints/link.json",
                "jobs/weird/checkpoints/dir.json",
                "jobs/weird/checkpoints/fifo.json",  # must not block waiting for a writer
                "jobs/weird/checkpoints/missing.json",
                "jobs/../../etc/passwd",
            ]
        )
    )
    assert failures == {
        "jobs/weird/checkpoints/link.json": ReadFailure(
            "jobs/weird/checkpoints/link.json", "is a symbolic link"
        ),
        "jobs/weird/checkpoints/dir.json": ReadFailure(
            "jobs/weird/checkpoints/dir.json", "not a regular file"
        ),
        "jobs/weird/checkpoints/fifo.json": ReadFailure(
            "jobs/weird/checkpoints/fifo.json", "not a regular file"
        ),
        "jobs/weird/checkpoints/missing.json": ReadFailure(
            "jobs/weird/checkpoints/missing.json", "not found"
        ),
        "jobs/../../etc/passwd": ReadFailure("jobs/../../etc/passwd", "invalid key"),
    }


def test_a_file_vanishing_between_list_and_read(store_copy: Path) -> None:
    storage = FileSystemStorage(store_copy)
    keys = [info.key for info in storage.list_objects()]
    (store_copy / keys[5]).unlink()
    results = dict(storage.read_objects(keys))
    assert results[keys[5]] == ReadFailure(keys[5], "not found")
    assert sum(isinstance(body, bytes) for body in results.values()) == 203
    with pytest.raises(StorageError) as caught:
        storage.read_object(keys[5])
    assert str(caught.value) == f"Cannot read {store_copy / keys[5]}: not found"


def test_read_objects_is_lazy(fixture_storage: FileSystemStorage) -> None:
    """Pulls one key per body handed over: never reads ahead of the caller."""
    keys = [info.key for info in fixture_storage.list_objects()]
    pulled = 0

    def counting() -> object:
        nonlocal pulled
        for key in keys:
            pulled += 1
            yield key

    results = fixture_storage.read_objects(counting())  # type: ignore[arg-type]
    assert pulled == 0
    for handed, _ in enumerate(results, start=1):
        assert pulled == handed
        if handed == 10:
            break


def test_reading_never_writes(store_copy: Path) -> None:
    def snapshot() -> list[tuple[str, int, int]]:
        return sorted(
            (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in store_copy.rglob("*")
        )

    before = snapshot()
    storage = FileSystemStorage(store_copy)
    storage.check()
    list(storage.read_objects(info.key for info in storage.list_objects("")))
    storage.close()
    assert snapshot() == before


# --- bad storage input ----------------------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    storage = FileSystemStorage(missing)
    expected = f"Storage directory not found: {missing} ({WHERE})"
    for action in (storage.check, storage.list_job_ids, lambda: list(storage.list_objects())):
        with pytest.raises(StorageError) as caught:
            action()
        assert str(caught.value) == expected
    assert not missing.exists()  # never created


def test_path_that_is_a_file(tmp_path: Path) -> None:
    """Also our stand-in for "unreadable": tests run as root, for whom chmod 000 changes nothing."""
    a_file = tmp_path / "store.txt"
    a_file.write_text("")
    storage = FileSystemStorage(a_file)
    expected = (
        f"Storage path is not a directory: {a_file} (the store is the directory that holds "
        f"jobs/; {WHERE})"
    )
    for action in (storage.check, storage.list_job_ids, lambda: list(storage.list_objects())):
        with pytest.raises(StorageError) as caught:
            action()
        assert str(caught.value) == expected


def test_root_that_cannot_be_opened(tmp_path: Path) -> None:
    """A symlink loop: an OSError other than "missing" or "not a directory", even for root."""
    loop = tmp_path / "perstack"
    loop.symlink_to(loop)
    with pytest.raises(StorageError) as caught:
        FileSystemStorage(loop).check()
    assert str(caught.value) == (
        f"Cannot read storage directory {loop}: too many levels of symbolic links"
    )


def test_unreadable_directory(tmp_path: Path) -> None:
    """The store itself unreadable: one line and exit 3 (a directory inside it is one skipped
    entry: tests/reliability/test_hardening.py)."""
    root = tmp_path / "perstack"
    root.mkdir()
    root.chmod(0)
    try:
        result = run_cli_as_a_user("log", "jobs", "--storage", str(root), "--no-cache")
    finally:
        root.chmod(0o755)
    assert result.returncode == 3, result.stderr
    assert result.stderr == f"Error: Cannot read storage directory {root}: permission denied\n"


def test_empty_store(tmp_path: Path) -> None:
    """A store directory without jobs/ is a store with no job yet, not an error."""
    storage = FileSystemStorage(tmp_path)
    storage.check()
    assert storage.list_job_ids() == []
    assert list(storage.list_objects()) == []
    (tmp_path / "jobs").mkdir()
    assert storage.list_job_ids() == []
    assert list(storage.list_objects()) == []


def test_jobs_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "jobs").write_text("")
    storage = FileSystemStorage(tmp_path)
    expected = f"Storage directory {tmp_path} is malformed: {tmp_path / 'jobs'} is not a directory"
    for action in (storage.check, storage.list_job_ids):
        with pytest.raises(StorageError) as caught:
            action()
        assert str(caught.value) == expected


def test_list_changes_reads_only_directories_whose_mtime_moved(store_copy: Path) -> None:
    an_hour_ago = os.stat(store_copy).st_mtime_ns - 3600 * 10**9
    for parent, _, _ in os.walk(store_copy):  # a new file surely moves its directory's mtime
        os.utime(parent, ns=(an_hour_ago, an_hour_ago))
    storage = FileSystemStorage(store_copy)
    first = list(storage.list_changes({}, []))
    listed = sorted(item for item in first if isinstance(item, ObjectInfo))
    assert listed == sorted(storage.list_objects())
    known = {item.key: item.mtime_ns for item in first if isinstance(item, DirectoryState)}
    assert "jobs/" in known
    assert not any(item.unchanged for item in first if isinstance(item, DirectoryState))

    job_file = next(key for key in known if key.count("/") == 2) + "job.json"
    again = list(storage.list_changes(known, [job_file]))
    assert [item.key for item in again if isinstance(item, ObjectInfo)] == [job_file]
    assert {item.key for item in again if isinstance(item, DirectoryState)} == known.keys()
    assert all(item.unchanged for item in again if isinstance(item, DirectoryState))

    run_dir = next(key for key in known if "/runs/" in key and key.count("/") == 4)
    (store_copy / run_dir / "event-1999999999999-9-startGeneration.json").write_text("{}")
    changed = [item for item in storage.list_changes(known, []) if isinstance(item, ObjectInfo)]
    assert {item.key.rsplit("/", 1)[0] + "/" for item in changed} == {run_dir}
    assert len(changed) == sum(1 for _ in storage.list_objects(run_dir))


def test_unchanged_since_agrees_with_list_changes_and_stops_at_the_first_change(
    store_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """unchanged_since answers what an incremental listing would find (anything new?) with
    stats alone, in the order the directories are given, stopping at the first change."""
    an_hour_ago = os.stat(store_copy).st_mtime_ns - 3600 * 10**9
    for parent, _, _ in os.walk(store_copy):
        os.utime(parent, ns=(an_hour_ago, an_hour_ago))
    storage = FileSystemStorage(store_copy)
    first = list(storage.list_changes({}, []))
    known = {item.key: item.mtime_ns for item in first if isinstance(item, DirectoryState)}
    sizes = {item.key: (item.size, item.version) for item in first if type(item) is ObjectInfo}
    job_file = next(key for key in known if key.count("/") == 2) + "job.json"
    recheck = {job_file: sizes[job_file]}
    assert storage.unchanged_since(known, recheck)
    assert not storage.unchanged_since({}, {})  # nothing known: nothing to trust
    assert not storage.unchanged_since({**known, "jobs/": None}, recheck)  # not settled

    stats: list[str] = []
    real_stat = os.stat

    def counted(path: str, *args: Any, **kwargs: Any) -> os.stat_result:
        stats.append(path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counted)
    run_dir = next(key for key in known if "/runs/" in key and key.count("/") == 4)
    (store_copy / run_dir / "event-1999999999999-9-startGeneration.json").write_text("{}")
    assert any(item.unchanged is False for item in storage.list_changes(known, recheck)
               if isinstance(item, DirectoryState) and item.key == run_dir)  # fmt: skip
    stats.clear()
    assert not storage.unchanged_since({run_dir: known[run_dir], **known}, recheck)
    assert stats == [run_dir]  # the first directory given was the changed one
    os.utime(store_copy / run_dir, ns=(an_hour_ago, an_hour_ago))
    (store_copy / run_dir / "event-1999999999999-9-startGeneration.json").unlink()
    os.utime(store_copy / run_dir, ns=(an_hour_ago, an_hour_ago))
    assert storage.unchanged_since(known, recheck)

    (store_copy / job_file).write_text("{}")  # rewritten in place: its directory keeps its time
    os.utime(store_copy / job_file.rsplit("/", 1)[0], ns=(an_hour_ago, an_hour_ago))
    assert not storage.unchanged_since(known, recheck)
    shutil.rmtree(store_copy / run_dir)
    assert not storage.unchanged_since(known, {})


def test_unchanged_since_follows_a_jobs_directory_that_is_a_symlink(tmp_path: Path) -> None:
    """jobs/ may be a symlink (the user's choice, followed by the listing): the check follows
    it too, and finds a change below it."""
    real_jobs = tmp_path / "elsewhere"
    shutil.copytree(FIXTURE_STORE / "jobs", real_jobs)
    an_hour_ago = os.stat(real_jobs).st_mtime_ns - 3600 * 10**9
    for parent, _, _ in os.walk(real_jobs):
        os.utime(parent, ns=(an_hour_ago, an_hour_ago))
    store = tmp_path / "store"
    store.mkdir()
    (store / "jobs").symlink_to(real_jobs)
    storage = FileSystemStorage(store)
    listed = list(storage.list_changes({}, []))
    known = {item.key: item.mtime_ns for item in listed if isinstance(item, DirectoryState)}
    assert known["jobs/"] == an_hour_ago
    assert storage.unchanged_since(known, {})
    job = next(path for path in real_jobs.iterdir() if path.is_dir())
    (job / "job.json.tmp").write_text("{}")
    assert not storage.unchanged_since(known, {})


@pytest.mark.parametrize("slow_read_seconds", [0.0, 1.0], ids=["threads", "one-at-a-time"])
def test_reads_on_threads_or_one_at_a_time_give_the_same_bodies(
    fixture_storage: FileSystemStorage,
    monkeypatch: pytest.MonkeyPatch,
    slow_read_seconds: float,
) -> None:
    """Reads slower than the threshold switch the next window to threads (a store not in the
    page cache); 0 s counts every read as slow, 1 s none."""
    from perstack_logq.storage import filesystem

    keys = [info.key for info in fixture_storage.list_objects()]
    expected = {key: (FIXTURE_STORE / key).read_bytes() for key in keys}
    started_threads: list[str] = []
    start = filesystem.ThreadPoolExecutor.__init__

    def counting_init(self: object, *args: object, **kwargs: object) -> None:
        started_threads.append("pool")
        start(self, *args, **kwargs)

    monkeypatch.setattr(filesystem, "_READ_WINDOW", 16)
    monkeypatch.setattr(filesystem, "_SLOW_READ_SECONDS", slow_read_seconds)
    monkeypatch.setattr(filesystem.ThreadPoolExecutor, "__init__", counting_init)
    bodies = dict(fixture_storage.read_objects(keys))
    assert bodies == expected
    assert len(started_threads) == (1 if slow_read_seconds == 0 else 0)


# -- names that are not UTF-8 -------------------------------------------------------------------

RUN_DIR = "jobs/anaew4v18s62aanmx116dgi2/runs/lq50yqsj2c393ajmhtf16dbw/"


def _with_names_that_are_not_utf8(root: Path) -> None:
    """Two file names that differ only in a byte that is not UTF-8, and a job directory whose
    name is not UTF-8 (Linux takes any bytes but ``/`` and NUL in a name)."""
    run = os.fsencode(root / RUN_DIR)
    for name in (b"event-1-1-\xff.json", b"event-1-1-\xfe.json"):
        with open(os.path.join(run, name), "wb") as file:
            file.write(b"{}")
    job_runs = os.path.join(os.fsencode(root / "jobs"), b"j\xff", b"runs", b"r")
    os.makedirs(job_runs)
    with open(os.path.join(job_runs, b"event-9-1-startRun.json"), "wb") as file:
        file.write(b"{}")


def test_a_name_that_is_not_utf8_is_a_stray_key_and_each_stays_one(store_copy: Path) -> None:
    _with_names_that_are_not_utf8(store_copy)
    storage = FileSystemStorage(store_copy)
    stray = {
        f"{RUN_DIR}event-1-1-\ufffdff.json",
        f"{RUN_DIR}event-1-1-\ufffdfe.json",
        "jobs/j\ufffdff",  # the directory, not entered: its files are not listed
    }
    listed = [info.key for info in storage.list_objects()]
    assert stray <= set(listed)
    assert (
        len(listed)
        == len(set(listed))
        == len(list(FileSystemStorage(FIXTURE_STORE).list_objects())) + 3
    )
    for key in listed:
        key.encode("utf-8")  # no lone surrogate reaches DuckDB or Arrow
    for key in stray:
        parsed = parse_key(key)
        assert parsed is not None and parsed.kind is KeyKind.UNKNOWN
    assert "j\udcff" not in storage.list_job_ids()
    changes = [item.key for item in storage.list_changes({}, []) if type(item) is ObjectInfo]
    assert changes == listed
    assert set(storage.list_keys("jobs/")) == set(listed)


def test_list_keys_and_list_job_files_agree_with_list_objects(
    fixture_storage: FileSystemStorage,
) -> None:
    objects = sorted(fixture_storage.list_objects())
    assert sorted(fixture_storage.list_keys("jobs/")) == [info.key for info in objects]
    job_id = fixture_storage.list_job_ids()[0]
    assert sorted(fixture_storage.list_keys(f"jobs/{job_id}/runs/")) == [
        info.key for info in objects if info.key.startswith(f"jobs/{job_id}/runs/")
    ]
    assert list(fixture_storage.list_keys("jobs/no-such-job/runs/")) == []
    job_files = list(fixture_storage.list_job_files([*fixture_storage.list_job_ids(), "none"]))
    assert job_files == [info for info in objects if info.key.endswith("/job.json")]
    with pytest.raises(StorageError, match="Invalid store key prefix"):
        list(fixture_storage.list_keys("jobs/../"))


def test_the_first_event_time_from_names_agrees_with_the_generic_one(tmp_path: Path) -> None:
    """FileSystemStorage.first_event_ms (a readdir a run, the earliest candidate checked) gives
    what Storage.first_event_ms (every key of list_keys) gives, whatever the names hold: a
    candidate that is a directory, a symlink, a FIFO, not UTF-8, or not an event name at all is
    passed over for the next one."""
    storage = FileSystemStorage(tmp_path)
    runs = tmp_path / "jobs" / "j" / "runs"
    good, other = runs / "r1", runs / "r2"
    good.mkdir(parents=True)
    other.mkdir()
    for name in ("event-5000-1-startRun.json", "event-3000-2-callTools.json"):
        (good / name).write_text("{}")
    (other / "event-4000-1-startRun.json").write_text("{}")
    (good / "event-1000-1-startRun.json").mkdir()  # a directory named like an event
    (good / "event-900-1-startRun.json").symlink_to(good / "event-5000-1-startRun.json")
    os.mkfifo(good / "event-800-1-startRun.json")
    (good / "event-700-x-startRun.json").write_text("{}")  # no step number
    (good / "event-600-1-.json").write_text("{}")  # no type
    (good / f"event-{2**63}-1-startRun.json").write_text("{}")  # no BIGINT
    (good / f"event-{'1' * 25}-1-startRun.json").write_text("{}")
    (good / "event-500-1-startRun.json.tmp").write_text("{}")
    odd_run = os.path.join(os.fsencode(runs), b"r\xff")  # names that are not UTF-8
    os.mkdir(odd_run)
    for path in (
        os.path.join(odd_run, b"event-10-1-startRun.json"),
        os.path.join(os.fsencode(good), b"event-20-1-x\xff.json"),
    ):
        with open(path, "w") as handle:
            handle.write("{}")
    (runs / "r3").symlink_to(good)  # a run directory that is a symlink is not entered
    (runs / "event-30-1-startRun.json").write_text("{}")  # an event outside any run
    generic = super(FileSystemStorage, storage).first_event_ms
    assert storage.first_event_ms("j") == generic("j") == 3000
    (good / "event-3000-2-callTools.json").unlink()
    assert storage.first_event_ms("j") == generic("j") == 4000
    shutil.rmtree(other)
    assert storage.first_event_ms("j") == generic("j") == 5000
    assert storage.first_event_ms("no-such-job") is generic("no-such-job") is None
    with pytest.raises(StorageError):
        storage.first_event_ms("..")
