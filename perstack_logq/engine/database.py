"""The embedded DuckDB database that holds a store's history as tables.

Objects flow storage -> decoder -> Arrow batches -> DuckDB, one bounded batch at a time.
A manifest (``_objects``: key, size, version) records what each row came from, so a sync
reads only what is new or changed and forgets what left the store; the same code fills a
throw-away in-memory database and the persistent cache. Each batch commits its rows and its
manifest entries in one transaction: a sync that is interrupted leaves a database the next
sync completes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb
import orjson

from perstack_logq.config import number_from_environment
from perstack_logq.decode import schema
from perstack_logq.engine.changed_jobs import ChangedJobs
from perstack_logq.engine.sqlfiles import sql_file, sql_folder
from perstack_logq.storage.base import DirectoryState, ObjectInfo, ReadFailure, Storage
from perstack_logq.storage.layout import KeyKind, parse_key

if TYPE_CHECKING:
    import pyarrow as pa

# perstack_logq.decode.records (and the secret patterns, credential rules and conversation code
# it imports) is imported where objects are decoded or rows appended: a warm command does
# neither, and the import was 3 ms of a 0.19 s `perstack log query`.

# Bump when a table's columns or meaning change: an older cache is then rebuilt, not migrated
# (it holds only data derived from the store).
SCHEMA_VERSION = 9

# The sync's temporary tables of what it listed, described as the decoder's tables are (the
# same Arrow types; pyarrow is imported only when rows are appended).
_SYNC_LISTING = schema.Table(
    "_sync_listing",
    "the objects this sync listed (columns as in _listing)",
    (
        schema.Column("key", "VARCHAR", "store-relative key"),
        schema.Column("job_id", "VARCHAR", "job the key is in"),
        schema.Column("kind", "VARCHAR", "storage.layout.KeyKind value"),
        schema.Column("size", "BIGINT", "bytes"),
        schema.Column("version", "VARCHAR", "mtime or ETag: a change means a re-read"),
        schema.Column("event_ms", "BIGINT", "an event's time, from its file name"),
    ),
)
_SYNC_DIRS = schema.Table(
    "_sync_dirs",
    "the directories this sync listed (filesystem stores)",
    (
        schema.Column("key", "VARCHAR", "store-relative key of the directory, ending in /"),
        schema.Column("mtime_ns", "BIGINT", "its mtime"),
        schema.Column("settled", "BOOLEAN", "changed long enough ago to be trusted"),
        schema.Column("unchanged", "BOOLEAN", "the same mtime as at the last listing"),
    ),
)
_INT64_MAX = 2**63 - 1
_LISTING_BATCH = 50_000
_SMALL_APPEND = 1_000  # rows: fewer are inserted without Arrow (see _append)
_LISTING_PROGRESS_EVERY = 1_000  # keys: one S3 page
_SETTLED_AFTER_NS = 2_000_000_000
# One batch (read, decoded, committed in one transaction) holds at most this much JSON or this
# many objects: memory depends on these, never on the size of the store.
_BATCH_BYTES = 16 * 1024 * 1024
_BATCH_KEYS = 4_000
# A file bigger than this is not read, only named as skipped ("too large"): one stray file of
# gigabytes in a store (a dump, a disk image, a tool's output gone wrong) would be read whole
# into memory, and the sync killed for it. The biggest files of long sessions are a few MB (a
# checkpoint holds its whole conversation); the environment variable sets another limit.
MAX_FILE_ENV = "PERSTACK_LOGQ_MAX_FILE_MB"
_DEFAULT_MAX_FILE_MB = 256


def max_file_bytes() -> int:
    """The size in bytes above which a file is not read (``PERSTACK_LOGQ_MAX_FILE_MB``, in MB
    of 10^6 bytes; 256 unless set)."""
    megabytes = number_from_environment(
        MAX_FILE_ENV, most=9e9, problem=": give a number of megabytes above 0 (at most 9e9)"
    )
    return _DEFAULT_MAX_FILE_MB * 10**6 if megabytes is None else max(1, int(megabytes * 10**6))


# A file database checkpoints (rewrites its tables to the file) when its WAL reaches this size.
# DuckDB's default, 16 MB, means a checkpoint after nearly every batch of a big sync, a quarter
# of its CPU time; committed batches are in the WAL either way, so a killed sync loses none.
_CHECKPOINT_THRESHOLD = "1GB"

ProgressCallback = Callable[["SyncProgress"], None]


class ObjectReader(Protocol):
    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]: ...


@dataclass
class SyncProgress:
    objects_total: int = 0
    objects_done: int = 0
    bytes_done: int = 0
    # While the store is listed: its location and the keys listed so far (None once listed).
    listing: str | None = None
    listed: int = 0


@dataclass
class SyncReport:
    listed: int = 0
    read: int = 0
    removed: int = 0
    unreadable: list[str] = field(default_factory=list)
    # The store was found as the last full listing saw it: a sync of some of its jobs right
    # after may take their objects from that listing (``Database.sync(..., as_listed=True)``).
    as_listed: bool = False


@dataclass
class DecodedBatch:
    """One batch of objects, read and decoded: what one transaction commits."""

    tables: dict[str, pa.Table]
    keys: list[str]  # decoded (including those that became skipped_files rows)
    unreadable: list[str]  # not read: left out of the manifest, retried by the next sync
    objects: int
    bytes: int


def decode_objects(
    objects: Iterable[tuple[str, bytes | ReadFailure]], *, conversations: bool = True
) -> Iterator[DecodedBatch]:
    """Decode objects as they arrive; a batch each _BATCH_BYTES of JSON or _BATCH_KEYS objects.
    ``conversations``: as StoreDecoder's."""
    from perstack_logq.decode.records import StoreDecoder

    decoder = StoreDecoder(conversations=conversations)
    batch = DecodedBatch({}, [], [], 0, 0)
    for key, body in objects:
        batch.objects += 1
        if isinstance(body, ReadFailure):
            decoder.skip(key, "unreadable", body.reason)
            batch.unreadable.append(key)
        else:
            decoder.add(key, body)
            batch.keys.append(key)
            batch.bytes += len(body)
        if batch.bytes >= _BATCH_BYTES or batch.objects >= _BATCH_KEYS:
            batch.tables = decoder.flush()
            yield batch
            batch = DecodedBatch({}, [], [], 0, 0)
    if batch.objects:
        batch.tables = decoder.flush()
        yield batch


