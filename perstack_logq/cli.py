"""The ``perstack`` / ``perstack-logq`` command line: parse arguments, call the API, print.

Every error is one line, ``Error: <message>``, with an exit code by kind (errors.py); the
traceback appears only with ``--debug``. No logic lives here that a notebook would miss.
"""

# Unlike the other modules, no ``from __future__ import annotations``: typer reads the
# annotations of the commands a run makes, and evaluating them from strings took 3 ms of every
# run. Names imported for type checking only are quoted.
import contextlib
import functools
import gc
import inspect
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from perstack_logq import lean_imports
from perstack_logq.errors import LogqError, UsageError
from perstack_logq.views.terminal import (
    EscapingStream,
    ReaderGone,
    json_text,
    unescaped,
    write_clean_chunks,
)

if TYPE_CHECKING:
    # Type hints only: typer vendors click, and a base install has no click package.
    import click

# The rest (orjson, the views, the engine and its duckdb/pyarrow) is imported inside the
# commands that use it: --help, and every command, load only what they need.


class _LazyCommands(Mapping[str, "click.Command"]):
    """The subcommands ``log_commands`` holds, each made into a click command only when asked
    for. Typer reads a command's signature and evaluates its annotations to make it, about
    1 ms a command; a run needs one of them, ``--help`` all."""

    def __init__(self, registry: typer.Typer) -> None:
        self._settings = registry
        self._registry = {info.name: info for info in registry.registered_commands}
        self._made: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> "click.Command":
        if name not in self._made:
            self._made[name] = typer.main.get_command_from_info(
                self._registry[name],
                pretty_exceptions_short=self._settings.pretty_exceptions_short,
                rich_markup_mode=self._settings.rich_markup_mode,
            )
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)  # as registered: the order --help lists them in

    def __len__(self) -> int:
        return len(self._registry)


