"""Text for a terminal: agent-written characters must never steer it.

Messages, tool results, ids and file names come from the store, which an agent (or whoever can
write one key) controls. Printed raw, an ESC/CSI/OSC sequence could clear the screen, rewrite
earlier lines (``\\r``), retitle the window or write the clipboard (OSC 52). The CLI therefore
writes stdout and stderr through ``EscapingStream``: every C0 control except tab and newline,
DEL and every C1 control (U+0080-U+009F, which terminals also obey) is shown as ``\\xHH``.
Text without control characters passes unchanged, byte for byte.

JSON output escapes its own controls (``\\u001b``, and ``json_text`` for the C1 range that JSON
allows raw), so it reaches the stream already clean and stays valid JSON.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import TextIO

from perstack_logq.errors import UsageError

_CONTROL_CODES = [*(c for c in range(0x20) if c not in (0x09, 0x0A)), 0x7F, *range(0x80, 0xA0)]
_VISIBLE = {code: f"\\x{code:02x}" for code in _CONTROL_CODES}
CONTROL_CHARACTER = re.compile("[" + "".join(re.escape(chr(c)) for c in _CONTROL_CODES) + "]")
# What JSON leaves raw but a terminal obeys: DEL and the C1 range (U+0080-U+009F, in UTF-8
# C2 80 to C2 9F: C2 only ever starts a character).
_JSON_RAW_CONTROL = re.compile("[\x7f-\x9f]")
_JSON_RAW_CONTROL_UTF8 = re.compile(b"\x7f|\xc2[\x80-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with every control character but tab and newline shown as ``\\xHH``."""
    # The search is far cheaper than translate(), and almost no text holds a control.
    if CONTROL_CHARACTER.search(text) is None:
        return text
    return text.translate(_VISIBLE)


def json_text(text: str) -> str:
    """JSON text with DEL and C1 controls written as ``\\u00XX`` escapes (still the same JSON)."""
    if _JSON_RAW_CONTROL.search(text) is None:
        return text
    return _JSON_RAW_CONTROL.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


def json_bytes(data: bytes) -> bytes:
    """``json_text`` for UTF-8 JSON: the same escapes, on the bytes."""
    # Two memchr scans take a tenth of one regular-expression scan, and most output has
    # neither byte (a long session's --json is 150 MB).
    if b"\x7f" not in data and b"\xc2" not in data:
        return data
    return _JSON_RAW_CONTROL_UTF8.sub(lambda match: b"\\u%04x" % ord(match[0].decode()), data)


def write_clean_chunks(stream: TextIO, chunks: Iterable[bytes]) -> None:
    """Write UTF-8 text that holds no control character but newline (JSON from
    ``json_bytes``), in pieces that each end on a whole character, to the binary stream
    beneath ``stream``: the escaping stream's scan would find nothing, and the text would be
    decoded only to be encoded again."""
    text_stream = unescaped(stream)
    binary = getattr(text_stream, "buffer", None)
    if binary is None:  # a text-only stream (a test's StringIO)
        for chunk in chunks:
            stream.write(chunk.decode())
        return
    try:
        text_stream.flush()  # what was printed before comes first
        for chunk in chunks:
            binary.write(chunk)
    except OSError as error:
        raise _write_error(error) from error


class ReaderGone(Exception):
    """The reader of the output left (``| head -1``). Not an OSError on purpose: Click turns
    a broken pipe into exit 1, and this must reach the CLI's entry point as itself."""


class EscapingStream(io.TextIOBase):
    """A text stream that shows control characters visibly, then writes to ``unescaped``.

    Progress displays that redraw a line with ``\\r`` write to ``unescaped`` directly: their
    text is ours, never the store's.
    """

    def __init__(self, unescaped: TextIO) -> None:
        self.unescaped = unescaped

    def write(self, text: str) -> int:
        try:
            self.unescaped.write(escape_controls(text))
        except OSError as error:
            raise _write_error(error) from error
        return len(text)

    def flush(self) -> None:
        try:
            self.unescaped.flush()
        except OSError as error:
            raise _write_error(error) from error

    def isatty(self) -> bool:
        return self.unescaped.isatty()

    def fileno(self) -> int:
        return self.unescaped.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.unescaped, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.unescaped, "errors", None)


def _write_error(error: OSError) -> Exception:
    if isinstance(error, BrokenPipeError):
        return ReaderGone()
    # e.g. `perstack log jobs > /dev/full`: the output's fault, said in one line.
    return UsageError(f"Cannot write the output: {error.strerror or error}")


def unescaped(stream: TextIO) -> TextIO:
    """The stream beneath an ``EscapingStream`` (for our own redrawn progress lines)."""
    return stream.unescaped if isinstance(stream, EscapingStream) else stream
