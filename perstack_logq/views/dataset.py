"""An exported dataset opened as the same tables the cache has, for sandboxed queries.

``perstack log export`` writes one folder of files per table and, per shard, a manifest that
commits them (views/export.py). Here each exported table becomes a DuckDB view over exactly
the files the manifests list: a file that a killed run left behind, or a staging file, is never
read. Views read the files with Hive partitioning, so a filter on a partition column
(``event_date``, ``run_date``, ``job_date``; kept as an extra column of its table) reads only
the matching files. JSON columns, exported as text, are JSON again.

The connection is then locked like every user query's (engine/sandbox.py): external access off
except for the dataset's own files (``allowed_paths``), configuration locked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from perstack_logq.engine.sandbox import lock_down
from perstack_logq.engine.sqlfiles import sql_file
from perstack_logq.errors import UsageError
from perstack_logq.views.export import CommittedDataset, ExportFormat, committed_dataset


@dataclass
class DatasetDatabase:
    """A dataset's tables in an in-memory DuckDB; ``connection`` is already sandboxed."""

    location: str
    connection: duckdb.DuckDBPyConnection
    tables: tuple[str, ...]

    def close(self) -> None:
        self.connection.close()


def open_dataset(
    location: str, *, endpoint: str | None = None, region: str | None = None
) -> DatasetDatabase:
    """Open the Parquet dataset ``perstack log export`` wrote at ``location``."""
    connection = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"},
    )
    try:
        with committed_dataset(location, endpoint=endpoint, region=region) as dataset:
            formats = {m["dataset"]["format"] for m in dataset.manifests.values()}
            if formats != {ExportFormat.parquet.value}:
                raise UsageError(
                    f"{dataset.location} was exported as {', '.join(sorted(formats))}: "
                    "--dataset reads Parquet datasets (export with --format parquet)"
                )
            if dataset.storage is not None:
                from perstack_logq.engine.httpfs import load_with_store_secret

                load_with_store_secret(connection, dataset.storage)
            tables = _create_views(connection, dataset)
            allowed = [url for table in tables for url in dataset.file_urls(table)]
            connection.execute("SET allowed_paths = $paths", {"paths": allowed})
            lock_down(connection)
            return DatasetDatabase(dataset.location, connection, tables)
    except BaseException:
        connection.close()
        raise


def _create_views(
    connection: duckdb.DuckDBPyConnection, dataset: CommittedDataset
) -> tuple[str, ...]:
    described: dict[str, dict[str, Any]] = {}
    for manifest in dataset.manifests.values():
        for table, facts in manifest["tables"].items():
            described.setdefault(table, facts)
    for table, facts in described.items():
        columns = [(c["name"], c["type"]) for c in facts["columns"]]
        partitions = facts["partition_columns"]
        files = dataset.file_urls(table)
        names = {name for name, _ in columns}
        derived = ""
        if table == "events" and "record" in names and "checkpoint_id" not in names:
            derived = ",\n" + sql_file("dataset", "events_before_v6").text + "\n"
        if files:
            # Exported JSON is text; the cache's JSON columns are JSON.
            select = ", ".join(
                f"CAST({_quote(name)} AS JSON) AS {_quote(name)}"
                if sql_type == "JSON"
                else _quote(name)
                for name, sql_type in columns
            )
            partition_list = "".join(f", {_quote(name)}" for name in partitions)
            # A view keeps its text: the file list is written into it (parameters can't be).
            source = f"read_parquet([{', '.join(map(_string, files))}], hive_partitioning = true)"
            connection.execute(
                f"CREATE VIEW {_quote(table)} AS SELECT {select}{derived}{partition_list} "
                f"FROM {source}"
            )
        else:
            typed = [
                *(f"CAST(NULL AS {sql_type}) AS {_quote(name)}" for name, sql_type in columns),
                *(f"CAST(NULL AS DATE) AS {_quote(name)}" for name in partitions),
            ]
            # The derived columns read the NULL `record` of this select list.
            connection.execute(
                f"CREATE VIEW {_quote(table)} AS SELECT {', '.join(typed)}{derived} WHERE false"
            )
    return tuple(described)


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
