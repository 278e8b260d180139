"""A job's runs laid out on a time axis: the geometry the job view's SVG is drawn from.

Rows follow the delegation tree (a delegate under the run that delegated to it, the runs that
resumed the coordinator as later roots); steps sit inside their run's bar, tool calls and
retries are marks under it, and the time a run waited on an interactive tool is a hatched span
up to the run that resumed the job. Drawn as server-side SVG by a template rather than by
vl-convert: every bar and mark carries its own hover text (``<title>``), link and class, which
a pre-rendered Vega SVG drops, and it shows with no script at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from perstack_logq.report.gather import JobData

LABEL_WIDTH = 250
PLOT_WIDTH = 760
ROW_HEIGHT = 44
AXIS_HEIGHT = 34
BAR_TOP = 4
BAR_HEIGHT = 22
STEP_TOP = 9
STEP_HEIGHT = 12
MARK_BASELINE = 38

# Tick spacings to choose from, in seconds: about six ticks whatever the job's length.
_TICK_STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
)


@dataclass
class Mark:
    x: float
    glyph: str
    kind: str  # ok, failed, pending, delegation, interactive, retry
    title: str


@dataclass
class Span:
    x: float
    width: float
    title: str
    classes: str


@dataclass
class Row:
    y: float
    depth: int
    label: str
    run_id: str
    relation: str
    status: str
    run: Span | None
    steps: list[Span] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    waiting: Span | None = None


@dataclass
class Connector:
    x1: float
    y1: float
    x2: float
    y2: float
    kind: str  # delegation, resume


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_width: int
    axis_y: float
    start: dt.datetime
    rows: list[Row]
    connectors: list[Connector]
    ticks: list[Tick]


def tree_order(runs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, str]]:
    """(run, depth, relation) in display order: each run followed by its delegates."""
    ids = {run["run_id"] for run in runs}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for run in runs:  # already ordered by start
        parent = run["parent_run_id"]
        if parent and parent in ids and parent != run["run_id"]:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    ordered: list[tuple[dict[str, Any], int, str]] = []
    seen: set[str] = set()

    def visit(run: dict[str, Any], depth: int, relation: str) -> None:
        if run["run_id"] in seen:
            return
        seen.add(run["run_id"])
        ordered.append((run, depth, relation))
        for child in children.get(run["run_id"], []):
            visit(child, depth + 1, "delegate")

    for index, root in enumerate(roots):
        visit(root, 0, "coordinator" if index == 0 else "resumed")
    return ordered


def _span_of(values: list[dt.datetime | None]) -> tuple[dt.datetime, dt.datetime]:
    present = [v for v in values if v is not None]
    start, end = min(present), max(present)
    if end <= start:
        end = start + dt.timedelta(seconds=1)
    return start, end


def _ticks(start: dt.datetime, end: dt.datetime, scale: float) -> list[Tick]:
    seconds = (end - start).total_seconds()
    step = next((s for s in _TICK_STEPS if seconds / s <= 7), _TICK_STEPS[-1])
    epoch = dt.datetime(1970, 1, 1)
    first = (int((start - epoch).total_seconds()) // step + 1) * step
    ticks = []
    moment = epoch + dt.timedelta(seconds=first)
    pattern = "%H:%M:%S" if step < 60 else ("%H:%M" if step < 86400 else "%b %d")
    if step >= 3600 and seconds > 86400:
        pattern = "%b %d %H:%M"
    while moment <= end:
        ticks.append(Tick(_x(moment, start, scale), moment.strftime(pattern)))
        moment += dt.timedelta(seconds=step)
    return ticks


def _x(moment: dt.datetime, start: dt.datetime, scale: float) -> float:
    return round((moment - start).total_seconds() * scale, 1)


def _seconds(ms: int | None) -> str:
    return "?" if ms is None else f"{ms / 1000:.1f} s"


def _tokens(value: int | None) -> str:
    return "no token count" if value is None else f"{value:,} tokens"


def layout(data: JobData) -> Timeline | None:
    """The geometry of a job's timeline, or None when the job has no timed events."""
    timed_runs = [run for run in data.runs if run["started_at"] is not None]
    if not timed_runs:
        return None
    start, end = _span_of(
        [run["started_at"] for run in timed_runs]
        + [run["last_event_at"] for run in timed_runs]
        + [step["started_at"] for step in data.steps]
        + [step["finished_at"] for step in data.steps]
        + [call["called_at"] for call in data.tool_calls]
    )
    scale = PLOT_WIDTH / (end - start).total_seconds()
    ordered = tree_order(data.runs)
    rows: list[Row] = []
    row_of: dict[str, Row] = {}
    for index, (run, depth, relation) in enumerate(ordered):
        y = AXIS_HEIGHT + index * ROW_HEIGHT
        bar = None
        if run["started_at"] is not None:
            x = _x(run["started_at"], start, scale)
            width = round(max(_x(run["last_event_at"], start, scale) - x, 2), 1)
            bar = Span(
                x,
                width,
                f"{run['expert_key']} ({relation}) · {run['status']} · "
                f"{_seconds(run['duration_ms'])} · {run['step_count']} steps · "
                f"{_tokens(run['total_tokens'])}",
                f"tl-run status-{run['status']}",
            )
        row = Row(y, depth, run["expert_key"] or "?", run["run_id"], relation, run["status"], bar)
        rows.append(row)
        row_of[run["run_id"]] = row
    _place_steps(data, row_of, start, scale)
    _place_marks(data, row_of, start, scale)
    connectors = _connect(ordered, row_of, start, scale)
    _place_waiting(ordered, row_of, start, end, scale)
    height = AXIS_HEIGHT + len(rows) * ROW_HEIGHT + 4
    return Timeline(
        width=LABEL_WIDTH + PLOT_WIDTH + 20,
        height=height,
        plot_left=LABEL_WIDTH,
        plot_width=PLOT_WIDTH,
        axis_y=AXIS_HEIGHT - 6,
        start=start,
        rows=rows,
        connectors=connectors,
        ticks=_ticks(start, end, scale),
    )


