"""Conversations stored once: the messages records hold become rows, records keep a marker.

Every checkpoint holds its run's whole conversation so far, the events that close a step carry
it twice more (``checkpoint`` and ``nextCheckpoint``), ``startRun`` once (``initialCheckpoint``)
and ``startGeneration`` once more (the messages sent to the model), so a store grows with the
square of a session's length (spec §5). A message keeps its id in every record that holds it,
so each is kept once per job, as a row of ``messages`` (its run, its position and the first
checkpoint that held it), and a record keeps in place of its ``messages`` a marker: the ids it
held, in order, and a digest of them as stored. ``rebuild_messages`` puts them back byte for
byte, or says it cannot (the digest differs), and the caller then reads that one file again.

A run that resumes from a checkpoint (a continued job, a coordinator back from its delegates)
reloads the conversation so far through the runtime's schema: those messages come back with
their keys in schema order (``id`` first), while the row keeps the order the message was built
in. The marker says which messages a record holds with ``id`` first (``idFirst``: ranges of
positions), and a conversation that does not match as stored is tried once more with those
messages in schema order (decode/canonical.py). Without that, every record of a resumed run
would be read again from the store.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Iterator
from typing import Any, NamedTuple

import orjson

from perstack_logq.decode.canonical import canonical_message

JsonObject = dict[str, Any]

MARKER = "$perstack_logq"
# The embedded checkpoints of an event that carry a conversation.
EMBEDDED_CHECKPOINTS = ("initialCheckpoint", "checkpoint", "nextCheckpoint")


def conversation_holders(record: JsonObject, *, is_event: bool) -> list[tuple[Any, bool]]:
    """The objects of a record that may hold a conversation under ``messages``, each with
    whether it is a checkpoint: a checkpoint itself; an event itself (startGeneration) and the
    checkpoints it embeds."""
    if not is_event:
        return [(record, True)]
    return [(record, False), *((record.get(key), True) for key in EMBEDDED_CHECKPOINTS)]


class MessageRow(NamedTuple):
    """One row of ``messages``, in the table's column order."""

    job_id: str
    run_id: str
    message_id: str
    position: int
    type: str | None
    text: str | None
    tool_call_ids: list[str] | None
    message: bytes
    checkpoint_id: str | None
    step_number: int | None
    source_key: str

    def holder(self) -> HolderRank:
        return holder_rank(self.step_number, self.checkpoint_id, self.source_key)


HolderRank = tuple[int, bool, str, str]


def holder_rank(step: int | None, checkpoint_id: str | None, source_key: str) -> HolderRank:
    """Which of two holders of a message is the first: the earlier step; at one step a
    checkpoint before a startGeneration event; then the checkpoint id and the file
    (sql/sync/40_merge_messages.sql orders them the same way)."""
    return (
        step if step is not None else 2**63 - 1,
        checkpoint_id is None,
        checkpoint_id or "",
        source_key,
    )


def digest(conversation_json: bytes) -> str:
    """A check that a conversation put back is the one stored, not a proof against forgery:
    CRC-32 runs at 2 GB/s where blake2b ran at 0.8 (a sync hashes every copy of a
    conversation), and a mismatch it misses needs two versions of one message id whose
    conversations collide, one chance in four billion."""
    return f"{zlib.crc32(conversation_json):08x}"


def _text(contents: Any) -> str | None:
    if not isinstance(contents, list):
        return None
    texts = [
        part["text"]
        for part in contents
        if isinstance(part, dict) and part.get("type") == "textPart"
        if isinstance(part.get("text"), str)
    ]
    return "\n".join(texts) if texts else None


def _tool_call_ids(contents: Any) -> list[str] | None:
    if not isinstance(contents, list):
        return None
    ids = [
        part["toolCallId"]
        for part in contents
        if isinstance(part, dict)
        and part.get("type") in ("toolCallPart", "toolResultPart")
        and isinstance(part.get("toolCallId"), str)
    ]
    return ids or None


# What the decoder already holds for a message id of the job, if anything.
KnownMessage = Callable[[str], MessageRow | None]


