"""`perstack log --json` of one job (views/log.py): the output, compact or pretty, puts each
conversation back as rendered JSON text, once per message of the job
(engine/conversations.py). Whatever the messages hold, that must print the same bytes as
rendering them as values, which the reference implementation does from the files themselves
(views/test_render.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest
from views.test_render import reference_output, render

from perstack_logq.cli import main
from perstack_logq.decode.conversation import EMBEDDED_CHECKPOINTS
from perstack_logq.storage.filesystem import FileSystemStorage
from perstack_logq.synth import DirectoryWriter, generate_store

# What JavaScript prints otherwise than Python or orjson (numbers, key order), and text a
# terminal would obey.
HOSTILE: dict[str, Any] = {
    "2": "two",
    "1": "one",
    "numbers": [1.0, -0.0, 1e21, 5e-07, 0.1, 2**60, -(2**53) - 1, 123456789.125],
    "text": "bell\x07 nel\x85 del\x7f esc\x1b[31m csi\x9b nbsp\xa0 \u00a9 \u2028",
    "nested": {"10": {"0": True, "x": None}},
}


def _with_hostile_messages(root: Path, job_id: str) -> None:
    """Every message of the job gains the same ``extra`` value in every file that holds it, so
    a message id still has one content, and its rows can still put each record back."""
    for path in (root / "jobs" / job_id).rglob("*.json"):
        record = orjson.loads(path.read_bytes())
        holders = [record, *(record.get(key) for key in EMBEDDED_CHECKPOINTS)]
        messages = [
            message
            for holder in holders
            if isinstance(holder, dict) and isinstance(holder.get("messages"), list)
            for message in holder["messages"]
        ]
        for message in messages:
            message["extra"] = HOSTILE
        if messages:
            path.write_bytes(orjson.dumps(record))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A store where the original's semantics and ours coincide (every job.json and run
    setting present), whose jobs with resumed runs hold hostile messages."""
    root = tmp_path_factory.mktemp("hostile") / "store"
    report = generate_store(
        DirectoryWriter(root), jobs=24, seed=41, with_job_files=1.0, with_run_settings=1.0
    )
    resumed = [
        facts.job_id
        for facts in report.job_facts.values()
        if facts.scenario in ("continued", "delegation", "parallel_delegation")
    ]
    for job_id in resumed:
        _with_hostile_messages(root, job_id)
    return root, resumed


@pytest.mark.parametrize("layout", [[], ["--pretty"]], ids=["compact", "pretty"])
@pytest.mark.parametrize("cache", ["fresh cache", "--no-cache"])
def test_json_prints_the_conversations_as_their_values_render(
    store: tuple[Path, list[str]],
    cache: str,
    layout: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, resumed = store
    assert len(resumed) >= 2
    where = ["--no-cache"] if cache == "--no-cache" else ["--cache-dir", str(tmp_path / "c")]
    for job_id in resumed:
        argv = ["--job", job_id, "--json", *layout, "--take", "0"]
        reference = reference_output(argv, root)
        assert reference is not None
        reference = dataclasses.replace(
            reference, storage=FileSystemStorage(root).get_storage_info()
        )
        assert main(["log", *argv, "--storage", str(root), *where]) == 0
        printed = capsys.readouterr().out
        assert "extra" in printed and "\\u0085" in printed and "1e+21" in printed
        assert printed == render(argv, reference) + "\n", job_id