class _LogGroup(TyperGroup):
    """``perstack log``: its subcommands are those of ``log_commands``, made lazily."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(log_commands)


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="perstack_logq: inspect and query Perstack execution history on any storage.",
)
log_app = typer.Typer(
    cls=_LogGroup,
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="View execution history and events for debugging (the original `perstack log`), "
    "plus jobs, info, query, queries, sync and demo.",
)
app.add_typer(log_app, name="log")
# The subcommands of `perstack log`, registered here rather than on log_app so that a run makes
# only the one it invokes (_LogGroup).
log_commands = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode=None)


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
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        help="URL of the S3-compatible server (MinIO, LocalStack, ...) of an s3:// store; "
        "AWS_ENDPOINT_URL works too.",
    ),
]
MemoryLimitOpt = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        help="Memory DuckDB may use before it spills to disk, e.g. 512MB or 4GB "
        "(default: a quarter of RAM, at most 1GB).",
    ),
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
    endpoint: str | None = None
    memory_limit: str | None = None

    def merged(self, **given: Any) -> "Common":
        """Options given to a subcommand win over the same options given to ``log``."""
        values = {k: v for k, v in given.items() if v not in (None, False)}
        return Common(**{**self.__dict__, **values})

    def open(self, *, conversations: bool = True) -> Any:
        """The history the options name. ``conversations``: whether the view shows any;
        without a cache, the history of a view that shows none keeps none (api.connect)."""
        from perstack_logq.api import connect

        history = connect(
            self.storage,
            config=self.config,
            cache=not self.no_cache,
            cache_dir=self.cache_dir,
            concurrency=self.concurrency,
            direct_reads=self.direct_reads,
            endpoint=self.endpoint,
            memory_limit=self.memory_limit,
            conversations=conversations or not self.no_cache,
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
    "endpoint": (EndpointOpt, None),
    "memory_limit": (MemoryLimitOpt, None),
    "show_skipped": (ShowSkippedOpt, False),
    "debug": (DebugOpt, False),
}


def store_command(
    name: str, cls: "type[click.Command] | None" = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
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
        return log_commands.command(name, cls=cls)(run)

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
    endpoint: EndpointOpt = None,
    memory_limit: MemoryLimitOpt = None,
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
    ctx.obj = Common(
        config,
        storage,
        cache_dir,
        no_cache,
        concurrency,
        show_skipped,
        direct_reads,
        endpoint,
        memory_limit,
    )
    if ctx.invoked_subcommand is not None:
        return
    from perstack_logq.views import hints, render
    from perstack_logq.views.log import build_log, parse_log_request

    request = parse_log_request(
        job=job,
        run=run,
        checkpoint=checkpoint,
        step=step,
        type=event_type,
        errors=errors,
        tools=tools,
        delegations=delegations,
        filter=filter_expression,
        take=take,
        offset=offset,
        context=context,
    )
    # The terminal view shows no event's conversation, only --checkpoint's messages; and a
    # --filter into "messages" reads them.
    reads_messages = request.filter is not None and "messages" in request.filter.field
    with ctx.obj.open(conversations=as_json or checkpoint is not None or reads_messages) as history:
        # Finding the latest job lists the store: a long listing shows on a terminal.
        history.database.default_progress = _progress_printer(
            "json" if as_json else "table", listing_only=True
        )
        output = build_log(
            history.database,
            request,
            conversations=as_json,
            json_text=render.JsonText(pretty=pretty) if as_json else None,
        )
        if output is None:
            print("No data found")
        elif as_json:
            write_clean_chunks(sys.stdout, render.json_chunks(output, pretty=pretty))
            print()
        else:
            print(
                render.format_terminal(output, verbose=verbose, messages=messages, summary=summary)
            )
        # Stdout stays the original's; what was not found, and what exists, goes to stderr.
        for line in hints.for_log(history.storage, history.database, request, output):
            print(line, file=sys.stderr)
        if output is not None:
            _report_skipped(history, ctx.obj, [output.job["id"]])


# -- shared output options for tabular commands -----------------------------------------------
# Every command that prints rows takes these three options, declared as
# `as_json: JsonOpt = False, fmt: FormatOpt = None, output: OutputOpt = None`, and writes its
# rows with Tabular.write: one definition, the same behaviour everywhere.

FormatOpt = Annotated[
    str | None,
    typer.Option("--format", "-f", help="table (default), csv, json, jsonl, markdown or parquet."),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
# How `cost` and `report` price runs beyond their run settings and the shipped prices.
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", help="Model of the runs whose run setting and perstack.toml name none."
    ),
]
PricesOpt = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help='TOML file of [pricing."MODEL"] tables (input, output, cache_read, '
        "cache_write: USD per million tokens) over the shipped prices.",
    ),
]


@dataclass(frozen=True)
class Tabular:
    """Where and how a tabular command writes its rows (--format, --json, --output)."""

    format: Any  # views.output.OutputFormat
    path: Path | None

    @property
    def is_terminal_table(self) -> bool:
        """A table on stdout: commands may add their own lines (Storage:, hints) around it."""
        return self.format.value == "table" and self.path is None

    def write(self, relation: Any, storage: Any = None) -> None:
        """Write the rows; an --output inside ``storage`` (the store read) is refused."""
        from perstack_logq.views.output import OutputFormat, refuse_output_in_store, write_relation

        if self.path is None:
            write_relation(relation, self.format, sys.stdout)
            return
        refuse_output_in_store(self.path, storage)
        try:
            if self.format is OutputFormat.parquet:
                write_relation(relation, self.format, sys.stdout, output_path=self.path)
                return
            with self.path.open("w", encoding="utf-8", newline="") as stream:
                write_relation(relation, self.format, stream, width=10_000)
        except OSError as error:
            raise UsageError(
                f"Cannot write --output {self.path}: {error.strerror or error}"
            ) from None


def _tabular(fmt: str | None, as_json: bool, output: Path | None) -> Tabular:
    from perstack_logq.views.output import OutputFormat

    if as_json and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} contradict each other: give one")
    chosen = "json" if as_json else (fmt or "table")
    try:
        output_format = OutputFormat(chosen)
    except ValueError:
        allowed = ", ".join(f.value for f in OutputFormat)
        raise UsageError(f"Invalid value for --format: {chosen!r} (allowed: {allowed})") from None
    if output_format is OutputFormat.parquet and output is None:
        raise UsageError("--format parquet needs --output FILE")
    return Tabular(output_format, output)


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
    """List the jobs of the store, newest first, with wall and active time (steps running)."""
    from perstack_logq.views import hints
    from perstack_logq.views.catalog import JobFilter, list_jobs, parse_time_bound

    tabular = _tabular(fmt, as_json, output)
    job_filter = JobFilter(
        status=status,
        expert=expert,
        since=parse_time_bound("--since", since) if since else None,
        until=parse_time_bound("--until", until) if until else None,
        limit=limit,
    )
    with common.open() as history:
        relation = list_jobs(history.database, job_filter)
        if tabular.is_terminal_table:
            found = _print_jobs_table(history.storage_info, relation)
        else:
            tabular.write(relation, history.storage)
            found = True
        if not found:
            for line in hints.for_jobs(history.storage, status):
                print(line, file=sys.stderr)
        _report_skipped(history, common)


def _print_jobs_table(storage_info: Any, relation: Any) -> bool:
    """The jobs as a table; False when there were none."""
    from perstack_logq.views.output import format_duration, format_table

    columns = relation.columns
    rows = [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
    print(f"Storage: {storage_info}")
    print()
    if not rows:
        print("No jobs found")
        return False
    table_rows = [
        (
            row["job_id"],
            "stale" if row["stale"] else row["status"],
            row["expert"],
            row["steps"],
            row["total_tokens"],
            row["started_at"],
            format_duration(row["duration_ms"]),
            format_duration(row["active_ms"]),
        )
        for row in rows
    ]
    header = ["job", "status", "expert", "steps", "tokens", "started (UTC)", "wall", "active"]
    sys.stdout.write(format_table(header, table_rows))
    return True


@store_command("info")
def info_command(
    ctx: typer.Context,
    common: Common,
    as_json: JsonOpt = False,
) -> None:
    """Show the storage and what it holds: jobs, runs, checkpoints, events, bytes."""
    import orjson

    from perstack_logq.cost.prices import price_data_label
    from perstack_logq.views.catalog import store_info
    from perstack_logq.views.output import cell_text

    with common.open() as history:
        history.database.default_progress = _progress_printer(
            "json" if as_json else "table", listing_only=True
        )
        info = store_info(history.database)
    info["prices"] = price_data_label()
    if as_json:
        print(json_text(orjson.dumps(info, default=cell_text, option=orjson.OPT_INDENT_2).decode()))
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
        "masked_secrets": "Secrets masked",
    }
    storage_facts = info["storage"]
    print(f"Storage: {storage_facts['type']} {storage_facts['location']}")
    for key, label in labels.items():
        print(f"{label + ':':<24}{info[key]:,}")
    for which in ("oldest", "newest"):
        job = info[f"{which}_job"]
        started = f"  (started {cell_text(info[f'{which}_started_at'])} UTC)" if job else ""
        print(f"{which.capitalize() + ' job:':<24}{job or '-'}{started}")
    print(f"{'Prices:':<24}{info['prices']}")


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
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0, max=10**9, help="Stop the query after SECONDS (0: no limit)."
        ),
    ] = 300.0,
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
    from perstack_logq.views.query import (
        bind_canned,
        parse_params,
        query_errors,
        run_user_sql,
        run_with_limits,
    )

    tabular = _tabular(fmt, as_json, output)
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

            def answer_from_dataset() -> None:
                relation = run_user_sql(dataset_database, sql, params)
                with query_errors():
                    tabular.write(relation)

            run_with_limits(dataset_database.connection, answer_from_dataset, timeout)
        finally:
            dataset_database.close()
        return
    from perstack_logq.cost import mentions_costs

    with common.open() as history:
        if not no_sync:
            history.sync(progress=_progress_printer(tabular.format.value), keep_open=True)
        _report_skipped(history, common)
        if mentions_costs(sql):
            history.price()

        def answer() -> None:
            relation = run_user_sql(history.database, sql, params)
            with query_errors():
                tabular.write(relation, history.storage)

        run_with_limits(history.database.connection, answer, timeout)


@log_commands.command("queries")
def queries_command(
    as_json: JsonOpt = False, fmt: FormatOpt = None, output: OutputOpt = None
) -> None:
    """List the canned queries: name, what each answers, its parameters."""
    from perstack_logq.views.output import rows_relation
    from perstack_logq.views.query import CATALOG_COLUMNS, query_catalog

    tabular = _tabular(fmt, as_json, output)
    tabular.write(rows_relation(CATALOG_COLUMNS, query_catalog()))


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
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Delete the cache and read the whole store again."),
    ] = False,
) -> None:
    """Bring the local cache up to date, reading only new or changed objects."""
    if common.no_cache:
        raise UsageError("--no-cache and sync contradict each other: sync fills the cache")
    with common.open() as history:
        report = history.sync(progress=_progress_printer("table"), rescan=rescan, rebuild=rebuild)
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


def _progress_printer(output_format: str, *, listing_only: bool = False) -> Any:
    """A progress line on stderr for long syncs, only on a terminal and never around JSON."""
    if output_format != "table" or not sys.stderr.isatty():
        return None
    from perstack_logq.views.progress import ProgressLine

    return ProgressLine(unescaped(sys.stderr), listing_only=listing_only)


@log_commands.command("demo")
def demo_command(
    directory: Annotated[
        Path, typer.Option("--directory", help="Where the sample store goes.")
    ] = Path("perstack"),
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, max=100_000, help="Jobs in the sample store.")
    ] = 24,
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
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Dataset location: a directory, s3://bucket/prefix or r2://accountId/bucket/prefix"
            "; with --format otlp, the receiver's URL (http://host:4318).",
        ),
    ] = None,
    tables: Annotated[
        str | None,
        typer.Option(
            "--tables",
            help="Tables, comma-separated, or all (default: jobs, runs, checkpoints, "
            "run_settings, events, steps, tool_calls, tool_results; also messages, job_files).",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="parquet (zstd, the default), csv or jsonl; otlp sends traces to an "
            "OpenTelemetry receiver (docs/otlp.md).",
        ),
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
    header: Annotated[
        list[str] | None,
        typer.Option("--header", help="With --format otlp: KEY=VALUE sent with every request."),
    ] = None,
    job: Annotated[
        str | None, typer.Option("--job", help="With --format otlp: this job only.")
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
    """Export the history as a dataset (Parquet/CSV/JSONL files per table) or as traces (otlp)."""
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

    if fmt == "otlp":
        if tables is not None or shard is not None or partition_by != "auto":
            raise UsageError("--tables, --shard and --partition-by are for datasets, not otlp")
        _export_otlp(common, output, header or [], since, until, job, incremental)
        return
    if header or job:
        raise UsageError("--header and --job go with --format otlp")
    if output is None:
        raise UsageError("Missing option '--output' / '-o' (where the dataset goes)")

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
    progress = ProgressBar(unescaped(sys.stderr)) if sys.stderr.isatty() else None
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


def _export_otlp(
    common: Common,
    output: str | None,
    headers: list[str],
    since: str | None,
    until: str | None,
    job: str | None,
    incremental: bool,
) -> None:
    from perstack_logq.otlp.send import (
        OtlpOptions,
        export_otlp,
        import_otlp,
        resolve_endpoint,
        resolve_headers,
    )
    from perstack_logq.views.catalog import parse_time_bound

    import_otlp()
    options = OtlpOptions(
        endpoint=resolve_endpoint(output),
        headers=resolve_headers(headers),
        since=parse_time_bound("--since", since) if since else None,
        until=parse_time_bound("--until", until) if until else None,
        job_id=job,
        incremental=incremental,
    )
    with common.open() as history:
        report = export_otlp(history, options, cache_dir=common.cache_dir)
        _report_skipped(history, common)
    print(f"Sent {report.jobs_sent:,} job(s) as {report.spans_sent:,} span(s) to {report.endpoint}")
    if incremental:
        print(
            f"{report.jobs_unchanged:,} job(s) unchanged since the last send, "
            f"{report.jobs_running:,} still running (sent once they end)"
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
    model: ModelOpt = None,
    prices: PricesOpt = None,
) -> None:
    """Write a self-contained HTML report: overview charts and tables, a timeline per job.

    Costs are priced as `perstack log cost` prices them; a step without a price is left out
    of the cost chart, and the page says how many and why.
    """
    from perstack_logq.report import check_output
    from perstack_logq.views.catalog import parse_time_bound

    check_output(output)
    since_at = parse_time_bound("--since", since) if since else None
    until_at = parse_time_bound("--until", until) if until else None
    with common.open() as history:
        history.sync(progress=_progress_printer("table"), keep_open=True)
        _report_skipped(history, common)
        summary = history.report(
            output,
            since=since_at,
            until=until_at,
            job=job,
            expert=expert,
            model=model,
            prices_file=prices,
        )
    omitted = (
        f"; {summary.omitted_views:,} job(s) listed without a view (size bound)"
        if summary.omitted_views
        else ""
    )
    print(
        f"Wrote {summary.path} ({summary.bytes / 1e6:.2f} MB): {summary.jobs:,} job(s), "
        f"{summary.job_views:,} job view(s){omitted}"
    )


# -- perstack log cost ------------------------------------------------------------------------


class _PriceDataHelp(TyperCommand):
    """Help that names the shipped price data and its date, looked up only when shown."""

    def format_help(self, ctx: "click.Context", formatter: "click.HelpFormatter") -> None:
        from perstack_logq.cost.prices import price_data_label

        self.help = f"{self.help}\n\nShipped prices: {price_data_label()}."
        super().format_help(ctx, formatter)


@store_command("cost", cls=_PriceDataHelp)
def cost_command(
    ctx: typer.Context,
    common: Common,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Group by day, week, month, expert, model or job; step lists the costliest "
            "steps. Experts, models and jobs come costliest first.",
        ),
    ] = "day",
    since: Annotated[
        str | None, typer.Option("--since", help="Steps at or after: 2026-11-01, 7d, 12h.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Steps before: date or 7d.")] = None,
    breakdown: Annotated[
        bool,
        typer.Option(
            "--breakdown",
            help="Also show cached tokens and the input, cache-read and output parts of each cost.",
        ),
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N rows.")] = None,
    model: ModelOpt = None,
    prices: PricesOpt = None,
    reprice: Annotated[
        str | None,
        typer.Option("--reprice", help="Also show what every step would have cost on MODEL."),
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """What the history cost in USD, from each step's tokens and its model's price.

    A run's model comes from its run-setting.json, else perstack.toml's model, else --model.
    A model without a price costs NULL (with a warning), never $0.
    """
    from perstack_logq.cost.pricing import load_cost_settings, pricing_warnings
    from perstack_logq.cost.report import CostGrouping, CostRequest, cost_report
    from perstack_logq.views.catalog import parse_time_bound

    tabular = _tabular(fmt, as_json, output)
    try:
        grouping = CostGrouping(by)
    except ValueError:
        allowed = ", ".join(g.value for g in CostGrouping)
        raise UsageError(f"Invalid value for --by: {by!r} (allowed: {allowed})") from None
    settings = load_cost_settings(
        config=common.config, prices_file=prices, model=model, reprice=reprice
    )
    request = CostRequest(
        by=grouping,
        since=parse_time_bound("--since", since) if since else None,
        until=parse_time_bound("--until", until) if until else None,
        breakdown=breakdown,
        limit=limit,
    )
    with common.open() as history:
        report = cost_report(history.database, settings, request)
        for line in pricing_warnings(report.pricing, settings):
            logging.getLogger("perstack_logq").warning(line)
        _report_skipped(history, common)
        tabular.write(report.relation, history.storage)
        if tabular.is_terminal_table:
            total = (
                "unknown (unpriced steps)"
                if report.total_usd is None
                else (f"${report.total_usd:,.4f}")
            )
            print(f"Total: {total} over {report.steps:,} steps")


# -- perstack log search ----------------------------------------------------------------------


@store_command("search")
def search_command(
    ctx: typer.Context,
    common: Common,
    text: Annotated[
        str,
        typer.Argument(
            help='Words (all must occur, any form: deploy finds deploying), "a phrase" '
            "(as written) or prefix*.",
        ),
    ],
    job: Annotated[str | None, typer.Option("--job", help="Only this job.")] = None,
    expert: Annotated[str | None, typer.Option("--expert", help="Only this expert.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="Only this kind of text (userMessage, expertMessage, reasoning, toolCall, "
            "toolResult, error, runResult) or event type (completeRun, ...).",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="At or after: 2026-11-01, 7d, 12h.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before: date or 7d.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N hits.")] = 20,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Search everything agents said and saw: messages, reasoning, tool calls and results,
    errors and run results. Best hits first (BM25), each with the match marked «so»."""
    from perstack_logq.search.query import SearchRequest, search
    from perstack_logq.views.catalog import parse_time_bound

    tabular = _tabular(fmt, as_json, output)
    request = SearchRequest(
        text=text,
        job=job,
        expert=expert,
        type=kind,
        since=parse_time_bound("--since", since) if since else None,
        until=parse_time_bound("--until", until) if until else None,
        limit=limit,
    )
    with common.open() as history:
        history.sync(progress=_progress_printer(tabular.format.value), keep_open=True)
        hits = search(history.database, request)
        _report_skipped(history, common)
        if tabular.is_terminal_table:
            hits = hits.project(
                "job_id AS job, run_id AS run, step_number AS step, event_time AS time, "
                "event_type, kind, expert_key AS expert, snippet"
            )
        tabular.write(hits, history.storage)