def strip_conversation(
    holder: JsonObject,
    *,
    is_checkpoint: bool,
    job_id: str,
    source_key: str,
    known: KnownMessage,
) -> list[MessageRow] | None:
    """Replace a holder's ``messages`` by a marker; the rows of the messages it holds first
    (a message ``known`` from an earlier holder is not built again: each copy costs).

    None (the holder left whole) when the conversation cannot be keyed (no run id, a message
    without a string id) or written again (nested deeper than orjson writes).
    """
    messages = holder.get("messages")
    run_id = holder.get("runId")
    if not isinstance(messages, list) or not isinstance(run_id, str):
        return None
    if not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in messages):
        return None
    try:
        conversation = orjson.dumps(messages)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: the holder stays whole
        return None
    checkpoint_id = holder.get("id") if is_checkpoint else None
    checkpoint_id = checkpoint_id if isinstance(checkpoint_id, str) else None
    step = holder.get("stepNumber")
    step = step if type(step) is int else None
    rank = holder_rank(step, checkpoint_id, source_key)
    rows = []
    for position, message in enumerate(messages):
        seen = known(message["id"])
        if seen is not None and seen.holder() <= rank:
            continue
        kind = message.get("type")
        rows.append(
            MessageRow(
                job_id,
                run_id,
                message["id"],
                position,
                kind if isinstance(kind, str) else None,
                _text(message.get("contents")),
                _tool_call_ids(message.get("contents")),
                orjson.dumps(message),
                checkpoint_id,
                step,
                source_key,
            )
        )
    # orjson writes a list as its items joined by commas, so the digest of the whole list is
    # that of its messages' rows put back together (decode/conversation.rebuild_messages).
    marker: JsonObject = {
        MARKER: "messages",
        "ids": [message["id"] for message in messages],
        "digest": digest(conversation),
    }
    id_first = _id_first_ranges(messages)
    if id_first:
        marker["idFirst"] = id_first
    holder["messages"] = marker
    return rows


def leave_out_conversation(holder: JsonObject) -> bool:
    """Replace a holder's ``messages`` by a marker that keeps nothing of them; False when it
    holds none. For a history that shows no conversation (``Database(conversations=False)``):
    a restore cannot rebuild such a marker, so it reads the file again."""
    if not isinstance(holder.get("messages"), list):
        return False
    holder["messages"] = {MARKER: "messages"}
    return True


def _id_first_ranges(messages: list[JsonObject]) -> list[list[int]]:
    """The positions of the messages whose first key is ``id``, as [start, end) ranges: a
    resumed run's reloaded messages are one range (its conversation so far)."""
    ranges: list[list[int]] = []
    for position, message in enumerate(messages):
        if next(iter(message)) == "id":
            if ranges and ranges[-1][1] == position:
                ranges[-1][1] = position + 1
            else:
                ranges.append([position, position + 1])
    return ranges


def marked(value: Any) -> bool:
    return isinstance(value, dict) and value.get(MARKER) == "messages"


def marked_holders(record: Any, *, is_event: bool) -> Iterator[JsonObject]:
    """The holders of a record whose messages were replaced by a marker."""
    if not isinstance(record, dict):
        return
    for holder, _ in conversation_holders(record, is_event=is_event):
        if isinstance(holder, dict) and marked(holder.get("messages")):
            yield holder


# A message id of the job, and whether it is wanted in schema order (as a resumed run reloads
# it) -> the message's JSON (None when the job has no such message).
StoredMessage = Callable[[str, bool], bytes | None]
# A conversation's (message id, in schema order) pairs, its messages' JSON and its depth in
# the record (1: the record's own `messages`, 2: an embedded checkpoint's) -> what goes back in
# the record.
PutBack = Callable[[list[tuple[str, bool]], list[bytes], int], Any]


def conversation_json(messages: list[bytes]) -> bytes:
    """The JSON array of messages, as ``digest`` reads it."""
    return b"[" + b",".join(messages) + b"]"


def _parsed_conversation(forms: list[tuple[str, bool]], messages: list[bytes], depth: int) -> Any:
    return orjson.loads(conversation_json(messages))


# How many messages shorter than a conversation an earlier one may be and still be continued.
_PREFIX_LOOKBACK = 16


