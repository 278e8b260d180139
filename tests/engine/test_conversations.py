"""engine/conversations.py: a job's records with their messages put back."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from perstack_logq.engine import conversations
from perstack_logq.engine.conversations import ConversationRestorer
from perstack_logq.engine.database import Database
from perstack_logq.storage.filesystem import FileSystemStorage
from perstack_logq.synth import DirectoryWriter, generate_store
from perstack_logq.views.render import JsonText


@pytest.mark.parametrize("pretty", [False, True], ids=["compact", "pretty"])
def test_a_long_session_is_put_back_holding_only_the_last_few_conversations(
    tmp_path: Path, pretty: bool
) -> None:
    """Each record of a long session holds a longer conversation than the one before: the
    restorer keeps the last few it put back (the records that share one come together), not
    all of them, which would be the whole `--json` of the job again. Compact or indented, the
    conversations go back as text (Fragments), never parsed."""
    root = tmp_path / "store"
    generate_store(DirectoryWriter(root), jobs=1, seed=3, scale=0.02, profile="long")
    storage = FileSystemStorage(root)
    database = Database(storage)
    try:
        database.sync()
        (job_id,) = database.sql("SELECT job_id FROM jobs").fetchone() or ()
        rows = database.sql(
            "SELECT record, source_key FROM events WHERE job_id = $job_id ORDER BY source_key",
            params={"job_id": job_id},
        ).fetchall()
        restorer = ConversationRestorer(database, job_id, render=JsonText(pretty=pretty))
        conversations_seen = set()
        for record, key in rows:
            restored = restorer.restore(record, key, is_event=True)
            ((_, body),) = storage.read_objects([key])
            whole = orjson.loads(body)
            assert orjson.loads(orjson.dumps(restored)) == whole, key
            checkpoint = restored.get("checkpoint")
            if isinstance(checkpoint, dict) and "messages" in checkpoint:
                assert isinstance(checkpoint["messages"], orjson.Fragment), key
                conversations_seen.add(orjson.dumps(checkpoint["messages"]))
            held = [len(memo) for memo in restorer._conversations.values()]
            assert max(held) <= conversations._RECENT_CONVERSATIONS
        assert len(conversations_seen) > 2 * conversations._RECENT_CONVERSATIONS
    finally:
        database.close()