class _CommitThread:
    """Commits batches on a thread of its own while the caller reads and decodes the next ones.

    DuckDB releases the GIL while it writes, so decoding (Python) and writing (DuckDB) overlap
    on two cores at no extra CPU cost. At most two decoded batches wait: memory stays bounded.
    """

    def __init__(self, commit: Callable[[dict[str, pa.Table], list[str]], None]) -> None:
        self._commit = commit
        self._queue: queue.Queue[DecodedBatch | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="perstack-logq-commit")
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:  # after a failure, drain the queue without writing
                try:
                    self._commit(batch.tables, batch.keys)
                except BaseException as error:
                    self._error = error

    def put(self, batch: DecodedBatch) -> None:
        self._raise_failure()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait for the batches handed over so far (also when the caller failed or was
        interrupted: each is a whole transaction), then raise what the writer met."""
        self._queue.put(None)
        self._thread.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error


def row_limit(limit: int) -> int:
    """A row count as DuckDB's LIMIT takes it (a BIGINT): a larger one, which a user may well
    type, asks for more rows than any table holds, so it means all of them."""
    return min(limit, _INT64_MAX)


def json_param(value: object) -> str:
    """Many values as one parameter, a JSON text for DuckDB's ``from_json``. DuckDB converts
    each bound Python value on its own, asking each time whether it is a pandas object: where
    pandas is not installed (or is hidden: cli.entry_point) that is a failed import per value,
    10 to 60 us. 10,000 job ids took 0.1 to 0.5 s as a list parameter, 2 ms as JSON."""
    return orjson.dumps(value).decode()


def _scope_params(
    kind_names: list[str] | None, job_ids: Sequence[str] | None
) -> dict[str, str | list[str] | None]:
    """A sync's scope as the parameters of its SQL: ``$kinds``, and ``$job_ids`` as JSON."""
    return {"kinds": kind_names, "job_ids": None if job_ids is None else json_param(job_ids)}


