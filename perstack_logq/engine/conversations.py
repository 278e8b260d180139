"""Whole records again: a job's stored records with their conversations put back.

The cache keeps each message once (decode/conversation.py); the log view prints records as the
store holds them. This puts each record's messages back from the job's ``messages`` rows and,
for the rare record that cannot be rebuilt exactly, reads its one file from the store again.
"""

from __future__ import annotations

from typing import Any

import orjson

from perstack_logq.decode.conversation import MARKER, rebuild_messages
from perstack_logq.decode.secrets import mask_secret_values
from perstack_logq.engine.database import Database
from perstack_logq.errors import StorageError
from perstack_logq.storage.base import ReadFailure

_JOB_MESSAGES = "SELECT message_id, message FROM messages WHERE job_id = $job_id"


class ConversationRestorer:
    """Restores the records of one job; its messages are read once, on first need."""

    def __init__(self, database: Database, job_id: str) -> None:
        self._database = database
        self._job_id = job_id
        self._messages: dict[str, bytes] | None = None
        self.files_read_again = 0

    def restore(self, record_text: str, source_key: str, *, is_event: bool) -> Any:
        """The parsed record as its file holds it (secrets masked, as everywhere)."""
        record = orjson.loads(record_text)
        if MARKER not in record_text:
            return record
        if rebuild_messages(record, is_event=is_event, stored=self._stored):
            return record
        return self._read_again(source_key)

    def load(self) -> None:
        """Read the job's messages now: a restore inside a query (``--filter`` runs as a
        function of the query) cannot query the connection that is running it."""
        if self._messages is None:
            rows = self._database.sql(_JOB_MESSAGES, params={"job_id": self._job_id}).fetchall()
            self._messages = {message_id: message.encode() for message_id, message in rows}

    def _stored(self, message_id: str) -> bytes | None:
        self.load()
        assert self._messages is not None
        return self._messages.get(message_id)

    def _read_again(self, key: str) -> Any:
        self.files_read_again += 1
        for _, body in self._database.storage.read_objects([key]):
            if isinstance(body, ReadFailure):
                raise StorageError(f"cannot read {key} again: {body.reason}")
            masked, _ = mask_secret_values(body)
            try:
                return orjson.loads(masked)
            except orjson.JSONDecodeError as error:
                raise StorageError(f"{key} changed since the last sync: {error}") from None
        raise StorageError(f"{key} is no longer in the store")
