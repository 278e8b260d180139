"""The exported dataset read back by the engines people point at it: DuckDB, Polars, PyArrow
datasets and Dask on a LocalCluster of worker processes, with Hive partitions, as documented in
docs/scale.md. Each checks row counts and a few values against the query tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import duckdb
import polars as pl
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from dask.distributed import Client, LocalCluster

from perstack_logq.api import connect
from perstack_logq.synth import DirectoryWriter, generate_store
from perstack_logq.views.export import DEFAULT_TABLES, ExportFormat, ExportOptions, export_dataset


class Expected:
    """What the query tables say, for the engines to match."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.counts: dict[str, int] = facts["counts"]
        self.events_by_type: dict[str, int] = facts["events_by_type"]
        self.events_by_date: dict[dt.date, int] = facts["events_by_date"]
        self.total_tokens: int = facts["total_tokens"]
        self.tool_names: dict[str, int] = facts["tool_names"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Expected]]:
    base = tmp_path_factory.mktemp("engines")
    generate_store(DirectoryWriter(base / "store"), jobs=14, seed=41)
    out = base / "dataset"
    with connect(str(base / "store"), cache=False) as history:
        export_dataset(history, ExportOptions(output=str(out)))
        for fmt in (ExportFormat.csv, ExportFormat.jsonl):
            export_dataset(
                history, ExportOptions(output=str(base / fmt.value), format=fmt, tables=("events",))
            )

        def pairs(sql: str) -> dict[Any, int]:
            return dict(history.sql(sql).fetchall())

        facts = {
            "counts": {
                t: history.sql(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DEFAULT_TABLES
            },
            "events_by_type": pairs("SELECT type, count(*) FROM events GROUP BY ALL"),
            "events_by_date": pairs(
                "SELECT CAST(event_time AS DATE), count(*) FROM events GROUP BY ALL"
            ),
            "total_tokens": history.sql("SELECT sum(total_tokens) FROM jobs").fetchone()[0],
            "tool_names": pairs("SELECT tool_name, count(*) FROM tool_calls GROUP BY ALL"),
        }
    yield base, Expected(facts)


def test_duckdb_reads_every_table(exported: tuple[Path, Expected]) -> None:
    base, expected = exported
    con = duckdb.connect()
    for table, count in expected.counts.items():
        source = f"read_parquet('{base}/dataset/{table}/**/*.parquet', hive_partitioning = true)"
        assert con.sql(f"SELECT count(*) FROM {source}").fetchone() == (count,), table
    events = f"read_parquet('{base}/dataset/events/**/*.parquet', hive_partitioning = true)"
    by_date = dict(con.sql(f"SELECT event_date, count(*) FROM {events} GROUP BY ALL").fetchall())
    assert by_date == expected.events_by_date  # event_date comes back as a DATE
    jobs = f"read_parquet('{base}/dataset/jobs/**/*.parquet', hive_partitioning = true)"
    assert con.sql(f"SELECT sum(total_tokens) FROM {jobs}").fetchone() == (expected.total_tokens,)
    # JSON columns are text holding JSON.
    kinds = con.sql(f"SELECT DISTINCT record ->> 'type' = type FROM {events}").fetchall()
    assert kinds == [(True,)]
    # The text formats hold the same rows.
    for name, reader in (("csv", "read_csv"), ("jsonl", "read_json")):
        source = f"{reader}('{base}/{name}/events/**/*.{name}', hive_partitioning = true)"
        by_type = dict(con.sql(f"SELECT type, count(*) FROM {source} GROUP BY ALL").fetchall())
        assert by_type == expected.events_by_type, name


def test_polars_scans_with_hive_partitioning(exported: tuple[Path, Expected]) -> None:
    base, expected = exported
    events = pl.scan_parquet(f"{base}/dataset/events/**/*.parquet", hive_partitioning=True)
    schema = events.collect_schema()
    assert schema["event_date"] == pl.Date
    assert schema["record"] == pl.String
    by_type = events.group_by("type").agg(pl.len()).collect()
    assert dict(by_type.iter_rows()) == expected.events_by_type
    one_day = min(expected.events_by_date)
    pruned = events.filter(pl.col("event_date") == one_day).select(pl.len()).collect().item()
    assert pruned == expected.events_by_date[one_day]
    calls = pl.scan_parquet(f"{base}/dataset/tool_calls/**/*.parquet", hive_partitioning=True)
    names = calls.group_by("tool_name").agg(pl.len()).collect()
    assert dict(names.iter_rows()) == expected.tool_names
    jsonl = pl.scan_ndjson(f"{base}/jsonl/events/**/*.jsonl").select(pl.len()).collect().item()
    assert jsonl == expected.counts["events"]


def test_pyarrow_dataset_with_hive_partitioning(exported: tuple[Path, Expected]) -> None:
    base, expected = exported
    for table, count in expected.counts.items():
        dataset = ds.dataset(base / "dataset" / table, format="parquet", partitioning="hive")
        assert dataset.count_rows() == count, table
    events = ds.dataset(base / "dataset" / "events", format="parquet", partitioning="hive")
    one_day = min(expected.events_by_date)
    rows = events.count_rows(filter=pc.field("event_date") == one_day.isoformat())
    assert rows == expected.events_by_date[one_day]
    jobs = ds.dataset(base / "dataset" / "jobs", format="parquet", partitioning="hive")
    assert pc.sum(jobs.to_table(columns=["total_tokens"])["total_tokens"]).as_py() == (
        expected.total_tokens
    )


def test_dask_on_a_local_cluster_of_two_worker_processes(exported: tuple[Path, Expected]) -> None:
    base, expected = exported
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        events = dd.read_parquet(str(base / "dataset" / "events"))
        assert "event_date" in events.columns  # the Hive partition column
        assert len(events) == expected.counts["events"]
        by_type = events.groupby("type").size().compute()
        assert by_type.to_dict() == expected.events_by_type
        jobs = dd.read_parquet(str(base / "dataset" / "jobs"))
        assert int(jobs["total_tokens"].sum().compute()) == expected.total_tokens
        calls = dd.read_parquet(str(base / "dataset" / "tool_calls"))
        assert calls.groupby("tool_name").size().compute().to_dict() == expected.tool_names
