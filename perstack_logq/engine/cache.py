"""Where the persistent cache of a store lives, and opening it safely.

One DuckDB file per store location under the user's cache directory
(``$PERSTACK_LOGQ_CACHE_DIR``, else ``$XDG_CACHE_HOME/perstack-logq``, else
``~/.cache/perstack-logq``). The cache holds only data derived from the store, so losing it
costs one cold sync and nothing else.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from perstack_logq.engine.connections import CacheDatabase
from perstack_logq.engine.database import Database
from perstack_logq.errors import StorageError, UsageError
from perstack_logq.storage.base import Storage

# The cache's DuckDB buffer pool: what a sync or query holds in memory at most before DuckDB
# spills to ``tmp/`` beside the cache, whatever the size of the store. 256 MB was too little to
# commit a sync of long sessions ("failed to pin block of size 256.0 KiB"): 1 GB still keeps
# the process well under the 1.5 GB the real-size issue allows.
CACHE_MEMORY_LIMIT = "1GB"


def default_cache_dir() -> Path:
    explicit = os.environ.get("PERSTACK_LOGQ_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "perstack-logq"


def cache_path(storage: Storage, cache_dir: Path | None = None) -> Path:
    info = storage.get_storage_info()
    digest = hashlib.sha256(f"{info.type}\0{info.location}".encode()).hexdigest()[:20]
    return (cache_dir or default_cache_dir()) / f"{info.type}-{digest}.duckdb"


def open_database(
    storage: Storage,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    direct_reads: bool = False,
) -> Database:
    """The store's cache database (shared with other processes, engine/connections.py), or an
    in-memory one when asked.

    ``direct_reads``: read S3/R2 bodies with DuckDB httpfs (see Database).
    """
    if not use_cache:
        return Database(storage, direct_reads=direct_reads)
    path = cache_path(storage, cache_dir)
    _make_directory(path.parent)
    return CacheDatabase(
        storage,
        path=path,
        memory_limit=CACHE_MEMORY_LIMIT,
        temp_directory=path.parent / "tmp",
        direct_reads=direct_reads,
    )


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"cache directory {directory} is not a directory (see --cache-dir)"
        ) from None
    except OSError as error:
        raise StorageError(
            f"cannot create the cache directory {directory}: {error.strerror}"
        ) from None
