"""The schema as an MCP resource: every table and view an agent's SQL can read, with meanings.

Columns and types come from the live database (so views are included and nothing is stale);
the meaning of each table column from decode/schema.py, of each view from the header of its
``sql/views/`` file.
"""

from __future__ import annotations

from perstack_logq.decode.schema import TABLES_BY_NAME
from perstack_logq.engine.database import Database
from perstack_logq.engine.sqlfiles import sql_folder

SCHEMA_URI = "perstack-logq://schema"

_COLUMNS_SQL = (
    "SELECT table_name, column_name, data_type FROM duckdb_columns() "
    "WHERE schema_name = 'main' AND NOT internal AND NOT starts_with(table_name, '_') "
    "ORDER BY table_name, column_index"
)


def _view_docs() -> dict[str, str]:
    """``jobs: every job of the store ...`` headers of sql/views/*.sql, by view name."""
    docs = {}
    for view in sql_folder("views"):
        header = [
            line.removeprefix("--").strip()
            for line in view.text.splitlines()
            if line.startswith("--")
        ]
        name, _, first = " ".join(header).partition(":")
        docs[name.strip()] = first.strip()
    return docs


def schema_markdown(database: Database) -> str:
    """The tables and views of ``database`` as Markdown: name, meaning, columns and types."""
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in database.sql(_COLUMNS_SQL).fetchall():
        columns.setdefault(table, []).append((column, data_type))
    view_docs = _view_docs()
    lines = [
        "# perstack_logq tables and views",
        "",
        "Query them with the `query` tool (DuckDB SQL, read-only). Start with the views "
        "`jobs` and `runs`, and the table `messages` (each message of a conversation once); "
        "times are TIMESTAMP in UTC; JSON columns hold the original records (use `->>` to "
        "read a field, e.g. `record ->> '$.error.message'`), except that a checkpoint's "
        "`messages` are in the `messages` table.",
    ]
    ordered = sorted(columns, key=lambda name: (name not in view_docs, name))
    for name in ordered:
        table = TABLES_BY_NAME.get(name)
        kind = "view" if name in view_docs else "table"
        doc = table.doc if table else view_docs.get(name, "")
        meanings = {c.name: c.doc for c in table.columns} if table else {}
        lines += ["", f"## `{name}` ({kind})", "", doc, "", "| column | type | meaning |"]
        lines.append("| --- | --- | --- |")
        for column, data_type in columns[name]:
            meaning = meanings.get(column, "").replace("|", "\\|")
            lines.append(f"| `{column}` | {data_type} | {meaning} |")
    return "\n".join(lines) + "\n"