def _place_steps(data: JobData, row_of: dict[str, Row], start: dt.datetime, scale: float) -> None:
    for step in data.steps:
        row = row_of.get(step["run_id"])
        if row is None or step["started_at"] is None:
            continue
        x = _x(step["started_at"], start, scale)
        width = round(max(_x(step["finished_at"], start, scale) - x, 1), 1)
        duration = (step["finished_at"] - step["started_at"]).total_seconds() * 1000
        classes = ["tl-step"]
        notes = []
        if step["retries"]:
            classes.append("retried")
            notes.append(f"{step['retries']} retr{'y' if step['retries'] == 1 else 'ies'}")
        if step["closed_by"] == "stopRunByError":
            classes.append("failed")
            notes.append("stopped by an error")
        if not step["finished"]:
            classes.append("unfinished")
            notes.append("not finished")
        calls = step["tool_call_count"]
        title = (
            f"step {step['step_number']} · {_seconds(int(duration))} · "
            f"{_tokens(step['total_tokens'])}"
            + (f" · {calls} tool call{'s' if calls != 1 else ''}" if calls else "")
            + "".join(f" · {note}" for note in notes)
        )
        row.steps.append(Span(x, width, title, " ".join(classes)))


def _place_marks(data: JobData, row_of: dict[str, Row], start: dt.datetime, scale: float) -> None:
    for call in data.tool_calls:
        row = row_of.get(call["run_id"])
        if row is None:
            continue
        name = call["tool_name"] or "?"
        if call["kind"] == "delegation":
            glyph, kind, title = "➜", "delegation", f"delegated: {name}"
        elif call["kind"] == "interactive":
            glyph, kind, title = "?", "interactive", f"asked the user: {name}"
        elif not call["answered"]:
            glyph, kind, title = "…", "pending", f"{name}: no result"
        elif call["is_error"]:
            glyph, kind, title = "✗", "failed", f"✗ {name} failed: {_preview(call)}"
        else:
            glyph, kind, title = "✓", "ok", f"✓ {name}: {_preview(call)}"
        title = f"step {call['step_number']} · {title}"
        row.marks.append(Mark(_x(call["called_at"], start, scale), glyph, kind, title))
    for retry in data.retries:
        row = row_of.get(retry["run_id"])
        if row is not None:
            row.marks.append(
                Mark(
                    _x(retry["event_time"], start, scale),
                    "↻",
                    "retry",
                    f"step {retry['step_number']} · retry: {retry['reason'] or ''}",
                )
            )


def _preview(call: dict[str, Any]) -> str:
    """The start of a tool's result, with an ellipsis when it goes on."""
    preview = call["preview"] or ""
    return preview + ("…" if (call["result_length"] or 0) > len(preview) else "")


def _connect(
    ordered: list[tuple[dict[str, Any], int, str]],
    row_of: dict[str, Row],
    start: dt.datetime,
    scale: float,
) -> list[Connector]:
    connectors = []
    for run, _, relation in ordered:
        if run["started_at"] is None:
            continue
        row = row_of[run["run_id"]]
        x = _x(run["started_at"], start, scale)
        if relation == "delegate":
            parent = row_of[run["parent_run_id"]]
            connectors.append(
                Connector(x, parent.y + BAR_TOP + BAR_HEIGHT, x, row.y + BAR_TOP, "delegation")
            )
        elif relation == "resumed":
            # The job resumes after the last run that ended before it: usually the last
            # delegate to return, else the run that stopped on an interactive tool.
            before = [
                other
                for other, _, _ in ordered
                if other["last_event_at"] is not None
                and other["run_id"] != run["run_id"]
                and other["last_event_at"] <= run["started_at"]
            ]
            if before:
                previous = max(before, key=lambda other: other["last_event_at"])
                above = row_of[previous["run_id"]]
                x1 = _x(previous["last_event_at"], start, scale)
                connectors.append(
                    Connector(x1, above.y + BAR_TOP + BAR_HEIGHT, x, row.y + BAR_TOP, "resume")
                )
    return connectors


def _place_waiting(
    ordered: list[tuple[dict[str, Any], int, str]],
    row_of: dict[str, Row],
    start: dt.datetime,
    end: dt.datetime,
    scale: float,
) -> None:
    """A run stopped on an interactive tool waits until the next root run resumes the job."""
    roots = [run for run, _, relation in ordered if relation != "delegate"]
    for run, _, _ in ordered:
        if run["status"] != "stoppedByInteractiveTool" or run["last_event_at"] is None:
            continue
        later = [r for r in roots if r["started_at"] and r["started_at"] >= run["last_event_at"]]
        until = later[0]["started_at"] if later else end
        x = _x(run["last_event_at"], start, scale)
        waited = (until - run["last_event_at"]).total_seconds()
        answered = "until the answer resumed the job" if later else "no answer yet"
        row_of[run["run_id"]].waiting = Span(
            x,
            round(max(_x(until, start, scale) - x, 3), 1),
            f"waiting on {run['waiting_on'] or 'an interactive tool'}: {waited:,.1f} s, {answered}",
            "tl-waiting",
        )
