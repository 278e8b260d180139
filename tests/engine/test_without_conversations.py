"""A history without conversations (``connect(cache=False, conversations=False)``): what
`perstack log`'s terminal view opens without a cache, since it shows no event's conversation.

Its tables hold what a full history holds, but no message; each record holds a marker in
place of each conversation, checked here against the files themselves; and a record asked for
whole anyway is read from the store again, never put back wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from support.cli import run_cli

from perstack_logq.api import History, connect
from perstack_logq.decode import schema
from perstack_logq.decode.conversation import EMBEDDED_CHECKPOINTS, MARKER
from perstack_logq.decode.secrets import mask_secret_values
from perstack_logq.engine.conversations import ConversationRestorer
from perstack_logq.errors import UsageError
from perstack_logq.synth import DirectoryWriter, generate_store

# Two long sessions (tens of steps each, every checkpoint holding the conversation so far) and
# the default profile's scenarios beside them (delegations, resumed runs, errors).
LONG = {"jobs": 2, "seed": 4, "scale": 0.02, "profile": "long"}
DEFAULT = {"jobs": 10, "seed": 7, "scale": 0.02}
RECORDS = {"events": True, "checkpoints": False}  # table -> whether its records are events


@pytest.fixture(scope="module", params=["long", "default"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(f"store-{request.param}")
    generate_store(DirectoryWriter(root), **(LONG if request.param == "long" else DEFAULT))
    return root


def _synced(root: Path, *, conversations: bool) -> History:
    history = connect(root, cache=False, conversations=conversations)
    history.sync()
    return history


def _as_read(root: Path, key: str) -> dict[str, Any]:
    """A store file parsed as every table sees it: well-known secrets masked."""
    masked, _ = mask_secret_values((root / key).read_bytes())
    return orjson.loads(masked)


def _conversations_left_out(record: dict[str, Any], *, is_event: bool) -> dict[str, Any]:
    holders = [record, *(record.get(key) for key in EMBEDDED_CHECKPOINTS)] if is_event else [record]
    for holder in holders:
        if isinstance(holder, dict) and isinstance(holder.get("messages"), list):
            holder["messages"] = {MARKER: "messages"}
    return record


def test_every_table_but_messages_holds_what_a_full_history_holds(store: Path) -> None:
    with _synced(store, conversations=True) as full, _synced(store, conversations=False) as lean:
        assert full.sql("SELECT count(*) FROM messages").fetchone()[0] > 0
        assert lean.sql("SELECT count(*) FROM messages").fetchone()[0] == 0
        for table in schema.DATA_TABLES:
            if table.name == "messages":
                continue
            columns = ", ".join(c.name for c in table.columns if c.name != "record")
            query = f"SELECT {columns} FROM {table.name} ORDER BY ALL"
            assert lean.sql(query).fetchall() == full.sql(query).fetchall(), table.name


def test_each_record_holds_a_marker_in_place_of_each_conversation(store: Path) -> None:
    with _synced(store, conversations=False) as lean:
        for table, is_event in RECORDS.items():
            rows = lean.sql(f"SELECT record, source_key FROM {table}").fetchall()
            assert rows
            for record, key in rows:
                expected = _conversations_left_out(_as_read(store, key), is_event=is_event)
                assert orjson.loads(record) == expected, key


def test_a_record_asked_for_whole_is_read_again_from_the_store(store: Path) -> None:
    with _synced(store, conversations=False) as lean:
        record, key, job_id = lean.sql(
            "SELECT record, source_key, job_id FROM checkpoints ORDER BY step_number DESC LIMIT 1"
        ).fetchone()
        restorer = ConversationRestorer(lean.database, job_id)
        assert restorer.restore(record, key, is_event=False) == _as_read(store, key)
        assert restorer.files_read_again == 1


def test_a_cache_keeps_every_conversation(tmp_path: Path, store: Path) -> None:
    with pytest.raises(UsageError, match="conversations=False needs cache=False"):
        connect(store, cache_dir=tmp_path, conversations=False)


@pytest.mark.parametrize(
    "view",
    [
        [],
        ["--verbose"],
        ["--summary"],
        ["--job", "FIRST"],
        ["--job", "FIRST", "--run", "FIRST_RUN"],
        ["--job", "FIRST", "--checkpoint", "LAST_CHECKPOINT", "--messages"],
        ["--job", "FIRST", "--tools", "--take", "5"],
        ["--job", "FIRST", "--filter", '.checkpoint.messages[].type == "toolMessage"'],
    ],
    ids=["latest", "verbose", "summary", "job", "run", "checkpoint", "tools", "filter"],
)
def test_the_terminal_view_without_a_cache_prints_what_the_cache_prints(
    tmp_path: Path, store: Path, view: list[str]
) -> None:
    with connect(store, cache=False) as history:
        job_id, run_id, checkpoint_id = history.sql(
            "SELECT job_id, run_id, checkpoint_id FROM checkpoints "
            "ORDER BY job_id, step_number DESC LIMIT 1"
        ).fetchone()
    names = {"FIRST": job_id, "FIRST_RUN": run_id, "LAST_CHECKPOINT": checkpoint_id}
    args = ["log", *(names.get(arg, arg) for arg in view), "--storage", str(store)]
    without_cache = run_cli(*args, "--no-cache", check=True)
    cached = run_cli(*args, "--cache-dir", str(tmp_path / "cache"), check=True)
    assert without_cache.stdout == cached.stdout
    assert without_cache.stderr == cached.stderr
    assert without_cache.stdout.count("\n") > 5