# -- perstack log mcp -------------------------------------------------------------------------


@store_command("mcp")
def mcp_command(
    ctx: typer.Context,
    common: Common,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            help="Serve streamable HTTP on HOST:PORT (e.g. 127.0.0.1:8765) instead of stdio.",
        ),
    ] = None,
    http_any_host: Annotated[
        bool,
        typer.Option("--http-any-host", help="Allow --http on an address other than loopback."),
    ] = False,
    query_timeout: Annotated[
        float, typer.Option("--query-timeout", min=0.1, help="Seconds a query may run (30).")
    ] = 30.0,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1, help="Rows per answer, at most (200).")
    ] = 200,
    max_cell_chars: Annotated[
        int,
        typer.Option(
            "--max-cell-chars", min=100, help="Characters per value; ids are whole (2000)."
        ),
    ] = 2_000,
    max_answer_chars: Annotated[
        int,
        typer.Option("--max-answer-chars", min=10_000, help="Characters per answer (60000)."),
    ] = 60_000,
) -> None:
    """Serve the history to AI agents as MCP tools (stdio; --http for streamable HTTP)."""
    from perstack_logq.mcp.options import parse_http_address

    address = parse_http_address(http, any_host=http_any_host) if http else None
    try:
        from perstack_logq.mcp import server
    except ModuleNotFoundError as missing:
        raise UsageError(
            f"perstack log mcp needs the mcp extra ({missing.name} is missing): "
            "pip install 'perstack-logq[mcp]'"
        ) from None
    from perstack_logq.mcp.bounds import Limits
    from perstack_logq.mcp.tools import ToolContext

    limits = Limits(
        max_rows=max_rows, max_cell_chars=max_cell_chars, max_answer_chars=max_answer_chars
    )
    with common.open() as history:
        context = ToolContext(history, limits, query_timeout)
        if address is None:
            server.serve_stdio(context)
        else:
            server.serve_http(context, *address)


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
    # Everything printed goes through the escaping streams: store text cannot steer a terminal.
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingStream(sys.stdout), EscapingStream(sys.stderr)
    try:
        _configure_logging()
        code = _run(args, debug)
        return _flushed(code)
    finally:
        sys.stdout, sys.stderr = streams


