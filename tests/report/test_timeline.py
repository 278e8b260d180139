"""The job timeline's layout: rows in delegation order, waiting spans, connectors, ticks."""

from __future__ import annotations

import datetime as dt

from perstack_logq.report.gather import JobData
from perstack_logq.report.timeline import PLOT_WIDTH, layout, tree_order

T0 = dt.datetime(2026, 11, 1, 8, 0, 0)


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _run(run_id: str, start: float, end: float, status: str, parent: str | None = None) -> dict:
    return {
        "run_id": run_id,
        "parent_run_id": parent,
        "expert_key": f"expert-{run_id}",
        "status": status,
        "started_at": _at(start),
        "last_event_at": _at(end),
        "duration_ms": int((end - start) * 1000),
        "step_count": 1,
        "total_tokens": 100,
        "waiting_on": "askUser" if status == "stoppedByInteractiveTool" else None,
    }


def _job() -> JobData:
    # root delegates to a and b (a delegates to a1), then the user is asked, then resumed.
    runs = [
        _run("root", 0, 10, "stoppedByDelegate"),
        _run("a", 10, 30, "completed", parent="root"),
        _run("b", 11, 20, "completed", parent="root"),
        _run("a1", 12, 18, "completed", parent="a"),
        _run("resume", 31, 40, "stoppedByInteractiveTool"),
        _run("answer", 100, 120, "completed"),
    ]
    steps = [
        {
            "run_id": "a",
            "step_number": 2,
            "started_at": _at(10),
            "finished_at": _at(20),
            "finished": True,
            "closed_by": "continueToNextStep",
            "total_tokens": 50,
            "tool_call_count": 1,
            "retries": 1,
        }
    ]
    calls = [
        {
            "run_id": "a",
            "step_number": 2,
            "called_at": _at(15),
            "tool_name": "readTextFile",
            "kind": "tool",
            "answered": True,
            "is_error": True,
            "preview": "error: <no such file>",
            "result_length": 400,
        }
    ]
    return JobData({"job_id": "job"}, runs=runs, steps=steps, tool_calls=calls)


def test_delegates_sit_under_their_parent_and_later_roots_resume() -> None:
    order = [(run["run_id"], depth, relation) for run, depth, relation in tree_order(_job().runs)]
    assert order == [
        ("root", 0, "coordinator"),
        ("a", 1, "delegate"),
        ("a1", 2, "delegate"),
        ("b", 1, "delegate"),
        ("resume", 0, "resumed"),
        ("answer", 0, "resumed"),
    ]


def test_layout_spans_the_job_and_marks_waiting_errors_and_retries() -> None:
    timeline = layout(_job())
    assert timeline is not None
    rows = {row.run_id: row for row in timeline.rows}
    scale = PLOT_WIDTH / 120
    assert rows["root"].run.x == 0 and rows["answer"].run.x + rows["answer"].run.width == PLOT_WIDTH
    # Waiting on the user from the end of "resume" (40 s) to the start of "answer" (100 s).
    waiting = rows["resume"].waiting
    assert (waiting.x, waiting.width) == (round(40 * scale, 1), round(60 * scale, 1))
    assert "askUser" in waiting.title and "60.0 s" in waiting.title
    assert rows["a"].steps[0].classes == "tl-step retried"
    (mark,) = rows["a"].marks
    assert (mark.glyph, mark.kind) == ("✗", "failed")
    assert mark.title.endswith("error: <no such file>…")  # cut, and said so
    kinds = sorted(connector.kind for connector in timeline.connectors)
    assert kinds == ["delegation"] * 3 + ["resume"] * 2
    assert [tick.label for tick in timeline.ticks][:2] == ["08:00:30", "08:01:00"]


def test_a_job_without_timed_events_has_no_timeline() -> None:
    untimed = {**_run("x", 0, 1, "running"), "started_at": None, "last_event_at": None}
    assert layout(JobData({"job_id": "job"}, runs=[untimed])) is None
