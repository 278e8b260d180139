"""The real ``mcp`` client, driven synchronously from tests: a server process over stdio or
streamable HTTP, one session, calls answered as plain data."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


@dataclass(frozen=True)
class Answer:
    """One tool call's result: its text, its structured content, whether it is an error."""

    text: str
    data: Any
    is_error: bool


class McpSession:
    def __init__(self, portal: BlockingPortal, session: ClientSession) -> None:
        self._portal = portal
        self._session = session
        self.texts: list[str] = []  # every answer's text, for the secret checks

    def list_tools(self) -> list[Any]:
        return self._portal.call(self._session.list_tools).tools

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> Answer:
        result = self._portal.call(self._session.call_tool, name, arguments or {})
        text = "".join(getattr(block, "text", "") for block in result.content)
        self.texts.append(text)
        return Answer(text, result.structured_content, result.is_error)

    def read_resource(self, uri: str) -> str:
        result = self._portal.call(self._session.read_resource, uri)
        text = "".join(getattr(block, "text", "") for block in result.contents)
        self.texts.append(text)
        return text


@asynccontextmanager
async def _stdio_session(args: list[str], env: dict[str, str]) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "perstack_logq", "log", "mcp", *args],
        env={**os.environ, **env},
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def _http_session(url: str) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextmanager
def _session(factory: Any) -> Iterator[McpSession]:
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(factory) as session:
        yield McpSession(portal, session)


def stdio_session(args: list[str], env: dict[str, str] | None = None) -> Any:
    """``perstack log mcp ARGS`` as a child process, and a session with it."""
    return _session(_stdio_session(args, env or {}))


def http_session(url: str) -> Any:
    return _session(_http_session(url))
