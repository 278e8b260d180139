"""Terminal safety of what the CLI prints (views/terminal.py)."""

from __future__ import annotations

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from perstack_logq.views.terminal import CONTROL_CHARACTER, json_bytes, json_text


@given(st.text())
@example("\x7f \x80 \x9f \xa0 © \u0085 end")
@example("\xc2\x85")  # the characters, not the UTF-8 bytes of NEL
def test_json_bytes_escapes_as_json_text_does(text: str) -> None:
    data = orjson.dumps({"text": text})
    escaped = json_bytes(data)
    assert escaped == json_text(data.decode()).encode()
    # Still the same JSON, and nothing in it a terminal obeys.
    assert orjson.loads(escaped) == {"text": text}
    assert CONTROL_CHARACTER.search(escaped.decode()) is None
