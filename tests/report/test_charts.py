"""The overview's charts, rendered by vl-convert: legends, units, and series past the palette."""

from __future__ import annotations

import datetime as dt
import re

from perstack_logq.report import charts


def test_experts_past_the_palette_are_summed_as_other() -> None:
    day = dt.date(2026, 11, 1)
    rows = [
        {"day": day, "expert_key": f"expert-{n}", "total_tokens": 1000 * (n + 1)}
        for n in range(charts.MAX_SERIES + 3)
    ]
    svg = charts.per_day_by_expert(rows, "total_tokens", "tokens (total)")
    assert ">other</text>" in svg and ">expert</text>" in svg
    assert ">tokens (total)</text>" in svg and ">day (UTC)</text>" in svg
    shown = [f"expert-{n}" for n in range(charts.MAX_SERIES + 3) if f">expert-{n}</text>" in svg]
    # The largest experts keep their own colour; the legend has room for the palette only.
    assert shown == [f"expert-{n}" for n in range(charts.MAX_SERIES + 2, 3, -1)][::-1]


def test_tools_of_the_same_name_name_their_skill() -> None:
    rows = [
        {"tool_name": "search", "skill_name": skill, "succeeded": 3, "failed": 1, "no_result": 0}
        for skill in ("web", "code")
    ] + [{"tool_name": "exec", "skill_name": "base", "succeeded": 2, "failed": 0, "no_result": 0}]
    svg = charts.tool_outcomes(rows)
    assert ">search (web)</text>" in svg and ">search (code)</text>" in svg
    assert ">exec</text>" in svg
    assert ">tool calls (count)</text>" in svg and ">result</text>" in svg


def test_cost_is_in_dollars_with_each_bar_exact() -> None:
    day = dt.date(2026, 11, 1)
    rows = [
        {"day": day, "expert_key": "assistant", "cost_usd": 0.0123456},
        {"day": day, "expert_key": "writer", "cost_usd": 0.0045},
        {"day": day + dt.timedelta(days=1), "expert_key": "assistant", "cost_usd": 1234.5},
    ]
    svg = charts.cost_per_day(rows)
    assert ">cost (USD)</text>" in svg and ">day (UTC)</text>" in svg
    # Ticks in dollars (never "20m" for 20 milli-dollars); each bar's label to the micro-dollar.
    assert ">$1,000</text>" in svg and not re.search(r">\d+m</text>", svg)
    assert re.findall(r'aria-label="(2026-11-0\d, \w+: [^"]+)"', svg) == [
        "2026-11-01, assistant: $0.012346",
        "2026-11-01, writer: $0.004500",
        "2026-11-02, assistant: $1,234.500000",
    ]


def test_an_expert_keeps_its_colour_across_charts() -> None:
    rows = [{"day": dt.date(2026, 11, 1), "expert_key": "writer", "cost_usd": 0.5}]
    svg = charts.cost_per_day(rows, ["assistant", "writer"])
    writer, assistant = charts.OKABE_ITO[1], charts.OKABE_ITO[0]
    assert f'fill="{writer}"' in svg and f'fill="{assistant}"' not in svg
    assert ">assistant</text>" not in svg  # the legend lists what the chart shows


def test_no_rows_no_chart() -> None:
    assert charts.jobs_over_time([]) is None
    assert charts.tool_outcomes([]) is None
    assert charts.cost_per_day([]) is None
