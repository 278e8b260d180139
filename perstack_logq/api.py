"""The Python face of perstack_logq: what notebooks, scripts and the CLI all call.

import perstack_logq
history = perstack_logq.connect()                # perstack.toml / ./perstack, as the CLI
history = perstack_logq.connect("s3://bucket/perstack/")
history.sql("select type, count(*) from events group by all").pl()
history.tool_calls                               # a Polars DataFrame
history.queries()                                # the canned queries, with their parameters
history.query("tool_error_rates", since="7d").pl()
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from perstack_logq.config import R2Config, S3Config, StorageConfig, load_storage_config
from perstack_logq.decode.schema import TABLES_BY_NAME
from perstack_logq.engine.cache import open_database
from perstack_logq.engine.connections import CacheDatabase
from perstack_logq.engine.database import Database, ProgressCallback, SyncReport
from perstack_logq.engine.sandbox import check_read_only
from perstack_logq.errors import UsageError
from perstack_logq.storage.base import Storage, StorageInfo
from perstack_logq.storage.factory import create_storage_from_config

if TYPE_CHECKING:
    import datetime as dt

    import polars

    from perstack_logq.cost.pricing import CostSettings, PricingResult
    from perstack_logq.cost.report import CostReport
    from perstack_logq.report import ReportSummary
    from perstack_logq.views.dataset import DatasetDatabase

VIEWS = ("jobs", "runs", "step_costs", "run_costs", "job_costs")
TABLES = (*VIEWS, *TABLES_BY_NAME)


class History:
    """One store's execution history, queryable with SQL and as DataFrames."""

    def __init__(
        self,
        storage: Storage,
        database: Database,
        *,
        sync: bool = True,
        query_timeout: float | None = None,
        config: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.storage = storage
        self.database = database
        self._needs_sync = sync
        self.query_timeout = query_timeout
        self._config = config
        self._cwd = cwd
        self._cost_settings: CostSettings | None = None

    @property
    def storage_info(self) -> StorageInfo:
        return self.storage.get_storage_info()

    def sync(
        self,
        progress: ProgressCallback | None = None,
        *,
        rescan: bool = False,
        rebuild: bool = False,
        keep_open: bool = False,
    ) -> SyncReport:
        """Read what is new or changed in the whole store (everything, the first time).

        ``rescan``: stat every file of a filesystem store, not only those of directories whose
        mtime moved (see ``Database.sync``). ``rebuild``: forget everything held and read the
        whole store again. ``keep_open``: leave a read-only connection to the cache open for
        reads that follow at once (a CLI command: closing and opening it again cost 17 ms); a
        write connection, which user SQL must not run on, is closed all the same. By default
        it is closed, so that a notebook between calls holds no lock on the cache.
        """
        if rebuild:
            if isinstance(self.database, CacheDatabase):
                self.database.rebuild()
            else:
                self.database.close()
                self.database = Database(self.storage, direct_reads=self.database.direct_reads)
        report = self.database.sync(progress=progress, rescan=rescan)
        if isinstance(self.database, CacheDatabase) and not (
            keep_open and self.database.reads_only
        ):
            self.database.release()
        self._needs_sync = False
        return report

    def ensure_synced(self, progress: ProgressCallback | None = None) -> None:
        if self._needs_sync:
            self.sync(progress)

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation: call ``.pl()``, ``.arrow()``, ``.df()`` or ``.fetchall()`` on it.

        With a ``query_timeout`` (see ``connect``) the query is stopped by QueryError after
        that many seconds (or by Ctrl-C). Only reading statements run (QueryError otherwise).
        Over the cache, the answer is computed at once and held in memory: the cache file stays
        free for other processes. A query that reads a cost view is priced first (``price``),
        with the settings given to ``price`` last, else those of perstack.toml.
        """
        self.ensure_synced()
        from perstack_logq.cost import mentions_costs
        from perstack_logq.views.query import query_errors, run_with_limits

        if mentions_costs(query):
            self.price(self._cost_settings)
        if isinstance(self.database, CacheDatabase):
            if not self.query_timeout:
                return self.database.read_detached(query, params)
            connection = self.database.read_only_connection()
            try:
                with query_errors():
                    return run_with_limits(
                        connection,
                        lambda: self.database.read_detached(query, params),
                        self.query_timeout,
                    )
            finally:
                self.database.release()  # also when the statement was refused
        check_read_only(self.database.connection, query)
        relation = self.database.sql(query, params=dict(params) if params else None)
        if not self.query_timeout:
            return relation
        with query_errors():
            rows = run_with_limits(
                self.database.connection, relation.fetch_arrow_table, self.query_timeout
            )
        return self.database.connection.from_arrow(rows)

    def price(self, settings: CostSettings | None = None, **options: Any) -> PricingResult:
        """Fill the prices the cost views (step_costs, run_costs, job_costs) read.

        ``settings`` (a CostSettings), or options of ``load_cost_settings``: ``prices_file``,
        ``model`` (for runs that name none), ``reprice`` (a model to compare with).
        Logs one warning per pricing problem (unpriced or unknown models).
        """
        from perstack_logq.cost.pricing import prepare_costs

        settings = self._settings_for_costs(settings, **options)
        self.ensure_synced()
        result = prepare_costs(self.database, settings)
        _warn_unpriced(result, settings)
        return result

    def _settings_for_costs(self, settings: CostSettings | None, **options: Any) -> CostSettings:
        """``settings``, else perstack.toml's with ``options``; kept for the next cost query."""
        from perstack_logq.cost.pricing import load_cost_settings

        if settings is None:
            settings = load_cost_settings(config=self._config, cwd=self._cwd, **options)
        self._cost_settings = settings
        return settings

    def cost(
        self,
        by: str = "day",
        *,
        since: Any = None,
        until: Any = None,
        breakdown: bool = False,
        limit: int | None = None,
        **options: Any,
    ) -> CostReport:
        """``perstack log cost`` as a CostReport (``.relation.pl()`` for a frame, ``.total_usd``).

        ``by``: day, week, month, expert, model, job or step; ``options`` as for ``price``.
        """
        from perstack_logq.cost.pricing import load_cost_settings
        from perstack_logq.cost.report import CostGrouping, CostRequest, cost_report

        settings = load_cost_settings(config=self._config, cwd=self._cwd, **options)
        self._cost_settings = settings
        request = CostRequest(CostGrouping(by), since, until, breakdown, limit)
        return cost_report(self.database, settings, request)

    def query(self, name: str, **params: Any) -> duckdb.DuckDBPyRelation:
        """A canned query (``queries()`` lists them) as a relation, like ``sql``.

        Parameters as in ``perstack log query --name NAME --param key=value``: times take
        ``7d``, ``12h``, a date or a ``datetime``; a bad value raises UsageError naming it.
        """
        from perstack_logq.views.query import bind_canned

        given = {key: str(value) for key, value in params.items() if value is not None}
        query, bound = bind_canned(name, given, option="{name}")
        return self.sql(query.text, bound)

    def queries(self) -> polars.DataFrame:
        """The canned queries: name, what each answers, its parameters and their defaults."""
        import polars

        from perstack_logq.views.query import CATALOG_COLUMNS, query_catalog

        return polars.DataFrame(query_catalog(), schema=list(CATALOG_COLUMNS), orient="row")

    def table(self, name: str) -> polars.DataFrame:
        if name not in TABLES:
            raise KeyError(f"no table {name!r}; tables: {', '.join(TABLES)}")
        return self.sql(f"SELECT * FROM {name}").pl()

    def __getattr__(self, name: str) -> polars.DataFrame:
        if name in TABLES:
            return self.table(name)
        raise AttributeError(name)

    def search(
        self,
        text: str,
        *,
        job: str | None = None,
        expert: str | None = None,
        type: str | None = None,
        since: Any = None,
        until: Any = None,
        limit: int = 20,
    ) -> duckdb.DuckDBPyRelation:
        """``perstack log search``: hits over everything agents said and saw, best first.

        ``text``: words (all must occur, by stem), ``"a phrase"``, ``prefix*``. Each hit has
        score, job_id, run_id, step_number, event_time, event_type, kind, expert_key, label
        (the tool's name) and a snippet with the match marked «so».
        """
        from perstack_logq.search.query import SearchRequest
        from perstack_logq.search.query import search as run_search

        self.ensure_synced()
        request = SearchRequest(text, job, expert, type, since, until, limit)
        return run_search(self.database, request)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *TABLES})

    def __repr__(self) -> str:
        cache = f"cache {self.database.path}" if self.database.path else "no cache"
        return f"<History of {self.storage_info}, {cache}; tables: {', '.join(TABLES)}>"

    def report(
        self,
        path: str | os.PathLike[str],
        *,
        since: str | dt.datetime | None = None,
        until: str | dt.datetime | None = None,
        job: str | None = None,
        expert: str | None = None,
        **options: Any,
    ) -> ReportSummary:
        """Write a self-contained HTML report (overview and job views) to ``path``.

        ``since``/``until`` bound the jobs' start: a datetime (UTC), a date or ``7d``/``12h``;
        ``job`` reports one job, ``expert`` the jobs of one coordinator expert; ``options``
        price its costs as for ``price`` (``model``, ``prices_file``).
        """
        from perstack_logq.report import Selection, check_output, write_report
        from perstack_logq.views.catalog import parse_time_bound

        def bound(option: str, value: str | dt.datetime | None) -> dt.datetime | None:
            return parse_time_bound(option, value) if isinstance(value, str) else value

        check_output(path)
        self.ensure_synced()
        selection = Selection(bound("since", since), bound("until", until), job, expert)
        # Priced with the options given, else as a cost query here would be: with the
        # settings given to price last, else perstack.toml's.
        given = any(value is not None for value in options.values())
        settings = self._settings_for_costs(None if given else self._cost_settings, **options)
        summary = write_report(self.database, path, selection, costs=settings)
        _warn_unpriced(summary.pricing, settings)
        return summary

    def close(self) -> None:
        self.database.close()
        self.storage.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _warn_unpriced(result: PricingResult, settings: CostSettings) -> None:
    """One warning per pricing problem (unpriced or unknown models)."""
    import logging

    from perstack_logq.cost.pricing import pricing_warnings

    for line in pricing_warnings(result, settings):
        logging.getLogger("perstack_logq").warning(line)


