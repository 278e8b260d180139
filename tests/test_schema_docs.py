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


# How docs/schema.md says why a column holds no value in the reference store (in the column's
# row, or in the table's description when the whole table is empty there).
WHY_EMPTY = re.compile(r"empty\s+in\s+the\s+reference\s+store", re.IGNORECASE)


def documented_text() -> dict[str, dict[str, str]]:
    """For each table: its description (key ``""``) and each column's row, as written."""
    texts: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            match = _SECTION.match(line)
            current = texts.setdefault(match[1], {"": ""}) if match else None
        elif current is not None:
            row = _ROW.match(line)
            if row:
                current[row[1]] = line
            else:
                current[""] += line + "\n"
    return texts


def test_every_column_has_a_value_in_the_reference_store_or_the_doc_says_why() -> None:
    texts = documented_text()
    with connect(str(FIXTURE_STORE), cache=False) as history:
        history.sync()
        for table in TABLES:
            columns = documented_columns()[table]
            counts = history.sql(
                "SELECT " + ", ".join(f'count("{c}")' for c in columns) + f" FROM {table}"
            ).fetchone()
            for column, count in zip(columns, counts, strict=True):
                explained = WHY_EMPTY.search(texts[table][column] + texts[table][""])
                if count == 0:
                    assert explained, (
                        f"{table}.{column} is null on every row of the reference store: fill "
                        'it, or say in docs/schema.md why ("empty in the reference store: ...")'
                    )
                elif WHY_EMPTY.search(texts[table][column]):
                    raise AssertionError(f"{table}.{column} has values: the doc says it has none")


def test_error_columns_come_from_the_stop_run_by_error_event() -> None:
    with connect(str(FIXTURE_STORE), cache=False) as history:
        history.sync()
        stopped = history.sql(
            "SELECT job_id, json_extract_string(record, '$.checkpoint.id'), "
            "json_extract_string(record, '$.error.name'), "
            "json_extract_string(record, '$.error.message'), "
            "CAST(json_extract(record, '$.error.isRetryable') AS BOOLEAN) "
            "FROM events WHERE type = 'stopRunByError' ORDER BY ALL"
        ).fetchall()
        assert stopped, "the reference store has runs stopped by an error"
        checkpoints = history.sql(
            "SELECT job_id, checkpoint_id, error_name, error_message, error_is_retryable "
            "FROM checkpoints WHERE error_name IS NOT NULL ORDER BY ALL"
        ).fetchall()
        assert checkpoints == stopped
        for view in ("runs", "jobs"):
            rows = history.sql(
                f"SELECT status = 'stoppedByError', error_name IS NOT NULL, "
                f"error_message IS NOT NULL, error_is_retryable IS NOT NULL FROM {view}"
            ).fetchall()
            # Filled exactly for what an error stopped.
            assert any(stopped for stopped, *_ in rows)
            assert all(
                stopped == name == message == retryable
                for stopped, name, message, retryable in rows
            )