def _run(args: list[str], debug: bool) -> int:
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
    except KeyboardInterrupt:
        return _interrupted()
    except (ReaderGone, BrokenPipeError):
        # `perstack log ... | head` closed the pipe: not an error worth a message.
        return _reader_gone()
    except LogqError as error:
        if _ctrl_c_pressed():
            return _interrupted()
        _end_progress_line()
        _report(str(error), debug)
        return error.exit_code
    except Exception as error:  # the last line of defence: still one line, never a traceback
        if _ctrl_c_pressed():
            return _interrupted()
        _report(f"unexpected {type(error).__name__}: {error} (run with --debug for details)", debug)
        return 1
    if isinstance(returned, int) and returned:
        if returned == 130:
            print("Interrupted", file=sys.stderr)
        return returned
    return 0


def _ctrl_c_pressed() -> bool:
    """Whether the CLI's SIGINT handler ran: whatever fails after it failed because of it
    (DuckDB, for one, turns the KeyboardInterrupt raised inside a query into a RuntimeError,
    "Query interrupted")."""
    readers = sys.modules.get("perstack_logq.storage.base")
    return readers is not None and readers.INTERRUPTED.is_set()


def _interrupted() -> int:
    _end_progress_line()
    print("Interrupted", file=sys.stderr)
    return 130


