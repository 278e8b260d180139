"""The overview's charts: Vega-Lite specs rendered to SVG while the report is built.

vl-convert (PyPI ``vl-convert-python``) runs the Vega-Lite compiler and Vega's SVG renderer
in-process, offline: the page gets finished SVG, with axes, units and legends laid out by a
maintained library, and needs no script or network to show it. Imported lazily: only
``perstack log report`` pays for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from perstack_logq.errors import UsageError
from perstack_logq.views.terminal import escape_controls

# Okabe & Ito's palette: its colours stay distinct for the common kinds of colour blindness.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#999999"
STATUS_COLOURS = {
    "completed": "#0072B2",
    "running": "#56B4E9",
    "stoppedByInteractiveTool": "#CC79A7",
    "stoppedByMaxSteps": "#E69F00",
    "stoppedByExceededMaxSteps": "#E69F00",
    "stoppedByError": "#D55E00",
    "stoppedByDelegate": "#999999",
}
OUTCOME_COLOURS = {"succeeded": "#0072B2", "failed": "#D55E00", "no result": "#BBBBBB"}
# How many series a stacked chart colours on its own; the rest are summed as "other".
MAX_SERIES = len(OKABE_ITO)

_CONFIG = {
    "font": "DejaVu Sans, Helvetica, Arial, sans-serif",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "grid": True, "gridColor": "#e6e6e6"},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 220},
    "background": "white",
}


def render_svg(spec: dict[str, Any]) -> str:
    try:
        import vl_convert
    except ImportError:
        raise UsageError(
            "perstack log report needs the report extra: pip install 'perstack-logq[report]'"
        ) from None
    return vl_convert.vegalite_to_svg({**_xml_safe(spec), "config": _CONFIG})


# What XML 1.0 refuses besides controls: vl-convert's SVG text renderer panics on them, and a
# Rust panic there aborts the whole process (exit 134), whatever Python does.
_NOT_XML = str.maketrans({0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"})


def visible_text(text: str) -> str:
    """Store text as the report shows it: control characters as ``\\xHH``, as on a terminal
    (views/terminal.escape_controls), and the two characters XML refuses as ``\\ufffe`` and
    ``\\uffff``."""
    return escape_controls(text).translate(_NOT_XML)


def _xml_safe(value: Any) -> Any:
    """A spec whose texts (labels, legends, tooltips: expert keys, tool and model names from
    the store) are ``visible_text``."""
    if isinstance(value, str):
        return visible_text(value)
    if isinstance(value, dict):
        return {_xml_safe(key): _xml_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_xml_safe(item) for item in value]
    return value


def _day(value: dt.date) -> str:
    return value.isoformat()


def _day_axis() -> dict[str, Any]:
    return {
        "field": "day",
        "type": "temporal",
        "timeUnit": "utcyearmonthdate",
        "title": "day (UTC)",
        "axis": {"format": "%b %d", "labelAngle": 0, "labelOverlap": True},
        "scale": {"type": "utc"},
    }


def count_text(value: float) -> str:
    return f"{value:,.0f}"


def usd_text(value: float) -> str:
    return f"${value:,.6f}"


def _stacked_by_day(
    rows: list[dict[str, Any]],
    value: str,
    series: str,
    title: str,
    colours: dict[str, str],
    *,
    value_text: Callable[[float], str] = count_text,
    axis_format: str = "~s",
) -> dict[str, Any]:
    """Stacked bars of ``value`` per day and ``series``, one row a bar.

    Each bar's ARIA label (what a screen reader reads) gives its exact value: tick labels are
    rounded, and the label is where a reader, or a test, finds the number itself.
    """
    totals: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row["day"], row[series])
        totals[key] = totals.get(key, 0) + row[value]
    values = [
        {"day": day, series: name, value: total, "label": f"{day}, {name}: {value_text(total)}"}
        for (day, name), total in totals.items()
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": 640,
        "height": 200,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": _day_axis(),
            "y": {
                "field": value,
                "type": "quantitative",
                "title": title,
                "axis": {"format": axis_format},
            },
            "color": {
                "field": series,
                "type": "nominal",
                "title": series.replace("_", " "),
                "scale": {"domain": list(colours), "range": list(colours.values())},
            },
            "order": {"field": series, "sort": "ascending"},
            "description": {"field": "label", "type": "nominal"},
        },
    }


def jobs_over_time(rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    present = {row["status"] for row in rows}
    colours = {s: c for s, c in STATUS_COLOURS.items() if s in present}
    colours.update({s: OTHER_COLOUR for s in sorted(present - set(colours))})
    values = [{"day": _day(r["day"]), "status": r["status"], "jobs": r["jobs"]} for r in rows]
    return render_svg(_stacked_by_day(values, "jobs", "status", "jobs started (count)", colours))


def top_experts(rows: list[dict[str, Any]], value: str) -> list[str]:
    """The experts with the largest sums of ``value``, as many as get a colour of their own."""
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["expert_key"]] = totals.get(row["expert_key"], 0) + (row[value] or 0)
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    return ranked[:MAX_SERIES] if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]


def per_day_by_expert(
    rows: list[dict[str, Any]],
    value: str,
    title: str,
    *,
    experts: list[str] | None = None,
    value_text: Callable[[float], str] = count_text,
    axis_format: str = "~s",
) -> str | None:
    """Stacked bars per day by expert; experts past the palette are summed as "other".

    ``experts``: the ones coloured, in the palette's order (default: this chart's largest);
    charts given the same list give an expert the same colour.
    """
    if not rows:
        return None
    top = experts if experts is not None else top_experts(rows, value)
    colours = dict(zip(top, OKABE_ITO, strict=False))
    values = []
    for row in rows:
        expert = row["expert_key"] if row["expert_key"] in colours else "other"
        values.append({"day": _day(row["day"]), "expert": expert, value: row[value] or 0})
    present = {v["expert"] for v in values}
    colours = {name: colour for name, colour in colours.items() if name in present}
    if "other" in present:
        colours["other"] = OTHER_COLOUR
    spec = _stacked_by_day(
        values, value, "expert", title, colours, value_text=value_text, axis_format=axis_format
    )
    return render_svg(spec)


def cost_per_day(rows: list[dict[str, Any]], experts: list[str] | None = None) -> str | None:
    """Cost in USD per day by expert, of priced steps only (rows never hold an unpriced $0)."""
    # Ticks of a few cents need their digits: "~s" would print 20m (milli-dollars).
    return per_day_by_expert(
        rows,
        "cost_usd",
        "cost (USD)",
        experts=experts,
        value_text=usd_text,
        axis_format="$,.3~r",
    )


def tool_outcomes(rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    names = [row["tool_name"] for row in rows]
    # Two skills may offer a tool of the same name: those bars name their skill too.
    labels = [
        name if names.count(name) == 1 else f"{name} ({row['skill_name']})"
        for name, row in zip(names, rows, strict=True)
    ]
    values = [
        {"tool": label, "outcome": outcome, "calls": row[column], "order": rank}
        for label, row in zip(labels, rows, strict=True)
        for rank, (outcome, column) in enumerate(
            (("succeeded", "succeeded"), ("failed", "failed"), ("no result", "no_result"))
        )
        if row[column]
    ]
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": 560,
        "height": {"step": 18},
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {
                "field": "tool",
                "type": "nominal",
                "title": "tool",
                "sort": labels,
                "axis": {"labelLimit": 200},
            },
            "x": {
                "field": "calls",
                "type": "quantitative",
                "aggregate": "sum",
                "title": "tool calls (count)",
            },
            "color": {
                "field": "outcome",
                "type": "nominal",
                "title": "result",
                "scale": {"domain": list(OUTCOME_COLOURS), "range": list(OUTCOME_COLOURS.values())},
            },
            "order": {"field": "order", "type": "quantitative"},
        },
    }
    return render_svg(spec)
