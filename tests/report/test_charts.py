"""The overview's charts, rendered by vl-convert: legends, units, and series past the palette."""

from __future__ import annotations

import datetime as dt

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


def test_no_rows_no_chart() -> None:
    assert charts.jobs_over_time([]) is None
    assert charts.tool_outcomes([]) is None
