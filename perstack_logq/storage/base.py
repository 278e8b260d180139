"""The read-only storage interface every backend implements.

Keys handed across this interface are *store-relative* and always use ``/``:
``jobs/{jobId}/job.json``, ``jobs/{jobId}/runs/{runId}/event-...json``. A backend maps them
to a path or to a bucket key under its prefix. No backend has a method that writes or deletes:
perstack_logq never changes a user's store.
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import NamedTuple

from perstack_logq.storage.layout import JOB_FILE, claimed_event_time, parse_key


@dataclass(frozen=True)
class StorageInfo:
    """What the user sees as ``Storage: <type> <location>``."""

    type: str  # "filesystem" | "s3" | "r2"
    location: str  # "/abs/path", "s3://bucket/prefix/", "r2://account/bucket/prefix/"
    endpoint: str | None = None  # an S3-compatible server's URL (None for AWS itself)

    def __str__(self) -> str:
        where = f"{self.type} {self.location}"
        return f"{where} (endpoint {self.endpoint})" if self.endpoint else where


class ObjectInfo(NamedTuple):
    """One stored object, as a listing reports it (no body read). A NamedTuple: listings make
    millions of them, and a tuple is several times cheaper to create than a dataclass."""

    key: str  # store-relative, e.g. "jobs/J/runs/R/event-1-1-startRun.json"
    size: int
    version: str  # what changes when the object changes: mtime in ns, or the ETag


class DirectoryState(NamedTuple):
    """A directory an incremental filesystem listing went through (``list_changes``)."""

    key: str  # store-relative, ending in "/": "jobs/J/runs/R/"
    mtime_ns: int
    unchanged: bool  # the mtime the caller knew: its files were not listed again
    # False: it could not be read (permission denied), so its mtime says nothing of what it
    # holds: never trusted, it is read again by every listing.
    listed: bool = True


@dataclass(frozen=True)
class ReadFailure:
    """An object that could not be read (vanished between list and read, unreadable, ...)."""

    key: str
    reason: str


def too_large_to_read(key: str, size: int, max_bytes: int) -> ReadFailure:
    """A file over the size limit when its read began, though the listing saw it under: it
    grew in between (a live store), and is left for the next sync, whose listing names it."""
    return ReadFailure(key, f"{size:,} bytes when read, over the limit of {max_bytes:,} bytes")


# Set by the CLI's Ctrl-C handler. The interrupt surfaces wherever the main thread is (often
# decoding or committing, not waiting on a read), and the readers' generators are then closed
# without seeing it: this tells them not to wait either.
INTERRUPTED = threading.Event()


@contextmanager
def reader_threads(count: int, name: str) -> Iterator[ThreadPoolExecutor]:
    """Threads for remote reads. On the way out, reads not started are dropped and those under
    way are waited for (they end within the timeouts), except after Ctrl-C: the command then
    exits at once, without waiting for a read stuck on a silent server."""
    executor = ThreadPoolExecutor(count, thread_name_prefix=name)
    interrupted = False
    try:
        yield executor
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        executor.shutdown(wait=not (interrupted or INTERRUPTED.is_set()), cancel_futures=True)


def read_concurrently(
    executor: ThreadPoolExecutor,
    read: Callable[[str], bytes | ReadFailure],
    keys: Iterable[str],
    in_flight: int,
) -> Iterator[tuple[str, bytes | ReadFailure]]:
    """``read`` of every key on the executor's threads, yielded as each completes.

    At most ``in_flight`` reads are submitted ahead of the caller, whatever the number of keys,
    so memory stays bounded over millions of keys; keep it above the thread count, so the
    threads work while the caller handles a finished read. Finished reads arrive on a queue
    (``wait()`` on the pending set costs time in proportion to its size, for every read).
    """
    key_iter = iter(keys)
    finished: queue.SimpleQueue[Future[bytes | ReadFailure]] = queue.SimpleQueue()
    pending: dict[Future[bytes | ReadFailure], str] = {}

    def submit(key: str) -> None:
        future = executor.submit(read, key)
        pending[future] = key
        future.add_done_callback(finished.put)

    try:
        for key in islice(key_iter, in_flight):
            submit(key)
        while pending:
            future = finished.get()
            key = pending.pop(future)
            # Refill before handing the result over, so the threads work while the caller does.
            for next_key in islice(key_iter, 1):
                submit(next_key)
            yield key, future.result()
    finally:
        # Reached early when the caller stops iterating or a store-wide error is raised:
        # what has not started is dropped.
        for future in pending:
            future.cancel()


class Storage(ABC):
    """A Perstack store, read-only."""

    @abstractmethod
    def get_storage_info(self) -> StorageInfo: ...

    @abstractmethod
    def check(self) -> None:
        """Fail with a one-line StorageError if the store cannot be reached or read at all."""

    @abstractmethod
    def list_job_ids(self) -> list[str]:
        """The ids of the job directories under ``jobs/``, sorted."""

    @abstractmethod
    def list_objects(self, prefix: str = "jobs/") -> Iterator[ObjectInfo]:
        """Every object whose store-relative key starts with ``prefix`` (recursive)."""

    # Whether list_changes can tell unchanged directories by their times (a filesystem).
    has_directory_times = False

    def unchanged_since(
        self, known: Mapping[str, int | None], recheck: Mapping[str, tuple]
    ) -> bool:
        """Whether the store holds exactly what the listing ``known`` and ``recheck`` describe
        (see list_changes): only a store with directory times can tell."""
        return False

    def list_changes(
        self, known: Mapping[str, int | None], recheck: Iterable[str]
    ) -> Iterator[ObjectInfo | DirectoryState]:
        """Every object under ``jobs/``, skipping what a backend can tell did not change since
        the listing ``known`` describes. An object store has no directory times to tell by:
        this default lists everything and yields no DirectoryState."""
        return self.list_objects("jobs/")

    def list_job_objects(self, job_id: str) -> Iterator[ObjectInfo]:
        return self.list_objects(f"jobs/{job_id}/")

    # Whether listing the store one job at a time is cheap (a local filesystem: a readdir or a
    # stat), rather than a request per job (an object store, whose whole listing in pages of
    # 1,000 keys costs fewer requests than one per job).
    lists_jobs_cheaply = False

    def list_job_files(self, job_ids: Iterable[str]) -> Iterator[ObjectInfo]:
        """The job.json of each of these jobs that has one."""
        for job_id in job_ids:
            key = f"jobs/{job_id}/{JOB_FILE}"
            yield from (info for info in self.list_objects(key) if info.key == key)

    def list_keys(self, prefix: str) -> Iterator[str]:
        """The keys under ``prefix``, in no particular order: ``list_objects`` without sizes
        or versions, which a backend may skip looking up."""
        return (info.key for info in self.list_objects(prefix))

    def first_event_ms(self, job_id: str) -> int | None:
        """The time in the name of the job's earliest event file (spec §4), from its keys alone.

        Only a name whose time is earlier than the earliest so far is parsed as a key: a job
        has thousands of event files, and parse_key is most of the time of this loop."""
        first: int | None = None
        for key in self.list_keys(f"jobs/{job_id}/runs/"):
            claimed = claimed_event_time(key[key.rfind("/") + 1 :])
            if claimed is None or (first is not None and claimed >= first):
                continue
            parsed = parse_key(key)
            if parsed is not None and parsed.event is not None:
                first = parsed.event.timestamp
        return first

    def list_run_objects(self, job_id: str, run_id: str) -> Iterator[ObjectInfo]:
        return self.list_objects(f"jobs/{job_id}/runs/{run_id}/")

    @abstractmethod
    def read_object(self, key: str) -> bytes:
        """The whole body of one object; StorageError if it cannot be read."""

    @abstractmethod
    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]:
        """Bodies of many objects, in any order, batched (and concurrent for remote stores).

        A key that cannot be read yields a ReadFailure instead of stopping the others; so does
        one found larger than ``max_bytes`` when its read begins (``too_large_to_read``),
        before its body is read: the listing's sizes keep such files out, but one may grow
        after it.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections or thread pools."""
