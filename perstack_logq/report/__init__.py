"""``perstack log report``: one self-contained HTML file to look at a store's history.

An overview (jobs over time, tokens and cost per day by expert, tool outcomes, slowest steps,
runs that stopped early, a sortable jobs table) and a view per job (its runs on a time axis, nested
by delegation, steps, tool calls, retries, waiting time, final results). Opens from
``file://`` with no network and no server; tables and timelines work without JavaScript.

    history = perstack_logq.connect("./perstack")
    history.report("report.html", since="7d")
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from perstack_logq.cost.prices import price_data_label
from perstack_logq.cost.pricing import CostSettings, PricingResult, prepare_costs
from perstack_logq.engine.database import Database
from perstack_logq.errors import UsageError
from perstack_logq.report.gather import (
    Selection,
    drop_temporary_tables,
    read_jobs,
    read_overview,
    select_jobs,
)
from perstack_logq.report.page import (
    DEFAULT_MAX_BYTES,
    JOBS_TABLE_LIMIT,
    PageFacts,
    PageWriter,
    render_charts,
)

__all__ = ["DEFAULT_MAX_BYTES", "ReportSummary", "Selection", "check_output", "write_report"]


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    bytes: int
    jobs: int
    job_views: int
    omitted_views: int
    pricing: PricingResult  # what could not be priced, for the caller's warnings


def check_output(path: str | os.PathLike[str]) -> Path:
    """The report's file, refused before any work when it cannot be written there."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"--output {target} is a directory: give a file name like report.html")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: the directory {target.parent} does not exist")
    return target


def write_report(
    database: Database,
    path: str | os.PathLike[str],
    selection: Selection | None = None,
    *,
    costs: CostSettings | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ReportSummary:
    """Write the report of the selected jobs to ``path`` (the database must be synced).

    ``costs``: where the runs' models and prices come from besides the run settings and the
    shipped prices (perstack.toml's, see ``load_cost_settings``).
    """
    target = check_output(path)
    selection = selection or Selection()
    # Priced first: it may switch to the write connection, and the temporary tables the
    # report's queries join live on the connection that made them.
    pricing = prepare_costs(database, costs or CostSettings())
    select_jobs(database, selection)
    try:
        overview = read_overview(database, jobs_limit=JOBS_TABLE_LIMIT)
        if selection.job_id is not None and not overview.jobs:
            raise UsageError(f"No job {selection.job_id!r} in the store (see `perstack log jobs`)")
        rendered_charts = render_charts(overview)
        facts = PageFacts(
            storage=str(database.storage.get_storage_info()),
            generated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            selection=selection,
            max_bytes=max_bytes,
            prices=price_data_label(),
        )
        writer = PageWriter(facts)
        partial = target.with_name(f".{target.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="\n") as stream:
                written = writer.write(
                    stream, overview, rendered_charts, lambda jobs: read_jobs(database, jobs)
                )
            partial.replace(target)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise UsageError(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        drop_temporary_tables(database)
    return ReportSummary(
        target, written.bytes, written.jobs, written.job_views, len(written.omitted_views), pricing
    )
