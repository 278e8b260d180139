"""An exported dataset read back as the cache's tables (``query --dataset``, ``connect_dataset``):
every table and every canned query answer as the cache does, only committed files are read,
a filter on one day reads that day's files, and the sandbox holds."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import pytest
from support.cli import run_cli
from support.fault_proxy import running_fault_proxy
from support.moto_server import create_bucket

from perstack_logq.api import connect, connect_dataset
from perstack_logq.errors import QueryError, UsageError
from perstack_logq.synth import DirectoryWriter, generate_store
from perstack_logq.views.export import EXPORT_TABLES, ExportOptions, export_dataset
from perstack_logq.views.query import bind_canned, canned_queries, run_user_sql

PARTITION_COLUMNS = ("event_date", "run_date", "job_date")


def sorted_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


def table_rows(source: Any, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table, partition columns left out (the cache has none)."""
    columns = [row[0] for row in source.sql(f"DESCRIBE {table}").fetchall()]
    kept = ", ".join(f'"{c}"' for c in columns if c not in PARTITION_COLUMNS)
    return sorted_rows(source.sql(f"SELECT {kept} FROM {table}").fetchall())


@pytest.fixture(scope="module")
def store_and_dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    base = tmp_path_factory.mktemp("dataset")
    generate_store(DirectoryWriter(base / "store"), jobs=24, seed=7)
    with connect(str(base / "store"), cache=False) as history:
        export_dataset(
            history, ExportOptions(output=str(base / "dataset"), tables=tuple(EXPORT_TABLES))
        )
    yield base / "store", base / "dataset"


def test_every_table_equals_the_cache(store_and_dataset: tuple[Path, Path]) -> None:
    store, location = store_and_dataset
    with connect(str(store), cache=False) as history, connect_dataset(location) as dataset:
        assert set(dataset.tables) == set(EXPORT_TABLES)
        for table in EXPORT_TABLES:
            expected = table_rows(history, table)
            assert table_rows(dataset, table) == expected, table
            assert expected, f"{table} is empty: the comparison would prove nothing"


def test_every_canned_query_runs_unchanged(store_and_dataset: tuple[Path, Path]) -> None:
    store, location = store_and_dataset
    assert_canned_queries_answer_as_the_cache(store, location)


def test_a_dataset_exported_before_the_events_error_columns_still_answers(
    store_and_dataset: tuple[Path, Path], tmp_path: Path
) -> None:
    """Schema version 6 gave `events` checkpoint_id and error columns, which canned queries
    use: a dataset exported before has them derived from `record` (sql/dataset/)."""
    store, location = store_and_dataset
    old = tmp_path / "old"
    shutil.copytree(location, old)
    added = ["checkpoint_id", "error_name", "error_message", "error_is_retryable"]
    for manifest_path in (old / "_manifest").glob("*.json"):
        manifest = json.loads(manifest_path.read_text())
        events = manifest["tables"]["events"]
        events["columns"] = [c for c in events["columns"] if c["name"] not in added]
        for entry in manifest["files"]:
            if entry["table"] == "events":
                path = old / entry["path"]
                duckdb.sql(
                    f"COPY (SELECT * EXCLUDE ({', '.join(added)}) FROM read_parquet('{path}')) "
                    f"TO '{path}.old' (FORMAT parquet)"
                )
                Path(f"{path}.old").replace(path)
                entry["bytes"] = path.stat().st_size
        manifest_path.write_text(json.dumps(manifest))
    with connect_dataset(old) as dataset:
        columns = [row[0] for row in dataset.sql("DESCRIBE events").fetchall()]
        assert "record" in columns and "error_name" in columns
        assert dataset.sql("SELECT count(error_name) FROM events").fetchone()[0] > 0
    assert_canned_queries_answer_as_the_cache(store, old)
    # Without a single event file, its events view has the columns too (and no rows).
    for manifest_path in (old / "_manifest").glob("*.json"):
        manifest = json.loads(manifest_path.read_text())
        manifest["files"] = [f for f in manifest["files"] if f["table"] != "events"]
        manifest_path.write_text(json.dumps(manifest))
    with connect_dataset(old) as dataset:
        assert dataset.sql(
            "SELECT count(*), count(checkpoint_id), count(error_is_retryable) FROM events"
        ).fetchone() == (0, 0, 0)
        sql, params = bind_canned("errors_over_time", {})
        rows = run_user_sql(dataset.database, sql.text, params).fetchall()
        # Its tool results are still there; no run started or stopped without events.
        assert rows and all(row[1] == row[2] == 0 for row in rows)


