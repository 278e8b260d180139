"""What the CLI's process loads: pandas never, though pyarrow and DuckDB would import it (when
installed) on their first conversion of a Python value, costing 0.2 s a command."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from support import FIXTURE_STORE


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas not installed")
def test_a_query_through_the_cli_never_imports_pandas(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "perstack_logq",
        "log",
        "query",
        "--name",
        "slowest_steps",
        "--param",
        "limit=3",
        "--storage",
        str(FIXTURE_STORE),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--format",
        "csv",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4  # a header and 3 rows: the parameter was bound
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert "pyarrow" in imported and "duckdb" in imported
    # A refused import of pandas is listed too (in microseconds); a real one brings pandas.core.
    assert not [name for name in imported if name.startswith("pandas.")]
