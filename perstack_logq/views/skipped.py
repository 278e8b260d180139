"""What was left out: the files of the store that were not decoded, counted by reason.

Every command that reads the store ends with one warning line when files were skipped::

    3 files skipped (2 invalid JSON, 1 unknown layout); run with --show-skipped for the list

and ``--show-skipped`` lists them, one ``<key>: <reason> (<detail>)`` line each. Both come from
the ``skipped_files`` table, which the decoder fills (perstack_logq.decode.records).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from perstack_logq.engine.database import Database
from perstack_logq.engine.sqlfiles import sql_file

# In the order the summary lists reasons that have the same count.
REASON_LABELS = {
    "invalid_json": "invalid JSON",
    "not_an_object": "not an object",
    "invalid_record": "invalid record",
    "unknown_layout": "unknown layout",
    "unreadable": "unreadable",
    "too_large": "too large",
}


class SkippedFile(NamedTuple):
    key: str  # store-relative
    reason: str  # a key of REASON_LABELS
    detail: str

    def __str__(self) -> str:
        # One line whatever the key holds: a file name may hold a newline, and must not
        # print lines of its own (a forged "warning:" line). Other controls are escaped by
        # the terminal stream.
        line = f"{self.key}: {reason_label(self.reason)} ({self.detail})"
        return line.replace("\n", "\\n")


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def skipped_rows(database: Database, job_ids: Sequence[str] | None = None) -> list[SkippedFile]:
    """The skipped files (of ``job_ids`` only, when given), sorted by key."""
    params = {"job_ids": None if job_ids is None else list(job_ids)}
    rows = database.sql(sql_file("log", "skipped_files").text, params=params).fetchall()
    return [SkippedFile(*row) for row in rows]


def skipped_summary(database: Database, job_ids: Sequence[str] | None = None) -> str | None:
    """The one-line warning, or None when nothing was skipped."""
    rows = skipped_rows(database, job_ids)
    if not rows:
        return None
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.reason] = counts.get(row.reason, 0) + 1
    order = list(REASON_LABELS)
    ranked = sorted(
        counts.items(),
        key=lambda item: (
            -item[1],
            order.index(item[0]) if item[0] in order else len(order),
            item[0],
        ),
    )
    parts = ", ".join(f"{count} {reason_label(reason)}" for reason, count in ranked)
    files = "file" if len(rows) == 1 else "files"
    return f"{len(rows)} {files} skipped ({parts}); run with --show-skipped for the list"
