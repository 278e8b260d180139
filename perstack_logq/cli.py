"""The ``perstack`` / ``perstack-logq`` command line: parse arguments, call the API, print.

Every error is one line, ``Error: <message>``, with an exit code by kind (errors.py); the
traceback appears only with ``--debug``. No logic lives here that a notebook would miss.
"""

from __future__ import annotations

import functools
import gc
import importlib.abc
import inspect
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from perstack_logq.errors import LogqError, UsageError

# The rest (orjson, the views, the engine and its duckdb/pyarrow) is imported inside the
# commands that use it: --help, and every command, load only what they need.

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="perstack_logq: inspect and query Perstack execution history on any storage.",
)
log_app = typer.Typer(
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="View execution history and events for debugging (the original `perstack log`), "
    "plus jobs, info, query, queries, sync and demo.",
)
app.add_typer(log_app, name="log")


# -- options every command shares ------------------------------------------------------------

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="perstack.toml to read [storage] from.")
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Store location, overriding perstack.toml: a path, file://..., "
        "s3://bucket/prefix or r2://accountId/bucket/prefix.",
    ),
]
CacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Where the local cache lives.")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Read the store directly; keep nothing locally.")
]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option("--concurrency", min=1, max=256, help="Parallel reads for S3/R2 (default 32)."),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
ShowSkippedOpt = Annotated[
    bool,
    typer.Option("--show-skipped", help="List the store's files that could not be decoded."),
]


@dataclass
class Common:
    config: Path | None = None
    storage: str | None = None
    cache_dir: Path | None = None
    no_cache: bool = False
    concurrency: int | None = None
    show_skipped: bool = False
    direct_reads: bool = False

    def merged(self, **given: Any) -> Common:
        """Options given to a subcommand win over the same options given to ``log``."""
        values = {k: v for k, v in given.items() if v not in (None, False)}
        return Common(**{**self.__dict__, **values})

    def open(self) -> Any:
        from perstack_logq.api import connect

        history = connect(
            self.storage,
            config=self.config,
            cache=not self.no_cache,
            cache_dir=self.cache_dir,
            concurrency=self.concurrency,
            direct_reads=self.direct_reads,
        )
        _end_startup_gc_pause()
        return history


def _common(ctx: typer.Context) -> Common:
    return ctx.obj if isinstance(ctx.obj, Common) else Common()


def _report_skipped(history: Any, common: Common, job_ids: list[str] | None = None) -> None:
    """One warning line on stderr when files were skipped; the list with --show-skipped."""
    from perstack_logq.views.skipped import skipped_rows, skipped_summary

    if common.show_skipped:
        for row in skipped_rows(history.database, job_ids):
            print(f"skipped: {row}", file=sys.stderr)
        return
    summary = skipped_summary(history.database, job_ids)
    if summary:
        logging.getLogger("perstack_logq").warning(summary)


# The store options every subcommand that reads a store accepts (also before its name:
# `perstack log --storage X jobs`), and what they default to.
_STORE_OPTIONS: dict[str, tuple[Any, Any]] = {
    "config": (ConfigOpt, None),
    "storage": (StorageOpt, None),
    "cache_dir": (CacheDirOpt, None),
    "no_cache": (NoCacheOpt, False),
    "concurrency": (ConcurrencyOpt, None),
    "show_skipped": (ShowSkippedOpt, False),
    "debug": (DebugOpt, False),
}


