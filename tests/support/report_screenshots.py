"""Screenshots of a report's overview and of a job view, from headless Chromium.

``python tests/support/report_screenshots.py docs/images`` regenerates the two images in the
README from the demo store (`perstack log demo`'s 24 jobs, seed 7); the browser test takes the
same screenshots with the same function.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.browser import open_page

OVERVIEW_PNG = "report-overview.png"
JOB_PNG = "report-job.png"


def take_screenshots(html: Path, job_id: str, out_dir: Path, profile: Path) -> list[Path]:
    """The overview's top (its charts) and the view of ``job_id``, as PNG files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    overview, job = out_dir / OVERVIEW_PNG, out_dir / JOB_PNG
    with open_page(html, profile, width=1180, height=1400) as (page, _):
        page.screenshot(path=str(overview))
        page.goto(f"{html.resolve().as_uri()}#job-{job_id}")
        page.locator(f'[id="job-{job_id}"]').wait_for(state="visible")
        page.screenshot(path=str(job), full_page=False)
    return [overview, job]


def _main(out_dir: Path) -> None:
    import perstack_logq
    from perstack_logq.synth import DirectoryWriter, generate_store

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "perstack"
        generate_store(DirectoryWriter(root), jobs=24, seed=7)
        html = Path(scratch) / "report.html"
        with perstack_logq.connect(root, cache=False) as history:
            history.report(html)
            (job_id,) = history.sql(
                "SELECT job_id FROM jobs ORDER BY run_count DESC, started_at LIMIT 1"
            ).fetchone()
        for path in take_screenshots(html, job_id, out_dir, Path(scratch) / "profile"):
            print(path)


if __name__ == "__main__":
    _main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images"))
