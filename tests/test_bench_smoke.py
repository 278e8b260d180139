"""The benchmark runner still runs: ``bench/run.py --smoke`` on tiny stores (no timing checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("1.", "2.", "3.", "4.", "5.", "6.", "7.", "8.", "9.", "10.", "11.", "12.")


def test_smoke_benchmark_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "README.md"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--smoke",
            "--work",
            str(tmp_path / "work"),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = output.read_text(encoding="utf-8")
    assert "Machine: " in text and " cores " in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for figure in FIGURES:
        assert any(row.startswith(f"| {figure} ") for row in rows), f"no row for figure {figure}"
    # Every row has a value in each column of the header.
    assert all(row.count("|") == rows[0].count("|") for row in rows)
