"""How the cache file is opened, shared between processes, protected and repaired.

DuckDB lets one process write a database file, or any number of processes read it, never
both at once. So that a notebook and the CLI (or two CLIs) share one cache:

- a sync first looks on a read-only connection whether the store changed since the cache
  last saw it; only if it did is a write connection opened, and the views read their answers
  on whichever is open (one open per command), and ``History.sync`` closes it at once;
- user SQL runs on a read-only connection (DuckDB itself refuses writes there);
  ``read_detached`` (what ``History.sql`` calls) closes it as soon as the answer is in memory,
  so an idle notebook holds nothing that keeps another process from syncing;
- a process that finds the file held by another waits for it, with one notice line, up to
  ``LOCK_WAIT_SECONDS``: the holder is busy with a sync or a query and lets go when done.

The cache holds only data derived from the store, so a file that cannot be opened, was
written with another schema version or lacks one of its tables is deleted and rebuilt with one
notice line; a disk too full to hold it ends the sync with one error line and no file left.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from perstack_logq.decode import schema
from perstack_logq.engine.database import SCHEMA_VERSION, Database, ProgressCallback, SyncReport
from perstack_logq.engine.sandbox import check_read_only, one_line
from perstack_logq.engine.sqlfiles import sql_folder
from perstack_logq.errors import StorageError
from perstack_logq.storage.base import Storage
from perstack_logq.storage.layout import KeyKind

if TYPE_CHECKING:
    import pyarrow as pa

# How long a process waits for another one that holds the cache (a sync can take minutes on a
# cold, big store), and after how long of waiting it says so.
LOCK_WAIT_SECONDS = 600.0
_NOTICE_AFTER_SECONDS = 1.0
_RETRY_SECONDS = 0.05

_CREATED = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I
)

_log = logging.getLogger("perstack_logq")


def required_objects() -> frozenset[str]:
    """The tables and views a complete cache holds: the data tables, and what the schema's
    SQL files create (the manifest, the listing, the views)."""
    names = {"_meta", *(table.name for table in schema.DATA_TABLES)}
    for folder in ("sync", "views"):
        for sql in sql_folder(folder):
            if folder == "views" or sql.name.startswith("00_"):
                names.update(_CREATED.findall(sql.text))
    return frozenset(names)


class CacheDatabase(Database):
    """A store's cache file: a Database whose connection opens when needed and closes early.

    ``connection`` is whatever connection is open (after a sync, the write connection: the
    views read their answers on it without opening the file again), else a new read-only one.
    User SQL runs on ``read_only_connection()`` only.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        path: Path,
        memory_limit: str | None = None,
        temp_directory: Path | None = None,
        direct_reads: bool = False,
    ) -> None:
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._read_only = True
        self._checked = False
        self._results_connection: duckdb.DuckDBPyConnection | None = None
        super().__init__(
            storage,
            path=path,
            memory_limit=memory_limit,
            temp_directory=temp_directory,
            direct_reads=direct_reads,
        )

    @property
    def cache_path(self) -> Path:
        assert self.path is not None
        return self.path

    @property  # type: ignore[override]
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self._connection = self._open_checked(read_only=True)
            self._read_only = True
        return self._connection

    @connection.setter
    def connection(self, value: duckdb.DuckDBPyConnection | None) -> None:
        self._connection = value

    @property
    def reads_only(self) -> bool:
        """Whether the open connection, if any, is a read-only one."""
        return self._read_only

    def read_only_connection(self) -> duckdb.DuckDBPyConnection:
        """A connection DuckDB itself keeps from writing: the one user SQL runs on."""
        if not self._read_only:
            self.release()
        return self.connection

    def release(self) -> None:
        """Close the open connection: other processes may then sync, or read after a sync."""
        connection, self._connection = self._connection, None
        self._read_only = True
        if connection is not None:
            connection.close()

    # Database.__init__ calls these two: the file is opened, and checked, on first use.
    def _connect(self) -> None:  # type: ignore[override]
        return None

    def _prepare_schema(self) -> None:
        return None

    # -- opening --------------------------------------------------------------------------

    def _open(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        """A connection to the file, waiting while another process holds it."""
        _collect_closed_instance(self.cache_path)
        started = time.monotonic()
        announced = False
        while True:
            try:
                return duckdb.connect(
                    str(self.cache_path), read_only=read_only, config=dict(self.config)
                )
            except duckdb.IOException as error:
                if not _is_lock_conflict(error):
                    raise
                waited = time.monotonic() - started
                if waited > LOCK_WAIT_SECONDS:
                    raise StorageError(
                        f"cache {self.cache_path} is still in use by another process after "
                        f"{LOCK_WAIT_SECONDS:.0f} s ({_holder(error)}); try again, or use "
                        "--no-cache"
                    ) from error
                if not announced and waited >= _NOTICE_AFTER_SECONDS:
                    _log.warning(
                        "waiting for another process that is using the cache (%s)",
                        _holder(error),
                    )
                    announced = True
                time.sleep(_RETRY_SECONDS)

    def _open_checked(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        """``_open``, the first time after checking the file (and repairing it if needed)."""
        if self._checked:
            return self._open(read_only=read_only)
        connection, problem = self._open_and_check(read_only=read_only)
        if connection is None:
            self._repair(problem)
            connection = self._open(read_only=read_only)
        self._checked = True
        return connection

    def _open_and_check(
        self, *, read_only: bool
    ) -> tuple[duckdb.DuckDBPyConnection, None] | tuple[None, str]:
        """An open connection to a sound file, or why the file is not sound; a quick check
        that reads the catalog, never the tables."""
        if not self.cache_path.exists():
            return None, "does not exist"
        try:
            connection = self._open(read_only=read_only)
        except duckdb.ConnectionException:
            raise  # open in this process with other settings: nothing wrong with the file
        except duckdb.Error as error:
            return None, f"cannot be opened ({one_line(error)})"
        try:
            problem = _schema_problem(connection)
        except duckdb.Error as error:
            problem = f"cannot be read ({one_line(error)})"
        if problem is None:
            return connection, None
        connection.close()
        return None, problem

    # -- repairing ------------------------------------------------------------------------

    def _repair(self, problem: str) -> None:
        """Delete the file if there is one (one notice line) and create the tables afresh."""
        with self._repair_lock():
            # Checked again: another process may have repaired it while this one waited.
            connection, problem_now = self._open_and_check(read_only=True)
            if connection is not None:
                connection.close()
                return
            if self.cache_path.exists():
                _log.warning(
                    "cache %s %s: rebuilding it from the store", self.cache_path, problem_now
                )
                self._discard()
            self._connection, self._read_only = self._open(read_only=False), False
            with self._full_disk_removes_the_file():
                super()._prepare_schema()
                self._connection.execute("CHECKPOINT")
            self.release()

    @contextmanager
    def _repair_lock(self) -> Iterator[None]:
        """Only one process at a time checks, deletes and recreates the file."""
        lock_path = self.cache_path.with_name(self.cache_path.name + ".lock")
        try:
            handle = lock_path.open("a")
        except OSError as error:
            raise StorageError(f"cannot write the cache {lock_path}: {error.strerror}") from error
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _discard(self) -> None:
        """Delete the file and its write-ahead log: the next open starts an empty cache."""
        for leftover in (self.cache_path, self.cache_path.with_name(self.cache_path.name + ".wal")):
            try:
                leftover.unlink(missing_ok=True)
            except OSError as error:
                raise StorageError(
                    f"cannot remove the cache {leftover}: {error.strerror}"
                ) from error

    @contextmanager
    def _full_disk_removes_the_file(self) -> Iterator[None]:
        try:
            yield
        except duckdb.Error as error:
            if not _is_disk_full(error):
                raise
            connection, self._connection = self._connection, None
            if connection is not None:
                with suppress(duckdb.Error):
                    connection.close()
            self._discard()
            raise StorageError(
                f"no space left on the disk of the cache {self.cache_path} (removed it): "
                "free some space, or give another --cache-dir, or use --no-cache"
            ) from error

    # -- what callers use -----------------------------------------------------------------

    def sync(
        self,
        job_ids: Sequence[str] | None = None,
        *,
        kinds: Iterable[KeyKind] | None = None,
        progress: ProgressCallback | None = None,
        rescan: bool = False,
        as_listed: bool = False,
    ) -> SyncReport:
        """Database.sync, on a write connection only when there is something to do; the
        connection left open serves the views' reads until ``release()`` (or, a write one,
        until a read-only connection is asked for).

        Unless ``rescan``, a sync first looks on a read-only connection whether it has
        anything to do (``report_if_current``): a warm command then never opens the file for
        writing (an open, a checkpoint and a close: 17 ms of a 0.2 s `perstack log query`),
        its reads go on in that connection, and a notebook holding the cache does not make it
        wait.
        """
        if self._read_only and not rescan:
            current = self.report_if_current(job_ids, kinds=kinds, as_listed=as_listed)
            if current is not None:
                return current
        if self._read_only:
            self.release()
            self._connection = self._open_checked(read_only=False)
            self._read_only = False
        with self._full_disk_removes_the_file():
            report = super().sync(
                job_ids, kinds=kinds, progress=progress, rescan=rescan, as_listed=as_listed
            )
            # Closing checkpoints the WAL into the file, and DuckDB ignores a failure there
            # (a full disk): checkpointed now, the failure is seen.
            self.connection.execute("CHECKPOINT")
        return report

    def write_connection(self) -> duckdb.DuckDBPyConnection:
        """The write connection (opened, waiting for other processes, when the open one is
        read-only): for our own small tables, such as the prices of the cost views."""
        if self._read_only or self._connection is None:
            self.release()
            self._connection = self._open_checked(read_only=False)
            self._read_only = False
        return self._connection

    def rebuild(self) -> None:
        """Start again from an empty cache (the next sync reads the whole store)."""
        # Waits until no other process uses the file, so that none is deleted under a reader.
        self.release()
        with suppress(duckdb.IOException):  # a file that cannot be opened goes all the same
            self._open(read_only=False).close()
        with self._repair_lock():
            self._discard()
        self._checked = False

    def read_detached(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> duckdb.DuckDBPyRelation:
        """The answer of a read-only query, held in memory apart from the cache file, whose
        connection is closed at once: a relation kept in a notebook holds no lock."""
        check_read_only(self._results, sql)
        try:
            table: pa.Table = (
                self.read_only_connection()
                .sql(sql, params=dict(params) if params else None)
                .to_arrow_table()
            )
        finally:
            self.release()
        return self._results.from_arrow(table)

    @property
    def _results(self) -> duckdb.DuckDBPyConnection:
        """An in-memory connection of this process that holds detached answers."""
        if self._results_connection is None:
            self._results_connection = duckdb.connect()
        return self._results_connection

    def close(self) -> None:
        self.release()
        if self._results_connection is not None:
            self._results_connection.close()
            self._results_connection = None


def _schema_problem(connection: duckdb.DuckDBPyConnection) -> str | None:
    present = {
        name
        for (name,) in connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'"
        ).fetchall()
    }
    missing = sorted(required_objects() - present)
    if "_meta" in missing:
        return "lacks its schema version"
    version = connection.execute("SELECT max(schema_version) FROM _meta").fetchone()
    found = version[0] if version else None
    if found != SCHEMA_VERSION:
        return f"has schema version {found}, this version uses {SCHEMA_VERSION}"
    if missing:
        return f"lacks its table {missing[0]}"
    return None


def _collect_closed_instance(path: Path) -> None:
    """Free what garbage keeps of an instance of ``path`` whose connections are all closed.

    DuckDB's ``connect`` spins, at full CPU and for ever, while such an instance lives (duckdb
    issue 25965): a relation or an Arrow reader read only part of the way keeps one alive,
    and an exception's traceback keeps those until the cycle collector runs. A command that
    failed half-way through its output, then the next ``connect`` in the same process (a
    notebook, the MCP server), hung. The collector runs only when this process has the file
    open (seen in /proc; always where there is no /proc): most opens cost no collection.
    """
    if _open_in_this_process(path) is not False:
        gc.collect()


def _open_in_this_process(path: Path) -> bool | None:
    """Whether one of this process's file descriptors is ``path`` (None: cannot tell)."""
    try:
        descriptors = os.scandir("/proc/self/fd")
    except OSError:
        return None
    target = os.path.realpath(path)
    with descriptors:
        for entry in descriptors:
            with suppress(OSError):
                if os.readlink(entry.path) == target:
                    return True
    return False


def _is_lock_conflict(error: duckdb.Error) -> bool:
    return "Could not set lock on file" in str(error) or "Conflicting lock" in str(error)


def _is_disk_full(error: duckdb.Error) -> bool:
    text = str(error)
    return "No space left on device" in text or "disk is full" in text.lower()


def _holder(error: duckdb.Error) -> str:
    """``PID 1234`` from DuckDB's lock message, when it names the holder."""
    found = re.search(r"PID (\d+)", str(error))
    return f"PID {found.group(1)}" if found else "a process"
