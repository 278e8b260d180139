"""``perstack log mcp``: the tools of tools.py and the schema resource, served over MCP.

Stdio by default (an agent runtime starts the command as a child process); streamable HTTP
with ``--http HOST:PORT``, on a loopback address unless the user says otherwise. The ``mcp``
SDK is imported here only, so the rest of perstack_logq runs without it.

One History serves every call; DuckDB's connection takes one query at a time, so calls run
one after another in a worker thread (the event loop keeps answering pings meanwhile).
"""

from __future__ import annotations

import logging
import sys
import threading
from contextlib import AsyncExitStack
from typing import Any

import anyio
import jsonschema
import mcp_types as types
import orjson
from mcp.server import Server
from mcp.server.stdio import stdio_server

from perstack_logq import __version__
from perstack_logq.errors import LogqError, UsageError
from perstack_logq.mcp.resources import SCHEMA_URI, schema_markdown
from perstack_logq.mcp.tools import TOOLS, ToolContext
from perstack_logq.views.terminal import unescaped

INSTRUCTIONS = (
    "Read-only access to Perstack execution history (jobs, runs, checkpoints, events). "
    "Start with store_info or list_jobs; show_job shows one job's events (errors=true for "
    "failures); list_queries/run_query answer common questions; query runs your own SQL over "
    f"the tables described by the resource {SCHEMA_URI}. Every answer is bounded: read its "
    "'cut' notes and page with offset."
)
_log = logging.getLogger("perstack_logq")


def build_server(context: ToolContext) -> Server[Any]:
    lock = threading.Lock()
    tools = [
        types.Tool(
            name=t.name,
            description=t.description,
            input_schema=t.input_schema,
            annotations=types.ToolAnnotations(
                read_only_hint=True, destructive_hint=False, idempotent_hint=True
            ),
        )
        for t in TOOLS.values()
    ]

    def call_locked(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        with lock:
            return TOOLS[name].call(context, arguments)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            arguments = _checked_arguments(params.name, params.arguments or {})
            answer = await anyio.to_thread.run_sync(call_locked, params.name, arguments)
        except LogqError as error:
            return _tool_error(str(error))
        except Exception as error:  # a bug: still one line, and the server lives on
            _log.warning("tool %s failed: %r", params.name, error)
            return _tool_error(f"unexpected {type(error).__name__}: {error}")
        text = orjson.dumps(answer).decode()
        return types.CallToolResult(
            content=[types.TextContent(text=text)], structured_content=answer
        )

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=SCHEMA_URI,
                    name="schema",
                    description="Every table and view the query tool can read: columns, "
                    "types and meanings.",
                    mime_type="text/markdown",
                )
            ]
        )

    async def read_resource(
        ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        if str(params.uri) != SCHEMA_URI:
            raise ValueError(f"Unknown resource {params.uri} (there is {SCHEMA_URI})")

        def render() -> str:
            with lock:
                return schema_markdown(context.history.database)

        text = await anyio.to_thread.run_sync(render)
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(uri=SCHEMA_URI, mime_type="text/markdown", text=text)
            ]
        )

    return Server(
        "perstack-logq",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


def _checked_arguments(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments, checked against the tool's schema; a mismatch is one usage line."""
    if name not in TOOLS:
        raise UsageError(f"Unknown tool {name!r} (tools: {', '.join(TOOLS)})")
    validator = jsonschema.Draft202012Validator(TOOLS[name].input_schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path)
        raise UsageError(
            f"Invalid arguments for {name}: " + (f"{where}: " if where else "") + error.message
        )
    return arguments


def _tool_error(message: str) -> types.CallToolResult:
    """The CLI's one-line ``Error: ...``, as an MCP tool error."""
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return types.CallToolResult(
        content=[types.TextContent(text=f"Error: {first_line}")], is_error=True
    )


def serve_stdio(context: ToolContext) -> None:
    server = build_server(context)

    async def run() -> None:
        async with AsyncExitStack() as stack:
            # The wire is JSON-RPC for the client, not text for a terminal: the transport claims
            # the real stdout (its fd and binary buffer), not the CLI's EscapingStream, which has
            # no buffer and would turn raw C1 characters of valid JSON into invalid \xHH escapes.
            # Only while claiming: stray prints afterwards still go through the escaping stream.
            escaping, sys.stdout = sys.stdout, unescaped(sys.stdout)
            try:
                read_stream, write_stream = await stack.enter_async_context(stdio_server())
            finally:
                sys.stdout = escaping
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)


def serve_http(context: ToolContext, host: str, port: int) -> None:
    import uvicorn

    server = build_server(context)
    app = server.streamable_http_app(host=host)
    print(f"perstack-logq MCP server on http://{host}:{port}/mcp", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
