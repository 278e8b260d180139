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
    import pyarrow
    import pyarrow.compute
    import pyarrow.dataset
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
def test_pyarrow_is_imported_without_numpy_and_pandas_never() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.splitlines() == [
        "numpy after pyarrow: False",
        "numpy when asked: numpy",
        "pandas: refused",
    ]
