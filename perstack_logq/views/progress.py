"""A one-line progress display for long syncs on a terminal (stderr, redrawn in place)."""

from __future__ import annotations

import time
from typing import TextIO

from perstack_logq.engine.database import SyncProgress

_REDRAW_SECONDS = 0.2


class ProgressLine:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.last_drawn = 0.0
        self.drawn = False

    def __call__(self, state: SyncProgress) -> None:
        now = time.monotonic()
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
        if finished:
            self.stream.write("\n")
        self.stream.flush()
