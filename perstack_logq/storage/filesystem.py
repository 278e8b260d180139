"""A store on a local (or mounted) filesystem: ``{root}/jobs/...``.

Read-only: nothing here opens a file for writing or creates a directory.

What counts as an object: a regular file, reached without following a symlink. The runtime
never writes symlinks, FIFOs or sockets; skipping them means a symlink loop cannot hang a
listing, a FIFO cannot block a read, and a link cannot pull files from outside the store into
it. The root itself (and ``jobs/``) may be symlinks: that is where the user pointed us.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from operator import attrgetter
from pathlib import Path

from perstack_logq.errors import StorageError
from perstack_logq.storage.base import (
    DirectoryState,
    ObjectInfo,
    ReadFailure,
    Storage,
    StorageInfo,
    read_concurrently,
    too_large_to_read,
)
from perstack_logq.storage.layout import (
    JOB_FILE,
    JOBS_DIR,
    NOT_UTF8,
    claimed_event_time,
    parse_key,
    unreadable_directory_version,
)

S_ISDIR, S_ISREG = stat.S_ISDIR, stat.S_ISREG
_entry_name = attrgetter("name")

# Reads are timed a window at a time; slower than this on average, the store is not in the page
# cache and the next window is read by threads.
_READ_WINDOW = 256
_SLOW_READ_SECONDS = 200e-6
_READ_THREADS = 16

_WHERE_TO_SET = "[storage.filesystem] path in perstack.toml, PERSTACK_STORAGE_PATH or --storage"
# O_NOFOLLOW: refuse a symlink as the last path component, as the listing does.
# O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect on regular files.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class FileSystemStorage(Storage):
    """The store rooted at ``root`` (made absolute; the runtime's ``./perstack`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self._root_text = str(self.root)

    def get_storage_info(self) -> StorageInfo:
        return StorageInfo("filesystem", str(self.root))

    def check(self) -> None:
        """The root must be a readable directory; a missing ``jobs/`` is an empty store."""
        try:
            with os.scandir(self.root):
                pass
        except FileNotFoundError:
            raise StorageError(
                f"Storage directory not found: {self.root} (set {_WHERE_TO_SET})"
            ) from None
        except NotADirectoryError:
            raise StorageError(
                f"Storage path is not a directory: {self.root} (the store is the directory "
                f"that holds jobs/; set {_WHERE_TO_SET})"
            ) from None
        except OSError as exc:
            raise StorageError(
                f"Cannot read storage directory {self.root}: {_reason(exc)}"
            ) from None
        jobs = self.root / JOBS_DIR
        if jobs.exists() and not jobs.is_dir():
            raise StorageError(
                f"Storage directory {self.root} is malformed: {jobs} is not a directory"
            )

    def list_job_ids(self) -> list[str]:
        jobs = self.root / JOBS_DIR
        try:
            with os.scandir(jobs) as entries:
                return sorted(
                    entry.name
                    for entry in entries
                    if _is_real_dir(entry) and not _undecodable(entry.name)
                )
        except FileNotFoundError:
            self.check()  # a missing root is an error, a missing jobs/ an empty store
            return []
        except OSError as exc:
            self.check()
            raise StorageError(f"Cannot list {jobs}: {_reason(exc)}") from None

    def list_objects(self, prefix: str = "jobs/") -> Iterator[ObjectInfo]:
        """Regular files whose key starts with ``prefix``: a directory's files in name order,
        then its subdirectories', in name order.

        ``prefix`` need not end at a directory: ``jobs/J/runs/R/event-17`` lists the events of
        R whose name starts with ``event-17``.
        """
        directory, _, name_prefix = prefix.rpartition("/")
        if not _is_safe_key(directory, allow_empty=True):
            raise StorageError(f"Invalid store key prefix: {prefix!r}")
        self.check()
        start_key = f"{directory}/" if directory else ""
        for item in self._walk(start_key, 0, name_prefix, {}, {}, {}):
            if type(item) is ObjectInfo:
                yield item

    lists_jobs_cheaply = True
    has_directory_times = True

    def list_job_files(self, job_ids: Iterable[str]) -> Iterator[ObjectInfo]:
        """The job.json of each of these jobs that has one: one stat a job. A job directory
        that cannot be read has none to show (a full listing names it as skipped)."""
        for job_id in job_ids:
            key = f"{JOBS_DIR}/{job_id}/{JOB_FILE}"
            if not _is_safe_key(key, allow_empty=False):
                continue  # no such directory can be listed either
            try:
                info = self._stat_if_there(key)
            except OSError:
                continue
            if info is not None and S_ISREG(info.st_mode):
                yield ObjectInfo(key, info.st_size, str(info.st_mtime_ns))

    def list_keys(self, prefix: str) -> Iterator[str]:
        """The regular files under the directory ``prefix`` (ending in ``/``), in no particular
        order, with no stat a file: readdir's entry types tell files from directories (and
        from symlinks, which are not followed), and a stat costs more than the rest. A
        directory that cannot be read has no files to show (a full listing names it as
        skipped)."""
        if not prefix.endswith("/") or not _is_safe_key(prefix[:-1], allow_empty=False):
            raise StorageError(f"Invalid store key prefix: {prefix!r}")
        root = f"{self._root_text}/"
        pending = [prefix]
        while pending:
            key = pending.pop()
            try:
                with os.scandir(root + key) as entries:
                    for entry in entries:
                        name = entry.name
                        if _undecodable(name):
                            yield _stray_key(key, name)
                        elif entry.is_dir(follow_symlinks=False):
                            pending.append(f"{key}{name}/")
                        elif entry.is_file(follow_symlinks=False):
                            yield key + name
            except OSError:
                # Removed while we listed (a live store), never there, or unreadable.
                continue

    def first_event_ms(self, job_id: str) -> int | None:
        """As Storage's, from a readdir of each run directory: no key is built for a name
        until it is the earliest candidate, which must then parse as an event and be a regular
        file (else the next one is tried), as list_keys would have it. `perstack log
        --no-cache` finds the latest job from these times; for the 5,056 jobs without job.json
        of the 10,000-job bench store they took 0.26 s instead of 0.39 s, 0.16 s of it reading
        the 147,000 names (25 instead of 33 ms for the 479 jobs of the 950-job store)."""
        runs_key = f"{JOBS_DIR}/{job_id}/runs/"
        if not _is_safe_key(runs_key[:-1], allow_empty=False):
            raise StorageError(f"Invalid store key prefix: {runs_key!r}")
        runs = f"{self._root_text}/{runs_key}"
        try:
            with os.scandir(runs) as entries:
                run_ids = [
                    entry.name
                    for entry in entries
                    if entry.is_dir(follow_symlinks=False) and not _undecodable(entry.name)
                ]
        except OSError:
            return None  # no runs/, or unreadable: list_keys shows no file there either
        candidates: list[tuple[int, str, str]] = []
        for run_id in run_ids:
            try:
                names = os.listdir(runs + run_id)
            except OSError:
                continue  # removed meanwhile, or unreadable
            for name in names:
                claimed = claimed_event_time(name)
                if claimed is not None:
                    candidates.append((claimed, run_id, name))
        for _, run_id, name in sorted(candidates):
            key = f"{runs_key}{run_id}/{name}"
            parsed = None if _undecodable(name) else parse_key(key)
            if parsed is None or parsed.event is None:
                continue
            try:
                info = self._stat_if_there(key)
            except OSError:
                continue
            if info is not None and S_ISREG(info.st_mode):
                return parsed.event.timestamp
        return None

    def unchanged_since(
        self, known: Mapping[str, int | None], recheck: Mapping[str, tuple]
    ) -> bool:
        """Whether every directory ``known`` lists still has its trusted mtime and every file
        of ``recheck`` its (size, version): list_changes would then find nothing new, since a
        new, removed or renamed entry moves its directory's mtime.

        No walk: the directories are stat'ed in the order given, and the first change is the
        answer (the caller gives the most recently changed first: in name order, as a walk
        goes, a live store's change was found after half the store on average, 0.5 s of stats
        on 10,000 jobs, before the sync walked it again)."""
        if not known:
            return False
        # One loop of plain calls, relative to the store's directory: it runs once per
        # directory of the store in every warm command (45,000 stats on 10,000 jobs), and a
        # helper call a stat, or the store's path resolved again in each, cost a tenth of it.
        stat = os.stat
        jobs_key = f"{JOBS_DIR}/"
        try:
            root = os.open(self._root_text, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return False  # gone or unreadable: the listing says which
        try:
            for key, mtime in known.items():
                if mtime is None:
                    return False  # changed too recently to be trusted
                # jobs/ may be a symlink, followed as list_changes does; nothing below it is.
                info = stat(key, dir_fd=root, follow_symlinks=key == jobs_key)
                if info.st_mtime_ns != mtime or not S_ISDIR(info.st_mode):
                    return False
            for key, listed in recheck.items():
                info = stat(key, dir_fd=root, follow_symlinks=False)
                if not S_ISREG(info.st_mode) or (info.st_size, str(info.st_mtime_ns)) != listed:
                    return False
        except OSError:
            return False  # gone (a change), or unreadable now: the listing says which
        finally:
            os.close(root)
        return True

    def list_changes(
        self, known: Mapping[str, int | None], recheck: Iterable[str]
    ) -> Iterator[ObjectInfo | DirectoryState]:
        """List ``jobs/`` like ``list_objects``, but trust directories that did not change.

        ``known`` maps every directory key of the previous listing to its mtime then (None when
        it was too recent to trust). A directory whose mtime is still the known one has the
        same entries (creating, deleting or renaming an entry changes it), so it is not read
        again: its files are not listed, but its subdirectories are visited and the files of
        ``recheck`` in it are stat'ed - the files the runtime rewrites in place (job.json,
        run-setting.json) and those that were being written. Every directory visited is
        yielded as a DirectoryState, in between the files.
        """
        self.check()
        jobs = f"{self._root_text}/{JOBS_DIR}"
        try:
            mtime = os.stat(jobs).st_mtime_ns  # jobs/ may be a symlink: the user's choice
        except FileNotFoundError:
            return  # an empty store
        except OSError as exc:
            raise StorageError(f"Cannot list {jobs}: {_reason(exc)}") from None
        subdirectories: dict[str, list[str]] = defaultdict(list)
        for key in known:
            subdirectories[_parent_key(key)].append(key)
        rechecked: dict[str, list[str]] = defaultdict(list)
        for key in recheck:
            rechecked[_parent_key(key)].append(key)
        yield from self._walk(f"{JOBS_DIR}/", mtime, "", known, subdirectories, rechecked)

    def _walk(
        self,
        start_key: str,
        start_mtime: int,
        name_prefix: str,
        known: Mapping[str, int | None],
        subdirectories: Mapping[str, list[str]],
        rechecked: Mapping[str, list[str]],
    ) -> Iterator[ObjectInfo | DirectoryState]:
        # One generator with a stack of directories, plain strings and one stat per entry: this
        # loop runs once per file of the store, and nested generators, Path objects or extra
        # calls per file cost more than the stat itself.
        root = f"{self._root_text}/"
        pending = [(start_key, start_mtime)]
        while pending:
            key, mtime = pending.pop()
            try:
                if known.get(key) == mtime:
                    # Its entries are the known ones: only those to stat again are stat'ed.
                    files = self._stat_files(rechecked.get(key, ()))
                    found = self._stat_directories(subdirectories.get(key, ()))
                    unchanged = True
                else:
                    files, found = self._read_directory(key, name_prefix)
                    unchanged = False
            except (FileNotFoundError, NotADirectoryError):
                continue  # removed while we listed (a live store), or the prefix names no directory
            except OSError as exc:
                if key == start_key:
                    raise StorageError(f"Cannot list {root + key}: {_reason(exc)}") from None
                # One directory that cannot be read (or searched: then its entries cannot be
                # stat'ed) must not fail the store: it is listed as an entry of its own,
                # skipped and named, and read again by every listing.
                yield DirectoryState(key, mtime, unchanged=False, listed=False)
                yield ObjectInfo(key, 0, unreadable_directory_version(_reason(exc)))
                continue
            finally:
                name_prefix = ""  # only the first directory is filtered
            yield DirectoryState(key, mtime, unchanged)
            yield from files
            pending.extend(reversed(found))  # popped last first: name order

    def _read_directory(
        self, key: str, name_prefix: str
    ) -> tuple[list[ObjectInfo], list[tuple[str, int]]]:
        """A directory's files, and its subdirectories with their mtimes, in name order; an
        OSError when any entry cannot be stat'ed (searching it is not permitted), so that a
        directory is listed whole or not at all."""
        with os.scandir(f"{self._root_text}/{key}") as it:
            entries = [entry for entry in it if entry.name.startswith(name_prefix)]
        entries.sort(key=_entry_name)
        files: list[ObjectInfo] = []
        found: list[tuple[str, int]] = []
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # vanished between readdir and stat
            mode = info.st_mode
            if _undecodable(entry.name):
                if S_ISREG(mode) or S_ISDIR(mode):
                    stray = _stray_key(key, entry.name)
                    files.append(ObjectInfo(stray, info.st_size, str(info.st_mtime_ns)))
            elif S_ISREG(mode):
                files.append(ObjectInfo(key + entry.name, info.st_size, str(info.st_mtime_ns)))
            elif S_ISDIR(mode):
                found.append((f"{key}{entry.name}/", info.st_mtime_ns))
        return files, found

    def _stat_files(self, keys: Iterable[str]) -> list[ObjectInfo]:
        """These files as they are now, in name order; OSError if one cannot be stat'ed."""
        files = []
        for key in sorted(keys):
            info = self._stat_if_there(key)
            if info is not None and S_ISREG(info.st_mode):
                files.append(ObjectInfo(key, info.st_size, str(info.st_mtime_ns)))
        return files

    def _stat_directories(self, keys: Iterable[str]) -> list[tuple[str, int]]:
        """These directories with their mtimes now; OSError if one cannot be stat'ed."""
        found = []
        for key in keys:
            info = self._stat_if_there(key)
            if info is not None and S_ISDIR(info.st_mode):
                found.append((key, info.st_mtime_ns))
        return found

    def _stat_if_there(self, key: str) -> os.stat_result | None:
        """The key's own stat (a symlink is not followed); None once it is gone (a race: in a
        directory whose mtime did not move, nothing was removed)."""
        try:
            return os.stat(f"{self._root_text}/{key}", follow_symlinks=False)
        except FileNotFoundError:
            return None

    def read_object(self, key: str) -> bytes:
        body = self._read(key)
        if isinstance(body, ReadFailure):
            raise StorageError(f"Cannot read {self.root / key}: {body.reason}")
        return body

    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]:
        """One file at a time while reads are fast, on a pool of threads while they are slow.

        A store in the page cache reads in ~10 us a file, and threads only add overhead; a
        store on a disk it has not been read from waits ~1 ms a file, and many reads in flight
        overlap that wait (measured here: 35 s -> 2.8 s for 30,000 files). So each window of keys
        is read the way the previous window's reads call for. Memory stays flat: one body at a
        time, or at most ``2 * _READ_THREADS`` in flight.
        """
        read = functools.partial(self._read, max_bytes=max_bytes)
        key_iter = iter(keys)
        executor: ThreadPoolExecutor | None = None
        try:
            while True:
                timings: list[float] = []
                # Keys are pulled as they are read: one at a time, or in flight on threads.
                window = islice(key_iter, _READ_WINDOW)
                if executor is None:
                    reads: Iterator[tuple[str, bytes | ReadFailure]] = (
                        (key, _timed(read, key, timings)) for key in window
                    )
                else:
                    reads = read_concurrently(
                        executor,
                        functools.partial(_timed, read, timings=timings),
                        window,
                        2 * _READ_THREADS,
                    )
                yield from reads
                if not timings:
                    return
                slow = sum(timings) / len(timings) > _SLOW_READ_SECONDS
                if slow and executor is None:
                    executor = ThreadPoolExecutor(_READ_THREADS, "perstack-logq-read")
                elif not slow and executor is not None:
                    executor.shutdown()
                    executor = None
        finally:
            if executor is not None:
                executor.shutdown(cancel_futures=True)

    def _read(self, key: str, max_bytes: int | None = None) -> bytes | ReadFailure:
        if not _is_safe_key(key, allow_empty=False):
            return ReadFailure(key, "invalid key")
        try:
            # A plain string path: building a Path per file costs more than reading a small one.
            fd = os.open(f"{self._root_text}/{key}", _OPEN_FLAGS)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW's answer for a symlink
                return ReadFailure(key, "is a symbolic link")
            return ReadFailure(key, _reason(exc))
        try:
            info = os.fstat(fd)
            if not S_ISREG(info.st_mode):
                return ReadFailure(key, "not a regular file")
            if max_bytes is not None and info.st_size > max_bytes:
                return too_large_to_read(key, info.st_size, max_bytes)
            return _read_size(fd, info.st_size)
        except OSError as exc:
            return ReadFailure(key, _reason(exc))
        finally:
            os.close(fd)


def _timed(
    read: Callable[[str], bytes | ReadFailure], key: str, timings: list[float]
) -> bytes | ReadFailure:
    started = time.perf_counter()
    body = read(key)
    timings.append(time.perf_counter() - started)
    return body


def _read_size(fd: int, size: int) -> bytes:
    """The ``size`` bytes fstat saw, in one read for all but huge files (readall costs a second
    read to find the end). Bytes a live store appends meanwhile are left for the next sync,
    which sees the new size and mtime."""
    body = os.read(fd, size)
    while len(body) < size:
        more = os.read(fd, size - len(body))
        if not more:  # truncated since fstat
            break
        body += more
    return body


def _parent_key(key: str) -> str:
    """``jobs/J/runs/R/`` -> ``jobs/J/runs/``; ``jobs/J/job.json`` -> ``jobs/J/``."""
    return key[: key.rstrip("/").rfind("/") + 1]


def _undecodable(name: str) -> bool:
    """Whether a file name holds bytes that are not UTF-8 (Python decodes them to lone
    surrogates, U+DC80 to U+DCFF, which neither DuckDB nor Arrow takes)."""
    return not name.isascii() and any("\udc80" <= char <= "\udcff" for char in name)


def _stray_key(parent_key: str, name: str) -> str:
    """The key a name that is not UTF-8 is listed under: each bad byte as U+FFFD and its hex
    value (two such names stay two keys), which makes it a stray file that is skipped and
    named, never read (layout.parse_key). The runtime writes UTF-8 names only; a directory so
    named is not entered, and is listed as a stray file of its parent: one odd name must not
    fail the whole store."""
    return parent_key + "".join(
        f"{NOT_UTF8}{ord(char) - 0xDC00:02x}" if "\udc80" <= char <= "\udcff" else char
        for char in name
    )


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


# Where a backslash separates directories (Windows), a key holding one could climb out of the
# root; elsewhere it is an ordinary character of a file name, and a job may have it in its id.
_OTHER_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep and sep != "/")


def _is_safe_key(key: str, *, allow_empty: bool) -> bool:
    """A store-relative key that stays inside the root once joined to it."""
    if not key:
        return allow_empty
    if key.startswith("/") or "\x00" in key or any(sep in key for sep in _OTHER_SEPARATORS):
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    return (exc.strerror or str(exc)).lower()
