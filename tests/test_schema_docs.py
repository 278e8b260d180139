"""docs/schema.md lists every table and view column of the live database, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import FIXTURE_STORE

from perstack_logq.api import TABLES, connect

DOC = Path(__file__).resolve().parents[1] / "docs" / "schema.md"

_SECTION = re.compile(r"^###\s+`(\w+)`\s*$")
_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|")


def documented_columns() -> dict[str, list[str]]:
    """``### `table``` sections and the ``| `column` |`` rows of their tables."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            match = _SECTION.match(line)
            current = sections.setdefault(match[1], []) if match else None
        elif current is not None and (row := _ROW.match(line)):
            current.append(row[1])
    return sections


def live_columns() -> dict[str, list[str]]:
    """Every public table and view of a freshly built database (names without a leading _)."""
    # Tables and views exist as soon as the database is open: no need to read the store.
    with connect(str(FIXTURE_STORE), cache=False, sync=False) as history:
        rows = history.database.sql(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND NOT internal AND NOT starts_with(table_name, '_') "
            "ORDER BY table_name, column_index"
        ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


@pytest.fixture(scope="module")
def live() -> dict[str, list[str]]:
    return live_columns()


def test_every_public_table_is_documented_and_nothing_more(live: dict[str, list[str]]) -> None:
    documented = documented_columns()
    assert sorted(live) == sorted(TABLES)
    assert sorted(documented) == sorted(live)


@pytest.mark.parametrize("table", TABLES)
def test_table_columns_match_the_doc(live: dict[str, list[str]], table: str) -> None:
    documented = documented_columns()[table]
    assert len(documented) == len(set(documented)), f"{table}: a column is listed twice"
    missing = [c for c in live[table] if c not in documented]
    extra = [c for c in documented if c not in live[table]]
    assert not missing, f"docs/schema.md lacks {table}.{missing}"
    assert not extra, f"docs/schema.md lists {table}.{extra}, which does not exist"
    # Listed in the database's order, so the page reads like `DESCRIBE table`.
    assert documented == live[table]