def assert_canned_queries_answer_as_the_cache(store: Path, location: Path) -> None:
    with connect(str(store), cache=False) as history, connect_dataset(location) as dataset:
        history.sync()
        # Required parameters: the job with the most runs (delegations) is the richest answer.
        busiest = history.sql("SELECT job_id FROM runs GROUP BY ALL ORDER BY count(*) DESC, 1")
        values = {"job_id": busiest.fetchone()[0]}
        for query in canned_queries():
            required = {p.name: values[p.name] for p in query.params if p.default is None}
            sql, params = bind_canned(query.name, required)
            expected = sorted_rows(run_user_sql(history.database, sql.text, params).fetchall())
            got = sorted_rows(run_user_sql(dataset.database, sql.text, params).fetchall())
            assert got == expected, query.name


def test_the_cli_queries_a_dataset(store_and_dataset: tuple[Path, Path]) -> None:
    store, location = store_and_dataset
    sql = "SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type"
    from_store = run_cli(*["log", "query", "--storage", str(store), "--no-cache", "-f", "csv", sql])
    from_dataset = run_cli(*["log", "query", "--dataset", str(location), "-f", "csv", sql])
    assert from_store.returncode == 0, from_store.stderr
    assert from_dataset.returncode == 0, from_dataset.stderr
    assert from_dataset.stdout == from_store.stdout
    named = run_cli(*["log", "query", "--dataset", str(location), "--name", "tool_error_rates"])
    assert named.returncode == 0, named.stderr


def test_only_committed_files_are_read(
    store_and_dataset: tuple[Path, Path], tmp_path: Path
) -> None:
    """A file no manifest lists (a killed run's leftover) is not part of any table."""
    _, location = store_and_dataset
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(location), str(copy)], check=True)
    events = next((copy / "events").rglob("*.parquet"))
    with connect_dataset(copy) as dataset:
        before = dataset.sql("SELECT count(*) FROM events").fetchone()
    (events.parent / "part-stray-s0of1.parquet").write_bytes(events.read_bytes())
    with connect_dataset(copy) as dataset:
        assert dataset.sql("SELECT count(*) FROM events").fetchone() == before


def test_user_sql_stays_in_the_sandbox(store_and_dataset: tuple[Path, Path]) -> None:
    _, location = store_and_dataset
    with connect_dataset(location) as dataset:
        for sql in (
            "SELECT * FROM read_csv('/etc/passwd')",
            "COPY events TO '/tmp/leak.csv'",
            "SET enable_external_access = true",
            "DROP VIEW events",
        ):
            with pytest.raises(QueryError):
                dataset.sql(sql).fetchall()
        assert dataset.sql("SELECT count(*) FROM events").fetchone()[0] > 0


def test_a_location_without_an_export_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no perstack-logq export"):
        connect_dataset(tmp_path / "empty")
    result = run_cli(*["log", "query", "--dataset", str(tmp_path / "empty"), "SELECT 1"])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr


def test_one_day_reads_only_that_days_files_on_s3(
    store_and_dataset: tuple[Path, Path], moto_endpoint: str, aws_test_credentials: None
) -> None:
    """Counted at the wire: a proxy in front of the S3 server logs every request."""
    store, _ = store_and_dataset
    bucket = "dataset-pruning"
    create_bucket(moto_endpoint, bucket)
    with running_fault_proxy(moto_endpoint) as proxy:
        with connect(str(store), cache=False) as history:
            export_dataset(
                history,
                ExportOptions(output=f"s3://{bucket}/lake", output_endpoint=proxy.url),
            )
            expected_all = history.sql("SELECT count(*) FROM events").fetchone()[0]
            day, expected_day = history.sql(
                "SELECT CAST(event_time AS DATE) AS d, count(*) FROM events "
                "GROUP BY d ORDER BY d LIMIT 1"
            ).fetchone()
        with connect_dataset(f"s3://{bucket}/lake", endpoint=proxy.url) as dataset:
            proxy.clear_log()
            count = dataset.sql(
                "SELECT count(*) FROM events WHERE event_date = $day", {"day": day}
            ).fetchone()[0]
            paths = {unquote(r.path.split("?")[0]) for r in proxy.requests("/events/")}
            days = dataset.sql("SELECT count(DISTINCT event_date) FROM events").fetchone()[0]
            assert days > 1, "one day only: pruning would prove nothing"
            assert count == expected_day
            assert paths, "no request reached the events files"
            assert all(f"event_date={day.isoformat()}" in p for p in paths), paths
            assert dataset.sql("SELECT count(*) FROM events").fetchone()[0] == expected_all
