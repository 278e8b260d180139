"""Where the persistent cache of a store lives, and opening it safely.

One DuckDB file per store location under the user's cache directory
(``$PERSTACK_LOGQ_CACHE_DIR``, else ``$XDG_CACHE_HOME/perstack-logq``, else
``~/.cache/perstack-logq``). The cache holds only data derived from the store, so losing it
costs one cold sync and nothing else.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from perstack_logq.engine.connections import CacheDatabase
from perstack_logq.engine.database import Database
from perstack_logq.errors import StorageError, UsageError
from perstack_logq.storage.base import Storage

# DuckDB's buffer pool: what a sync or query holds in memory at most before DuckDB spills to
# disk, whatever the size of the store. 256 MB was too little to commit a sync of long
# sessions ("failed to pin block of size 256.0 KiB"); 1 GB keeps the process well under the
# 1.5 GB the real-size issue allows. A smaller machine gets a quarter of its memory.
MAX_DEFAULT_MEMORY = 1 << 30
MIN_DEFAULT_MEMORY = 256 << 20
_MEMORY_LIMIT = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGT]i?B|B)\s*$", re.IGNORECASE)


def default_memory_limit() -> str:
    """A quarter of this machine's memory, between 256 MB and 1 GB."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: the cap
        memory = 4 * MAX_DEFAULT_MEMORY
    share = min(MAX_DEFAULT_MEMORY, max(MIN_DEFAULT_MEMORY, memory // 4))
    return f"{share >> 20}MiB"


def memory_limit_setting(given: str | None) -> str:
    """``--memory-limit`` / ``connect(memory_limit=)`` as DuckDB takes it, or the default."""
    if given is None:
        return default_memory_limit()
    if not _MEMORY_LIMIT.match(given):
        raise UsageError(
            f"Invalid value for --memory-limit: {given!r} (use a size such as 512MB or 4GB)"
        )
    return given.strip()


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
    memory_limit: str | None = None,
    conversations: bool = True,
) -> Database:
    """The store's cache database (shared with other processes, engine/connections.py), or an
    in-memory one when asked; either holds at most ``memory_limit`` (see
    ``memory_limit_setting``) and spills the rest to disk.

    ``direct_reads``: read S3/R2 bodies with DuckDB httpfs; ``conversations=False``: keep no
    message, only without a cache (both: see Database).
    """
    if use_cache and not conversations:
        raise UsageError("a cache keeps every conversation: conversations=False needs cache=False")
    limit = memory_limit_setting(memory_limit)
    if not use_cache:
        # DuckDB creates the directory only if it spills, and removes what it wrote on close.
        spill = Path(tempfile.gettempdir()) / f"perstack-logq-{os.getpid()}"
        return Database(
            storage,
            memory_limit=limit,
            temp_directory=spill,
            direct_reads=direct_reads,
            conversations=conversations,
        )
    path = cache_path(storage, cache_dir)
    _make_directory(path.parent)
    return CacheDatabase(
        storage,
        path=path,
        memory_limit=limit,
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
