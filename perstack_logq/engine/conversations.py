"""Whole records again: a job's stored records with their conversations put back.

The cache keeps each message once (decode/conversation.py); the log view prints records as the
store holds them. This puts each record's messages back from the job's ``messages`` rows and,
for the rare record that cannot be rebuilt exactly, reads its one file from the store again.

A view that prints JSON (compact or indented) can have each conversation put back as the JSON
text it prints (an orjson Fragment) instead of as Python objects. A long session's records hold
its messages hundreds of times over: each message is then rendered once per job, and the copies
are joined as bytes, not parsed, converted and written again for every record that holds them.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from typing import Any, Protocol

import orjson

from perstack_logq.decode.conversation import (
    MARKER,
    ConversationDigests,
    conversation_json,
    in_schema_order,
    rebuild_messages,
)
from perstack_logq.decode.secrets import mask_secret_values
from perstack_logq.engine.database import Database
from perstack_logq.errors import StorageError
from perstack_logq.storage.base import ReadFailure

_JOB_MESSAGES = "SELECT message_id, message FROM messages WHERE job_id = $job_id"


class ConversationText(Protocol):
    """How a view writes conversations as JSON text (views/render.JsonText)."""

    pretty: bool  # indented: a conversation's text then depends on its depth in the record

    def message(self, message: bytes, in_checkpoint_file: bool) -> bytes | None:
        """A stored message's text, held by a checkpoint file or not (they print differently);
        None when it has none (its conversation then goes back parsed)."""

    def array(self, parts: list[bytes], depth: int) -> bytes:
        """A conversation's text from its messages' texts, at ``depth`` in its record."""


# The records holding one conversation come one after another in a view (a checkpoint, the
# events that carry it), so a few suffice; keeping all of a long session's would hold its
# whole `--json` (150 MB for one job of the bench's long-session store).
_RECENT_CONVERSATIONS = 8


class _RecentConversations(dict[Hashable, Any]):
    """rebuild_messages' memo, holding the conversations put back last."""

    def __setitem__(self, key: Hashable, value: Any) -> None:
        super().__setitem__(key, value)
        if len(self) > _RECENT_CONVERSATIONS:
            del self[next(iter(self))]


class ConversationRestorer:
    """Restores the records of one job; its messages are read once, on first need.

    With ``render``, conversations go back as the JSON text it makes of their messages.
    """

    def __init__(
        self, database: Database, job_id: str, *, render: ConversationText | None = None
    ) -> None:
        self._database = database
        self._job_id = job_id
        self._messages: dict[str, bytes] | None = None
        self.render = render
        self._reloaded: dict[str, bytes] = {}
        self._rendered: dict[tuple[str, bool, bool], bytes | None] = {}
        self._digests = ConversationDigests()
        # Rendered conversations (rebuild_messages' memo), by whether a checkpoint file holds
        # them (they render differently there), then by marker: the last few only.
        self._conversations = {True: _RecentConversations(), False: _RecentConversations()}
        self.files_read_again = 0

    def restore(self, record_text: str, source_key: str, *, is_event: bool) -> Any:
        """The parsed record as its file holds it (secrets masked, as everywhere)."""
        record = orjson.loads(record_text)
        if MARKER not in record_text:
            return record
        if self.render is None:
            rebuilt = rebuild_messages(
                record, is_event=is_event, stored=self._stored, digests=self._digests
            )
        else:
            rendered = partial(self._rendered_conversation, in_checkpoint_file=not is_event)
            rebuilt = rebuild_messages(
                record,
                is_event=is_event,
                stored=self._stored,
                put_back=rendered,
                digests=self._digests,
                memo=self._conversations[not is_event],
                memo_by_depth=self.render.pretty,
            )
        if rebuilt:
            return record
        return self._read_again(source_key)

    def _rendered_conversation(
        self,
        forms: list[tuple[str, bool]],
        messages: list[bytes],
        depth: int,
        *,
        in_checkpoint_file: bool,
    ) -> Any:
        """The conversation as one Fragment of rendered messages, or parsed when one of them
        has no rendering."""
        assert self.render is not None
        parts = []
        for message_id, reloaded in forms:
            key = (message_id, reloaded, in_checkpoint_file)
            if key not in self._rendered:
                message = self._stored(message_id, reloaded)
                assert message is not None  # rebuild_messages found it
                self._rendered[key] = self.render.message(message, in_checkpoint_file)
            part = self._rendered[key]
            if part is None:
                return orjson.loads(conversation_json(messages))
            parts.append(part)
        return orjson.Fragment(self.render.array(parts, depth))

    def load(self) -> None:
        """Read the job's messages now: a restore inside a query (``--filter`` runs as a
        function of the query) cannot query the connection that is running it."""
        if self._messages is None:
            rows = self._database.sql(_JOB_MESSAGES, params={"job_id": self._job_id}).fetchall()
            self._messages = {message_id: message.encode() for message_id, message in rows}

    def _stored(self, message_id: str, reloaded: bool) -> bytes | None:
        """A message as its row keeps it, or in schema order (as a resumed run reloads it)."""
        self.load()
        assert self._messages is not None
        message = self._messages.get(message_id)
        if message is None or not reloaded:
            return message
        if message_id not in self._reloaded:
            self._reloaded[message_id] = in_schema_order(message)
        return self._reloaded[message_id]

    def _read_again(self, key: str) -> Any:
        self.files_read_again += 1
        reads = self._database.storage.read_objects([key], max_bytes=self._database.file_size_limit)
        for _, body in reads:
            if isinstance(body, ReadFailure):
                raise StorageError(f"cannot read {key} again: {body.reason}")
            masked, _ = mask_secret_values(body)
            try:
                return orjson.loads(masked)
            except orjson.JSONDecodeError as error:
                raise StorageError(f"{key} changed since the last sync: {error}") from None
        raise StorageError(f"{key} is no longer in the store")
