"""A store on a local (or mounted) filesystem: ``{root}/jobs/...``.

Read-only: nothing here opens a file for writing or creates a directory.

What counts as an object: a regular file, reached without following a symlink. The runtime
never writes symlinks, FIFOs or sockets; skipping them means a symlink loop cannot hang a
listing, a FIFO cannot block a read, and a link cannot pull files from outside the store into
it. The root itself (and ``jobs/``) may be symlinks: that is where the user pointed us.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from perstack_logq.errors import StorageError
from perstack_logq.storage.base import ObjectInfo, ReadFailure, Storage, StorageInfo
from perstack_logq.storage.layout import JOBS_DIR

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
                return sorted(entry.name for entry in entries if _is_real_dir(entry))
        except FileNotFoundError:
            self.check()  # a missing root is an error, a missing jobs/ an empty store
            return []
        except OSError as exc:
            self.check()
            raise StorageError(f"Cannot list {jobs}: {_reason(exc)}") from None

    def list_objects(self, prefix: str = "jobs/") -> Iterator[ObjectInfo]:
        """Regular files whose key starts with ``prefix``, sorted by name within a directory.

        ``prefix`` need not end at a directory: ``jobs/J/runs/R/event-17`` lists the events of
        R whose name starts with ``event-17``.
        """
        directory, _, name_prefix = prefix.rpartition("/")
        if not _is_safe_key(directory, allow_empty=True):
            raise StorageError(f"Invalid store key prefix: {prefix!r}")
        self.check()
        start_key = f"{directory}/" if directory else ""
        yield from self._walk(self.root / directory, start_key, name_prefix)

    def _walk(
        self, directory: Path, key_prefix: str, name_prefix: str = ""
    ) -> Iterator[ObjectInfo]:
        try:
            with os.scandir(directory) as it:
                entries = sorted(
                    (entry for entry in it if entry.name.startswith(name_prefix)),
                    key=lambda entry: entry.name,
                )
        except (FileNotFoundError, NotADirectoryError):
            return  # removed while we listed (a live store), or the prefix names no directory
        except OSError as exc:
            raise StorageError(f"Cannot list {directory}: {_reason(exc)}") from None
        for entry in entries:
            key = f"{key_prefix}{entry.name}"
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # vanished between readdir and stat
            except OSError as exc:
                raise StorageError(f"Cannot list {entry.path}: {_reason(exc)}") from None
            if stat.S_ISDIR(info.st_mode):
                yield from self._walk(Path(entry.path), f"{key}/")
            elif stat.S_ISREG(info.st_mode):
                yield ObjectInfo(key=key, size=info.st_size, version=str(info.st_mtime_ns))

    def read_object(self, key: str) -> bytes:
        body = self._read(key)
        if isinstance(body, ReadFailure):
            raise StorageError(f"Cannot read {self.root / key}: {body.reason}")
        return body

    def read_objects(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes | ReadFailure]]:
        """One file at a time, in the order given: a local disk gains little from threads, and
        holding one body at a time keeps memory flat whatever the number of keys."""
        for key in keys:
            yield key, self._read(key)

    def _read(self, key: str) -> bytes | ReadFailure:
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
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ReadFailure(key, "not a regular file")
            with io.FileIO(fd, closefd=False) as file:
                return file.readall()
        except OSError as exc:
            return ReadFailure(key, _reason(exc))
        finally:
            os.close(fd)


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_safe_key(key: str, *, allow_empty: bool) -> bool:
    """A store-relative key that stays inside the root once joined to it."""
    if not key:
        return allow_empty
    if key.startswith("/") or "\\" in key or "\x00" in key:
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
