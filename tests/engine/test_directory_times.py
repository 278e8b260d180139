"""A full sync of a filesystem store trusts directory mtimes, and that is never wrong for what
the runtime does: add files, rewrite job.json and run-setting.json in place, leave a file
half-written for a moment, delete jobs.

Every store here is generated, then has every directory's mtime set an hour back, so that the
sync trusts them (a directory changed in the last two seconds is not trusted). After each change
the cache must equal an in-memory database synced from nothing (``--no-cache``), and the sync
must have read exactly the objects that changed.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from engine.test_cache import assert_same_tables, fresh_snapshot, snapshot

from perstack_logq.engine import changed_jobs as changed_jobs_module
from perstack_logq.engine import database as database_module
from perstack_logq.engine.cache import open_database
from perstack_logq.engine.database import Database
from perstack_logq.engine.sqlfiles import sql_file
from perstack_logq.storage.filesystem import FileSystemStorage
from perstack_logq.storage.layout import KeyKind
from perstack_logq.synth import DirectoryWriter, generate_store

HOUR_AGO_NS = time.time_ns() - 3600 * 10**9


def age_directories(root: Path) -> None:
    """Every directory under ``root`` last changed an hour ago, as in a store at rest."""
    for parent, _, _ in os.walk(root):
        os.utime(parent, ns=(HOUR_AGO_NS, HOUR_AGO_NS))


def rewrite_in_place(path: Path, body: bytes) -> None:
    """Write over an existing file (the directory's mtime stays) with a new, later mtime."""
    with open(path, "r+b") as handle:
        handle.write(body)
        handle.truncate()
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    generate_store(DirectoryWriter(root), jobs=6, seed=5)
    age_directories(root)
    return root


@pytest.fixture
def cache(store: Path, tmp_path: Path) -> Database:
    database = open_database(FileSystemStorage(store), cache_dir=tmp_path / "cache")
    database.sync()
    yield database
    database.close()


def sync_and_compare(database: Database, *, rescan: bool = False) -> int:
    report = database.sync(rescan=rescan)
    assert_same_tables(snapshot(database), fresh_snapshot(database.storage))
    return report.read


def files(store: Path, pattern: str) -> list[Path]:
    return sorted(store.glob(f"jobs/*/{pattern}"))


def test_an_aged_store_is_trusted_and_a_new_file_is_found(store: Path, cache: Database) -> None:
    known = cache.sql("SELECT count(*), count(*) FILTER (settled) FROM _dirs").fetchone()
    assert known is not None and known[0] == known[1] > 6  # jobs/, job dirs, runs, ...
    event = files(store, "runs/*/event-*.json")[0]
    late = event.with_name("event-1999999999999-99-startGeneration.json")
    late.write_bytes(event.read_bytes())
    assert sync_and_compare(cache) == 1
    assert sync_and_compare(cache) == 0


def test_in_place_rewrites_of_job_and_run_setting_files_are_found(
    store: Path, cache: Database
) -> None:
    job_file = files(store, "job.json")[0]
    rewrite_in_place(job_file, job_file.read_bytes().replace(b'"totalSteps"', b'"totalSteps" '))
    setting = files(store, "runs/*/run-setting.json")[-1]
    rewrite_in_place(setting, setting.read_bytes().replace(b'"model"', b'"model" '))
    assert sync_and_compare(cache) == 2


def test_the_files_to_stat_again_follow_the_listing(
    store: Path, cache: Database, tmp_path: Path
) -> None:
    """Warm commands stat job.json and run-setting.json files from ``_listing_rewritten``,
    kept apart from the listing: a job that came since is in it (a rewrite of its job.json in
    an unchanged directory is found), one that left is not."""

    def kept_apart() -> list[tuple]:
        return cache.sql("SELECT * FROM _listing_rewritten ORDER BY key").fetchall()

    def in_listing() -> list[tuple]:
        return cache.sql(
            "SELECT key, size, version FROM _listing "
            "WHERE kind IN ('job', 'run_setting') ORDER BY key"
        ).fetchall()

    assert kept_apart() == in_listing() != []
    before = {path.parent.name for path in files(store, "job.json")}
    generate_store(DirectoryWriter(tmp_path / "more"), jobs=1, seed=77)
    (new_job,) = (tmp_path / "more" / "jobs").iterdir()
    new_job_file = store / "jobs" / new_job.name / "job.json"
    new_job.rename(new_job_file.parent)
    gone = sorted(before)[0]
    shutil.rmtree(store / "jobs" / gone)
    sync_and_compare(cache)
    assert kept_apart() == in_listing()
    age_directories(store)  # the new job's directories settle, so only a stat finds a rewrite
    sync_and_compare(cache)
    keys = {key for key, *_ in kept_apart()}
    assert f"jobs/{new_job_file.parent.name}/job.json" in keys
    assert not any(key.startswith(f"jobs/{gone}/") for key in keys)
    rewrite_in_place(
        new_job_file, new_job_file.read_bytes().replace(b'"totalSteps"', b' "totalSteps"')
    )
    assert sync_and_compare(cache) == 1
    assert kept_apart() == in_listing()


def test_a_half_written_file_is_read_again_once_complete(store: Path, tmp_path: Path) -> None:
    event = files(store, "runs/*/event-*.json")[0]
    body = event.read_bytes()
    event.write_bytes(body[: len(body) // 2])  # what a reader sees while the runtime writes
    age_directories(store)
    database = open_database(FileSystemStorage(store), cache_dir=tmp_path / "cache")
    try:
        database.sync()
        skipped = database.sql("SELECT reason FROM skipped_files").fetchall()
        assert skipped == [("invalid_json",)]
        rewrite_in_place(event, body)
        assert sync_and_compare(database) == 1
        assert database.sql("SELECT count(*) FROM skipped_files").fetchone() == (0,)
    finally:
        database.close()


def test_deleted_files_and_jobs_leave(store: Path, cache: Database) -> None:
    # A file that held some messages of its job first (the messages' row came from it).
    first_job = files(store, "checkpoints/*.json")[0].parent.parent
    (first_holder,) = cache.sql(
        "SELECT min(source_key) FROM messages WHERE job_id = ?", [first_job.name]
    ).fetchone()
    (store / first_holder).unlink()
    job = files(store, "job.json")[-1].parent
    for parent, _, names in os.walk(job, topdown=False):
        for name in names:
            os.unlink(os.path.join(parent, name))
        os.rmdir(parent)
    # The rest of that job's checkpoints and events are read again, in case they hold the
    # same messages (and nothing else is).
    conversation_files = [
        *first_job.glob("checkpoints/*.json"),
        *first_job.glob("runs/*/event-*.json"),
    ]
    assert sync_and_compare(cache) == len(conversation_files)
    assert cache.sql(
        "SELECT count(*) FROM _dirs WHERE key LIKE ?", [f"jobs/{job.name}/%"]
    ).fetchone() == (0,)


def test_an_event_changed_in_place_is_found_only_by_a_rescan(store: Path, cache: Database) -> None:
    """The trade-off, shown: the runtime never rewrites an event, so a sync does not stat
    events in unchanged directories; ``rescan`` does."""
    event = files(store, "runs/*/event-*.json")[0]
    rewrite_in_place(event, event.read_bytes().replace(b'"id"', b'"id" ', 1))
    assert cache.sync().read == 0
    assert sync_and_compare(cache, rescan=True) == 1


def test_a_directory_changed_moments_ago_is_not_trusted(store: Path, cache: Database) -> None:
    event = files(store, "runs/*/event-*.json")[0]
    event.with_name("event-1999999999999-99-startGeneration.json").write_bytes(b"{}")
    assert cache.sync().read == 1
    run_dir = f"{event.parent.relative_to(store).as_posix()}/"
    assert cache.sql("SELECT settled FROM _dirs WHERE key = ?", [run_dir]).fetchone() == (False,)
    # Not trusted, so even a change the runtime never makes is seen by a plain sync.
    rewrite_in_place(event, event.read_bytes().replace(b'"id"', b'"id" ', 1))
    assert sync_and_compare(cache) == 1


def test_sync_rescan_through_the_cli(store: Path, tmp_path: Path) -> None:
    from support.cli import run_cli

    where = ["--storage", str(store), "--cache-dir", str(tmp_path / "cli-cache")]
    run_cli("log", "sync", *where, check=True)
    event = files(store, "runs/*/event-*.json")[0]
    rewrite_in_place(event, event.read_bytes().replace(b'"id"', b'"id" ', 1))
    plain = run_cli("log", "sync", *where, check=True).stdout
    rescanned = run_cli("log", "sync", "--rescan", *where, check=True).stdout
    assert ", read 0," in plain
    assert ", read 1," in rescanned


def test_an_unchanged_store_is_answered_without_loading_anything(
    store: Path, cache: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_loading(*args: object) -> int:
        raise AssertionError("an unchanged store loaded a listing")

    monkeypatch.setattr(Database, "_append", no_loading)
    report = cache.sync()
    assert (report.read, report.removed) == (0, 0)
    assert report.listed == cache.sql("SELECT count(*) FROM _objects").fetchone()[0]


def test_a_partial_cache_of_an_unchanged_store_is_completed_from_its_last_listing(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`perstack log` leaves a cache holding job.json files and one job: with the store as
    last listed, the next syncs take what they lack from that listing, never loading it again
    or rewriting it."""
    database = open_database(FileSystemStorage(store), cache_dir=tmp_path / "cache")
    try:
        database.sync(kinds=[KeyKind.JOB])
        last = [
            database.sql(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            for name in ("_listing", "_dirs")
        ]
        with monkeypatch.context() as patch:

            def no_loading(*args: object) -> int:
                raise AssertionError("a store as last listed loaded its listing again")

            walks: list[str] = []
            list_changes = FileSystemStorage.list_changes

            def counted(*args: Any, **kwargs: Any) -> Any:
                walks.append("walk")
                return list_changes(*args, **kwargs)

            patch.setattr(Database, "_append", no_loading)
            patch.setattr(FileSystemStorage, "list_changes", counted)
            assert database.sync(kinds=[KeyKind.JOB]).read == 0
            jobs = database.sql("SELECT count(*) FROM _objects").fetchone()[0]
            assert 0 < jobs == len(files(store, "job.json"))
            walks.clear()
            database.release()  # as a new command starts: no connection open yet
            assert database.sync().read == len(list(store.rglob("*.json"))) - jobs
            # A store as last listed is told by stats alone (unchanged_since), on the first
            # look's read-only connection and in the sync itself: no walk, nor a second one.
            assert walks == []
            database.release()
            assert database.sync().read == 0  # complete now
            assert walks == []
        assert_same_tables(snapshot(database), fresh_snapshot(database.storage))
        assert [
            database.sql(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            for name in ("_listing", "_dirs")
        ] == last
    finally:
        database.close()


def test_an_interrupted_sync_is_completed_although_nothing_changed_since(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is unchanged, but the cache does not hold all of the last listing yet."""
    commit = Database._commit
    commits = 0

    def interrupted_commit(self: Database, tables: dict, keys: list[str]) -> None:
        nonlocal commits
        commits += 1
        if commits == 3:
            raise KeyboardInterrupt
        commit(self, tables, keys)

    monkeypatch.setattr(database_module, "_BATCH_KEYS", 20)
    monkeypatch.setattr(Database, "_commit", interrupted_commit)
    database = open_database(FileSystemStorage(store), cache_dir=tmp_path / "cache")
    try:
        with pytest.raises(KeyboardInterrupt):
            database.sync()
        monkeypatch.setattr(Database, "_commit", commit)
        held = database.sql("SELECT count(*) FROM _objects").fetchone()[0]
        assert 0 < held < database.sql("SELECT count(*) FROM _listing").fetchone()[0]
        assert sync_and_compare(database) > 0
    finally:
        database.close()


def _listing_held(database: Database) -> tuple[bool, bool]:
    """What the cache says of itself (``_listing_held``), and what is true (the whole join)."""
    said = database.sql("SELECT held FROM _listing_held").fetchone()[0]
    true = database.sql(sql_file("sync", "03_manifest_complete").text).fetchone()[0]
    return said, true


def test_the_cache_says_it_holds_the_listing_only_while_it_does(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm command trusts ``_listing_held`` instead of joining the whole listing to the
    manifest: it must never say held while the cache lacks part of the listing, whatever
    wrote last (a sync of some kinds, of a job, one interrupted)."""
    database = open_database(FileSystemStorage(store), cache_dir=tmp_path / "cache")
    try:
        database.sync(kinds=[KeyKind.JOB])  # a full listing, only job.json files read
        assert _listing_held(database) == (False, False)
        database.sync()
        assert _listing_held(database) == (True, True)
        shutil.copytree(next((store / "jobs").iterdir()), store / "jobs" / "a-new-job")
        database.sync(kinds=[KeyKind.JOB])  # lists the new job, reads its job.json only
        assert _listing_held(database) == (False, False)
        database.sync()
        assert _listing_held(database) == (True, True)
        shutil.rmtree(store / "jobs" / "a-new-job")
        database.sync(["a-new-job"])  # forgets the job; the last full listing still has it
        assert _listing_held(database) == (False, False)
        database.sync()
        assert _listing_held(database) == (True, True)

        commit = Database._commit

        def interrupted_commit(self: Database, tables: dict, keys: list[str]) -> None:
            commit(self, tables, keys)
            raise KeyboardInterrupt

        shutil.copytree(next((store / "jobs").iterdir()), store / "jobs" / "another-job")
        monkeypatch.setattr(database_module, "_BATCH_KEYS", 5)
        monkeypatch.setattr(Database, "_commit", interrupted_commit)
        with pytest.raises(KeyboardInterrupt):
            database.sync()
        assert _listing_held(database) == (False, False)
        monkeypatch.setattr(Database, "_commit", commit)
        assert sync_and_compare(database) > 0
        assert _listing_held(database) == (True, True)
    finally:
        database.close()


def test_a_job_of_a_store_as_last_listed_comes_from_that_listing(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`perstack log` found the latest job with the store as last listed (``as_listed``): the
    job's sync takes its objects from the listing, and reads what a listing would have found."""
    job_id = sorted(path.name for path in (store / "jobs").iterdir())[-1]
    listed = open_database(FileSystemStorage(store), cache_dir=tmp_path / "listed")
    walked = open_database(FileSystemStorage(store), cache_dir=tmp_path / "walked")
    try:
        for database in (listed, walked):
            assert database.sync(kinds=[KeyKind.JOB]).as_listed is False  # listed just now
        walked.sync([job_id])
        assert listed.sync(kinds=[KeyKind.JOB]).as_listed is True
        with monkeypatch.context() as patch:

            def no_listing(*args: object) -> None:
                raise AssertionError("a job of a store as last listed was listed again")

            patch.setattr(FileSystemStorage, "list_job_objects", no_listing)
            report = listed.sync([job_id], as_listed=True)
            not_read_yet = [
                path
                for path in (store / "jobs" / job_id).rglob("*.json")
                if path.name != "job.json"
            ]
            assert report.as_listed and report.read == len(not_read_yet) > 0
            listed.release()  # as the next command starts
            assert listed.sync([job_id], as_listed=True).read == 0  # now held
        assert_same_tables(snapshot(listed), snapshot(walked))
    finally:
        listed.close()
        walked.close()


def test_a_job_sync_with_nothing_to_do_is_told_by_reading_only(
    store: Path, cache: Database
) -> None:
    """`perstack log --job X` on a warm cache: the job is listed into temporary tables of the
    read-only connection, and compared with the cache; only a change opens the write one."""
    job = sorted((store / "jobs").iterdir())[0]
    assert cache.report_if_current([job.name]) is not None
    assert cache.report_if_current([job.name], kinds=[KeyKind.JOB]) is not None
    event = sorted(job.glob("runs/*/event-*.json"))[0]
    added = event.with_name(event.name.replace("event-", "event-9", 1))
    shutil.copyfile(event, added)  # a new event of the job
    assert cache.report_if_current([job.name]) is None
    assert cache.report_if_current([job.name], kinds=[KeyKind.JOB]) is not None  # not its scope
    assert cache.sync([job.name]).read == 1
    assert cache.report_if_current([job.name]) is not None
    added.unlink()  # gone from the store, still in the cache
    assert cache.report_if_current([job.name]) is None
    assert cache.sync([job.name]).removed == 1
    assert cache.report_if_current([job.name]) is not None
    rewrite_in_place(event, event.read_bytes())  # the same bytes, a later mtime
    assert cache.report_if_current([job.name]) is None
    assert sync_and_compare(cache) == 1


# -- a full sync that follows the change (engine/changed_jobs.py) -----------------------------


def _last_listing(database: Database) -> dict[str, list[tuple]]:
    """The last full listing as a cache keeps it: its files, those to stat again, its
    directories (not whether each was settled: that depends on when the listing ran)."""
    return {
        name: database.sql(f"SELECT {columns} FROM {name} ORDER BY ALL").fetchall()
        for name, columns in (
            ("_listing", "*"),
            ("_listing_rewritten", "*"),
            ("_dirs", "key, mtime_ns"),
        )
    }


def _assert_as_a_cold_cache(database: Database, tmp_path: Path) -> None:
    """The cache's tables, listing and held flag are those of a cache built from nothing."""
    assert_same_tables(snapshot(database), fresh_snapshot(database.storage))
    cold = open_database(database.storage, cache_dir=tmp_path / f"cold-{time.time_ns()}")
    try:
        cold.sync()
        assert _last_listing(database) == _last_listing(cold)
    finally:
        cold.close()
    assert _listing_held(database) == (True, True)


def _record_changed_jobs(monkeypatch: pytest.MonkeyPatch) -> list[list[str] | None]:
    """What each full sync found changed (None: it compared the whole listing)."""
    found: list[list[str] | None] = []
    changed_jobs = changed_jobs_module.ChangedJobs.changed_jobs

    def recording(self: changed_jobs_module.ChangedJobs, connection: Any) -> list[str] | None:
        found.append(changed_jobs(self, connection))
        return found[-1]

    monkeypatch.setattr(changed_jobs_module.ChangedJobs, "changed_jobs", recording)
    return found


def test_a_full_sync_compares_only_the_jobs_the_listing_found_changed(
    store: Path, cache: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = _record_changed_jobs(monkeypatch)
    first, second, third, *_ = sorted(path.name for path in (store / "jobs").iterdir())
    event = sorted((store / "jobs" / first).glob("runs/*/event-*.json"))[0]
    shutil.copyfile(event, event.with_name(event.name.replace("event-", "event-9", 1)))
    job_file = store / "jobs" / second / "job.json"
    rewrite_in_place(job_file, job_file.read_bytes() + b" ")
    shutil.rmtree(store / "jobs" / third)
    assert sync_and_compare(cache) == 2
    # "" is jobs/ itself (a job left it); the unchanged jobs' files were not compared again.
    assert found == [["", first, second, third]]
    _assert_as_a_cold_cache(cache, tmp_path)
    # Directories changed moments ago are not trusted yet (listed again): once they settle,
    # jobs/ and the first job's run are listed once more, and then nothing is.
    age_directories(store)
    assert sync_and_compare(cache) == 0
    assert found[1:] == [["", first]]
    assert sync_and_compare(cache) == 0
    assert len(found) == 2  # the store was found as last listed, without a listing


def test_a_stray_name_in_jobs_leaves_when_jobs_changes(
    store: Path, cache: Database, tmp_path: Path
) -> None:
    """A name in jobs/ that is not UTF-8 is a stray file whose job is its own name, not that of
    the directory holding it (jobs/): it must still leave when it leaves the store."""
    stray = os.path.join(os.fsencode(store / "jobs"), b"not-utf8-\xff")
    with open(stray, "wb") as handle:
        handle.write(b"{}")
    sync_and_compare(cache)
    assert cache.sql(
        "SELECT count(*) FROM skipped_files WHERE reason = 'unknown_layout'"
    ).fetchone() == (1,)
    os.unlink(stray)
    assert sync_and_compare(cache) == 0
    assert cache.sql("SELECT count(*) FROM skipped_files").fetchone() == (0,)
    _assert_as_a_cold_cache(cache, tmp_path)


@pytest.mark.parametrize("follows_the_change", [True, False])
def test_a_full_sync_after_any_change_is_a_sync_from_nothing(
    store: Path,
    cache: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    follows_the_change: bool,
) -> None:
    """Changes of every kind, one after another, each followed by a sync: whether the sync
    compares only the jobs it found changed or the whole listing (past MAX_CHANGED_JOBS), the
    cache ends as one built from nothing."""
    if not follows_the_change:
        monkeypatch.setattr(changed_jobs_module, "MAX_CHANGED_JOBS", 0)
    found = _record_changed_jobs(monkeypatch)
    jobs = store / "jobs"
    template = sorted(jobs.iterdir())[0]

    def some(pattern: str) -> Path:
        return sorted(store.glob(f"jobs/*/{pattern}"))[-1]

    def new_event() -> None:
        event = some("runs/*/event-*.json")
        shutil.copyfile(event, event.with_name(event.name.replace("event-", "event-8", 1)))

    def deleted_checkpoint() -> None:
        some("checkpoints/*.json").unlink()

    def rewritten_run_setting() -> None:
        setting = some("runs/*/run-setting.json")
        rewrite_in_place(setting, setting.read_bytes() + b"\n")

    def new_job() -> None:
        shutil.copytree(template, jobs / f"copied-{len(list(jobs.iterdir()))}")

    half_written = template / "checkpoints" / "written-last.json"
    whole = some("checkpoints/*.json").read_bytes()

    def half_written_checkpoint() -> None:
        half_written.write_bytes(whole[:10])

    def completed_checkpoint() -> None:  # in place: found as a skipped file stat'ed again
        rewrite_in_place(half_written, whole)

    def stray_in_a_run() -> None:
        (some("runs/*/run-setting.json").parent / "notes.txt").write_text("stray")

    def deleted_run() -> None:
        shutil.rmtree(some("runs/*/run-setting.json").parent)

    def deleted_job() -> None:
        shutil.rmtree(sorted(jobs.iterdir())[-1])

    def aged() -> None:
        age_directories(store)

    changes = (
        new_event,
        deleted_checkpoint,
        rewritten_run_setting,
        aged,
        new_job,
        aged,
        half_written_checkpoint,
        aged,
        completed_checkpoint,
        stray_in_a_run,
        aged,
        deleted_run,
        deleted_job,
        aged,
    )
    for change in changes:
        change()
        # A rescan lists every directory again, knowing none: it must not follow the change.
        assert cache.sync(rescan=change is deleted_job).listed > 0, change.__name__
        _assert_as_a_cold_cache(cache, tmp_path)
    compared_all = [jobs_found is None for jobs_found in found]
    assert len(compared_all) == len(changes) - 1  # the rescan watched nothing
    assert set(compared_all) == {not follows_the_change}


def test_a_checkpoint_loses_the_error_of_an_event_that_left(tmp_path: Path) -> None:
    """The runtime writes a run's error on its stopRunByError event only, and the sync copies
    it onto the checkpoint the event names: when the event leaves, so does the error."""
    root = tmp_path / "store"
    generate_store(DirectoryWriter(root), jobs=10, seed=5)  # every scenario, failures too
    age_directories(root)
    database = open_database(FileSystemStorage(root), cache_dir=tmp_path / "cache")
    try:
        database.sync()
        key, checkpoint_id = database.sql(
            "SELECT e.source_key, e.checkpoint_id FROM events AS e JOIN checkpoints AS c "
            "USING (job_id, checkpoint_id) WHERE e.type = 'stopRunByError' "
            "AND c.error_name IS NOT NULL ORDER BY 1 LIMIT 1"
        ).fetchone()
        (root / key).unlink()
        assert sync_and_compare(database) == 1  # the checkpoint, read again
        assert database.sql(
            "SELECT error_name FROM checkpoints WHERE checkpoint_id = ?", [checkpoint_id]
        ).fetchone() == (None,)
    finally:
        database.close()


@pytest.mark.parametrize("seed", [3, 7])
def test_random_changes_leave_the_cache_as_a_sync_from_nothing(seed: int, tmp_path: Path) -> None:
    """Seeded random changes of every kind a store sees (by the runtime or by hand), each
    followed by a sync, now and then a rescan: after each, the cache, its last listing and
    `_listing_held` are those of a cache built from nothing. (This found a checkpoint keeping
    the error of an event deleted by hand: 22_reread_error_checkpoints.)"""
    rng = random.Random(seed)
    root = tmp_path / "store"
    generate_store(DirectoryWriter(root), jobs=8, seed=seed, scale=0.01)
    spare = tmp_path / "spare"
    generate_store(DirectoryWriter(spare), jobs=4, seed=seed + 1, scale=0.01)
    age_directories(root)
    jobs_dir = os.fsencode(root / "jobs")

    def pick(pattern: str) -> Path | None:
        found = sorted(root.glob(pattern))
        return rng.choice(found) if found else None

    def change(round_number: int) -> None:
        kind = rng.randrange(11)
        if kind == 0 and (event := pick("jobs/*/runs/*/event-*.json")):
            copy = event.name.replace("event-", f"event-{rng.randrange(9)}", 1)
            shutil.copyfile(event, event.with_name(copy))
        elif kind == 1 and (checkpoint := pick("jobs/*/checkpoints/*.json")):
            checkpoint.unlink()
        elif kind == 2 and (setting := pick("jobs/*/runs/*/run-setting.json")):
            rewrite_in_place(setting, setting.read_bytes() + b" ")
        elif kind == 3 and (job_file := pick("jobs/*/job.json")):
            rewrite_in_place(job_file, job_file.read_bytes() + b"\n")
        elif kind == 4:
            job = rng.choice(sorted((spare / "jobs").iterdir()))
            shutil.copytree(job, root / "jobs" / f"{job.name}-{round_number}")
        elif kind == 5 and (job_dir := pick("jobs/*/")):
            shutil.rmtree(job_dir)
        elif kind == 6:
            age_directories(root)
        elif kind == 7:  # a name that is not UTF-8, in jobs/ itself
            stray = os.path.join(jobs_dir, b"stray-\xff" + str(round_number).encode())
            with open(stray, "wb") as handle:
                handle.write(b"x")
        elif kind == 8:
            strays = sorted(name for name in os.listdir(jobs_dir) if name.startswith(b"stray"))
            if strays:
                os.unlink(os.path.join(jobs_dir, rng.choice(strays)))
        elif kind == 9 and (run := pick("jobs/*/runs/*/")):
            shutil.rmtree(run)
        elif kind == 10 and (checkpoint := pick("jobs/*/checkpoints/*.json")):
            checkpoint.with_name("half-written.json").write_bytes(checkpoint.read_bytes()[:7])

    database = open_database(FileSystemStorage(root), cache_dir=tmp_path / "cache")
    try:
        database.sync()
        for round_number in range(30):
            change(round_number)
            database.sync(rescan=rng.random() < 0.1)
            _assert_as_a_cold_cache(database, tmp_path)
    finally:
        database.close()
