"""A one-line progress display for long syncs on a terminal (stderr, redrawn in place).

Listing comes first (``listing s3://bucket/prefix/: 12,000 keys…``, for a large or slow
prefix), then reading (``sync [#####   ] 1,200/5,458 objects 3.1 MB/s``). A line left open
when the command stops (Ctrl-C, an error) is ended by ``end_open_line`` before the message,
so the message stands on a line of its own.
"""

from __future__ import annotations

import time
from typing import TextIO

from perstack_logq.engine.database import SyncProgress

_REDRAW_SECONDS = 0.2
# The stream of a progress line drawn and not yet ended with a newline, if any.
_open_line: list[TextIO] = []


def line_opened(stream: TextIO) -> None:
    if not _open_line:
        _open_line.append(stream)


def line_ended() -> None:
    _open_line.clear()


def end_open_line() -> None:
    """End a progress line left open, so that what is printed next starts a line."""
    for stream in _open_line:
        try:
            stream.write("\n")
            stream.flush()
        except (OSError, ValueError):
            pass
    line_ended()


class ProgressLine:
    """``listing_only``: draw listings, not reads (for views that read little after a long
    listing, such as finding the latest job)."""

    def __init__(self, stream: TextIO, *, listing_only: bool = False) -> None:
        self.stream = stream
        self.listing_only = listing_only
        self.started = time.monotonic()
        self.last_drawn = 0.0
        self.drawn = False
        self.listing_shown = ""  # the last listing line drawn, until it is ended

    def __call__(self, state: SyncProgress) -> None:
        now = time.monotonic()
        if state.listing is not None or self.listing_shown:
            self._listing(state, now)
            return
        if self.listing_only:
            return
        finished = state.objects_total and state.objects_done >= state.objects_total
        if not finished and now - self.last_drawn < _REDRAW_SECONDS:
            return
        if not state.objects_total:
            return
        self.last_drawn = now
        share = state.objects_done / state.objects_total
        bar = "#" * int(share * 30)
        rate = state.bytes_done / max(now - self.started, 1e-6) / 1e6
        self.stream.write(
            f"\rsync [{bar:<30}] {state.objects_done:,}/{state.objects_total:,} objects "
            f"{rate:,.1f} MB/s"
        )
        self.drawn = True
        line_opened(self.stream)
        if finished:
            self.stream.write("\n")
            line_ended()
        self.stream.flush()

    def _listing(self, state: SyncProgress, now: float) -> None:
        """Keys listed so far; once listed, the final count and the end of the line."""
        if state.listing is not None:
            if now - self.last_drawn < _REDRAW_SECONDS:
                return
            self.last_drawn = now
            self.listing_shown = f"listing {state.listing}: "
            self.stream.write(f"\r{self.listing_shown}{state.listed:,} keys…")
            line_opened(self.stream)
        else:  # the listing ended: its final count, and the next line for the sync
            self.stream.write(f"\r{self.listing_shown}{state.listed:,} keys listed\n")
            self.listing_shown = ""
            self.last_drawn = 0.0
            line_ended()
        self.stream.flush()
