"""``perstack log mcp``: the history as Model Context Protocol tools for AI agents.

tools.py     the tools (store_info, list_jobs, show_job, list_queries, run_query, query):
             JSON schemas and functions over the same views the CLI calls
bounds.py    answers fit for a model's context: rows, cells and size bounded, cuts noted
resources.py the schema (tables, views, columns) as a resource
server.py    the MCP server over stdio or streamable HTTP (the only importer of ``mcp``)
"""
