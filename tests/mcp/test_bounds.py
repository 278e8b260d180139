"""Bounding answers (mcp/bounds.py) and the query timeout, in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import FIXTURE_STORE

from perstack_logq.api import connect
from perstack_logq.errors import QueryError
from perstack_logq.mcp.bounds import (
    Cuts,
    Limits,
    cut_value,
    epoch_ms_iso,
    fit_items,
    record_times_iso,
    size_of,
)
from perstack_logq.mcp.tools import TOOLS, ToolContext, _bounded_view

SMALL = Limits(max_rows=5, max_cell_chars=10, max_list_items=3, max_answer_chars=10_000)


def test_times_become_iso_8601_utc() -> None:
    assert epoch_ms_iso(1795851133805) == "2026-11-28T07:32:13.805Z"
    assert epoch_ms_iso(0) == "1970-01-01T00:00:00.000Z"
    assert epoch_ms_iso(8.64e18) == 8.64e18  # past datetime's range: left as it was
    record = {"startedAt": 0, "usage": {"totalTokens": 1795851133805}, "events": [
        {"timestamp": 1000, "stepNumber": 3, "finishedAt": True}]}  # fmt: skip
    assert record_times_iso(record) == {
        "startedAt": "1970-01-01T00:00:00.000Z",
        "usage": {"totalTokens": 1795851133805},
        "events": [{"timestamp": "1970-01-01T00:00:01.000Z", "stepNumber": 3, "finishedAt": True}],
    }


def test_long_values_are_cut_but_ids_are_not() -> None:
    cuts = Cuts()
    value = {
        "id": "i" * 50,
        "jobId": "j" * 50,
        "tool_call_id": "t" * 50,
        "text": "x" * 25,
        "nested": [{"content": "y" * 11}, "short", 1, 2, 3],
    }
    assert cut_value(value, SMALL, cuts) == {
        "id": "i" * 50,
        "jobId": "j" * 50,
        "tool_call_id": "t" * 50,
        "text": "x" * 10 + "… [cut: 15 more characters]",
        "nested": [{"content": "y" * 10 + "… [cut: 1 more characters]"}, "short", 1,
                   "… [cut: 2 more items]"],
    }  # fmt: skip
    assert (cuts.cells, cuts.lists) == (2, 1)
    notes = cuts.summary(SMALL)
    assert "2 string value(s) longer than 10" in notes[0] and "1 array(s)" in notes[1]


def test_fit_items_counts_what_fits() -> None:
    items = [{"n": "x" * 100}] * 10
    one = size_of(items[0]) + 1
    assert fit_items(items, one * 3) == 3
    assert fit_items(items, one * 3 - 1) == 2
    assert fit_items(items, 10**9) == 10
    assert fit_items([], 0) == 0


def test_a_job_view_too_big_keeps_events_first_and_says_how_to_page() -> None:
    events = [{"id": f"e{i}", "text": "z" * 5} for i in range(400)]
    checkpoints = [{"id": f"c{i}", "text": "w" * 5} for i in range(400)]
    view = {"job": {"id": "j"}, "events": events, "checkpoints": checkpoints}
    bounded = _bounded_view(view, 20, 0, SMALL)
    kept = len(bounded["events"])
    assert 0 < kept < 400 and bounded["events"] == events[:kept]
    assert len(bounded["checkpoints"]) < 400
    assert size_of(bounded) <= SMALL.max_answer_chars
    assert f"offset={20 + kept} (and take={kept})" in bounded["cut"][0]
    assert "checkpoint=<id>" in bounded["cut"][1]
    with_context = _bounded_view(view, 0, 2, SMALL)
    assert "smaller take or context" in with_context["cut"][0]
    long_texts = {"job": {"id": "j"}, "events": [{"id": i, "text": "z" * 50} for i in range(400)]}
    bounded = _bounded_view(long_texts, 0, 0, SMALL)
    kept = len(bounded["events"])
    assert 0 < kept < 400  # only the cuts of the events kept are counted:
    assert bounded["cut"][0].startswith(f"{kept} string value(s) longer than 10 characters")


@pytest.fixture
def context(tmp_path: Path) -> ToolContext:
    history = connect(str(FIXTURE_STORE), cache=False)
    return ToolContext(history, Limits(), query_timeout=0.5)


def test_a_query_past_the_timeout_is_stopped_with_a_clear_error(context: ToolContext) -> None:
    endless = "SELECT count(*) FROM range(1000000000000) AS a(x) WHERE x % 7 = 3"
    with pytest.raises(QueryError, match=r"^Query stopped after 0.5 s \(the server's --query-t"):
        TOOLS["query"].call(context, {"sql": endless})
    answer = TOOLS["query"].call(context, {"sql": "SELECT count(*) AS n FROM events"})
    assert answer["rows"] == [{"n": 145}]  # the connection still answers
    context.history.close()


def test_the_registry_makes_a_tool_of_a_function() -> None:
    from perstack_logq.mcp.tools import text_arg, tool

    @tool("echo_for_test", "Says back what it is given.", required=("text",), text=text_arg("x"))
    def echo(ctx: ToolContext, text: str) -> dict:
        return {"text": text}

    try:
        registered = TOOLS["echo_for_test"]
        assert registered.input_schema == {
            "type": "object",
            "properties": {"text": {"type": "string", "description": "x"}},
            "required": ["text"],
            "additionalProperties": False,
        }
        assert registered.call(None, {"text": "hi"}) == {"text": "hi"}  # type: ignore[arg-type]
    finally:
        del TOOLS["echo_for_test"]


def test_a_table_answer_stays_within_rows_and_size() -> None:
    import duckdb

    from perstack_logq.mcp.bounds import table_answer

    connection = duckdb.connect()
    sql = "SELECT range AS n, repeat('x', 300) AS big FROM range(100)"
    limits = Limits(max_rows=50, max_cell_chars=1_000, max_answer_chars=12_000)
    answer = table_answer(connection.sql(sql), offset=0, limit=None, limits=limits)
    kept = answer["returned"]
    assert 0 < kept < 50 and answer["more"] is True
    assert [row["n"] for row in answer["rows"]] == list(range(kept))
    assert size_of(answer) <= 12_000
    assert f"call again with offset={kept}" in answer["cut"][0]
    small = "SELECT range AS n FROM range(100)"
    answer = table_answer(connection.sql(small), offset=90, limit=None, limits=limits)
    assert [row["n"] for row in answer["rows"]] == list(range(90, 100))
    assert answer["more"] is False and "cut" not in answer
    answer = table_answer(connection.sql(small), offset=10, limit=5, limits=limits)
    assert [row["n"] for row in answer["rows"]] == list(range(10, 15)) and answer["more"]
    answer = table_answer(connection.sql(small), offset=0, limit=None, limits=limits)
    assert answer["returned"] == 50 and "offset=50" in answer["cut"][0]
    assert "at most 50 rows per answer" in answer["cut"][0]
