"""A demo store (as `perstack log demo` makes it) with hostile agent text planted in it.

The job with delegations gets HTML and script in its final result, in a tool result and in a
tool's name: the report must show all of it as text and run none of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from perstack_logq.synth import DirectoryWriter, generate_store

# Closes the report's <script> and <pre>, opens a script, an image that would fetch, and markup.
HOSTILE = (
    "</pre></script><script>window.__pwned = 1</script>"
    '<img src="x" onerror="window.__pwned = 2"><b id="hostile-bold">bold</b>'
)
HOSTILE_TOOL = "<script>window.__pwned=3</script>grep"


@dataclass(frozen=True)
class HostileStore:
    root: Path
    delegation_job: str


def _rewrite(path: Path, change: Callable[[dict], None]) -> None:
    record = json.loads(path.read_text("utf-8"))
    change(record)
    path.write_text(json.dumps(record), "utf-8")


def plant_hostile_text(root: Path) -> str:
    """Plant HOSTILE in a job with delegations; returns that job's id."""
    job_dir = next(
        job
        for job in sorted((root / "jobs").iterdir())
        if any(job.glob("runs/*/event-*-callDelegate.json"))
        and len(list(job.glob("runs/*/event-*-completeRun.json"))) > 1
    )
    final = sorted(job_dir.glob("runs/*/event-*-completeRun.json"), key=lambda p: p.name)[-1]
    _rewrite(final, lambda record: record.update(text=f"Done. {HOSTILE} The end."))
    result = sorted(job_dir.glob("runs/*/event-*-resolveToolResults.json"))[0]

    def poison_result(record: dict) -> None:
        record["toolResults"][0]["result"][0]["text"] = f"error: {HOSTILE}"

    _rewrite(result, poison_result)
    call = sorted(job_dir.glob("runs/*/event-*-callTools.json"))[0]

    def poison_tool_name(record: dict) -> None:
        record["toolCalls"][0]["toolName"] = HOSTILE_TOOL

    _rewrite(call, poison_tool_name)
    return job_dir.name


@pytest.fixture(scope="session")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> HostileStore:
    root = tmp_path_factory.mktemp("report-store") / "perstack"
    generate_store(DirectoryWriter(root), jobs=24, seed=7)  # the demo store's arguments
    return HostileStore(root, plant_hostile_text(root))
