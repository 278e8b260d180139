"""The Python face of perstack_logq: what notebooks, scripts and the CLI all call.

import perstack_logq
history = perstack_logq.connect()                # perstack.toml / ./perstack, as the CLI
history = perstack_logq.connect("s3://bucket/perstack/")
history.sql("select type, count(*) from events group by all").pl()
history.tool_calls                               # a Polars DataFrame
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from perstack_logq.config import StorageConfig, load_storage_config
from perstack_logq.decode.schema import TABLES_BY_NAME
from perstack_logq.engine.cache import open_database
from perstack_logq.engine.database import Database, ProgressCallback, SyncReport
from perstack_logq.storage.base import Storage, StorageInfo
from perstack_logq.storage.factory import create_storage_from_config

if TYPE_CHECKING:
    import datetime as dt

    import polars

    from perstack_logq.report import ReportSummary
    from perstack_logq.views.dataset import DatasetDatabase

VIEWS = ("jobs", "runs", "messages")
TABLES = (*VIEWS, *TABLES_BY_NAME)


class History:
    """One store's execution history, queryable with SQL and as DataFrames."""

    def __init__(self, storage: Storage, database: Database, *, sync: bool = True) -> None:
        self.storage = storage
        self.database = database
        self._needs_sync = sync

    @property
    def storage_info(self) -> StorageInfo:
        return self.storage.get_storage_info()

    def sync(self, progress: ProgressCallback | None = None, *, rescan: bool = False) -> SyncReport:
        """Read what is new or changed in the whole store (everything, the first time).

        ``rescan``: stat every file of a filesystem store, not only those of directories whose
        mtime moved (see ``Database.sync``).
        """
        report = self.database.sync(progress=progress, rescan=rescan)
        self._needs_sync = False
        return report

    def ensure_synced(self, progress: ProgressCallback | None = None) -> None:
        if self._needs_sync:
            self.sync(progress)

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation: call ``.pl()``, ``.arrow()``, ``.df()`` or ``.fetchall()`` on it."""
        self.ensure_synced()
        return self.database.sql(query, params=dict(params) if params else None)

    def table(self, name: str) -> polars.DataFrame:
        if name not in TABLES:
            raise KeyError(f"no table {name!r}; tables: {', '.join(TABLES)}")
        return self.sql(f"SELECT * FROM {name}").pl()

    def __getattr__(self, name: str) -> polars.DataFrame:
        if name in TABLES:
            return self.table(name)
        raise AttributeError(name)

    def report(
        self,
        path: str | os.PathLike[str],
        *,
        since: str | dt.datetime | None = None,
        until: str | dt.datetime | None = None,
        job: str | None = None,
        expert: str | None = None,
    ) -> ReportSummary:
        """Write a self-contained HTML report (overview and job views) to ``path``.

        ``since``/``until`` bound the jobs' start: a datetime (UTC), a date or ``7d``/``12h``;
        ``job`` reports one job, ``expert`` the jobs of one coordinator expert.
        """
        from perstack_logq.report import Selection, check_output, write_report
        from perstack_logq.views.catalog import parse_time_bound

        def bound(option: str, value: str | dt.datetime | None) -> dt.datetime | None:
            return parse_time_bound(option, value) if isinstance(value, str) else value

        check_output(path)
        self.ensure_synced()
        selection = Selection(bound("since", since), bound("until", until), job, expert)
        return write_report(self.database, path, selection)

    def close(self) -> None:
        self.database.close()
        self.storage.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_storage(
    location: str | os.PathLike[str] | StorageConfig | None = None,
    *,
    config: Path | None = None,
    cwd: Path | None = None,
    concurrency: int | None = None,
) -> Storage:
    """The store chosen like the CLI chooses it: a location, perstack.toml, or ./perstack."""
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if isinstance(location, str) or location is None:
        storage_config = load_storage_config(config_path=config, storage=location, cwd=cwd)
    else:
        storage_config = location
    storage = create_storage_from_config(storage_config, concurrency=concurrency)
    storage.check()
    return storage


def connect(
    location: str | os.PathLike[str] | StorageConfig | None = None,
    *,
    config: Path | None = None,
    cwd: Path | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
    sync: bool = True,
    concurrency: int | None = None,
    direct_reads: bool = False,
) -> History:
    """Open a store's history.

    ``location`` is a path (str or Path), ``file://...``, ``s3://bucket/prefix``, ``r2://account/bucket/prefix``
    or a StorageConfig; without it, ``perstack.toml`` (``config`` or found from ``cwd``) decides.
    With ``cache`` (the default) the decoded tables persist under the user's cache directory and
    only new or changed objects are read next time; ``sync=False`` answers from the cache as is.
    ``direct_reads`` fetches S3/R2 objects with DuckDB's httpfs instead of boto3 (the same
    tables; slower than boto3 in bench/README.md, so off by default).
    """
    storage = open_storage(location, config=config, cwd=cwd, concurrency=concurrency)
    database = open_database(
        storage, use_cache=cache, cache_dir=cache_dir, direct_reads=direct_reads
    )
    return History(storage, database, sync=sync)


class Dataset:
    """An exported dataset (``perstack log export``) read back as the cache's tables.

    Every query runs in the sandbox of ``perstack log query``: read-only, and no file but the
    dataset's committed ones. Partition columns (``event_date``, ``run_date``, ``job_date``)
    are extra columns of their tables; filtering on them reads only the matching files.
    """

    def __init__(self, database: DatasetDatabase) -> None:
        self.database = database

    @property
    def location(self) -> str:
        return self.database.location

    @property
    def tables(self) -> tuple[str, ...]:
        return self.database.tables

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over the dataset (one read-only statement)."""
        from perstack_logq.views.query import run_user_sql

        return run_user_sql(self.database, query, params)

    def table(self, name: str) -> polars.DataFrame:
        if name not in self.tables:
            tables = ", ".join(self.tables)
            raise KeyError(f"no table {name!r} in {self.location}; tables: {tables}")
        return self.sql(f'SELECT * FROM "{name}"').pl()

    def __getattr__(self, name: str) -> polars.DataFrame:
        if name != "database" and name in self.database.tables:
            return self.table(name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"<Dataset {self.location}: {', '.join(self.tables)}>"

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect_dataset(
    location: str | os.PathLike[str], *, endpoint: str | None = None, region: str | None = None
) -> Dataset:
    """Open the dataset ``perstack log export`` wrote at ``location`` (a directory,
    ``s3://bucket/prefix`` or ``r2://account/bucket/prefix``; ``endpoint`` for S3-compatible
    servers), reading only the files its manifests commit."""
    from perstack_logq.views.dataset import open_dataset

    return Dataset(open_dataset(os.fspath(location), endpoint=endpoint, region=region))
