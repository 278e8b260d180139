"""storage/base.py: the reader threads stop without waiting once the user pressed Ctrl-C."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from perstack_logq.storage import base


def _reader(release: threading.Event) -> Iterator[str]:
    """A reader whose one read waits (a GET on a silent server) until ``release``."""
    with base.reader_threads(2, "test-read") as pool:
        pool.submit(release.wait, 30)
        yield "reading"


def _seconds_to_close(reader: Iterator[str]) -> float:
    next(reader)
    started = time.monotonic()
    reader.close()  # the consumer stopped: its loop ended or an exception left it
    return time.monotonic() - started


def test_a_reader_closed_early_waits_for_its_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "INTERRUPTED", threading.Event())
    release = threading.Event()
    threading.Timer(0.5, release.set).start()
    assert _seconds_to_close(_reader(release)) >= 0.4


def test_after_ctrl_c_a_reader_closed_anywhere_does_not_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C surfaces where the main thread is, often not inside the reader: the reader is
    then closed like any other, and must still not wait for the read stuck on the server."""
    monkeypatch.setattr(base, "INTERRUPTED", threading.Event())
    release = threading.Event()
    base.INTERRUPTED.set()
    try:
        assert _seconds_to_close(_reader(release)) < 5
    finally:
        release.set()
