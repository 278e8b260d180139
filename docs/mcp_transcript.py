"""Regenerate the README's MCP demo transcript: an agent-style session with `perstack log mcp`.

    python docs/mcp_transcript.py > /tmp/transcript.md

Generates the sample store of `perstack log demo` (seeded, so the same every time) in a
temporary directory, starts the real server over stdio with the real ``mcp`` client, and
prints each call and its answer as Markdown: list the jobs, list the failing ones, show the
failing one's errors, ask which tool failed most.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from perstack_logq.demo import ensure_sample_store

# Short values keep the transcript readable; the server's defaults allow far more.
SERVER_OPTIONS = ["--no-cache", "--max-cell-chars", "100", "--max-rows", "5"]
WHICH_TOOL_FAILED_MOST = """\
SELECT skill_name, tool_name, count(*) AS failures
FROM tool_results
WHERE is_error
GROUP BY ALL
ORDER BY failures DESC, tool_name
LIMIT 3"""


@asynccontextmanager
async def session(store: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "perstack_logq", "log", "mcp", "--storage", str(store), *SERVER_OPTIONS],
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        yield client


def block(kind: str, text: str) -> str:
    return f"```{kind}\n{text}\n```\n"


def compact(answer: dict[str, Any]) -> str:
    """One line per key, and one per row or event: short enough to read, still real JSON."""
    lines = []
    for key, value in answer.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join(f"    {json.dumps(item, ensure_ascii=False)}" for item in value)
            lines.append(f'  "{key}": [\n{items}\n  ]')
        else:
            lines.append(f'  "{key}": {json.dumps(value, ensure_ascii=False)}')
    return "{\n" + ",\n".join(lines) + "\n}"


async def transcript(store: Path) -> str:
    out: list[str] = []

    async def call(why: str, name: str, arguments: dict[str, Any]) -> Any:
        result = await client.call_tool(name, arguments)
        text = "".join(getattr(part, "text", "") for part in result.content)
        out.append(f"**{why}**\n\n")
        out.append(block("text", f"→ {name} {json.dumps(arguments)}"))
        shown = text if result.is_error else compact(json.loads(text))
        out.append(block("json", shown) + "\n")
        return result.structured_content

    async with session(store) as client:
        await call("What is in this store?", "list_jobs", {"limit": 3})
        failed = await call(
            "Which jobs failed?", "list_jobs", {"status": "stoppedByError", "limit": 1}
        )
        job_id = failed["rows"][0]["job_id"]
        await call("What went wrong in that job?", "show_job", {"job": job_id, "errors": True})
        await call(
            "Which tool failed most, across all jobs?",
            "query",
            {"sql": WHICH_TOOL_FAILED_MOST},
        )
    return "".join(out)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = Path(directory) / "perstack-demo"
        ensure_sample_store(store, jobs=24, seed=7)
        print(anyio.run(transcript, store), end="")


if __name__ == "__main__":
    main()
