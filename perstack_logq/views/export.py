"""``perstack log export``: the history as a dataset, one folder of files per table.

Layout under the output (a directory, or ``s3://bucket/prefix``, ``r2://account/bucket/prefix``)::

    _manifest/shard-{I}-of-{N}.json                      shard I's commit marker, written last
    {table}/{column}={value}/part-{batch}-s{I}of{N}.{ext}   the rows of one batch of jobs
    _tmp/s{I}of{N}-{random}/                             local staging; gone after a run

Rows come from the query tables of docs/schema.md (same columns and types), written by DuckDB
(``COPY ... PARTITION_BY``): nothing is loaded into Python. Partition columns are Hive style and
not repeated inside the files: ``event_date`` (the event's UTC date) for events, steps,
tool_calls and tool_results; ``run_date`` (first event of the run) for runs; ``job_date`` (the
job's start date) for jobs, checkpoints, run_settings, messages and job_files. ``--partition-by
job_date`` uses the job's start date for every table, ``none`` writes no partitions and one
file per table (per shard): all its jobs are one batch, rewritten whole by ``--incremental``.

Safety: every file is staged under a temporary name (``.tmp`` suffix, under ``_tmp/`` locally,
in a local temporary directory for S3/R2), then renamed (uploaded) into place, and the shard's
manifest is written last, atomically (rename; a single PutObject): it is the commit. A reader
that trusts the manifests never sees a partial export; a reader that globs ``*.parquet`` never
sees a partial file, and files a killed run left unlisted are removed by the next run.

Repeatable: a *batch* is the jobs of one shard that started on one UTC date, and a batch is
always written whole, so a file's name is fixed by (table, partition, batch, shard): a re-run
replaces files instead of adding some. ``--incremental`` rewrites only the batches holding a job
the manifest does not list, or lists with another fingerprint (a digest of the job's stored
objects: a job that was still running, or whose files arrived late, changed since); the
manifest records the time the export started. ``--shard I/N`` exports the jobs with
``int(sha1(job_id).hexdigest()[:8], 16) % N == I``; N processes export one store into one
dataset, each writing only its own files and its own manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from perstack_logq import __version__
from perstack_logq.engine.sqlfiles import sql_file
from perstack_logq.errors import StorageError, UsageError
from perstack_logq.views.progress import line_ended, line_opened

if TYPE_CHECKING:
    from perstack_logq.api import History

MANIFEST_DIR = "_manifest"
STAGING_DIR = "_tmp"
MANIFEST_VERSION = 1

# Every table that can be exported, with the partition column "auto" gives it.
EXPORT_TABLES: dict[str, str] = {
    "jobs": "job_date",
    "runs": "run_date",
    "checkpoints": "job_date",
    "run_settings": "job_date",
    "events": "event_date",
    "steps": "event_date",
    "tool_calls": "event_date",
    "tool_results": "event_date",
    "messages": "job_date",
    "job_files": "job_date",
}
# messages holds every tool result and file an agent read (the bulk of a store's text),
# job_files is a subset of jobs: both only on request.
DEFAULT_TABLES: tuple[str, ...] = tuple(
    t for t in EXPORT_TABLES if t not in ("messages", "job_files")
)

_PARTITION_EXPRESSIONS = {
    "event_date": "CAST(t.event_time AS DATE)",
    "run_date": "CAST(t.started_at AS DATE)",
    "job_date": "w.job_date",
}
# Temporary tables the export SQL (sql/export/) creates, dropped after each export.
_WORK_TABLES = (
    "_export_previous",
    "_export_jobs",
    "_export_selected",
    "_export_touched",
    "_export_write",
)
_MANIFEST_NAME = re.compile(r"^shard-(\d+)-of-(\d+)\.json$")
_STAGED_NAME = re.compile(r"^data_(\d+)\.\w+\.tmp$")


class ExportFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"
    jsonl = "jsonl"


class PartitionMode(StrEnum):
    auto = "auto"
    job_date = "job_date"
    none = "none"


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``I/N`` with 0 <= I < N."""
        match = re.fullmatch(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*", text)
        if not match or not 0 <= int(match[1]) < int(match[2]):
            raise UsageError(
                f"Invalid value for --shard: {text!r} (use I/N with 0 <= I < N < 10^9, e.g. 0/4)"
            )
        return cls(int(match[1]), int(match[2]))

    @property
    def tag(self) -> str:
        return f"s{self.index}of{self.count}"

    @property
    def manifest_path(self) -> str:
        return f"{MANIFEST_DIR}/shard-{self.index}-of-{self.count}.json"


def shard_of(job_id: str, count: int) -> int:
    """The shard a job belongs to: stable across processes, machines and languages."""
    return int(hashlib.sha1(job_id.encode("utf-8")).hexdigest()[:8], 16) % count


def parse_tables(text: str | None) -> tuple[str, ...]:
    """``--tables``: names separated by commas, or ``all``; default DEFAULT_TABLES."""
    if text is None:
        return DEFAULT_TABLES
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return tuple(EXPORT_TABLES)
    unknown = [name for name in names if name not in EXPORT_TABLES]
    if unknown or not names:
        raise UsageError(
            f"Invalid value for --tables: {text!r} (choose from {', '.join(EXPORT_TABLES)}, "
            "separated by commas, or all)"
        )
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class ExportOptions:
    output: str  # a directory, file:///..., s3://bucket/prefix or r2://account/bucket/prefix
    tables: tuple[str, ...] = DEFAULT_TABLES
    format: ExportFormat = ExportFormat.parquet
    partition_by: PartitionMode = PartitionMode.auto
    since: dt.datetime | None = None  # jobs started at or after (naive UTC)
    until: dt.datetime | None = None  # jobs started before (naive UTC)
    incremental: bool = False
    shard: Shard = Shard()
    output_endpoint: str | None = None  # S3-compatible server for an s3:// or r2:// output
    output_region: str | None = None

    def partition_column(self, table: str) -> str | None:
        if self.partition_by is PartitionMode.none:
            return None
        if self.partition_by is PartitionMode.job_date:
            return "job_date"
        return EXPORT_TABLES[table]


@dataclass(frozen=True)
class ExportProgress:
    stage: str  # "list" (keys; total 0 until listed), "sync" (objects), "write" (tables),
    # "publish" (files)
    done: int
    total: int


ExportProgressCallback = Callable[[ExportProgress], None]


@dataclass
class ExportReport:
    location: str
    manifest: str  # path of the shard's manifest under the location
    jobs_written: int = 0
    jobs_listed: int = 0  # jobs the manifest lists after this run
    rows_written: dict[str, int] = field(default_factory=dict)
    files_written: int = 0
    files_removed: int = 0


@dataclass(frozen=True)
class _StagedFile:
    local: Path
    path: str  # final path under the dataset root
    table: str
    batch: str
    partition: dict[str, str | None]
    rows: int
    size: int


# -- targets: where the dataset goes ------------------------------------------------------------


class _Target(ABC):
    """A dataset root that can take whole files atomically, one at a time."""

    location: str

    @abstractmethod
    @contextmanager
    def staging(self, shard: Shard) -> Iterator[Path]:
        """A local directory for this run's temporary files, removed afterwards."""

    @abstractmethod
    def list_files(self, folder: str = "") -> list[str]:
        """Every file under the root, or under ``folder/`` in it (paths relative to the root),
        staging excluded."""

    @abstractmethod
    def read(self, path: str) -> bytes | None: ...

    @abstractmethod
    def publish(self, local: Path, path: str) -> None:
        """Move a finished local file to ``path``: readers see the old file or the new one."""

    @abstractmethod
    def write_atomic(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def delete(self, paths: Sequence[str]) -> None: ...

    def close(self) -> None:  # noqa: B027 - only object stores hold a connection
        """Release connections."""


class _LocalTarget(_Target):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)
        if root.exists() and not root.is_dir():
            raise StorageError(f"--output {root} is a file, not a directory")

    @contextmanager
    def staging(self, shard: Shard) -> Iterator[Path]:
        base = self.root / STAGING_DIR
        # Left by a killed run of this shard (runs of one shard never overlap).
        for leftover in base.glob(f"{shard.tag}-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        directory = base / f"{shard.tag}-{uuid.uuid4().hex[:12]}"
        directory.mkdir(parents=True)
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            with suppress(OSError):
                base.rmdir()  # only when no other shard is staging

    def list_files(self, folder: str = "") -> list[str]:
        found = []
        for directory, subdirs, files in os.walk(self.root / folder):
            if Path(directory) == self.root:
                subdirs[:] = [d for d in subdirs if d != STAGING_DIR]
            relative = Path(directory).relative_to(self.root)
            found.extend((relative / name).as_posix() for name in files)
        return sorted(found)

    def read(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except FileNotFoundError:
            return None

    def publish(self, local: Path, path: str) -> None:
        destination = self.root / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, destination)

    def write_atomic(self, path: str, data: bytes) -> None:
        destination = self.root / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        temporary = destination.with_name(f".{destination.name}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, destination)

    def delete(self, paths: Sequence[str]) -> None:
        for path in paths:
            target = self.root / path
            target.unlink(missing_ok=True)
            # Drop partition directories left empty (never the root itself).
            parent = target.parent
            while parent != self.root:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent


class _ObjectStoreTarget(_Target):
    """An S3 or R2 prefix, through the client the storage module builds from a config."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.bucket: str = storage.bucket
        self.prefix: str = storage.prefix
        self.location = storage.location
        self._client = storage._client  # the same credential chain, endpoint and retries
        try:
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except Exception as exc:
            raise self._error("reach", exc) from exc

    @contextmanager
    def staging(self, shard: Shard) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix=f"perstack-export-{shard.tag}-") as directory:
            yield Path(directory)

    def list_files(self, folder: str = "") -> list[str]:
        found = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + (f"{folder}/" if folder else "")
            )
            for page in pages:
                for item in page.get("Contents", []):
                    path = item["Key"][len(self.prefix) :]
                    if path and not path.startswith(f"{STAGING_DIR}/"):
                        found.append(path)
        except Exception as exc:
            raise self._error("list", exc) from exc
        return sorted(found)

    def read(self, path: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + path)
            return response["Body"].read()
        except self._client.exceptions.NoSuchKey:
            return None
        except Exception as exc:
            raise self._error(f"read {path} in", exc) from exc

    def publish(self, local: Path, path: str) -> None:
        try:
            self._client.upload_file(str(local), self.bucket, self.prefix + path)
        except Exception as exc:
            raise self._error(f"upload {path} to", exc) from exc

    def write_atomic(self, path: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self.prefix + path, Body=data)
        except Exception as exc:
            raise self._error(f"write {path} to", exc) from exc

    def delete(self, paths: Sequence[str]) -> None:
        for start in range(0, len(paths), 1000):
            chunk = paths[start : start + 1000]
            try:
                self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self.prefix + p} for p in chunk], "Quiet": True},
                )
            except Exception as exc:
                raise self._error("delete files in", exc) from exc

    def close(self) -> None:
        self.storage.close()

    def _error(self, what: str, exc: Exception) -> StorageError:
        # The same short reasons as a read of the store gives (no botocore reprs or URLs).
        from perstack_logq.storage.s3 import failure_reason

        return StorageError(f"Cannot {what} {self.location}: {failure_reason(exc)}")


def _open_target(options: ExportOptions) -> _Target:
    output = options.output.strip()
    if not output:
        raise UsageError("--output must not be empty")
    scheme, sep, rest = output.partition("://")
    scheme = scheme.lower()
    if not sep or scheme == "file":
        if options.output_endpoint:
            raise UsageError("--output-endpoint goes with an s3:// or r2:// --output")
        if sep:
            host, slash, path = rest.partition("/")
            if host not in ("", "localhost") or not slash:
                raise UsageError(f"--output: {output!r} is not a local file URL (file:///path)")
            return _LocalTarget(Path("/" + path))
        return _LocalTarget(Path(os.path.abspath(Path(output).expanduser())))
    if scheme not in ("s3", "r2"):
        raise UsageError(
            f'--output: unsupported scheme "{scheme}://" (use a directory, s3://bucket/prefix '
            "or r2://accountId/bucket/prefix)"
        )
    endpoint = options.output_endpoint.rstrip("/") if options.output_endpoint else None
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise UsageError(f"--output-endpoint must start with http:// or https:// ({endpoint!r})")
    from perstack_logq.config import R2Config, S3Config, normalize_prefix
    from perstack_logq.storage import s3

    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UsageError(f"--output: {output!r} has no bucket (use s3://bucket/prefix)")
        config = S3Config(
            bucket=bucket,
            region=options.output_region,
            prefix=normalize_prefix(prefix),
            endpoint=endpoint,
            force_path_style=endpoint is not None,  # what S3-compatible servers expect
        )
        return _ObjectStoreTarget(s3.S3Storage(config))
    account_id, _, after_account = rest.partition("/")
    bucket, _, prefix = after_account.partition("/")
    if not account_id or not bucket:
        raise UsageError(f"--output: {output!r} needs r2://accountId/bucket[/prefix]")
    r2_config = R2Config(
        account_id=account_id, bucket=bucket, prefix=normalize_prefix(prefix), endpoint=endpoint
    )
    return _ObjectStoreTarget(s3.R2Storage(r2_config))


# -- manifests ----------------------------------------------------------------------------------


def read_manifests(output: str, output_endpoint: str | None = None) -> dict[str, dict[str, Any]]:
    """Every committed shard manifest of the dataset at ``output``, by path."""
    target = _open_target(ExportOptions(output=output, output_endpoint=output_endpoint))
    try:
        return _read_manifests(target)
    finally:
        target.close()


def _read_manifests(target: _Target) -> dict[str, dict[str, Any]]:
    manifests = {}
    for path in target.list_files(MANIFEST_DIR):
        directory, _, name = path.rpartition("/")
        if directory != MANIFEST_DIR or not _MANIFEST_NAME.match(name):
            continue
        body = target.read(path)
        if body is None:
            continue
        try:
            manifest = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"{target.location}/{path} is not valid JSON: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
            raise UsageError(
                f"{target.location}/{path} is not a perstack-logq export manifest of version "
                f"{MANIFEST_VERSION}: export into another --output"
            )
        manifests[path] = manifest
    return manifests


def _dataset_settings(options: ExportOptions) -> dict[str, Any]:
    return {
        "format": options.format.value,
        "partition_by": options.partition_by.value,
        "tables": list(options.tables),
    }


def _check_compatible(
    options: ExportOptions, manifests: dict[str, dict[str, Any]], location: str
) -> None:
    """One dataset, one layout: every shard's files must be readable as one table."""
    wanted = _dataset_settings(options)
    for path, manifest in manifests.items():
        settings = {key: manifest["dataset"][key] for key in wanted}
        count = manifest["shard"]["count"]
        if path == options.shard.manifest_path:
            if options.incremental and settings != wanted:
                raise UsageError(
                    f"{location} was exported with {_describe(settings)}; --incremental needs "
                    "the same options (export without --incremental to rewrite this shard)"
                )
            continue
        if count != options.shard.count:
            raise UsageError(
                f"{location} holds an export in {count} shard(s) ({path}): use --shard I/{count}, "
                "or another --output"
            )
        if settings != wanted:
            raise UsageError(
                f"{location} holds shards exported with {_describe(settings)} ({path}): use the "
                "same options, or another --output"
            )


def _describe(settings: dict[str, Any]) -> str:
    return (
        f"--format {settings['format']} --partition-by {settings['partition_by']} "
        f"--tables {','.join(settings['tables'])}"
    )


def _own_files(paths: Sequence[str], shard: Shard) -> list[str]:
    """The data files of one shard (by name), whoever listed them."""
    name = re.compile(rf"^part-[^/]+-{shard.tag}(-\d+)?\.({'|'.join(ExportFormat)})$")
    own = []
    for path in paths:
        table, _, rest = path.partition("/")
        if table in EXPORT_TABLES and name.match(rest.rpartition("/")[2]):
            own.append(path)
    return own


def _remove_unlisted(target: _Target, shard: Shard, listed: set[str]) -> int:
    stale = [p for p in _own_files(target.list_files(), shard) if p not in listed]
    target.delete(stale)
    return len(stale)


# -- writing ------------------------------------------------------------------------------------


def _run_sql_file(con: duckdb.DuckDBPyConnection, name: str, values: dict[str, Any]) -> None:
    query = sql_file("export", name)
    con.execute(query.text, {p.name: values[p.name] for p in query.params})


def _prepare_jobs(
    con: duckdb.DuckDBPyConnection, options: ExportOptions, previous: list[dict[str, Any]]
) -> None:
    previous_table = pa.table(
        {
            "job_id": pa.array([j["job_id"] for j in previous], pa.string()),
            "batch": pa.array([j["batch"] for j in previous], pa.string()),
            "fingerprint": pa.array([j["fingerprint"] for j in previous], pa.string()),
        }
    )
    con.register("_export_previous_rows", previous_table)
    con.execute("CREATE OR REPLACE TEMP TABLE _export_previous AS FROM _export_previous_rows")
    con.unregister("_export_previous_rows")
    values = {
        "shard_index": options.shard.index,
        "shard_count": options.shard.count,
        "since": options.since,
        "until": options.until,
        "incremental": options.incremental,
        # Without partitions a table is one file (per shard): its rows are one batch.
        "single_batch": options.partition_by is PartitionMode.none,
    }
    for name in ("10_jobs", "20_selected", "30_touched", "40_write_set"):
        _run_sql_file(con, name, values)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _select_list(columns: list[tuple[str, str]], fmt: ExportFormat) -> str:
    """The table's columns as the format can hold them (same names, same order).

    JSON columns become plain text holding JSON in every format: DuckDB's Parquet JSON type
    has no UTF-8 annotation, and Polars would read it as bytes.
    """
    expressions = []
    for name, sql_type in columns:
        column = f"t.{_quote(name)}"
        if sql_type == "JSON":
            column = f"CAST({column} AS VARCHAR)"
        elif fmt is ExportFormat.csv and _is_nested(sql_type):
            column = f"CAST(to_json({column}) AS VARCHAR)"  # lists as JSON text in CSV
        expressions.append((name, column))
    if fmt is ExportFormat.jsonl:
        fields = ", ".join(f"{_quote(name)} := {column}" for name, column in expressions)
        return f"to_json(struct_pack({fields})) AS line"
    return ", ".join(f"{column} AS {_quote(name)}" for name, column in expressions)


def _is_nested(sql_type: str) -> bool:
    return sql_type.endswith("]") or sql_type.startswith(("STRUCT", "MAP", "UNION"))


def _copy_options(fmt: ExportFormat, partition_columns: list[str]) -> str:
    by = f"PARTITION_BY ({', '.join(partition_columns)}), FILE_EXTENSION '{fmt.value}.tmp'"
    if fmt is ExportFormat.parquet:
        return f"FORMAT parquet, COMPRESSION zstd, {by}"
    if fmt is ExportFormat.csv:
        return f"FORMAT csv, HEADER true, {by}"
    # The JSON writer cannot partition: lines already made JSON go through the CSV writer as is.
    return f"FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\t', {by}"


def _write_table(
    con: duckdb.DuckDBPyConnection, table: str, options: ExportOptions, stage: Path
) -> list[_StagedFile]:
    columns = [
        (row[0], row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
    ]
    partition = options.partition_column(table)
    extra = f", {_PARTITION_EXPRESSIONS[partition]} AS {partition}" if partition else ""
    directory = stage / table
    query = (
        f"SELECT {_select_list(columns, options.format)}, w.batch AS _batch{extra} "
        f"FROM {table} AS t JOIN _export_write AS w USING (job_id)"
    )
    by = ["_batch", partition] if partition else ["_batch"]
    location = str(directory).replace("'", "''")
    con.execute(f"COPY ({query}) TO '{location}' ({_copy_options(options.format, by)})")
    staged = []
    for local in sorted(directory.rglob("*.tmp")) if directory.exists() else []:
        segments = local.relative_to(directory).parts
        batch = segments[0].partition("=")[2]
        values = {}
        for segment in segments[1:-1]:
            column, _, value = segment.partition("=")
            values[column] = None if value == "__HIVE_DEFAULT_PARTITION__" else value
        match = _STAGED_NAME.match(segments[-1])
        if not match:
            raise RuntimeError(f"unexpected file written by DuckDB: {local}")
        number = int(match[1])
        name = f"part-{batch}-{options.shard.tag}{f'-{number}' if number else ''}.{options.format}"
        path = "/".join((table, *segments[1:-1], name))
        rows = _count_rows(con, local, options.format, [n for n, _ in columns])
        staged.append(_StagedFile(local, path, table, batch, values, rows, local.stat().st_size))
    return staged


def _count_rows(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: ExportFormat, columns: list[str]
) -> int:
    if fmt is ExportFormat.parquet:
        return pq.read_metadata(path).num_rows
    if fmt is ExportFormat.jsonl:
        # One object per line: JSON escapes every newline inside strings.
        count = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                count += chunk.count(b"\n")
        return count
    spec = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in columns) + "}"
    location = str(path).replace("'", "''")
    row = con.execute(
        f"SELECT count(*) FROM read_csv('{location}', header = true, auto_detect = false, "
        f"delim = ',', quote = '\"', escape = '\"', columns = {spec})"
    ).fetchone()
    return int(row[0]) if row else 0


# -- the export ---------------------------------------------------------------------------------


def _refuse_writing_into_the_store(target: _Target, source: Any) -> None:
    """The dataset may neither lie inside the store it is made from nor contain it:
    perstack_logq never writes to a store."""
    if isinstance(target, _LocalTarget) and hasattr(source, "root"):
        out = Path(os.path.realpath(target.root))
        store = Path(os.path.realpath(source.root))
        overlap = out == store or out.is_relative_to(store) or store.is_relative_to(out)
    elif isinstance(target, _ObjectStoreTarget) and hasattr(source, "bucket"):
        same_bucket = (
            target.bucket == source.bucket
            and target._client.meta.endpoint_url == source._client.meta.endpoint_url
        )
        overlap = same_bucket and (
            target.prefix.startswith(source.prefix) or source.prefix.startswith(target.prefix)
        )
    else:
        overlap = False
    if overlap:
        raise UsageError(
            f"--output {target.location} overlaps the store being exported "
            f"({source.get_storage_info().location}); perstack_logq never writes to a store: "
            "choose a place outside it"
        )


def export_dataset(
    history: History, options: ExportOptions, progress: ExportProgressCallback | None = None
) -> ExportReport:
    """Export a store's history to a dataset (see the module's docstring)."""
    started = _utc_now()
    target = _open_target(options)
    try:
        _refuse_writing_into_the_store(target, history.storage)
        manifests = _read_manifests(target)
        _check_compatible(options, manifests, target.location)
        own = manifests.get(options.shard.manifest_path)
        report = ExportReport(target.location, options.shard.manifest_path)
        # A killed run of this shard may have published files that no manifest lists.
        listed_before = {f["path"] for f in own["files"]} if own else set()
        report.files_removed = _remove_unlisted(target, options.shard, listed_before)

        _sync(history, options.shard, progress)
        con = history.database.connection
        previous = own["jobs"] if (own and options.incremental) else []
        _prepare_jobs(con, options, previous)
        touched = {
            batch for (batch,) in con.execute("SELECT batch FROM _export_touched").fetchall()
        }

        with target.staging(options.shard) as stage:
            staged: list[_StagedFile] = []
            for number, table in enumerate(options.tables, start=1):
                staged.extend(_write_table(con, table, options, stage))
                if progress:
                    progress(ExportProgress("write", number, len(options.tables)))
            for number, item in enumerate(staged, start=1):
                target.publish(item.local, item.path)
                if progress:
                    progress(ExportProgress("publish", number, len(staged)))
            written_jobs = [
                {"job_id": job_id, "batch": batch, "fingerprint": fingerprint, "status": status}
                for job_id, batch, fingerprint, status in con.execute(
                    "SELECT job_id, batch, fingerprint, status FROM _export_write"
                ).fetchall()
            ]
            kept = own if (own and options.incremental) else None
            manifest = _manifest(options, history, started, staged, written_jobs, kept, touched)
            target.write_atomic(options.shard.manifest_path, _dump(manifest))
        listed = {f["path"] for f in manifest["files"]}
        report.files_removed += _remove_unlisted(target, options.shard, listed)
        report.jobs_written = len(written_jobs)
        report.jobs_listed = len(manifest["jobs"])
        report.files_written = len(staged)
        for item in staged:
            report.rows_written[item.table] = report.rows_written.get(item.table, 0) + item.rows
        return report
    finally:
        for name in _WORK_TABLES:
            with suppress(duckdb.Error):
                history.database.connection.execute(f"DROP TABLE IF EXISTS {name}")
        target.close()


def _manifest(
    options: ExportOptions,
    history: History,
    started: str,
    staged: list[_StagedFile],
    written_jobs: list[dict[str, Any]],
    kept: dict[str, Any] | None,
    touched: set[str],
) -> dict[str, Any]:
    files = [
        {
            "path": item.path,
            "table": item.table,
            "batch": item.batch,
            "partition": item.partition,
            "rows": item.rows,
            "bytes": item.size,
        }
        for item in staged
    ]
    jobs = list(written_jobs)
    if kept:
        files += [f for f in kept["files"] if f["batch"] not in touched]
        jobs += [j for j in kept["jobs"] if j["batch"] not in touched]
    files.sort(key=lambda f: f["path"])
    jobs.sort(key=lambda j: j["job_id"])
    con = history.database.connection
    tables = {}
    for table in options.tables:
        partition = options.partition_column(table)
        described = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
        table_files = [f for f in files if f["table"] == table]
        tables[table] = {
            "partition_columns": [partition] if partition else [],
            "columns": [{"name": row[0], "type": row[1]} for row in described],
            "files": len(table_files),
            "rows": sum(f["rows"] for f in table_files),
        }
    info = history.storage_info
    return {
        "manifest_version": MANIFEST_VERSION,
        "written_by": f"perstack-logq {__version__}",
        "dataset": {
            **_dataset_settings(options),
            "compression": "zstd" if options.format is ExportFormat.parquet else None,
        },
        "shard": {
            "index": options.shard.index,
            "count": options.shard.count,
            "rule": "int(sha1(job_id).hexdigest()[:8], 16) % count == index",
        },
        "source": {"type": info.type, "location": info.location},
        "export": {
            "started_at": started,  # the watermark: everything listed was seen after it
            "finished_at": _utc_now(),
            "incremental": options.incremental,
            "since": options.since.isoformat() if options.since else None,
            "until": options.until.isoformat() if options.until else None,
        },
        "tables": tables,
        "files": files,
        "jobs": jobs,
    }


def _dump(manifest: dict[str, Any]) -> bytes:
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sync(history: History, shard: Shard, progress: ExportProgressCallback | None) -> None:
    """Bring the tables up to date: the whole store, or only the jobs of one shard.

    A shard reads only its own jobs' objects, so N machines share the reading too. Jobs the
    database knows but the store no longer has are synced as well, which forgets them.
    """

    listing = [False]  # a listing was reported and not yet ended

    def report(state: Any) -> None:
        if not progress:
            return
        if state.listing is not None:
            listing[0] = True
            progress(ExportProgress("list", state.listed, 0))
        elif listing[0]:
            listing[0] = False
            progress(ExportProgress("list", state.listed, state.listed))
        else:
            progress(ExportProgress("sync", state.objects_done, state.objects_total))

    if shard.count == 1:
        history.sync(progress=report)
        return
    known = history.database.connection.execute("SELECT DISTINCT job_id FROM _objects").fetchall()
    job_ids = {*history.storage.list_job_ids(), *(job_id for (job_id,) in known)}
    mine = sorted(job_id for job_id in job_ids if shard_of(job_id, shard.count) == shard.index)
    history.database.sync(mine, progress=report)


# -- reading back -------------------------------------------------------------------------------


def manifest_files(manifests: dict[str, dict[str, Any]], table: str) -> list[str]:
    """The committed files of one table, over every shard: what a careful reader reads."""
    return sorted(
        f["path"]
        for manifest in manifests.values()
        for f in manifest["files"]
        if f["table"] == table
    )


@dataclass
class CommittedDataset:
    """What a reader of a dataset needs: its manifests and where its committed files are.

    ``storage`` is the S3/R2 client of a remote dataset (None for a directory): readers that
    go through DuckDB's httpfs take their credentials from it.
    """

    location: str
    root: str  # a directory, or s3://bucket/prefix/ (R2 too: httpfs speaks S3 to it)
    manifests: dict[str, dict[str, Any]]
    storage: Any = None

    def file_urls(self, table: str) -> list[str]:
        return [self.root + path for path in manifest_files(self.manifests, table)]


@contextmanager
def committed_dataset(
    location: str, *, endpoint: str | None = None, region: str | None = None
) -> Iterator[CommittedDataset]:
    """The dataset at ``location`` as its manifests commit it; refused when it has none."""
    target = _open_target(
        ExportOptions(output=location, output_endpoint=endpoint, output_region=region)
    )
    try:
        manifests = _read_manifests(target)
        if not manifests:
            raise UsageError(
                f"{target.location} holds no perstack-logq export "
                f"(no {MANIFEST_DIR}/shard-*.json): give the --output of `perstack log export`"
            )
        if isinstance(target, _ObjectStoreTarget):
            root = f"s3://{target.bucket}/{target.prefix}"
            yield CommittedDataset(target.location, root, manifests, target.storage)
        else:
            root = str(Path(target.location)) + os.sep
            yield CommittedDataset(target.location, root, manifests)
    finally:
        target.close()


class ProgressBar:
    """``export [#####     ] write 3/8 tables`` on a terminal, redrawn in place (stderr)."""

    _UNITS: ClassVar[dict[str, str]] = {"sync": "objects", "write": "tables", "publish": "files"}

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.stage = ""

    def __call__(self, state: ExportProgress) -> None:
        if state.stage == "list":  # keys listed so far; the total once listed
            listed = bool(state.total)
            self.stream.write(f"\rexport listing: {state.done:,} keys" + ("\n" if listed else "…"))
            self.stage = "" if listed else "list"
            if listed:
                line_ended()
            else:
                line_opened(self.stream)
            self.stream.flush()
            return
        if not state.total:
            return
        if self.stage and state.stage != self.stage:
            self.stream.write("\n")
        self.stage = state.stage
        line_opened(self.stream)
        bar = "#" * int(state.done / state.total * 30)
        self.stream.write(
            f"\rexport [{bar:<30}] {state.stage} {state.done:,}/{state.total:,} "
            f"{self._UNITS.get(state.stage, '')}"
        )
        if state.stage == "publish" and state.done >= state.total:
            self.stream.write("\n")
            self.stage = ""
            line_ended()
        self.stream.flush()
