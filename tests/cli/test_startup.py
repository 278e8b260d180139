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


def test_a_query_of_an_up_to_date_cache_never_imports_pyarrow(tmp_path: Path) -> None:
    # pyarrow (with numpy) is a sixth of a warm query's time; only decoding needs it.
    command = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "perstack_logq",
        "log",
        "query",
        "SELECT type, count(*) FROM events GROUP BY ALL ORDER BY 1",
        "--storage",
        str(FIXTURE_STORE),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--format",
        "csv",
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    imported = {line.split("|")[-1].strip() for line in first.stderr.splitlines()}
    assert "pyarrow" in imported  # the first command synced: it decoded the store
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    imported = {line.split("|")[-1].strip() for line in again.stderr.splitlines()}
    assert "duckdb" in imported
    assert not {"pyarrow", "numpy"} & imported
