"""The report opened in headless Chromium (Debian's package), as a reader would open it.

No console error, no request of any kind but the file itself, the overview's charts and the
jobs table present and working, a job view's timeline with one bar per run and per step, and
agent text holding markup and script shown as text. Without chromium the test skips on a
developer's machine and fails in CI (CI=true): .ci/run installs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.browser import chromium_path, in_ci, open_page, other_requests
from support.cli import run_cli
from support.report_screenshots import take_screenshots

import perstack_logq

from .conftest import HOSTILE_TOOL, HostileStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        message = "chromium is not installed: apt-get install chromium (.ci/run does)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def report(hostile_store: HostileStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    html = tmp_path_factory.mktemp("report") / "report.html"
    result = run_cli(
        "log", "report", "--storage", str(hostile_store.root), "--no-cache", "-o", str(html)
    )
    assert result.returncode == 0, result.stderr
    return html


def _expected(hostile_store: HostileStore) -> tuple[list[str], int]:
    """Every job id, and the delegation job's runs plus steps."""
    with perstack_logq.connect(hostile_store.root, cache=False) as history:
        jobs = [row[0] for row in history.sql("SELECT job_id FROM jobs").fetchall()]
        (bars,) = history.sql(
            """
            SELECT (SELECT count(DISTINCT run_id) FROM events WHERE job_id = $job)
                 + (SELECT count(DISTINCT (run_id, step_number)) FROM events
                    WHERE job_id = $job AND step_number IS NOT NULL)
            """,
            {"job": hostile_store.delegation_job},
        ).fetchone()
    return jobs, bars


def test_report_in_chromium(
    chromium: str, report: Path, hostile_store: HostileStore, tmp_path: Path
) -> None:
    job_ids, bars = _expected(hostile_store)
    job = hostile_store.delegation_job
    with open_page(report, tmp_path / "profile") as (page, log):
        # The overview: four charts drawn by Vega (bars and legends), every job in the table.
        assert page.locator("#overview").is_visible()
        assert not page.locator("#timeline-legend").is_visible()
        for chart in ("#chart-jobs", "#chart-tokens", "#chart-cost", "#chart-tools"):
            assert page.locator(f"{chart} svg .mark-rect path").count() > 0, chart
            assert page.locator(f"{chart} svg .role-legend").count() == 1, chart
        table_ids = page.locator("#jobs-table tbody tr td:first-child").all_inner_texts()
        assert sorted(table_ids) == sorted(job_ids)

        # The table sorts and filters (the page's script ran under its CSP).
        page.locator("#jobs-table th", has_text="tokens").click()
        page.locator("#jobs-table th", has_text="tokens").click()  # descending
        tokens = page.locator("#jobs-table tbody tr td:nth-child(8)").evaluate_all(
            "cells => cells.map(c => Number(c.dataset.value || -1))"
        )
        assert tokens == sorted(tokens, reverse=True)
        page.locator("#jobs-table th", has_text="cost").click()  # ascending: unpriced first
        costs = page.locator("#jobs-table tbody tr td:nth-child(9)").evaluate_all(
            "cells => cells.map(c => c.dataset.value === '' ? -1 : Number(c.dataset.value))"
        )
        assert costs == sorted(costs) and costs[0] == -1 and costs[-1] > 0
        assert page.locator("#cost-unpriced").is_visible()
        page.fill("#jobs-filter", job)
        assert page.locator("#jobs-table tbody tr:not([hidden])").count() == 1
        assert page.locator("#jobs-shown").inner_text() == f"1 of {len(job_ids)} shown"
        page.fill("#jobs-filter", "")

        # A job view, reached by its link: its timeline has a bar per run and per step.
        page.click(f'#jobs-table a[href="#job-{job}"]')
        view = page.locator(f'[id="job-{job}"]')
        view.wait_for(state="visible")
        assert not page.locator("#overview").is_visible()
        assert page.locator("#timeline-legend").is_visible()  # the timelines' legend
        assert view.locator("svg.tl rect.tl-run, svg.tl rect.tl-step").count() == bars
        assert view.locator("svg.tl .tl-connector.delegation").count() > 0
        assert view.locator("svg.tl .tl-mark title").count() > 0  # hover text of the marks

        # Hostile agent text is text: nothing ran, no element was made from it.
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#hostile-bold").count() == 0
        assert page.locator("img").count() == 0
        final = view.locator("pre.result-text", has_text="window.__pwned = 1")
        assert "<script>window.__pwned = 1</script>" in final.inner_text()
        hover = view.locator("svg.tl .tl-mark.failed title", has_text="__pwned").first
        assert '<img src="x"' in hover.text_content()
        tool_chart = page.locator("#chart-tools svg").text_content()
        assert HOSTILE_TOOL[:20] in tool_chart

        page.click(f'[id="job-{job}"] a.back >> nth=0')
        page.locator("#overview").wait_for(state="visible")

    assert log.console_errors == []
    assert log.page_errors == []
    assert other_requests(log, report) == []

    shots = take_screenshots(report, job, tmp_path / "shots", tmp_path / "profile-2")
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_report_without_javascript(chromium: str, report: Path, tmp_path: Path) -> None:
    """Tables and timelines are plain HTML and SVG, and #fragments switch the views."""
    with open_page(report, tmp_path / "profile", javascript=False) as (page, log):
        assert page.locator("#jobs-table tbody tr").count() == 24
        assert not page.locator("#jobs-controls").is_visible()  # only useful with script
        first = page.locator("#jobs-table tbody tr a").first
        job = first.inner_text()
        first.click()
        view = page.locator(f'[id="job-{job}"]')
        view.wait_for(state="visible")
        assert view.locator("svg.tl rect.tl-run").count() > 0
        assert not page.locator("#overview").is_visible()
    assert log.console_errors == [] and other_requests(log, report) == []