class ConversationDigests:
    """The digests of one job's conversations, each continued from an earlier one.

    A session's conversation at a step is the one of the step before and a few messages more,
    and each is held by several records (the checkpoint, the events that close the step), so
    digesting each whole reads bytes that grow with the square of the session's length (a
    `--json` of a 149 MB job joined and checksummed about 0.2 s of them). CRC-32 runs on: a
    conversation's digest starts from the running value of the longest earlier conversation
    it begins with, found among the few lengths just below its own."""

    def __init__(self) -> None:
        # forms -> CRC-32 of "[" and its messages joined by ",", before the closing "]"
        self._open: dict[tuple[tuple[str, bool], ...], int] = {}

    def digest(self, forms: list[tuple[str, bool]], messages: list[bytes]) -> str:
        whole = tuple(forms)
        start, running = 0, zlib.crc32(b"[")
        for length in range(len(whole), max(len(whole) - _PREFIX_LOOKBACK, 1) - 1, -1):
            known = self._open.get(whole[:length])
            if known is not None:
                start, running = length, known
                break
        for position in range(start, len(messages)):
            if position:
                running = zlib.crc32(b",", running)
            running = zlib.crc32(messages[position], running)
        self._open[whole] = running
        return f"{zlib.crc32(b']', running):08x}"


def rebuild_messages(
    record: JsonObject,
    *,
    is_event: bool,
    stored: StoredMessage,
    put_back: PutBack = _parsed_conversation,
    digests: ConversationDigests | None = None,
    memo: dict[Hashable, Any] | None = None,
    memo_by_depth: bool = False,
) -> bool:
    """Put every marked conversation of a parsed record back in place; False when one cannot
    be rebuilt exactly (the record is then left partly rebuilt: read the file again).

    ``put_back`` makes what replaces a marker, from the conversation checked against its
    digest: by default the messages parsed. ``digests``: the job's, kept across its records
    by a caller that rebuilds many. ``memo``: such a caller's orjson Fragments put back so far
    (JSON text: immutable, so records can share one), by marker, and by depth too when
    ``memo_by_depth`` (indented text depends on it): the same conversation, held by many
    records (a checkpoint, the events that carry it), is then checked and made once."""
    digests = digests or ConversationDigests()
    for holder in marked_holders(record, is_event=is_event):
        marker = holder["messages"]
        ids = marker.get("ids")
        if not isinstance(ids, list):
            return False
        depth = 1 if holder is record else 2
        key = None if memo is None else _marker_key(marker)
        if key is not None and memo_by_depth:
            key = (key, depth)
        if key is not None and key in memo:
            holder["messages"] = memo[key]
            continue
        if not all(type(message_id) is str for message_id in ids):
            return False  # not ours: a store's file holds a marker of its own
        for forms in _candidate_forms(ids, marker.get("idFirst")):
            found = [stored(message_id, reloaded) for message_id, reloaded in forms]
            if any(message is None for message in found):
                return False
            messages: list[bytes] = found  # type: ignore[assignment]
            if digests.digest(forms, messages) == marker.get("digest"):
                break
        else:
            return False
        holder["messages"] = put_back(forms, messages, depth)
        if key is not None and isinstance(holder["messages"], orjson.Fragment):
            memo[key] = holder["messages"]  # type: ignore[index]
    return True


def _marker_key(marker: JsonObject) -> Hashable | None:
    """What the conversation a marker stands for depends on (the job's messages aside), as a
    dict key; None when a value of it cannot be one (a store's own file may hold anything)."""
    try:
        key = (tuple(marker["ids"]), marker.get("digest"), orjson.dumps(marker.get("idFirst")))
        hash(key)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return key


def in_schema_order(message: bytes) -> bytes:
    """A stored message's JSON with its keys as a resumed run reloads them (schema order)."""
    return orjson.dumps(canonical_message(orjson.loads(message)))


def _candidate_forms(ids: list[str], id_first: Any) -> Iterator[list[tuple[str, bool]]]:
    """The forms a conversation may hold its messages in: each as stored; then, when the
    record held some with ``id`` first, those in schema order."""
    yield [(message_id, False) for message_id in ids]
    if not isinstance(id_first, list) or not id_first:
        return
    reloaded = [False] * len(ids)
    for bounds in id_first:
        # A marker is ours, but a store's file can hold one too: it must not break this.
        if not (isinstance(bounds, list) and [type(b) for b in bounds] == [int, int]):
            return
        start, end = bounds
        reloaded[start:end] = [True] * len(reloaded[start:end])
    yield list(zip(ids, reloaded, strict=True))
