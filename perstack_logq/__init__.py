"""perstack_logq: query Perstack execution history on the filesystem, S3 and R2.

``perstack_logq.connect(...)`` opens a store's history (see perstack_logq.api). It is imported
lazily so that ``import perstack_logq`` (and the CLI's start) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perstack_logq.api import Dataset, History, connect, connect_dataset
    from perstack_logq.distributed.dask_export import export_on_dask

__version__ = "0.1.0"
__all__ = ["Dataset", "History", "__version__", "connect", "connect_dataset", "export_on_dask"]


def __getattr__(name: str) -> Any:
    if name in ("connect", "History", "connect_dataset", "Dataset"):
        from perstack_logq import api

        return getattr(api, name)
    if name == "export_on_dask":
        from perstack_logq.distributed import dask_export

        return dask_export.export_on_dask
    raise AttributeError(f"module 'perstack_logq' has no attribute {name!r}")