def _end_progress_line() -> None:
    """A progress line left open on the terminal ends before the message that follows it."""
    progress = sys.modules.get("perstack_logq.views.progress")
    if progress is not None:
        progress.end_open_line()


def _flushed(code: int) -> int:
    """Flush stdout now, so a reader that left (``| head -1``) is noticed here, not at exit."""
    try:
        sys.stdout.flush()
    except (ReaderGone, BrokenPipeError):
        return _reader_gone()
    return code


def _reader_gone() -> int:
    """The reader of stdout left: point stdout at /dev/null, so that the interpreter's last
    flush at exit finds nowhere to fail, and exit quietly with 0 (as ``cat`` does)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass  # not a real file (a test's buffer): nothing will flush it at exit
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


def _interrupt(signum: int, frame: Any) -> None:
    """Ctrl-C: say so to the remote readers (they then stop without waiting for their reads,
    wherever the interrupt surfaces), then what Python does, KeyboardInterrupt."""
    readers = sys.modules.get("perstack_logq.storage.base")
    if readers is not None:
        readers.INTERRUPTED.set()
    signal.default_int_handler(signum, frame)


def entry_point() -> None:
    # pandas, pyarrow.dataset, and numpy while pyarrow is imported, cost up to 0.3 s a command
    # for nothing the CLI asks of them (lean_imports.py). main() leaves imports alone:
    # notebooks and programs that call it may use them.
    lean_imports.hide()
    # Until a store is open a command mostly imports: typer, duckdb, pyarrow, some
    # 400 modules and 66,000 long-lived objects, which the collector would walk again and again
    # (about 70 passes, some of them full) to free nothing: ~30 ms of a 0.6 s `perstack log`.
    # So collection waits for Common.open(); a command that opens no store (--help, queries)
    # is short and stays paused to its end, as does demo while it writes its small store.
    # main() leaves the collector alone: tests and other programs call it in-process.
    global _startup_gc_pause
    if gc.isenabled():
        gc.disable()
        _startup_gc_pause = True
    signal.signal(signal.SIGINT, _interrupt)
    code = main()
    if code == 130:
        # Interrupted: leave now. A normal exit would wait for the threads still at work
        # (reads from a slow remote, DuckDB's own workers stopping a query), which is what
        # Ctrl-C is meant to cut short.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)