def insert_rows(
    connection: duckdb.DuckDBPyConnection, table: schema.Table, rows: Sequence[tuple]
) -> None:
    """Python row tuples into ``table``, as one JSON text (``json_param``, one list per
    column): ``executemany`` took 0.35 s for 500 rows, a VALUES list of parameters 86 ms for
    1,000, this 3 ms. For up to some thousands of rows (Arrow is faster beyond), of columns
    JSON holds as they are: VARCHAR, BIGINT, BOOLEAN."""
    structure = orjson.dumps({column.name: [column.sql_type] for column in table.columns})
    values = ", ".join(f'unnest(r."{column.name}")' for column in table.columns)
    columns = {
        column.name: [row[index] for row in rows] for index, column in enumerate(table.columns)
    }
    connection.execute(
        f"INSERT INTO {table.name} SELECT {values} "
        f"FROM (SELECT from_json($rows, '{structure.decode()}') AS r)",
        {"rows": json_param(columns)},
    )


def columns_sql(table: schema.Table) -> str:
    return ", ".join(f'"{c.name}" {c.sql_type}' for c in table.columns)


def _create_table_sql(table: schema.Table) -> str:
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({columns_sql(table)})"


class Database:
    """A DuckDB database over one store. ``path=None`` keeps it in memory.

    ``direct_reads``: fetch S3/R2 object bodies with DuckDB httpfs (engine/httpfs.py) instead
    of the storage's boto3 client; the decoder and the tables are the same either way. It has
    no effect on a filesystem store.

    ``conversations=False`` (in memory only: engine/cache.open_database): a history for a
    view that shows no conversation (``perstack log``'s terminal view without a cache).
    ``messages`` stays empty and records hold a marker in place of each conversation; a
    restore reads such a record's file again.
    """

    # Progress of the syncs that name none (the views' own): set by the CLI on a terminal.
    default_progress: ProgressCallback | None = None

    def __init__(
        self,
        storage: Storage,
        *,
        path: Path | None = None,
        memory_limit: str | None = None,
        temp_directory: Path | None = None,
        direct_reads: bool = False,
        conversations: bool = True,
    ) -> None:
        self.storage = storage
        self.path = path
        self.direct_reads = direct_reads
        self.conversations = conversations
        # Files larger are not read (max_file_bytes): each sync reads the variable again.
        self.file_size_limit = _DEFAULT_MAX_FILE_MB * 10**6
        config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if temp_directory:
            config["temp_directory"] = str(temp_directory)
        if path:
            config["checkpoint_threshold"] = _CHECKPOINT_THRESHOLD
        self.config = config
        self.connection = self._connect()
        self._prepare_schema()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """The connection sync writes with (engine/connections.py opens a cache file's)."""
        return duckdb.connect(str(self.path) if self.path else ":memory:", config=self.config)

    # -- schema ---------------------------------------------------------------------------

    def _prepare_schema(self) -> None:
        con = self.connection
        con.execute("CREATE TABLE IF NOT EXISTS _meta (schema_version INTEGER NOT NULL)")
        stored = con.execute("SELECT max(schema_version) FROM _meta").fetchone()
        if stored and stored[0] is not None and stored[0] != SCHEMA_VERSION:
            self._drop_everything()
        if not stored or stored[0] != SCHEMA_VERSION:
            con.execute("DELETE FROM _meta")
            con.execute("INSERT INTO _meta VALUES (?)", [SCHEMA_VERSION])
        for table in schema.DATA_TABLES:
            con.execute(_create_table_sql(table))
        for sql in sql_folder("sync"):
            if sql.name.startswith("00_"):
                con.execute(sql.text)
        for view in sql_folder("views"):
            con.execute(view.text)

    def _drop_everything(self) -> None:
        con = self.connection
        views = con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
        ).fetchall()
        for (name,) in views:
            con.execute(f'DROP VIEW IF EXISTS "{name}"')
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
        for (name,) in tables:
            con.execute(f'DROP TABLE IF EXISTS "{name}"')
        con.execute("CREATE TABLE IF NOT EXISTS _meta (schema_version INTEGER NOT NULL)")

    # -- sync -----------------------------------------------------------------------------

    def sync(
        self,
        job_ids: Sequence[str] | None = None,
        *,
        kinds: Iterable[KeyKind] | None = None,
        progress: ProgressCallback | None = None,
        rescan: bool = False,
        as_listed: bool = False,
    ) -> SyncReport:
        """Bring the tables up to date with the store, for the given jobs (default: all).

        ``kinds`` limits what is read (e.g. only job.json files to find the latest job).
        A full sync of a filesystem store lists again only the directories whose mtime moved
        (and the files the runtime rewrites in place); ``rescan`` stats every file instead,
        for a store whose files were changed in place by something else than the runtime.
        ``as_listed``: the caller has just found the store as the last full listing saw it (a
        report's ``as_listed``), so a sync of some jobs takes their objects from that listing
        instead of listing them again.
        """
        report = SyncReport()
        self.file_size_limit = max_file_bytes()
        progress = progress or self.default_progress
        kind_names = None if kinds is None else sorted(k.value for k in kinds)
        con = self.connection
        state = SyncProgress(listing=self.storage.get_storage_info().location)
        # The jobs the SQL after the listing looks at (None: all): the given ones, or those a
        # full listing found changed.
        scope = job_ids
        if job_ids is None:
            # Unless ``rescan``, the last full listing tells which directories need no listing
            # again; if none does and no file to stat again changed, the store is as last listed.
            known, recheck = ({}, {}) if rescan else (self._known_dirs(), self._recheck_files())
            as_last_listed = (
                not rescan
                and self._recent_dirs_unchanged()
                and self.storage.unchanged_since(known, recheck)
            )
            if as_last_listed:
                report.as_listed = True
                if self._holds_listed(kind_names):
                    # Nothing loaded, not even into Arrow: a fresh cache answers at once (and
                    # pyarrow does not import pandas, when installed, for its first conversion).
                    report.listed = con.execute("SELECT count(*) FROM _listing").fetchone()[0]
                    return report
                # The store is as last listed, but the cache holds only part of it (`perstack
                # log` reads job.json files and one job): what it lacks is found in the last
                # listing itself, which stays as it is. Loading the listing again and comparing
                # it with itself took 0.4 s of a `perstack log` on a 10,000-job store.
                # Only the kinds this sync reads: all of it is 32,000 rows copied for the 471
                # job.json files the latest job is found from (950-job store).
                self._listed_scope(kind_names, None)
                listed = con.execute("SELECT count(*) FROM _listing").fetchone()[0]
            else:
                listing = self.storage.list_changes(known, recheck)
                # When the cache holds the whole last listing, only the jobs the listing finds
                # changed need the SQL below: it then follows the change, not the store's size.
                # A rescan knows no directory, so it cannot tell which ones left.
                follow = not rescan and self._listing_is_held()
                watcher = ChangedJobs(known, recheck) if follow else None
                self._load_listing(watcher.watch(listing) if watcher else listing, progress, state)
                self._set_listing_held(False)  # not known again until this sync ends
                changed_jobs = watcher.changed_jobs(con) if watcher else None
                # The last full listing stays: finding the latest job reads event times from
                # it, and the next full listing starts from it and its directories.
                con.execute(
                    sql_file("sync", "05_unchanged_dirs").text,
                    {"job_ids": None if changed_jobs is None else json_param(changed_jobs)},
                )
                if changed_jobs is None:
                    self._replace_listing("06_replace_listing")
                else:
                    self._keep_jobs(changed_jobs)
                    self._replace_listing("06_replace_listing_of_jobs")
                    scope = changed_jobs
                listed = con.execute("SELECT count(*) FROM _listing").fetchone()[0]
        elif as_listed:
            report.as_listed = True
            if self._holds_listed(kind_names, job_ids):
                report.listed = con.execute("SELECT count(*) FROM _listing").fetchone()[0]
                return report
            listed = self._listed_scope(kind_names, job_ids)
        else:
            listed = self._load_listing(self._job_listing(job_ids, kind_names), progress, state)
        report.listed = listed
        con.execute("DROP TABLE _sync_dirs")
        params = _scope_params(kind_names, scope)
        # The manifest may change from here on, whatever the scope (for a full listing, the
        # listing did already).
        self._set_listing_held(False)
        con.execute(sql_file("sync", "10_pending").text, params)
        con.execute(sql_file("sync", "20_stale").text, params)
        report.removed, stale = con.execute(
            "SELECT count(*) FILTER (WHERE p.key IS NULL), count(*) "
            "FROM _sync_stale AS s LEFT JOIN _sync_pending AS p USING (key)"
        ).fetchone()
        # Rows derived from other files (a checkpoint's error, a message's first holder) are
        # put right only when files changed or left: a sync that adds files skips both.
        if stale and (kind_names is None or {"checkpoint", "event"} & set(kind_names)):
            for rule in ("22_reread_error_checkpoints", "25_reread_conversations"):
                con.execute(sql_file("sync", rule).text)
                con.execute(sql_file("sync", "27_reread_files").text)
        self._forget_stale()
        total, pending_bytes = con.execute(
            "SELECT count(*), coalesce(sum(size) FILTER (WHERE NOT (" + self._unread + ")), 0) "
            "FROM _sync_pending"
        ).fetchone()
        state.objects_total = total
        state.objects_done = self._skip_unread()
        if progress:
            progress(state)
        writer = _CommitThread(self._commit)
        try:
            for batch in self._decoded_batches(pending_bytes):
                writer.put(batch)
                report.read += len(batch.keys)
                report.unreadable.extend(batch.unreadable)
                state.objects_done += batch.objects
                state.bytes_done += batch.bytes
                if progress:
                    progress(state)
        finally:
            writer.close()
        if report.read:
            con.execute(sql_file("sync", "30_checkpoint_errors").text)
        if job_ids is None and kind_names is None:
            if scope is None:
                held = con.execute(sql_file("sync", "03_manifest_complete").text).fetchone()[0]
            else:  # the cache held the rest of the listing, which this sync left alone
                held = self._holds_sync_listing(None, scope)
            self._set_listing_held(held)
        con.execute("DROP TABLE IF EXISTS _sync_jobs")
        con.execute("DROP TABLE IF EXISTS _sync_pending")
        con.execute("DROP TABLE IF EXISTS _sync_stale")
        con.execute("DROP TABLE IF EXISTS _sync_listing")
        return report

    def _skip_unread(self) -> int:
        """Pending files recorded as skipped and entered in the manifest without a single
        read: stray files (``.DS_Store``, editor backups, bad event names), whose bodies cannot
        matter, and files too large to read (``max_file_bytes``)."""
        from perstack_logq.decode.records import StoreDecoder

        skipped = 0
        for rows in self._pending_chunks(unread=True):
            decoder = StoreDecoder()
            for key, version, kind, size in rows:
                if kind == KeyKind.UNKNOWN.value:
                    decoder.skip_unlisted(key, version)
                else:
                    decoder.skip(
                        key,
                        "too_large",
                        f"{size:,} bytes; files over {self.file_size_limit:,} bytes are not read "
                        f"({MAX_FILE_ENV} sets the limit in MB)",
                    )
            self._commit(decoder.flush(), [key for key, *_ in rows])
            skipped += len(rows)
        return skipped

    @property
    def _unread(self) -> str:
        """Which rows of ``_sync_pending`` are skipped unread (a condition in SQL; the limit is
        an integer of ours, written in: a bound value would import pandas, see 01_recent_dirs)."""
        return f"kind = 'unknown' OR size > {int(self.file_size_limit)}"

    def _decoded_batches(self, pending_bytes: int) -> Iterator[DecodedBatch]:
        """The pending objects read and decoded, one bounded batch at a time, from one stream
        of reads: a remote store's GETs stay in flight while a batch is decoded."""
        with self._object_reader(pending_bytes) as reader:
            keys = (key for rows in self._pending_chunks() for key, _ in rows)
            reads = reader.read_objects(keys, max_bytes=self.file_size_limit)
            yield from decode_objects(reads, conversations=self.conversations)

    @contextmanager
    def _object_reader(self, pending_bytes: int) -> Iterator[ObjectReader]:
        """Where bodies come from: the storage itself, or httpfs when asked."""
        if not (self.direct_reads and pending_bytes):
            yield self.storage
            return
        # Imported here: httpfs needs boto3 and the extension, which a filesystem user lacks.
        from perstack_logq.engine.httpfs import DirectReader
        from perstack_logq.storage.s3 import ObjectStoreStorage

        if not isinstance(self.storage, ObjectStoreStorage):
            yield self.storage
            return
        reader = DirectReader(self.storage)
        try:
            yield reader
        finally:
            reader.close()

    def _new_sync_tables(self) -> None:
        """The sync's tables of what it listed. Temporary: in memory, never written to the
        cache file or its checkpoints."""
        con = self.connection
        con.execute("CREATE OR REPLACE TEMP TABLE _sync_listing AS SELECT * FROM _listing LIMIT 0")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _sync_dirs ({columns_sql(_SYNC_DIRS)})")

    def _load_listing(
        self,
        listing: Iterator[ObjectInfo | DirectoryState],
        progress: ProgressCallback | None,
        state: SyncProgress,
    ) -> int:
        """Load a listing into ``_sync_listing`` (and the directories it went through into
        ``_sync_dirs``); the number of objects it holds. The files of the directories an
        incremental listing found unchanged are not in it: ``05_unchanged_dirs`` copies them
        from the last full listing."""
        self._new_sync_tables()
        # A directory changed within this margin of the listing could change again in the same
        # clock tick without its mtime moving (the racy-git problem): it is not trusted yet.
        settled_before = time.time_ns() - _SETTLED_AFTER_NS
        count = 0
        rows: list[tuple[str, str, str, int, str, int | None]] = []
        directories: list[tuple[str, int, bool, bool]] = []
        for item in listing:
            if type(item) is DirectoryState:
                key, mtime, unchanged, listed = item
                directories.append((key, mtime, listed and mtime < settled_before, unchanged))
                if len(directories) >= _LISTING_BATCH:
                    self._append(_SYNC_DIRS, directories)
                    directories = []
                continue
            state.listed += 1
            if progress and not state.listed % _LISTING_PROGRESS_EVERY:
                progress(state)
            parsed = parse_key(item.key)
            if parsed is None:
                continue
            event_ms = parsed.event.timestamp if parsed.event else None
            rows.append(
                (item.key, parsed.job_id, parsed.kind.value, item.size, item.version, event_ms)
            )
            if len(rows) >= _LISTING_BATCH:
                count += self._append(_SYNC_LISTING, rows)
                rows = []
        state.listing = None  # listed: the display ends its listing line
        if progress:
            progress(state)
        count += self._append(_SYNC_LISTING, rows)
        self._append(_SYNC_DIRS, directories)
        return count

    def report_if_current(
        self,
        job_ids: Sequence[str] | None = None,
        *,
        kinds: Iterable[KeyKind] | None = None,
        as_listed: bool = False,
    ) -> SyncReport | None:
        """The report of a sync (same arguments) that would find nothing to do, found by
        reading only, so on a read-only connection too; None when it might find something.

        Nothing to do: the store holds what the last full listing saw (``unchanged_since``,
        stats and no walk; or ``as_listed``) and the cache holds all of that listing within
        the sync's scope; or, for a sync of some jobs not ``as_listed``, the cache holds what
        listing them finds. None at once, without a query, for a store without directory times
        (nothing tells what did not change).
        """
        if not self.storage.has_directory_times:
            return None
        kind_names = None if kinds is None else sorted(k.value for k in kinds)
        # The cache must hold all of the scope: `perstack log` leaves one that holds only part
        # of the listing, found before the store is looked at (but for a few directories).
        if job_ids is None:
            current = (
                self._recent_dirs_unchanged()
                and self._holds_listed(kind_names)
                and self.storage.unchanged_since(self._known_dirs(), self._recheck_files())
            )
        elif as_listed:
            current = self._holds_listed(kind_names, job_ids)
        else:
            # Listed as the sync itself lists them (a stat a file), into this connection's
            # temporary tables: the cache, compared with that, tells whether the sync would
            # read or forget anything. A warm `perstack log --job X` then opens no write
            # connection.
            self._load_listing(self._job_listing(job_ids, kind_names), None, SyncProgress())
            if not self._holds_sync_listing(kind_names, job_ids):
                return None
            listed = self.connection.execute("SELECT count(*) FROM _sync_listing").fetchone()[0]
            return SyncReport(listed=listed)
        if not current:
            return None
        listed = self.connection.execute("SELECT count(*) FROM _listing").fetchone()[0]
        return SyncReport(listed=listed, as_listed=True)

    def _recent_dirs_unchanged(self) -> bool:
        """Whether the directories the last full listing saw changed most recently are as it
        saw them (False for a store without directory times). A live store's next change is
        nearly always in one of them: it is then found for a small query and a few stats,
        before anything reads the whole listing or stats the whole store."""
        if not self.storage.has_directory_times:
            return False
        recent = self.connection.execute(sql_file("sync", "01_recent_dirs").text).fetchall()
        return self.storage.unchanged_since(dict(recent), {})

    def _listing_is_held(self) -> bool:
        """Whether the last full sync left the cache holding all of the last full listing, and
        no sync wrote since."""
        return bool(
            self.connection.execute("SELECT bool_and(held) FROM _listing_held").fetchone()[0]
        )

    def _replace_listing(self, name: str) -> None:
        """The sync's listing (whole, or of its jobs: ``name``) and its directories become the
        last full listing, in one transaction."""
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        con.execute(sql_file("sync", name).text)
        con.execute(sql_file("sync", "06_replace_dirs").text)
        con.execute("COMMIT")

    def _keep_jobs(self, job_ids: list[str]) -> None:
        """Make these jobs the sync's (``_sync_jobs``) and keep only their files in its listing:
        the others' are rechecked files the listing found as they were."""
        con = self.connection
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _sync_jobs AS "
            "SELECT unnest(from_json($job_ids, '[\"VARCHAR\"]')) AS job_id",
            {"job_ids": json_param(job_ids)},
        )
        con.execute("DELETE FROM _sync_listing WHERE job_id NOT IN (SELECT job_id FROM _sync_jobs)")

    def _holds_listed(
        self, kind_names: list[str] | None, job_ids: Sequence[str] | None = None
    ) -> bool:
        """Whether the cache holds the last full listing (of these kinds and jobs only, when
        given) as it saw it."""
        con = self.connection
        if self._listing_is_held():
            return True  # all of it, as the last full sync found: no sync wrote since
        if kind_names is not None or job_ids is not None:
            self._listed_scope(kind_names, job_ids)
            return self._holds_sync_listing(kind_names, job_ids)
        # The whole listing binds no value: DuckDB imports pandas, where installed, for the
        # first value bound in a process (01_recent_dirs.sql), and History.sync() comes here.
        # Fewer objects than listed keys cannot hold them all: told by two counts, where the
        # full test joins every key (40 ms for the 342,000 keys of 10,000 jobs).
        objects, listed = con.execute(
            "SELECT (SELECT count(*) FROM _objects), (SELECT count(*) FROM _listing)"
        ).fetchone()
        if objects < listed:
            return False
        return con.execute(sql_file("sync", "03_manifest_complete").text).fetchone()[0]

    def _job_listing(
        self, job_ids: Sequence[str], kind_names: list[str] | None
    ) -> Iterator[ObjectInfo | DirectoryState]:
        """What a sync of some jobs lists."""
        if kind_names == [KeyKind.JOB.value]:
            # Only job.json files are read, so only they are listed: a stat a job on a
            # filesystem, where listing whole jobs stats every file.
            return self.storage.list_job_files(job_ids)
        return (info for job_id in job_ids for info in self.storage.list_job_objects(job_id))

    def _listed_scope(self, kind_names: list[str] | None, job_ids: Sequence[str] | None) -> int:
        """The last full listing's objects of a scope as this sync's listing; how many."""
        self._new_sync_tables()
        return self.connection.execute(
            sql_file("sync", "04_listed_scope").text, _scope_params(kind_names, job_ids)
        ).fetchone()[0]

    def _holds_sync_listing(
        self, kind_names: list[str] | None, job_ids: Sequence[str] | None
    ) -> bool:
        """Whether the cache holds what this sync listed, and nothing more, of its scope."""
        return self.connection.execute(
            sql_file("sync", "03_scope_complete").text, _scope_params(kind_names, job_ids)
        ).fetchone()[0]

    def _set_listing_held(self, held: bool) -> None:
        """Record whether the cache holds the last full listing: False (not known) before a
        sync changes the listing or the manifest, what ``03_manifest_complete`` found after a
        full sync. Only a change is written: a sync of a job, on a cache that says false already,
        then adds nothing for the closing checkpoint to write (5 ms), and the full listing's
        second call (before the manifest changes) costs nothing."""
        value = "true" if held else "false"
        self.connection.execute(f"UPDATE _listing_held SET held = {value} WHERE held <> {value}")

    def _known_dirs(self) -> dict[str, int | None]:
        """What the last full listing knew of each directory: its mtime, if settled enough to
        trust."""
        return dict(self.connection.execute(sql_file("sync", "01_known_dirs").text).fetchall())

    def _recheck_files(self) -> dict[str, tuple]:
        """The (size, version) the files to stat again had in the last full listing."""
        rows = self.connection.execute(sql_file("sync", "02_recheck").text).fetchall()
        return {key: (size, version) for key, size, version in rows}

    def _append(self, table: schema.Table, rows: list[tuple]) -> int:
        if not rows:
            return 0
        if len(rows) <= _SMALL_APPEND:
            # A few rows go as one JSON text: Arrow would cost its import and DuckDB's Arrow
            # scan (pyarrow.dataset), 0.1 s of a warm `perstack log`.
            insert_rows(self.connection, table, rows)
            return len(rows)
        from perstack_logq.decode.records import rows_to_table

        self.connection.register("listed_batch", rows_to_table(rows, table.arrow_schema))
        self.connection.execute(f"INSERT INTO {table.name} SELECT * FROM listed_batch")
        self.connection.unregister("listed_batch")
        return len(rows)

    def _forget_stale(self) -> None:
        """Rows and manifest entries of every stale key, gone in one transaction."""
        con = self.connection
        if not con.execute("SELECT count(*) FROM _sync_stale").fetchone()[0]:
            return
        con.execute("BEGIN TRANSACTION")
        for table in schema.DATA_TABLES:
            con.execute(
                f"DELETE FROM {table.name} WHERE source_key IN (SELECT key FROM _sync_stale)"
            )
        con.execute("DELETE FROM _objects WHERE key IN (SELECT key FROM _sync_stale)")
        con.execute("COMMIT")

    def _pending_chunks(self, *, unread: bool = False) -> Iterator[list[tuple]]:
        """The pending keys to read and their versions, in chunks; with ``unread``, those
        skipped unread instead, with their versions, kinds and sizes."""
        # A cursor of its own: the main connection keeps inserting while this one reads.
        reader = self.connection.cursor()
        if unread:
            query = f"SELECT key, version, kind, size FROM _sync_pending WHERE {self._unread}"
        else:
            query = f"SELECT key, version FROM _sync_pending WHERE NOT ({self._unread})"
        try:
            result = reader.execute(query + " ORDER BY key")
            while rows := result.fetchmany(_BATCH_KEYS):
                yield rows
        finally:
            reader.close()

    def _commit(self, tables: dict[str, pa.Table], keys: list[str]) -> None:
        """One batch's rows and manifest entries, in one transaction."""
        if not keys and not tables:
            return
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        try:
            for name, batch in tables.items():
                if name == schema.MESSAGES.name:
                    con.register("decoded_messages", batch)
                    con.execute(sql_file("sync", "40_merge_messages").text)
                    con.unregister("decoded_messages")
                    continue
                con.register("decoded_batch", batch)
                con.execute(f"INSERT INTO {name} SELECT * FROM decoded_batch")
                con.unregister("decoded_batch")
            if keys:
                import pyarrow as pa  # here: a sync with nothing to read never loads it

                key_table = pa.table({"key": pa.array(keys, pa.string())})
                con.register("decoded_keys", key_table)
                con.execute(
                    "INSERT INTO _objects SELECT p.key, p.job_id, p.kind, p.size, p.version "
                    "FROM _sync_pending AS p SEMI JOIN decoded_keys AS d ON p.key = d.key"
                )
                con.unregister("decoded_keys")
        except BaseException:
            # Neither rows nor manifest entries of this batch: the next sync reads it again.
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    # -- queries --------------------------------------------------------------------------

    def sql(self, query: str, params: dict | list | None = None) -> duckdb.DuckDBPyRelation:
        return self.connection.sql(query, params=params)

    def write_connection(self) -> duckdb.DuckDBPyConnection:
        """A connection that may write our own small tables (prices), never user SQL."""
        return self.connection

    def close(self) -> None:
        self.connection.close()