def open_storage(
    location: str | os.PathLike[str] | StorageConfig | None = None,
    *,
    config: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    concurrency: int | None = None,
    endpoint: str | None = None,
) -> Storage:
    """The store chosen like the CLI chooses it: a location, perstack.toml, or ./perstack.

    ``endpoint`` names the S3-compatible server of an ``s3://`` (or ``r2://``) store.
    """
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if isinstance(location, str) or location is None:
        storage_config = load_storage_config(
            config_path=_optional_path(config), storage=location, cwd=_optional_path(cwd)
        )
    else:
        storage_config = location
    if endpoint is not None:
        storage_config = with_endpoint(storage_config, endpoint)
    storage = create_storage_from_config(storage_config, concurrency=concurrency)
    try:
        storage.check()
    except BaseException:
        storage.close()  # its connections, now: the error's traceback may keep it alive
        raise
    return storage


def sample_store(directory: str | os.PathLike[str], *, jobs: int = 24, seed: int = 7) -> Path:
    """A generated store to try things on (``perstack log demo``'s): made once, then reused.

    Seeded, so the same ``jobs`` and ``seed`` give the same store; never written into a store
    it did not make. Returns the directory, ready for ``connect``.
    """
    from perstack_logq.demo import ensure_sample_store

    path = Path(directory)
    ensure_sample_store(path, jobs=jobs, seed=seed)
    return path.resolve()


