"""What the CLI's process loads (perstack_logq/lean_imports.py): pandas and pyarrow.dataset
never, numpy only for a Python function in a query (`--filter`), though pyarrow and DuckDB would
import them (when installed) on import, on their first scan of Arrow data or on their first
conversion of a Python value, costing 0.04 to 0.2 s each a command; pyarrow only when something
is decoded (the decoder too). Of typer's commands, a run makes only the one it invokes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from support import FIXTURE_STORE

from perstack_logq.cli import log_commands, main


def _query_with_imports(cache: Path, *query: str) -> tuple[str, set[str]]:
    """``perstack log query ... --format csv`` on the fixture store, as a process: its output
    and the modules it imported (``python -X importtime``)."""
    command = [sys.executable, "-X", "importtime", "-m", "perstack_logq", "log", "query", *query]
    command += ["--storage", str(FIXTURE_STORE), "--cache-dir", str(cache), "--format", "csv"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout, {line.split("|")[-1].strip() for line in result.stderr.splitlines()}


@pytest.mark.skipif(
    importlib.util.find_spec("pandas") is None or importlib.util.find_spec("numpy") is None,
    reason="pandas or numpy not installed",
)
def test_a_query_through_the_cli_never_imports_pandas_or_numpy(tmp_path: Path) -> None:
    query = ("--name", "slowest_steps", "--param", "limit=3")
    output, imported = _query_with_imports(tmp_path / "cache", *query)
    assert len(output.splitlines()) == 4  # a header and 3 rows: the parameter was bound
    assert "pyarrow" in imported and "duckdb" in imported
    # A refused import is listed too (in microseconds); a real one brings submodules.
    assert not [name for name in imported if name.startswith(("pandas.", "numpy."))]
    # DuckDB scanned the decoded batches without pyarrow.dataset, which brings pyarrow._dataset.
    assert "pyarrow._dataset" not in imported


def test_a_query_of_an_up_to_date_cache_never_imports_pyarrow(tmp_path: Path) -> None:
    # pyarrow is a sixth of a warm query's time; only decoding needs it.
    query = "SELECT type, count(*) FROM events GROUP BY ALL ORDER BY 1"
    first, imported = _query_with_imports(tmp_path / "cache", query)
    assert "pyarrow" in imported  # the first command synced: it decoded the store
    again, imported = _query_with_imports(tmp_path / "cache", query)
    assert again == first
    assert "duckdb" in imported
    assert not {"pyarrow", "numpy"} & imported
    # Nor the decoder (its secret patterns, credential rules, conversation code), nor a TOML
    # parser for a store given by --storage.
    assert not {"perstack_logq.decode.records", "tomllib"} & imported


def test_a_run_makes_only_the_subcommand_it_invokes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[str] = []
    make = typer.main.get_command_from_info

    def recording(command_info: typer.models.CommandInfo, **settings: object) -> object:
        made.append(command_info.name)
        return make(command_info, **settings)

    monkeypatch.setattr(typer.main, "get_command_from_info", recording)
    assert main(["log", "queries"]) == 0
    assert made == ["queries"]
    made.clear()
    assert main(["log", "--help"]) == 0  # the help lists them all, in the order registered
    names = [command.name for command in log_commands.registered_commands]
    assert made == names
    listed = capsys.readouterr().out.split("Commands:")[1].splitlines()
    assert [line.split()[0] for line in listed if line[2:3].isalpha()] == names
