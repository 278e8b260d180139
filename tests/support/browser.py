"""Headless Chromium (Debian's ``chromium``) driven by Playwright, offline.

Playwright's own browser download is impossible here, so it drives the system's chromium
through ``executable_path``. Every request the page makes is recorded (and all but the page's
own file refused), console errors and page errors are collected, so a test can assert there
were none. Shared by tests/report/test_browser.py and tests/support/report_screenshots.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The flags the project runs Chromium with: headless, no first-run or background traffic.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@dataclass
class PageLog:
    """What a page did besides rendering: every request and every error it reported."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@contextmanager
def open_page(
    html: Path, profile: Path, *, width: int = 1200, height: int = 900, javascript: bool = True
) -> Iterator[tuple[Any, PageLog]]:
    """A Playwright page with ``html`` loaded from file://, and the log of what it did."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    log = PageLog()
    own_url = html.resolve().as_uri()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),  # a fresh --user-data-dir
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": width, "height": height},
            offline=True,
            java_script_enabled=javascript,
        )
        try:

            def route(request_route: Any) -> None:
                url = request_route.request.url
                if url.split("#", 1)[0] == own_url:
                    request_route.continue_()
                else:
                    request_route.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("request", lambda request: log.requests.append(request.url))
            page.on(
                "console",
                lambda message: (
                    log.console_errors.append(message.text) if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: log.page_errors.append(str(error)))
            page.goto(own_url, wait_until="load")
            yield page, log
        finally:
            context.close()


def other_requests(log: PageLog, html: Path) -> list[str]:
    """Requests for anything but the page itself (any of them is a defect)."""
    own_url = html.resolve().as_uri()
    return [url for url in log.requests if url.split("#", 1)[0] != own_url]