def with_endpoint(storage_config: StorageConfig, endpoint: str) -> StorageConfig:
    """The S3/R2 store reached through ``endpoint`` (``--endpoint``): an S3-compatible server
    such as MinIO, LocalStack or Ceph, addressed path-style as those servers expect."""
    if not endpoint.startswith(("http://", "https://")) or "@" in endpoint:
        raise UsageError(
            f"Invalid value for --endpoint: {endpoint!r} (use a URL such as "
            "http://127.0.0.1:9000, without credentials)"
        )
    url = endpoint.rstrip("/")
    if isinstance(storage_config, S3Config):
        return dataclasses.replace(storage_config, endpoint=url, force_path_style=True)
    if isinstance(storage_config, R2Config):
        return dataclasses.replace(storage_config, endpoint=url)
    raise UsageError("--endpoint applies to s3:// and r2:// stores, not to a directory")


def connect(
    location: str | os.PathLike[str] | StorageConfig | None = None,
    *,
    config: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    sync: bool = True,
    concurrency: int | None = None,
    direct_reads: bool = False,
    query_timeout: float | None = None,
    endpoint: str | None = None,
    memory_limit: str | None = None,
    conversations: bool = True,
) -> History:
    """Open a store's history.

    ``location`` is a path (str or Path), ``file://...``, ``s3://bucket/prefix``, ``r2://account/bucket/prefix``
    or a StorageConfig; without it, ``perstack.toml`` (``config`` or found from ``cwd``) decides.
    With ``cache`` (the default) the decoded tables persist under the user's cache directory and
    only new or changed objects are read next time; ``sync=False`` answers from the cache as is.
    ``direct_reads`` fetches S3/R2 objects with DuckDB's httpfs instead of boto3 (the same
    tables; slower than boto3 in bench/README.md, so off by default). ``endpoint`` is the URL
    of an S3-compatible server for an ``s3://`` location (``AWS_ENDPOINT_URL`` works too).
    ``query_timeout``: seconds after which a query of ``sql()``/``table()`` is stopped.
    ``memory_limit`` (e.g. ``"4GB"``): what DuckDB may hold in memory before it spills to
    disk, with or without a cache (default: a quarter of RAM, at most 1 GB).
    ``conversations=False``, only with ``cache=False``: keep no message (``messages`` stays
    empty, records hold a marker in place of each conversation), for one look that shows
    none: faster and smaller on long sessions.
    """
    storage = open_storage(
        location, config=config, cwd=cwd, concurrency=concurrency, endpoint=endpoint
    )
    try:
        database = open_database(
            storage,
            use_cache=cache,
            cache_dir=_optional_path(cache_dir),
            direct_reads=direct_reads,
            memory_limit=memory_limit,
            conversations=conversations,
        )
    except BaseException:
        storage.close()
        raise
    return History(
        storage,
        database,
        sync=sync,
        query_timeout=query_timeout,
        config=_optional_path(config),
        cwd=_optional_path(cwd),
    )


def _optional_path(value: str | os.PathLike[str] | None) -> Path | None:
    """A notebook passes paths as text as often as Path objects; both mean the same."""
    return None if value is None else Path(value)


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
