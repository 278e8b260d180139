"""What a sync reports, and what it does not read."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from support import FIXTURE_STORE

from perstack_logq.engine.database import Database
from perstack_logq.storage.base import ReadFailure
from perstack_logq.storage.filesystem import FileSystemStorage


class CountingStorage(FileSystemStorage):
    """The real filesystem backend, remembering every key it was asked to read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read_keys: list[str] = []

    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]:
        for key, body in super().read_objects(keys, max_bytes=max_bytes):
            self.read_keys.append(key)
            yield key, body


def _copy(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store)
    return store


def test_counts_of_a_first_sync_a_resync_and_a_removal(tmp_path: Path) -> None:
    store = _copy(tmp_path)
    database = Database(FileSystemStorage(store))
    first = database.sync()
    assert (first.listed, first.read, first.removed) == (204, 204, 0)
    again = database.sync()
    assert (again.listed, again.read, again.removed) == (204, 0, 0)
    job = store / "jobs" / "anaew4v18s62aanmx116dgi2"
    files_of_job = sum(1 for path in job.rglob("*") if path.is_file())
    shutil.rmtree(job)
    after = database.sync()
    assert (after.read, after.removed) == (0, files_of_job)
    assert database.sql("SELECT count(*) FROM jobs").fetchone() == (10,)


def test_stray_files_are_skipped_without_being_read(tmp_path: Path) -> None:
    store = _copy(tmp_path)
    job = store / "jobs" / "anaew4v18s62aanmx116dgi2"
    (job / ".DS_Store").write_bytes(b"\x00\x01")
    (job / "runs" / "lq50yqsj2c393ajmhtf16dbw" / "notes.txt~").write_text("backup")
    storage = CountingStorage(store)
    database = Database(storage)
    report = database.sync()
    assert report.read == 204
    assert not [key for key in storage.read_keys if key.endswith((".DS_Store", "~"))]
    skipped = database.sql(
        "SELECT source_key, reason FROM skipped_files ORDER BY source_key"
    ).fetchall()
    assert skipped == [
        ("jobs/anaew4v18s62aanmx116dgi2/.DS_Store", "unknown_layout"),
        (
            "jobs/anaew4v18s62aanmx116dgi2/runs/lq50yqsj2c393ajmhtf16dbw/notes.txt~",
            "unknown_layout",
        ),
    ]
    assert database.sync().read == 0  # in the manifest: not looked at again