def store_command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a ``perstack log`` subcommand that reads the store.

    The command declares its own options plus a ``common: Common`` parameter; this adds the
    shared store options to its signature and hands them over merged with those given to
    ``perstack log`` itself (the subcommand's win).
    """

    def register(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [param for param in signature.parameters.values() if param.name != "common"]
        shared = [
            inspect.Parameter(
                option, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
            for option, (annotation, default) in _STORE_OPTIONS.items()
        ]

        @functools.wraps(command)
        def run(ctx: typer.Context, **values: Any) -> None:
            given = {option: values.pop(option) for option in _STORE_OPTIONS}
            given.pop("debug")  # read by main() from argv, before any parsing
            command(ctx, common=_common(ctx).merged(**given), **values)

        run.__signature__ = signature.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
        return log_app.command(name)(run)

    return register


# -- perstack log (the original view) ---------------------------------------------------------


@log_app.callback()
def log(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", help="Show events for a specific job")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Show events for a specific run")] = None,
    checkpoint: Annotated[
        str | None, typer.Option("--checkpoint", help="Show checkpoint details")
    ] = None,
    step: Annotated[
        str | None, typer.Option("--step", help="Filter by step number (e.g., 5, >5, 1-10)")
    ] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Filter by event type")] = None,
    errors: Annotated[
        bool, typer.Option("--errors", help="Show error-related events only")
    ] = False,
    tools: Annotated[bool, typer.Option("--tools", help="Show tool call events only")] = False,
    delegations: Annotated[
        bool, typer.Option("--delegations", help="Show delegation events only")
    ] = False,
    filter_expression: Annotated[
        str | None,
        typer.Option("--filter", help='Simple filter expression, e.g. .type == "callTools"'),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Output as JSON")] = False,
    pretty: Annotated[bool, typer.Option("--pretty", help="Pretty-print JSON output")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show full event details")] = False,
    take: Annotated[
        str | None,
        typer.Option("--take", help="Number of events to display (default: 100, use 0 for all)"),
    ] = None,
    offset: Annotated[
        str | None, typer.Option("--offset", help="Number of events to skip (default: 0)")
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="Include N events before/after matches")
    ] = None,
    messages: Annotated[
        bool, typer.Option("--messages", help="Show message history for checkpoint")
    ] = False,
    summary: Annotated[bool, typer.Option("--summary", help="Show summarized view")] = False,
    config: ConfigOpt = None,
    storage: StorageOpt = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    concurrency: ConcurrencyOpt = None,
    show_skipped: ShowSkippedOpt = False,
    direct_reads: Annotated[
        bool,
        typer.Option(
            "--direct-reads",
            help="Fetch S3/R2 objects with DuckDB httpfs instead of boto3 (same tables).",
        ),
    ] = False,
    debug: DebugOpt = False,
) -> None:
    ctx.obj = Common(config, storage, cache_dir, no_cache, concurrency, show_skipped, direct_reads)
    if ctx.invoked_subcommand is not None:
        return
    from perstack_logq.views import filters, render
    from perstack_logq.views.log import DEFAULT_TAKE, LogRequest, build_log

    # The original parses --take/--offset/--context first (as options), then --step/--filter.
    take_value = DEFAULT_TAKE if take is None else filters.parse_non_negative_int("--take", take)
    offset_value = 0 if offset is None else filters.parse_non_negative_int("--offset", offset)
    context_value = 0 if context is None else filters.parse_non_negative_int("--context", context)
    # Like the original (commander), an empty value means the option was not given.
    request = LogRequest(
        job=job or None,
        run=run or None,
        checkpoint=checkpoint or None,
        step=filters.parse_step_filter(step) if step else None,
        type=event_type or None,
        errors=errors,
        tools=tools,
        delegations=delegations,
        filter=filters.parse_filter_expression(filter_expression) if filter_expression else None,
        take=take_value,
        offset=offset_value,
        context=context_value,
    )
    with ctx.obj.open() as history:
        output = build_log(history.database, request)
        if output is None:
            print("No data found")
            return
        if as_json:
            print(render.format_json(output, pretty=pretty))
        else:
            print(
                render.format_terminal(output, verbose=verbose, messages=messages, summary=summary)
            )
        _report_skipped(history, ctx.obj, [output.job["id"]])


# -- shared output options for tabular commands -----------------------------------------------

FormatOpt = Annotated[
    str | None,
    typer.Option("--format", "-f", help="table (default), csv, json, jsonl, markdown or parquet."),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --format json.")]


def _output_format(fmt: str | None, as_json: bool) -> Any:
    from perstack_logq.views.output import OutputFormat

    if as_json and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} contradict each other: give one")
    chosen = "json" if as_json else (fmt or "table")
    try:
        return OutputFormat(chosen)
    except ValueError:
        allowed = ", ".join(f.value for f in OutputFormat)
        raise UsageError(f"Invalid value for --format: {chosen!r} (allowed: {allowed})") from None


def _emit(relation: Any, fmt: Any, output: Path | None) -> None:
    from perstack_logq.views.output import OutputFormat, write_relation

    if output is None or fmt is OutputFormat.parquet:
        write_relation(relation, fmt, sys.stdout, output_path=output)
        return
    with output.open("w", encoding="utf-8", newline="") as stream:
        write_relation(relation, fmt, stream, width=10_000)


# -- perstack log jobs / info -----------------------------------------------------------------


@store_command("jobs")
def jobs_command(
    ctx: typer.Context,
    common: Common,
    status: Annotated[
        str | None, typer.Option("--status", help="Only jobs with this status.")
    ] = None,
    expert: Annotated[
        str | None, typer.Option("--expert", help="Only jobs of this coordinator expert.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Started at or after: 2026-11-01, 7d, 12h.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Started before: date or 7d.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N jobs.")] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """List the jobs of the store, newest first."""
    from perstack_logq.views.catalog import JobFilter, list_jobs, parse_time_bound

    chosen = _output_format(fmt, as_json)
    job_filter = JobFilter(
        status=status,
        expert=expert,
        since=parse_time_bound("--since", since) if since else None,
        until=parse_time_bound("--until", until) if until else None,
        limit=limit,
    )
    with common.open() as history:
        relation = list_jobs(history.database, job_filter)
        if chosen.value == "table" and output is None:
            _print_jobs_table(history.storage_info, relation)
        else:
            _emit(relation, chosen, output)
        _report_skipped(history, common)


def _print_jobs_table(storage_info: Any, relation: Any) -> None:
    from perstack_logq.views.catalog import format_duration
    from perstack_logq.views.output import format_table

    rows = relation.fetchall()
    print(f"Storage: {storage_info}")
    print()
    if not rows:
        print("No jobs found")
        return
    table_rows = [
        (job_id, status, expert, steps, tokens, started, format_duration(duration))
        for job_id, status, expert, steps, tokens, started, _, duration, _, _ in rows
    ]
    columns = ["job", "status", "expert", "steps", "tokens", "started (UTC)", "duration"]
    sys.stdout.write(format_table(columns, table_rows))


@store_command("info")
def info_command(
    ctx: typer.Context,
    common: Common,
    as_json: JsonOpt = False,
) -> None:
    """Show the storage and what it holds: jobs, runs, checkpoints, events, bytes."""
    import orjson

    from perstack_logq.views.catalog import store_info
    from perstack_logq.views.output import cell_text

    with common.open() as history:
        info = store_info(history.database)
    if as_json:
        print(orjson.dumps(info, default=cell_text, option=orjson.OPT_INDENT_2).decode())
        return
    labels = {
        "jobs": "Jobs",
        "runs": "Runs",
        "checkpoints": "Checkpoints",
        "events": "Events",
        "job_files": "job.json files",
        "run_settings": "run-setting.json files",
        "other_files": "Other files",
        "total_bytes": "Total bytes",
    }
    storage_facts = info["storage"]
    print(f"Storage: {storage_facts['type']} {storage_facts['location']}")
    for key, label in labels.items():
        print(f"{label + ':':<24}{info[key]:,}")
    for which in ("oldest", "newest"):
        job = info[f"{which}_job"]
        started = f"  (started {cell_text(info[f'{which}_started_at'])} UTC)" if job else ""
        print(f"{which.capitalize() + ' job:':<24}{job or '-'}{started}")


@store_command("query")
def query_command(
    ctx: typer.Context,
    common: Common,
    sql: Annotated[
        str | None, typer.Argument(help="SQL over the tables of docs/schema.md.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Run a canned query (see `perstack log queries`).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="name=value for a canned query.")
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    no_sync: Annotated[
        bool,
        typer.Option("--no-sync", help="Answer from the cache as it is; do not read the store."),
    ] = False,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Query a dataset written by `perstack log export` (a directory, s3://bucket/"
            "prefix or r2://accountId/bucket/prefix) instead of the store.",
        ),
    ] = None,
    dataset_endpoint: Annotated[
        str | None,
        typer.Option("--dataset-endpoint", help="S3-compatible endpoint URL of the --dataset."),
    ] = None,
) -> None:
    """Run SQL (read-only, sandboxed) over the whole history, or a canned query by --name."""
    from perstack_logq.views.query import bind_canned, parse_params, query_errors, run_user_sql

    chosen = _output_format(fmt, as_json)
    if (sql is None) == (name is None):
        raise UsageError("Give either SQL or --name NAME (see `perstack log queries`)")
    params: dict[str, str | None] | None = None
    if name is not None:
        query, params = bind_canned(name, parse_params(param or []))
        sql = query.text
    elif param:
        raise UsageError("--param goes with --name (bind values into a canned query)")
    if dataset is not None:
        from perstack_logq.views.dataset import open_dataset

        dataset_database = open_dataset(dataset, endpoint=dataset_endpoint)
        try:
            relation = run_user_sql(dataset_database, sql, params)
            with query_errors():
                _emit(relation, chosen, output)
        finally:
            dataset_database.close()
        return
    with common.open() as history:
        if not no_sync:
            history.sync(progress=_progress_printer(chosen.value))
        _report_skipped(history, common)
        relation = run_user_sql(history.database, sql, params)
        with query_errors():
            _emit(relation, chosen, output)


@log_app.command("queries")
def queries_command(as_json: JsonOpt = False, fmt: FormatOpt = None) -> None:
    """List the canned queries: name, what each answers, its parameters."""
    import orjson

    from perstack_logq.views.output import format_table
    from perstack_logq.views.query import canned_queries

    chosen = _output_format(fmt, as_json)
    rows = [
        (
            query.name,
            query.summary,
            ", ".join(
                f"{p.name}" + ("" if p.default is None else f"={p.default}") for p in query.params
            ),
        )
        for query in canned_queries()
    ]
    if chosen.value == "json":
        print(
            orjson.dumps(
                [dict(zip(("name", "answers", "params"), r, strict=True)) for r in rows],
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
    else:
        sys.stdout.write(format_table(["name", "answers", "params"], rows))


@store_command("sync")
def sync_command(
    ctx: typer.Context,
    common: Common,
    rescan: Annotated[
        bool,
        typer.Option(
            "--rescan",
            help="Stat every file of a filesystem store, also in directories whose mtime did "
            "not move (finds files changed in place by something other than the runtime).",
        ),
    ] = False,
) -> None:
    """Bring the local cache up to date, reading only new or changed objects."""
    if common.no_cache:
        raise UsageError("--no-cache and sync contradict each other: sync fills the cache")
    with common.open() as history:
        report = history.sync(progress=_progress_printer("table"), rescan=rescan)
        _report_skipped(history, common)
    print(
        f"Storage: {history.storage_info}\n"
        f"listed {report.listed:,} objects, read {report.read:,}, forgot {report.removed:,}"
        + (
            f", {len(report.unreadable):,} unreadable (retried next sync)"
            if report.unreadable
            else ""
        )
    )


def _progress_printer(output_format: str) -> Any:
    """A progress line on stderr for long syncs, only on a terminal and never around JSON."""
    if output_format != "table" or not sys.stderr.isatty():
        return None
    from perstack_logq.views.progress import ProgressLine

    return ProgressLine(sys.stderr)


@log_app.command("demo")
def demo_command(
    directory: Annotated[
        Path, typer.Option("--directory", help="Where the sample store goes.")
    ] = Path("perstack-demo"),
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Jobs in the sample store.")] = 24,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same store.")] = 7,
) -> None:
    """Generate a sample store (once) and show it with `perstack log` and `perstack log jobs`."""
    from perstack_logq.demo import ensure_sample_store

    created = ensure_sample_store(directory, jobs=jobs, seed=seed)
    where = str(directory.resolve())
    print(f"{'Generated' if created else 'Using'} sample store {where} ({jobs} jobs, seed {seed})")
    print()
    for args in (
        ["log", "--storage", where, "--no-cache", "--take", "12"],
        ["log", "jobs", "--storage", where, "--no-cache", "--limit", "8"],
    ):
        print(f"$ perstack {' '.join(args)}")
        app(args=args, prog_name="perstack", standalone_mode=False)
        print()


@store_command("export")
def export_command(
    ctx: typer.Context,
    common: Common,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Dataset location: a directory, s3://bucket/prefix or r2://accountId/bucket/prefix.",
        ),
    ],
    tables: Annotated[
        str | None,
        typer.Option(
            "--tables",
            help="Tables, comma-separated, or all (default: jobs, runs, checkpoints, "
            "run_settings, events, steps, tool_calls, tool_results; also messages, job_files).",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="parquet (zstd, the default), csv or jsonl.")
    ] = "parquet",
    partition_by: Annotated[
        str,
        typer.Option(
            "--partition-by",
            help="auto (event_date for event tables, run_date for runs, job_date otherwise), "
            "job_date (every table) or none.",
        ),
    ] = "auto",
    since: Annotated[
        str | None, typer.Option("--since", help="Jobs started at or after: 2026-11-01, 7d.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Jobs started before: date or 7d.")
    ] = None,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental", help="Add only jobs the dataset lacks or that changed since."
        ),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="I/N: export only shard I of N (run N of these at once)."),
    ] = None,
    output_endpoint: Annotated[
        str | None,
        typer.Option("--output-endpoint", help="S3-compatible endpoint URL for the output."),
    ] = None,
    output_region: Annotated[
        str | None, typer.Option("--output-region", help="Region of the output bucket.")
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help="Run the shards as tasks on a Dask cluster: its scheduler address "
            "(tcp://host:8786), or local:K for K worker processes here. Needs --shards.",
        ),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option("--shards", help="With --dask: how many shards (tasks) to split into."),
    ] = None,
) -> None:
    """Export the history as a dataset: one folder of Parquet/CSV/JSONL files per table."""
    from perstack_logq.views.catalog import parse_time_bound
    from perstack_logq.views.export import (
        ExportFormat,
        ExportOptions,
        PartitionMode,
        ProgressBar,
        Shard,
        export_dataset,
        parse_tables,
    )

    def choice(option: str, value: str, kind: Any) -> Any:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(k.value for k in kind)
            raise UsageError(
                f"Invalid value for {option}: {value!r} (allowed: {allowed})"
            ) from None

    options = ExportOptions(
        output=output,
        tables=parse_tables(tables),
        format=choice("--format", fmt, ExportFormat),
        partition_by=choice("--partition-by", partition_by, PartitionMode),
        since=parse_time_bound("--since", since) if since else None,
        until=parse_time_bound("--until", until) if until else None,
        incremental=incremental,
        shard=Shard.parse(shard) if shard else Shard(),
        output_endpoint=output_endpoint,
        output_region=output_region,
    )
    if dask is not None or shards is not None:
        _export_on_dask(common, options, dask, shards)
        return
    progress = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    with common.open() as history:
        report = export_dataset(history, options, progress=progress)
        _report_skipped(history, common)
    rows = ", ".join(f"{table} {count:,}" for table, count in report.rows_written.items())
    print(
        f"Exported {report.jobs_written:,} job(s) to {report.location} "
        f"(shard {options.shard.index}/{options.shard.count}: {report.jobs_listed:,} job(s) "
        f"listed in {report.manifest})"
    )
    print(
        f"{report.files_written:,} file(s) written, {report.files_removed:,} removed"
        + (f"; rows: {rows}" if rows else "")
    )


def _export_on_dask(common: Common, options: Any, address: str | None, shards: int | None) -> None:
    from perstack_logq.config import load_storage_config
    from perstack_logq.distributed.dask_export import dask_client, export_on_dask

    if address is None or shards is None:
        raise UsageError("--dask and --shards go together: --dask ADDRESS --shards N")
    storage = load_storage_config(config_path=common.config, storage=common.storage)

    def shard_done(done: Any) -> None:
        print(
            f"shard {done.index}/{done.count} committed by {done.worker} in {done.seconds:.1f} s: "
            f"{done.jobs_written:,} job(s), {done.files_written:,} file(s)",
            file=sys.stderr,
        )

    with dask_client(address) as client:
        report = export_on_dask(
            client, storage, options, shards, concurrency=common.concurrency, progress=shard_done
        )
    rows = ", ".join(f"{table} {count:,}" for table, count in report.rows_written.items())
    print(
        f"Exported {report.jobs_written:,} job(s) to {report.location} in {shards} shard(s) on Dask"
    )
    print(f"{report.files_written:,} file(s) written" + (f"; rows: {rows}" if rows else ""))


# -- perstack log report ----------------------------------------------------------------------


@store_command("report")
def report_command(
    ctx: typer.Context,
    common: Common,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The HTML file to write (e.g. report.html).")
    ],
    since: Annotated[
        str | None, typer.Option("--since", help="Jobs started at or after: 2026-11-01, 7d.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Jobs started before: date or 7d.")
    ] = None,
    job: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
    expert: Annotated[
        str | None, typer.Option("--expert", help="Only jobs of this coordinator expert.")
    ] = None,
) -> None:
    """Write a self-contained HTML report: overview charts and tables, a timeline per job."""
    from perstack_logq.report import check_output
    from perstack_logq.views.catalog import parse_time_bound

    check_output(output)
    since_at = parse_time_bound("--since", since) if since else None
    until_at = parse_time_bound("--until", until) if until else None
    with common.open() as history:
        history.sync(progress=_progress_printer("table"))
        _report_skipped(history, common)
        summary = history.report(output, since=since_at, until=until_at, job=job, expert=expert)
    omitted = (
        f"; {summary.omitted_views:,} job(s) listed without a view (size bound)"
        if summary.omitted_views
        else ""
    )
    print(
        f"Wrote {summary.path} ({summary.bytes / 1e6:.2f} MB): {summary.jobs:,} job(s), "
        f"{summary.job_views:,} job view(s){omitted}"
    )


# -- entry point ------------------------------------------------------------------------------


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logger = logging.getLogger("perstack_logq")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (console scripts exit with it)."""
    # Bare `perstack` shows the help (Typer would report it as a usage error here).
    args = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    debug = "--debug" in args
    _configure_logging()
    try:
        # Typer hands back (not raises) the exit code it chose, e.g. 130 for a Ctrl-C.
        returned = app(
            args=args, prog_name=Path(sys.argv[0]).name or "perstack", standalone_mode=False
        )
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        print("Aborted", file=sys.stderr)
        return 130
    except TyperException as error:
        _report(error.format_message(), debug)
        return UsageError.exit_code
    except LogqError as error:
        _report(str(error), debug)
        return error.exit_code
    except KeyboardInterrupt:
        print("Interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `perstack log ... | head` closed the pipe: not an error worth a message.
        sys.stderr.close()
        return 0
    except Exception as error:  # the last line of defence: still one line, never a traceback
        _report(f"unexpected {type(error).__name__}: {error} (run with --debug for details)", debug)
        return 1
    if isinstance(returned, int) and returned:
        if returned == 130:
            print("Interrupted", file=sys.stderr)
        return returned
    return 0


def _report(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"Error: {first_line}", file=sys.stderr)


# Whether entry_point() paused the cyclic garbage collector (see there).
_startup_gc_pause = False


def _end_startup_gc_pause() -> None:
    """Resume collecting once the command's store is open, its imports done (entry_point)."""
    global _startup_gc_pause
    if _startup_gc_pause:
        _startup_gc_pause = False
        # What exists now (modules, classes, the parsed command) lives until exit: frozen, it
        # is left out of later collections, which walk only what the command itself creates.
        gc.freeze()
        gc.enable()


class _PandasHidden(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail in the CLI's process (see entry_point)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def entry_point() -> None:
    # When pandas is installed (Jupyter environments, dask), pyarrow imports it on its first
    # conversion of a Python list and DuckDB on its first bound parameter, only to ask whether
    # a value is a pandas object: 0.2 s of a 0.7 s command. The CLI never holds one, so for its
    # process pandas is not there (both libraries treat a failed import as "not installed").
    # main() leaves imports alone: notebooks and programs that call it may use pandas.
    sys.meta_path.insert(0, _PandasHidden())
    # Until a store is open a command mostly imports: typer, pydantic, duckdb, pyarrow, some
    # 400 modules and 66,000 long-lived objects, which the collector would walk again and again
    # (about 70 passes, some of them full) to free nothing: ~30 ms of a 0.6 s `perstack log`.
    # So collection waits for Common.open(); a command that opens no store (--help, queries)
    # is short and stays paused to its end, as does demo while it writes its small store.
    # main() leaves the collector alone: tests and other programs call it in-process.
    global _startup_gc_pause
    if gc.isenabled():
        gc.disable()
        _startup_gc_pause = True
    sys.exit(main())
