"""The imports the CLI's process does without (perstack_logq/lean_imports.py), in a process of
their own: hiding is for the whole process."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

_CHECK = textwrap.dedent(
    """
    import sys
    from perstack_logq import lean_imports

    lean_imports.hide()
    import duckdb
    import pyarrow
    import pyarrow.compute

    table = pyarrow.table({"n": [1, 2, 3]})
    connection = duckdb.connect()
    connection.register("numbers", table)  # DuckDB would import pyarrow.dataset to scan it
    print("scanned:", connection.sql("SELECT sum(n) FROM numbers").fetchone()[0])
    print("pyarrow.dataset:", "pyarrow.dataset" in sys.modules)
    print("numpy after pyarrow:", "numpy" in sys.modules)
    import numpy  # anything else may import it (DuckDB, for a Python function in a query)
    print("numpy when asked:", numpy.__name__)
    try:
        import pandas
    except ModuleNotFoundError:
        print("pandas: refused")
    """
)


@pytest.mark.skipif(
    importlib.util.find_spec("numpy") is None or importlib.util.find_spec("pandas") is None,
    reason="numpy or pandas not installed",
)
def test_arrow_data_is_scanned_without_numpy_pyarrow_dataset_or_pandas() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.splitlines() == [
        "scanned: 6",
        "pyarrow.dataset: False",
        "numpy after pyarrow: False",
        "numpy when asked: numpy",
        "pandas: refused",
    ]
