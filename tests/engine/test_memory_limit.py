"""DuckDB's memory limit: from the machine by default, --memory-limit / connect(memory_limit=)
to override, the same bound with and without a cache (issue 11, item 4)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import FIXTURE_STORE
from support.cli import run_cli

from perstack_logq.api import connect
from perstack_logq.engine.cache import default_memory_limit, memory_limit_setting
from perstack_logq.errors import UsageError


def _bytes(setting: str) -> float:
    """DuckDB's own reading of a memory setting, in bytes ("1.0 GiB" -> 1073741824)."""
    number, unit = setting.split()
    scale = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "bytes": 1}
    return float(number) * scale[unit]


def test_the_default_is_a_quarter_of_the_machine_between_256_mb_and_1_gb() -> None:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    expected = min(1 << 30, max(256 << 20, memory // 4))
    assert default_memory_limit() == f"{expected >> 20}MiB"


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_the_limit_reaches_duckdb_with_and_without_a_cache(cache: bool, tmp_path: Path) -> None:
    with connect(str(FIXTURE_STORE), cache=cache, cache_dir=tmp_path, sync=False) as history:
        setting = history.database.connection.execute(
            "SELECT current_setting('memory_limit')"
        ).fetchone()[0]
        assert _bytes(setting) == pytest.approx(int(default_memory_limit()[:-3]) << 20, rel=0.01)
    with connect(
        str(FIXTURE_STORE), cache=cache, cache_dir=tmp_path, sync=False, memory_limit="300MB"
    ) as history:
        setting = history.database.connection.execute(
            "SELECT current_setting('memory_limit')"
        ).fetchone()[0]
        assert _bytes(setting) == pytest.approx(300e6, rel=0.01)


@pytest.mark.parametrize("value", ["banana", "12", "-1GB", "1 GB; SET x", ""])
def test_a_bad_limit_is_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError, match="--memory-limit"):
        memory_limit_setting(value)


def test_the_cli_takes_the_option_and_refuses_a_bad_one(tmp_path: Path) -> None:
    store = str(FIXTURE_STORE)
    good = run_cli("log", "jobs", "--storage", store, "--no-cache", "--memory-limit", "128MB")
    assert good.returncode == 0, good.stderr
    bad = run_cli("log", "--memory-limit", "lots", "jobs", "--storage", store, "--no-cache")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "Error: Invalid value for --memory-limit: 'lots' (use a size such as 512MB or 4GB)"
    )
