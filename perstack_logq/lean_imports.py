"""Imports the CLI's process does without, though its libraries would make them.

- pandas: pyarrow imports it on its first conversion of a Python list, and DuckDB on its first
  bound parameter, only to ask whether a value is a pandas object (0.2 s of a 0.7 s command,
  where pandas is installed). The CLI never holds one, so for its process pandas is not there
  (both libraries treat a failed import as "not installed").
- pyarrow.dataset: DuckDB imports it for its first scan of Arrow data, only to ask whether the
  data is a pyarrow Dataset or Scanner (into which it could push filters down): 40 ms of every
  command that decodes anything. The CLI hands DuckDB tables, which it scans as fast without
  (through the Arrow C stream).
- numpy, while a module of pyarrow is imported: pyarrow imports it then (pyarrow.lib, and
  pyarrow.compute when DuckDB scans Arrow data), when installed, for conversions the CLI never
  asks for: 60 ms of every command that decodes anything. pyarrow imports it only if it can
  (numpy is optional to it). Only those imports are refused: DuckDB needs numpy for a Python
  function in a query (`perstack log --filter`), and imports it then.

``hide()`` is for the CLI's own process (cli.entry_point); notebooks and programs that call
``perstack_logq`` may use all three, and are left alone.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any


def hide() -> None:
    sys.meta_path.insert(0, _LeanImports())


def _refuse(name: str) -> None:
    raise ModuleNotFoundError(f"No module named {name!r}", name=name)


class _LeanImports(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.pyarrow_imports = 0  # modules of pyarrow being imported now (they nest)

    def find_spec(
        self, name: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        top = name.partition(".")[0]
        numpy_for_pyarrow = top == "numpy" and self.pyarrow_imports
        if top == "pandas" or name == "pyarrow.dataset" or numpy_for_pyarrow:
            _refuse(name)
        if top != "pyarrow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PyarrowLoader(spec.loader, self)
        return spec


class _PyarrowLoader(importlib.abc.Loader):
    """The loader of a module of pyarrow, with numpy refused while it runs."""

    def __init__(self, loader: Any, finder: _LeanImports) -> None:
        self._loader = loader
        self._finder = finder

    def __getattr__(self, name: str) -> Any:
        # What else is asked of a loader (is_package, get_resource_reader, ...): pyarrow's own.
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        # An extension module may run its code here (single-phase initialisation).
        self._finder.pyarrow_imports += 1
        try:
            return self._loader.create_module(spec)
        finally:
            self._finder.pyarrow_imports -= 1

    def exec_module(self, module: ModuleType) -> None:
        self._finder.pyarrow_imports += 1
        try:
            self._loader.exec_module(module)
        finally:
            self._finder.pyarrow_imports -= 1
