"""The report's HTML as written: escaping, no way out to the network, timelines, size bound.

These read the file as text and as parsed HTML; tests/report/test_browser.py opens it in
Chromium.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.cli import run_cli

import perstack_logq
from perstack_logq.cost.pricing import CostSettings
from perstack_logq.report import Selection, charts, write_report
from perstack_logq.synth import DirectoryWriter, generate_store

from .conftest import HOSTILE, HOSTILE_TOOL, HostileStore


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _parse(text: str) -> _Elements:
    parser = _Elements()
    parser.feed(text)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def history(hostile_store: HostileStore):
    with perstack_logq.connect(hostile_store.root, cache=False) as opened:
        opened.sync()
        yield opened


@pytest.fixture(scope="module")
def report_text(history, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("report") / "report.html"
    history.report(path)
    return path.read_text("utf-8")


def test_agent_text_is_escaped_never_markup(report_text: str) -> None:
    elements = _parse(report_text)
    assert [tag for tag, _ in elements.tags].count("script") == 1  # the page's own only
    assert not any(tag == "img" for tag, _ in elements.tags)
    assert not any(attrs.get("id") == "hostile-bold" for _, attrs in elements.tags)
    assert "window.__pwned" not in elements.scripts[0]
    # Shown as text: the final result, the tool result preview and the tool's name.
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped.replace('"', "&#34;") in report_text
    assert "&lt;script&gt;window.__pwned=3&lt;/script&gt;grep" in report_text
    assert HOSTILE_TOOL not in report_text


CONTROLS = "bad\x1b[2J\x9b\x0b\ufffe\uffff name"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")


def test_control_characters_in_agent_text_reach_neither_charts_nor_page_raw(
    tmp_path: Path,
) -> None:
    """Expert keys and tool names with an escape sequence, a C1 control, a vertical tab and
    the two non-characters XML refuses: vl-convert's SVG renderer panicked on them, which
    aborted the whole process (exit 134, a Rust backtrace; until 2026-12-07). Run as a
    process for that reason."""
    root = tmp_path / "store"
    generate_store(DirectoryWriter(root), jobs=3, seed=5, scale=0.01)
    for path in root.rglob("*.json"):
        record = json.loads(path.read_text("utf-8"))
        if "expertKey" in record:
            record["expertKey"] = CONTROLS
        for call in record.get("toolCalls") or []:
            call["toolName"] = CONTROLS
        path.write_text(json.dumps(record), "utf-8")
    page = tmp_path / "report.html"
    result = run_cli("log", "report", "--output", str(page), "--storage", str(root), "--no-cache")
    assert result.returncode == 0, result.stderr
    text = page.read_text("utf-8")
    assert RAW_CONTROL.search(text) is None
    shown = "bad\\x1b[2J\\x9b\\x0b\\ufffe\\uffff name"
    assert text.count(shown) > 10  # in the charts' labels and the page's tables alike
    assert text.count("<svg") >= 3


def test_page_can_reach_nothing_outside_itself(report_text: str) -> None:
    elements = _parse(report_text)
    for tag, attrs in elements.tags:
        assert "src" not in attrs, tag
        for name in ("href", "xlink:href", "action", "formaction", "poster", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)
    # Styles (the stylesheet, style attributes, SVG presentation attributes) load nothing.
    styles = [report_text.split("<style>", 1)[1].split("</style>", 1)[0]] + [
        value or "" for _, attrs in elements.tags for value in attrs.values()
    ]
    for style in styles:
        assert "@import" not in style
        assert all(ref.startswith("#") for ref in re.findall(r"url\(\s*['\"]?([^)]*)", style))
    policy = next(
        attrs["content"]
        for tag, attrs in elements.tags
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in policy
    script_hash = base64.b64encode(hashlib.sha256(elements.scripts[0].encode()).digest())
    assert f"script-src 'sha256-{script_hash.decode()}'" in policy


def _job_sections(report_text: str) -> dict[str, str]:
    parts = re.split(r'(?=<section class="job-view" id="job-)', report_text)
    sections = {}
    for part in parts[1:]:
        job_id = re.match(r'<section class="job-view" id="job-([^"]+)"', part)[1]
        sections[job_id] = part.split("</section>", 1)[0]
    return sections


def test_every_job_has_a_view_whose_timeline_has_a_bar_per_run_and_step(
    history, report_text: str
) -> None:
    sections = _job_sections(report_text)
    expected = dict(
        history.sql(
            """
            SELECT job_id,
                   (SELECT count(DISTINCT run_id) FROM events e WHERE e.job_id = j.job_id)
                 + (SELECT count(DISTINCT (run_id, step_number)) FROM events e
                    WHERE e.job_id = j.job_id AND step_number IS NOT NULL)
            FROM jobs j
            """
        ).fetchall()
    )
    assert set(sections) == set(expected)
    for job_id, section in sections.items():
        bars = len(re.findall(r'<rect class="tl-(?:run|step)[ "]', section))
        assert bars == expected[job_id], job_id
    overview = report_text.split('<section class="job-view"', 1)[0]
    for job_id in expected:
        assert f'href="#job-{job_id}"' in overview


def test_errors_retries_and_waiting_are_marked(history, report_text: str) -> None:
    sections = _job_sections(report_text)

    def jobs_with(sql: str) -> set[str]:
        return {row[0] for row in history.sql(sql).fetchall()}

    waited = jobs_with("SELECT job_id FROM events WHERE type = 'stopRunByInteractiveTool'")
    retried = jobs_with("SELECT job_id FROM events WHERE type = 'retry'")
    failed = jobs_with("SELECT job_id FROM events WHERE type = 'stopRunByError'")
    failed_tools = jobs_with("SELECT job_id FROM tool_results WHERE is_error")
    assert waited and retried and failed and failed_tools  # the demo store has each kind
    for job_id, section in sections.items():
        assert ('class="tl-waiting"' in section) == (job_id in waited), job_id
        assert ('class="tl-mark retry"' in section) == (job_id in retried), job_id
        assert ("tl-run status-stoppedByError" in section) == (job_id in failed), job_id
        assert ('class="tl-mark failed"' in section) == (job_id in failed_tools), job_id
        assert 'href="#overview"' in section


def test_overview_has_charts_with_legends_and_utc_times(report_text: str) -> None:
    overview = report_text.split('<section class="job-view"', 1)[0]
    for chart, legend in (
        ("chart-jobs", "status"),
        ("chart-tokens", "expert"),
        ("chart-tools", "result"),
    ):
        figure = overview.split(f'id="{chart}"', 1)[1].split("</figure>", 1)[0]
        assert "<svg" in figure and "mark-rect" in figure, chart
        assert f">{legend}</text>" in figure, chart
        assert "(UTC)" in figure or chart == "chart-tools", chart
    assert "All times are UTC" in overview
    for table in ("tools-table", "slowest-steps", "stopped-early", "jobs-table"):
        assert f'id="{table}"' in overview


def test_the_page_stays_within_its_size_bound_and_says_what_it_left_out(
    history, tmp_path: Path
) -> None:
    path = tmp_path / "small.html"
    summary = write_report(history.database, path, max_bytes=200_000)
    text = path.read_text("utf-8")
    assert path.stat().st_size == summary.bytes <= 200_000
    assert 0 < summary.job_views < summary.jobs == 24
    assert summary.omitted_views == summary.jobs - summary.job_views
    assert len(_job_sections(text)) == summary.job_views
    assert 'id="views-omitted"' in text
    assert f"newest {summary.job_views} of 24 listed jobs" in text


def test_selection_by_job_expert_and_time(history, tmp_path: Path) -> None:
    jobs = history.sql(
        "SELECT job_id, coordinator_expert_key, started_at FROM jobs ORDER BY started_at"
    ).fetchall()
    one = write_report(history.database, tmp_path / "one.html", Selection(job_id=jobs[0][0]))
    assert (one.jobs, one.job_views) == (1, 1)
    assert list(_job_sections((tmp_path / "one.html").read_text("utf-8"))) == [jobs[0][0]]

    expert = jobs[0][1]
    by_expert = write_report(history.database, tmp_path / "e.html", Selection(expert=expert))
    assert by_expert.jobs == sum(1 for _, key, _ in jobs if key == expert)

    middle = jobs[len(jobs) // 2][2]
    since = history.report(tmp_path / "since.html", since=middle)
    until = history.report(tmp_path / "until.html", until=middle.isoformat())
    assert since.jobs + until.jobs == len(jobs)
    assert since.jobs == sum(1 for _, _, started in jobs if started >= middle)
    assert isinstance(middle, dt.datetime)

    nothing = history.report(tmp_path / "none.html", since=dt.datetime(2100, 1, 1))
    assert (nothing.jobs, nothing.job_views) == (0, 0)
    assert "No jobs." in (tmp_path / "none.html").read_text("utf-8")


def _cost_bars(report_text: str) -> dict[tuple[str, str], str]:
    """(day, expert) -> the "$0.012345" of each bar of the cost chart (its ARIA label)."""
    figure = report_text.split('id="chart-cost"', 1)[1].split("</figure>", 1)[0]
    labels = re.findall(r'aria-label="(\d{4}-\d\d-\d\d), ([^":]+): (\$[\d,.]+)"', figure)
    return {(day, expert): usd for day, expert, usd in labels}


def test_cost_chart_and_column_equal_the_cost_views(history, report_text: str) -> None:
    overview = report_text.split('<section class="job-view"', 1)[0]
    # Summed exactly, as the cost views sum: a sum of doubles may move the sixth decimal.
    priced = history.sql(
        """
        SELECT strftime(event_time, '%Y-%m-%d'), expert_key,
               CAST(sum(CAST(cost_usd AS DECIMAL(38, 12))) AS DOUBLE)
        FROM step_costs WHERE cost_usd IS NOT NULL GROUP BY ALL
        """
    ).fetchall()
    assert 0 < len({expert for _, expert, _ in priced}) <= charts.MAX_SERIES  # no "other"
    assert _cost_bars(overview) == {(day, expert): f"${usd:,.6f}" for day, expert, usd in priced}
    assert ">cost (USD)</text>" in overview and ">day (UTC)</text>" in overview

    # The demo store's runs without a run setting name no model: counted, never $0.
    unpriced, steps, runs = history.sql(
        "SELECT count(*) FILTER (WHERE cost_usd IS NULL), count(*),"
        " count(DISTINCT (job_id, run_id)) FILTER (WHERE cost_usd IS NULL) FROM step_costs"
    ).fetchone()
    assert unpriced > 0
    note = overview.split('id="cost-unpriced">', 1)[1].split("</p>", 1)[0]
    assert note.startswith(f"{unpriced} of {steps} finished steps have no price")
    assert f"{unpriced} in {runs} run(s) that name no model" in note

    # The jobs table's cost column (after tokens): job_costs' cost, or "unpriced".
    shown = {
        job_id: cells.split('<td class="num"')[5].split(">", 1)[1].rsplit("</td>", 1)[0]
        for job_id, cells in re.findall(
            r'<tr data-status="[^"]*"><td class="id"><a href="#job-([^"]+)".*?</td>(.*?)</tr>',
            overview,
        )
    }
    expected = {
        job_id: f"${cost:,.4f}"
        if cost is not None
        else f'<span class="muted" title="{unpriced_steps} step(s) without a price">unpriced</span>'
        for job_id, cost, unpriced_steps in history.sql(
            "SELECT job_id, cost_usd, unpriced_steps FROM job_costs"
        ).fetchall()
    }
    assert len(shown) == 24 and {job_id: shown[job_id] for job_id in expected} == expected
    assert all(text == "" for job_id, text in shown.items() if job_id not in expected)


def test_cost_chart_follows_the_prices_given(history, tmp_path: Path) -> None:
    """Every run priced: no note. No step priced: no chart, and the note names the model."""
    priced = tmp_path / "priced.html"
    write_report(history.database, priced, costs=CostSettings(option_model="gpt-5"))
    text = priced.read_text("utf-8")
    assert 'id="chart-cost"' in text and 'id="cost-unpriced"' not in text

    (job_id,) = history.sql(
        "SELECT job_id FROM step_costs GROUP BY job_id HAVING bool_and(model IS NULL) LIMIT 1"
    ).fetchone()
    unpriced = tmp_path / "unpriced.html"
    summary = write_report(
        history.database,
        unpriced,
        Selection(job_id=job_id),
        costs=CostSettings(option_model="no-such-model"),
    )
    assert summary.pricing.unpriced_models == ["no-such-model"]
    overview = unpriced.read_text("utf-8").split('<section class="job-view"', 1)[0]
    assert 'id="chart-cost"' not in overview and "$0.0" not in overview
    note = overview.split('id="cost-unpriced">', 1)[1].split("</p>", 1)[0]
    assert "of model no-such-model, which has no price" in note
