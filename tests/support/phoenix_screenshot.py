"""A screenshot of a Perstack job in Arize Phoenix's trace view, from headless Chromium.

``python tests/support/phoenix_screenshot.py docs/images`` starts a Phoenix server, sends the
demo store (`perstack log demo`'s 24 jobs, seed 7) with ``export --format otlp``, and shows the
trace of the job with the most runs (a delegation) in Phoenix's own UI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.browser import CHROMIUM_FLAGS, chromium_path
from support.phoenix_server import phoenix_spans, running_phoenix

PNG = "phoenix-trace.png"


def _main(out_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    import perstack_logq
    from perstack_logq.otlp.spans import trace_id
    from perstack_logq.synth import DirectoryWriter, generate_store

    with tempfile.TemporaryDirectory() as scratch, running_phoenix(Path(scratch)) as url:
        root = Path(scratch) / "perstack"
        generate_store(DirectoryWriter(root), jobs=24, seed=7)
        subprocess.run(
            [sys.executable, "-m", "perstack_logq", "log", "export", "--format", "otlp",
             "--storage", str(root), "--no-cache", "--output", url],
            check=True,
        )  # fmt: skip
        with perstack_logq.connect(root, cache=False) as history:
            (job_id,) = history.sql(
                "SELECT job_id FROM jobs ORDER BY run_count DESC, started_at LIMIT 1"
            ).fetchone()
        trace = f"{trace_id(job_id):032x}"
        while not any(s["context"]["trace_id"] == trace for s in phoenix_spans(url, "perstack")):
            time.sleep(0.5)
        with urllib.request.urlopen(f"{url}/v1/projects") as response:
            projects = {p["name"]: p["id"] for p in json.load(response)["data"]}
        out_dir.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=list(CHROMIUM_FLAGS)
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/projects/{projects['perstack']}/traces/{trace}")
            page.wait_for_load_state("networkidle")
            page.get_by_text("invoke_agent").first.wait_for(timeout=30_000)
            time.sleep(1)
            page.screenshot(path=str(out_dir / PNG))
            browser.close()
        print(out_dir / PNG)


if __name__ == "__main__":
    _main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images"))
