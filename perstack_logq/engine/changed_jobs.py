"""Which jobs an incremental filesystem listing found changed, so that a sync's SQL can follow
the change instead of the whole store (engine/database.py, docs/architecture.md).

The SQL after a listing compares the whole listing with the last one and with the manifest:
0.6 s on 10,000 jobs (342,000 files) for a sync that adds one. When the cache holds the whole
last listing, a job whose directories and rechecked files the listing found unchanged has
nothing to compare: its files are the last listing's, and the cache holds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import duckdb

from perstack_logq.storage.base import DirectoryState, ObjectInfo
from perstack_logq.storage.layout import JOBS_DIR

# Past this many changed jobs, the sync compares the whole listing: the job list is bound as
# one JSON text, and its SQL filters every row of the manifest by it.
MAX_CHANGED_JOBS = 1_000


def job_of(key: str) -> str:
    """The job a key is in, as layout.parse_key finds it (the second part of the key); "" for
    ``jobs/`` itself."""
    parts = key.split("/", 2)
    return parts[1] if len(parts) > 1 else ""


class ChangedJobs:
    """Watches a listing (``Storage.list_changes``) go by and collects the jobs it changed: those
    of every directory read again (its mtime moved, or was too recent to trust), of every known
    directory no longer there, and of every rechecked file whose size or version moved."""

    def __init__(self, known: Mapping[str, int | None], recheck: Mapping[str, tuple]) -> None:
        self._known = known
        self._recheck = recheck
        self._visited: set[str] = set()
        self._jobs: set[str] = set()

    def watch(
        self, listing: Iterator[ObjectInfo | DirectoryState]
    ) -> Iterator[ObjectInfo | DirectoryState]:
        for item in listing:
            if type(item) is DirectoryState:
                self._visited.add(item.key)
                if not item.unchanged:
                    self._jobs.add(job_of(item.key))
            elif self._recheck.get(item.key) != (item.size, item.version):
                # A file of a directory read again (its job is in already), or a rechecked one
                # that changed.
                self._jobs.add(job_of(item.key))
            yield item

    def changed_jobs(self, connection: duckdb.DuckDBPyConnection) -> list[str] | None:
        """The changed jobs, once the listing is done; None when the listing saw no directory
        (a store without directory times, or without ``jobs/``) or found too many changed."""
        if not self._visited:
            return None
        jobs = self._jobs | {job_of(key) for key in self._known if key not in self._visited}
        if "" in jobs:
            # jobs/ itself changed: a name in it that is not UTF-8 is listed as a stray file of
            # jobs/ whose job is its own name (layout.parse_key), not the directory's.
            rows = connection.execute(
                f"SELECT DISTINCT job_id FROM _listing WHERE kind = 'unknown' "
                f"AND key NOT LIKE '{JOBS_DIR}/%/%'"
            ).fetchall()
            jobs.update(job_id for (job_id,) in rows)
        return sorted(jobs) if len(jobs) <= MAX_CHANGED_JOBS else None
