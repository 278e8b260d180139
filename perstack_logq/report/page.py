"""Assemble the report: one self-contained HTML file, overview first, then one view per job.

Every piece of agent or store text reaches the page through Jinja2 with autoescaping, so it
renders as text; the page's Content-Security-Policy allows no network request and only the
one script whose hash it names, so even a slip could neither run nor load anything. The page
has no inlined JSON at all: the table script reads the DOM. Job views are rendered one at a
time into a spooled file and stop at a size budget; what was left out is said on the page.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from perstack_logq.errors import UsageError
from perstack_logq.report import charts
from perstack_logq.report.gather import JobData, Overview, Selection
from perstack_logq.report.timeline import layout

# At most this many bytes for the whole page (the bound: 5 MB for 1,000 jobs).
DEFAULT_MAX_BYTES = 5_000_000
# Rows of the overview's jobs table; more would not fit the size bound anyway.
JOBS_TABLE_LIMIT = 2000
# Job views are held in memory up to this size while the overview waits, on disk beyond it.
_SPOOL_IN_MEMORY = 8_000_000
# Room kept for the overview's note on the job views left out, written once they are known.
_NOTICE_ROOM = 2_000


@dataclass
class PageFacts:
    """What the page says about where its data came from."""

    storage: str
    generated_at: dt.datetime
    selection: Selection
    max_bytes: int
    prices: str  # where the shipped prices come from, and their date


@dataclass
class Charts:
    jobs_over_time: str | None
    tokens_per_day: str | None
    cost_per_day: str | None
    tool_outcomes: str | None


@dataclass
class Written:
    bytes: int
    jobs: int
    job_views: int
    omitted_views: list[str] = field(default_factory=list)


def _environment() -> Any:
    try:
        import jinja2
    except ImportError:
        raise UsageError(
            "perstack log report needs the report extra: pip install 'perstack-logq[report]'"
        ) from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("perstack_logq.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible_text,
    )
    env.filters.update(
        utc=format_utc,
        duration=format_duration,
        count=format_count,
        percent=format_percent,
        usd=format_usd,
    )
    return env


def _visible_text(value: Any) -> Any:
    """Every text the page shows as the charts show it (charts.visible_text): a browser would
    show its control characters as nothing, and the page is read in terminals too (``grep``,
    ``less``). Markup (the charts) is the page's own."""
    return charts.visible_text(value) if type(value) is str else value


def format_utc(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def format_percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f} %"


def format_usd(value: float | None) -> str:
    # Four decimals, as `perstack log cost` prints its total: a step costs fractions of a cent.
    return "" if value is None else f"${value:,.4f}"


def render_charts(overview: Overview) -> Charts:
    # Every step with a cost has tokens: ranked by tokens, each expert keeps its colour in both.
    experts = charts.top_experts(overview.tokens_by_day, "total_tokens")
    return Charts(
        jobs_over_time=charts.jobs_over_time(overview.jobs_by_day),
        tokens_per_day=charts.per_day_by_expert(
            overview.tokens_by_day, "total_tokens", "tokens (total)", experts=experts
        ),
        cost_per_day=charts.cost_per_day(overview.cost_by_day, experts),
        tool_outcomes=charts.tool_outcomes(overview.tools),
    )


class PageWriter:
    """Writes the page to ``stream``: head, overview, the job views that fit, tail."""

    def __init__(self, facts: PageFacts) -> None:
        self.env = _environment()
        self.facts = facts
        script = self.env.loader.get_source(self.env, "report.js")[0]
        style = self.env.loader.get_source(self.env, "report.css")[0]
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        self.globals = {"facts": facts, "script": script, "style": style, "script_hash": digest}

    def _render(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(**self.globals, **values)

    def write(
        self,
        stream: IO[str],
        overview: Overview,
        rendered_charts: Charts,
        job_data: Callable[[list[dict[str, Any]]], Iterator[JobData]],
    ) -> Written:
        head = self._render("head.html.j2")
        tail = self._render("tail.html.j2")
        jobs = overview.jobs
        total = overview.extent["jobs"]
        # The overview is largest when every job has a view (a link each), plus the note on
        # the views left out: the views may use what remains.
        largest = self._overview(overview, rendered_charts, {j["job_id"] for j in jobs}, total)
        fixed = sum(_size(text) for text in (head, tail, largest)) + _NOTICE_ROOM
        budget = self.facts.max_bytes - fixed
        with_views: set[str] = set()
        used = 0
        with tempfile.SpooledTemporaryFile(
            max_size=_SPOOL_IN_MEMORY, mode="w+", encoding="utf-8"
        ) as views:
            for data in job_data(jobs):
                view = self._render("job.html.j2", job=data, timeline=layout(data))
                size = _size(view)
                if used + size > budget:
                    break
                views.write(view)
                used += size
                with_views.add(data.job["job_id"])
            page_overview = self._overview(overview, rendered_charts, with_views, total)
            stream.write(head)
            stream.write(page_overview)
            views.seek(0)
            shutil.copyfileobj(views, stream)
            stream.write(tail)
        written = sum(_size(t) for t in (head, page_overview, tail)) + used
        omitted = [j["job_id"] for j in jobs if j["job_id"] not in with_views]
        return Written(written, total, len(with_views), omitted)

    def _overview(
        self, overview: Overview, rendered_charts: Charts, with_views: set[str], total: int
    ) -> str:
        return self._render(
            "overview.html.j2",
            overview=overview,
            charts=rendered_charts,
            with_views=with_views,
            total_jobs=total,
        )


def _size(text: str) -> int:
    return len(text.encode("utf-8"))
