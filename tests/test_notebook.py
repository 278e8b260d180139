"""notebooks/explore.ipynb runs headless from top to bottom, and draws its plots."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def _code() -> list[str]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_notebook_uses_only_the_public_api() -> None:
    for source in _code():
        assert not re.search(r"^\s*(from|import)\s+perstack_logq\.", source, re.MULTILINE), source
        assert "perstack_logq._" not in source
        # connect() as a user calls it: the cache on, in its usual place.
        assert "cache=False" not in source and "cache_dir" not in source


def test_every_plot_has_a_legend() -> None:
    plots = [source for source in _code() if "plt.subplots(" in source]
    assert len(plots) >= 3
    for source in plots:
        assert source.count("plt.subplots(") == source.count(".legend("), source


def test_explore_notebook_runs_headless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The notebook generates its sample store under the temporary directory: keep it here,
    # and its cache (the user's cache path, as connect() picks it) too.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cache = tmp_path / "cache"
    monkeypatch.setenv("PERSTACK_LOGQ_CACHE_DIR", str(cache))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    # Raises CellExecutionError, naming the cell, as soon as any cell fails.
    client.execute()

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= 3
    # The sample store went into the temporary directory, nowhere else; its tables were
    # cached where the user's cache lives.
    assert list(tmp_path.glob("perstack-explore-*/perstack/jobs"))
    assert list(cache.rglob("*.duckdb"))
