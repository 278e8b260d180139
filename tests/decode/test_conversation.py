"""Each message once: records keep the ids they held, and are put back byte for byte."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import orjson

from perstack_logq.decode.conversation import (
    MARKER,
    ConversationDigests,
    MessageRow,
    StoredMessage,
    conversation_json,
    digest,
    in_schema_order,
    rebuild_messages,
    strip_conversation,
)


def _message(message_id: str, text: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "userMessage",
        "contents": [{"type": "textPart", "text": text}],
    }


def _checkpoint(step: int, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": f"c{step}", "runId": "r1", "stepNumber": step, "messages": messages}


def _strip(holder: dict[str, Any], known: dict[str, MessageRow]) -> list[MessageRow] | None:
    rows = strip_conversation(
        holder, is_checkpoint=True, job_id="j", source_key=f"k{holder['id']}", known=known.get
    )
    for row in rows or []:
        known[row.message_id] = row
    return rows


def _rows(known: dict[str, MessageRow]) -> StoredMessage:
    """The messages as a job's rows keep them, as the cache's restorer reads them."""
    rows = {row.message_id: row.message for row in known.values()}

    def stored(message_id: str, reloaded: bool) -> bytes | None:
        message = rows.get(message_id)
        return in_schema_order(message) if message is not None and reloaded else message

    return stored


def _put_back(stripped: dict[str, Any], known: dict[str, MessageRow]) -> bytes | None:
    """The stripped record, as the cache keeps it, with its messages put back from the rows;
    None when they cannot be."""
    restored = orjson.loads(orjson.dumps(stripped))
    if not rebuild_messages(restored, is_event=False, stored=_rows(known)):
        return None
    return orjson.dumps(restored)


def test_a_conversation_is_stored_once_and_put_back_as_it_was() -> None:
    first = [_message("m1", "hello"), _message("m2", "world")]
    later = [*first, _message("m3", "again")]
    known: dict[str, MessageRow] = {}
    one, two = _checkpoint(1, [dict(m) for m in first]), _checkpoint(2, [dict(m) for m in later])
    original = orjson.dumps(two)
    assert [r.message_id for r in _strip(one, known) or []] == ["m1", "m2"]
    # Only the message the later checkpoint holds first becomes a row.
    assert [(r.message_id, r.position, r.step_number) for r in _strip(two, known) or []] == [
        ("m3", 2, 2)
    ]
    assert two["messages"][MARKER] == "messages" and two["messages"]["ids"] == ["m1", "m2", "m3"]
    assert _put_back(two, known) == original


def test_another_key_order_or_a_missing_message_is_not_put_back() -> None:
    known: dict[str, MessageRow] = {}
    _strip(_checkpoint(1, [_message("m1", "hello")]), known)
    # The same message written with its keys in another order (as a resumed run writes it).
    reordered = {
        "type": "userMessage",
        "id": "m1",
        "contents": [{"text": "hello", "type": "textPart"}],
    }
    later = _checkpoint(2, [reordered])
    _strip(later, known)
    assert not rebuild_messages(later, is_event=False, stored=_rows(known))
    gone = _checkpoint(3, [_message("m9", "x")])
    _strip(gone, {})
    assert not rebuild_messages(gone, is_event=False, stored=_rows(known))


def test_messages_a_resumed_run_reloaded_in_schema_order_are_put_back() -> None:
    """The runtime builds a message type first; a run resumed from a checkpoint holds the
    messages it reloaded with ``id`` first (schema order), and the new ones as built."""

    def built(message_id: str, text: str) -> dict[str, Any]:
        return {
            "type": "userMessage",
            "contents": [{"type": "textPart", "text": text}],
            "id": message_id,
        }

    first = [built("m1", "hello"), built("m2", "world")]
    reloaded = [orjson.loads(in_schema_order(orjson.dumps(m))) for m in first]
    assert [list(m) for m in reloaded] == [["id", "type", "contents"]] * 2
    resumed = _checkpoint(2, [*reloaded, built("m3", "again")])
    known: dict[str, MessageRow] = {}
    _strip(_checkpoint(1, first), known)
    original = orjson.dumps(resumed)
    _strip(resumed, known)
    assert resumed["messages"]["idFirst"] == [[0, 2]]
    assert _put_back(resumed, known) == original


def test_a_marker_written_in_a_store_file_is_not_put_back_and_breaks_nothing() -> None:
    known: dict[str, MessageRow] = {}
    _strip(_checkpoint(1, [_message("m1", "hello")]), known)
    for id_first in ([["a", "b"]], [[0]], "all", [[0, 1]]):
        forged = {
            "id": "c9",
            "runId": "r1",
            "messages": {MARKER: "messages", "ids": ["m1"], "digest": "0", "idFirst": id_first},
        }
        assert not rebuild_messages(forged, is_event=False, stored=_rows(known))


def test_conversations_that_cannot_be_keyed_or_written_stay_whole() -> None:
    no_ids = _checkpoint(1, [{"type": "userMessage", "contents": []}])
    assert _strip(no_ids, {}) is None and isinstance(no_ids["messages"], list)
    deep: Any = "bottom"
    for _ in range(300):  # orjson reads 1,024 levels but writes only 254
        deep = [deep]
    nested = _checkpoint(1, [{"id": "m1", "type": "userMessage", "contents": deep}])
    assert _strip(nested, {}) is None and isinstance(nested["messages"], list)


def _fragment(forms: list[tuple[str, bool]], messages: list[bytes], depth: int) -> orjson.Fragment:
    return orjson.Fragment(conversation_json(messages))


def test_a_conversation_many_records_hold_is_checked_and_made_once() -> None:
    known: dict[str, MessageRow] = {}
    conversation = [_message("m1", "hello"), _message("m2", "world")]
    checkpoint, event = _checkpoint(1, [dict(m) for m in conversation]), _checkpoint(1, [])
    _strip(checkpoint, known)
    marker = checkpoint["messages"]
    event["messages"] = dict(marker)  # the same marker, in another record
    asked: list[str] = []
    rows = _rows(known)

    def stored(message_id: str, reloaded: bool) -> bytes | None:
        asked.append(message_id)
        return rows(message_id, reloaded)

    memo: dict[Hashable, Any] = {}
    for record in (checkpoint, event):
        assert rebuild_messages(
            record, is_event=False, stored=stored, put_back=_fragment, memo=memo
        )
    assert asked == ["m1", "m2"]
    assert event["messages"] is checkpoint["messages"]
    assert orjson.dumps(event) == orjson.dumps(_checkpoint(1, conversation))
    # Not kept: a parsed conversation (mutable: records must not share it), or a marker whose
    # ids cannot be a key.
    parsed = _checkpoint(2, [dict(m) for m in conversation])
    _strip(parsed, {})
    parsed_memo: dict[Hashable, Any] = {}
    assert rebuild_messages(parsed, is_event=False, stored=rows, memo=parsed_memo)
    assert isinstance(parsed["messages"], list) and parsed_memo == {}
    hostile = _checkpoint(3, [])
    hostile["messages"] = {**marker, "ids": [["m1"], "m2"]}
    assert not rebuild_messages(hostile, is_event=False, stored=rows, put_back=_fragment, memo=memo)


def test_a_digest_continued_from_an_earlier_conversation_is_the_whole_ones() -> None:
    """Each digest equals the CRC-32 of the whole conversation, whichever earlier one it starts
    from: growing, repeated, another order, another form of a shared prefix, none at all."""
    texts = {f"m{i}": orjson.dumps(_message(f"m{i}", "x" * i)) for i in range(40)}

    def conversation(*forms: tuple[str, bool]) -> tuple[list[tuple[str, bool]], list[bytes]]:
        return list(forms), [texts[i] + (b" " if reloaded else b"") for i, reloaded in forms]

    plain = [(f"m{i}", False) for i in range(40)]
    cases = [
        conversation(),
        *(conversation(*plain[:length]) for length in (1, 2, 3, 3, 7, 30, 31, 40)),
        conversation(*plain[:5], ("m5", True), *plain[6:9]),  # one message in another form
        conversation(("m0", True), *plain[1:9]),  # the shared prefix in another form
        conversation(*reversed(plain[:9])),
        conversation(*plain[20:40]),  # no earlier conversation starts it
    ]
    digests = ConversationDigests()
    for forms, messages in cases:
        assert digests.digest(forms, messages) == digest(conversation_json(messages)), forms
