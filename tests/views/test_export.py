"""``perstack log export``: the dataset it writes, on every source backend and to S3.

Each export is read back through its manifests with DuckDB and compared, row for row, with the
query tables of the History it came from: same columns, same values, nothing lost or doubled.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest
from support import FIXTURE_STORE
from support.moto_server import client, create_bucket

from perstack_logq.api import History, connect
from perstack_logq.cli import main
from perstack_logq.engine.database import Database
from perstack_logq.errors import StorageError, UsageError
from perstack_logq.storage.base import Storage
from perstack_logq.synth import (
    PLANTED_SECRET_MARKER,
    DirectoryWriter,
    GenerationReport,
    generate_store,
)
from perstack_logq.views.export import (
    DEFAULT_TABLES,
    EXPORT_TABLES,
    ExportFormat,
    ExportOptions,
    ExportProgress,
    PartitionMode,
    ProgressBar,
    Shard,
    export_dataset,
    manifest_files,
    read_manifests,
    shard_of,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURE_API_KEY = "sk-ant-FAKE-KEY-for-local-test"  # a fake key in the fixture's run settings
DAY_MS = 86_400_000


# -- helpers ------------------------------------------------------------------------------------


def table_rows(history: History, table: str) -> list[tuple[Any, ...]]:
    """The query table as the export should hold it (JSON columns are text)."""
    return history.sql(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def dataset_rows(root: Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    """The rows of the files the manifests list, read with DuckDB (Hive partitions on)."""
    files = [str(root / path) for path in manifest_files(read_manifests(str(root)), table)]
    if not files:
        return []
    listed = ", ".join(f'"{c}"' for c in columns)
    return (
        duckdb.connect()
        .sql(
            f"SELECT {listed} FROM read_parquet($files, hive_partitioning = true) ORDER BY ALL",
            params={"files": files},
        )
        .fetchall()
    )


def assert_dataset_equals_tables(
    root: Path, history: History, tables: tuple[str, ...] = DEFAULT_TABLES
) -> None:
    for table in tables:
        columns = history.sql(f"SELECT * FROM {table} LIMIT 0").columns
        expected = table_rows(history, table)
        assert dataset_rows(root, table, columns) == expected, table
        assert expected, f"{table} is empty: the comparison proves nothing"


def parquet_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}


def listed_files(root: Path) -> set[str]:
    manifests = read_manifests(str(root))
    return {f["path"] for m in manifests.values() for f in m["files"]}


def generate(
    root: Path, jobs: int, seed: int, start_ms: int = 1_790_000_000_000
) -> GenerationReport:
    return generate_store(
        DirectoryWriter(root, overwrite=True), jobs=jobs, seed=seed, start_ms=start_ms
    )


@pytest.fixture(scope="module")
def synth_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    root = tmp_path_factory.mktemp("synth") / "perstack"
    return root, generate(root, jobs=16, seed=3)


@pytest.fixture(scope="module")
def synth_history(synth_store: tuple[Path, GenerationReport]) -> Iterator[History]:
    with connect(str(synth_store[0]), cache=False) as history:
        history.sync()
        yield history


def history_over(storage: Storage) -> History:
    return History(storage, Database(storage))


# -- every source backend, one dataset ----------------------------------------------------------


@pytest.mark.parametrize("backend", ["filesystem", "s3", "r2"])
def test_export_from_each_backend_holds_the_query_tables(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "filesystem":
        history = connect(str(FIXTURE_STORE), cache=False)
    else:
        history = history_over(request.getfixturevalue(f"{backend}_storage"))
    with history:
        report = export_dataset(history, ExportOptions(output=str(tmp_path / "out")))
        assert_dataset_equals_tables(tmp_path / "out", history)
    assert report.jobs_written == report.jobs_listed == 11
    assert report.rows_written["events"] == 145
    assert report.rows_written["checkpoints"] == 30
    # Globbing readers see exactly the committed files, and nothing is left staged.
    assert parquet_files(tmp_path / "out") == listed_files(tmp_path / "out")
    assert not (tmp_path / "out" / "_tmp").exists()


def test_dataset_layout_and_manifest(synth_history: History, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_dataset(synth_history, ExportOptions(output=str(out), tables=tuple(EXPORT_TABLES)))
    manifest = orjson.loads((out / "_manifest" / "shard-0-of-1.json").read_bytes())
    assert manifest["manifest_version"] == 1
    assert manifest["dataset"] == {
        "format": "parquet",
        "partition_by": "auto",
        "tables": list(EXPORT_TABLES),
        "compression": "zstd",
    }
    assert manifest["shard"]["index"] == 0 and manifest["shard"]["count"] == 1
    for path in listed_files(out):
        table, partition, name = path.split("/")
        column, _, value = partition.partition("=")
        assert column == EXPORT_TABLES[table]
        if column == "job_date":  # the batch is the job's start date too
            assert name == f"part-{value.replace('-', '')}-s0of1.parquet"
        else:
            assert re.fullmatch(r"part-\d{8}-s0of1\.parquet", name), path
        assert pq.read_metadata(out / path).row_group(0).column(0).compression == "ZSTD"
    # event_date is the date of event_time; the partition column is not repeated in files.
    mismatched = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{out}/events/**/*.parquet', hive_partitioning = 1) "
        "WHERE event_date <> CAST(event_time AS DATE)"
    ).fetchone()
    assert mismatched == (0,)
    assert "event_date" not in pq.read_schema(next((out / "events").rglob("*.parquet"))).names
    jobs = manifest["jobs"]
    assert [j["job_id"] for j in jobs] == sorted(
        r[0] for r in synth_history.sql("SELECT job_id FROM jobs").fetchall()
    )
    assert all(j["fingerprint"] and j["batch"].isdigit() for j in jobs)
    counts = synth_history.sql("SELECT count(*) FROM events").fetchone()
    assert manifest["tables"]["events"]["rows"] == counts[0]
    assert [c["name"] for c in manifest["tables"]["events"]["columns"]] == synth_history.sql(
        "SELECT * FROM events LIMIT 0"
    ).columns


@pytest.mark.parametrize("mode", [PartitionMode.job_date, PartitionMode.none])
def test_partition_modes(synth_history: History, tmp_path: Path, mode: PartitionMode) -> None:
    out = tmp_path / "out"
    export_dataset(synth_history, ExportOptions(output=str(out), partition_by=mode))
    for path in listed_files(out):
        parts = path.split("/")
        if mode is PartitionMode.none:
            assert len(parts) == 2
        else:
            assert parts[1].startswith("job_date=")
    if mode is PartitionMode.none:
        # No partitions: one file per table, whatever the number of dates its jobs span.
        tables = [path.split("/")[0] for path in listed_files(out)]
        assert sorted(tables) == sorted(set(tables))
        assert (
            synth_history.sql("SELECT count(DISTINCT started_at::DATE) FROM jobs").fetchone()[0] > 1
        )
    assert_dataset_equals_tables(out, synth_history)


def test_since_until_select_jobs_by_start(synth_history: History, tmp_path: Path) -> None:
    starts = synth_history.sql("SELECT started_at FROM jobs ORDER BY started_at").fetchall()
    since, until = starts[3][0], starts[10][0]
    out = tmp_path / "out"
    report = export_dataset(synth_history, ExportOptions(output=str(out), since=since, until=until))
    assert report.jobs_written == 7
    exported = dataset_rows(out, "jobs", ["job_id", "started_at"])
    assert len(exported) == 7
    assert all(since <= started < until for _, started in exported)


# -- an S3 (moto) target --------------------------------------------------------------------------


def download(endpoint: str, bucket: str, prefix: str, into: Path) -> list[str]:
    s3 = client(endpoint)
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]
    for key in keys:
        local = into / key[len(prefix) :]
        local.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(local))
    return sorted(key[len(prefix) :] for key in keys)


def test_export_to_an_s3_target_on_another_endpoint(
    s3_storage: Storage, moto_endpoint: str, tmp_path: Path
) -> None:
    """From the fixture store on S3 to another bucket, reached through --output-endpoint."""
    create_bucket(moto_endpoint, "perstack-exports")
    options = ExportOptions(
        output="s3://perstack-exports/datasets/history", output_endpoint=moto_endpoint
    )
    with history_over(s3_storage) as history:
        first = export_dataset(history, options)
        keys = download(moto_endpoint, "perstack-exports", "datasets/history/", tmp_path / "a")
        second = export_dataset(history, options)
        again = download(moto_endpoint, "perstack-exports", "datasets/history/", tmp_path / "b")
        assert_dataset_equals_tables(tmp_path / "a", history)
        assert_dataset_equals_tables(tmp_path / "b", history)
    assert first.location == "s3://perstack-exports/datasets/history/"
    assert first.files_written == second.files_written == len(keys) - 1
    assert keys == again, "a re-run replaces objects under the same keys"
    assert "_manifest/shard-0-of-1.json" in keys
    assert read_manifests(options.output, moto_endpoint).keys() == {"_manifest/shard-0-of-1.json"}


def test_export_to_an_r2_target_and_a_missing_bucket(
    moto_endpoint: str,
    aws_test_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "testing")
    create_bucket(moto_endpoint, "perstack-r2-exports")
    with connect(str(FIXTURE_STORE), cache=False) as history:
        report = export_dataset(
            history,
            ExportOptions(
                output="r2://0123456789abcdef/perstack-r2-exports/history",
                output_endpoint=moto_endpoint,
                tables=("jobs", "events"),
            ),
        )
        assert report.rows_written == {"jobs": 11, "events": 145}
        download(moto_endpoint, "perstack-r2-exports", "history/", tmp_path)
        assert_dataset_equals_tables(tmp_path, history, ("jobs", "events"))
        # As clear as the same fault while reading a store: what, where, why, on one line.
        with pytest.raises(StorageError) as caught:
            export_dataset(
                history,
                ExportOptions(output="s3://no-such-bucket/x", output_endpoint=moto_endpoint),
            )
        assert str(caught.value) == (
            "Cannot reach s3://no-such-bucket/x/: the bucket does not exist (NoSuchBucket)"
        )
        with pytest.raises(StorageError) as caught:
            export_dataset(
                history,
                ExportOptions(output="s3://b/x", output_endpoint="http://127.0.0.1:9"),
            )
        assert str(caught.value) == (
            "Cannot reach s3://b/x/: cannot reach endpoint http://127.0.0.1:9: connection refused"
        )


# -- repeatable -----------------------------------------------------------------------------------


def test_rerun_is_idempotent(synth_history: History, tmp_path: Path) -> None:
    out = tmp_path / "out"
    options = ExportOptions(output=str(out))
    export_dataset(synth_history, options)
    before = parquet_files(out)
    manifest = orjson.loads((out / options.shard.manifest_path).read_bytes())
    report = export_dataset(synth_history, options)
    assert parquet_files(out) == before, "the same files, replaced: none added"
    assert report.files_removed == 0
    again = orjson.loads((out / options.shard.manifest_path).read_bytes())
    # Same files, same rows (row order inside a file may differ: bytes are not compared).
    assert [{**f, "bytes": 0} for f in again["files"]] == [
        {**f, "bytes": 0} for f in manifest["files"]
    ]
    assert again["jobs"] == manifest["jobs"]
    assert_dataset_equals_tables(out, synth_history)


def add_late_event(store: Path, job_id: str) -> None:
    """One more event file in the job's last run, a second after its last one."""
    run_dir = sorted((store / "jobs" / job_id / "runs").iterdir())[-1]
    last = max(run_dir.glob("event-*.json"), key=lambda p: int(p.name.split("-")[1]))
    _, timestamp, step, kind = last.stem.split("-", 3)
    (run_dir / f"event-{int(timestamp) + 1000}-{step}-{kind}.json").write_bytes(last.read_bytes())


def test_incremental_adds_new_and_changed_jobs_without_duplicates(tmp_path: Path) -> None:
    store, out, full = tmp_path / "store", tmp_path / "out", tmp_path / "full"
    first = generate(store, jobs=8, seed=21)
    options = ExportOptions(output=str(out), incremental=True)
    with connect(str(store), cache=False) as history:
        assert export_dataset(history, options).jobs_written == 8
        assert export_dataset(history, options).jobs_written == 0, "nothing new: nothing written"
    before = {j["job_id"]: j for m in read_manifests(str(out)).values() for j in m["jobs"]}

    # New jobs, a month later, and a job that was still running: one more event file.
    added = generate(store, jobs=5, seed=22, start_ms=1_790_000_000_000 + 30 * DAY_MS)
    running = first.job_ids[-1]
    add_late_event(store, running)
    with connect(str(store), cache=False) as history:
        report = export_dataset(history, options)
        # Only the batches (job start dates) of new or changed jobs were rewritten, whole.
        changed = [*added.job_ids, running]
        rewritten = history.sql(
            "SELECT count(*) FROM jobs WHERE strftime(started_at, '%Y%m%d') IN ("
            "SELECT strftime(started_at, '%Y%m%d') FROM jobs WHERE job_id IN $ids)",
            {"ids": changed},
        ).fetchone()
        assert report.jobs_written == rewritten[0] < 13
        assert report.jobs_listed == 13
        assert_dataset_equals_tables(out, history)
        export_dataset(history, ExportOptions(output=str(full)))
        columns = {t: history.sql(f"SELECT * FROM {t} LIMIT 0").columns for t in DEFAULT_TABLES}
    after = {j["job_id"]: j for m in read_manifests(str(out)).values() for j in m["jobs"]}
    assert after.keys() == {*first.job_ids, *added.job_ids}
    assert after[running]["fingerprint"] != before[running]["fingerprint"]
    for table, names in columns.items():
        assert dataset_rows(out, table, names) == dataset_rows(full, table, names), table
    assert parquet_files(out) == listed_files(out)


def test_incremental_needs_the_same_layout(synth_history: History, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    export_dataset(synth_history, ExportOptions(output=out))
    with pytest.raises(UsageError, match="--incremental needs the same options"):
        export_dataset(
            synth_history, ExportOptions(output=out, incremental=True, format=ExportFormat.csv)
        )
    with pytest.raises(UsageError, match=r"use --shard I/1"):
        export_dataset(synth_history, ExportOptions(output=out, shard=Shard(0, 2)))


# -- shards -------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "perstack_logq", "log", "export", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_four_shard_processes_equal_one_full_export(
    synth_store: tuple[Path, GenerationReport], synth_history: History, tmp_path: Path
) -> None:
    store, report = synth_store
    sharded, full = tmp_path / "sharded", tmp_path / "full"
    processes = [
        run_cli("--storage", str(store), "--no-cache", "-o", str(sharded), "--shard", f"{i}/4")
        for i in range(4)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        assert b"Exported" in out
    export_dataset(synth_history, ExportOptions(output=str(full)))

    manifests = read_manifests(str(sharded))
    assert sorted(manifests) == [f"_manifest/shard-{i}-of-4.json" for i in range(4)]
    seen: list[str] = []
    for path, manifest in manifests.items():
        index = manifest["shard"]["index"]
        assert path == f"_manifest/shard-{index}-of-4.json"
        jobs = [j["job_id"] for j in manifest["jobs"]]
        assert all(shard_of(job, 4) == index for job in jobs)
        seen += jobs
    assert sorted(seen) == sorted(report.job_ids)
    for table in DEFAULT_TABLES:
        columns = synth_history.sql(f"SELECT * FROM {table} LIMIT 0").columns
        assert dataset_rows(sharded, table, columns) == dataset_rows(full, table, columns), table
    assert parquet_files(sharded) == listed_files(sharded)


def test_a_shard_reads_only_its_own_jobs(
    synth_store: tuple[Path, GenerationReport], tmp_path: Path
) -> None:
    store, report = synth_store
    with connect(str(store), cache=False) as history:
        result = export_dataset(history, ExportOptions(output=str(tmp_path), shard=Shard(1, 4)))
        # What the database read from the store: the objects of this shard's jobs only.
        read = {job for (job,) in history.database.sql("SELECT job_id FROM _objects").fetchall()}
    mine = {job for job in report.job_ids if shard_of(job, 4) == 1}
    assert result.jobs_written == len(mine) > 0
    assert read == mine


def test_shard_rule_matches_duckdb(synth_history: History) -> None:
    """The SQL that picks a shard's jobs and the documented Python rule agree."""
    rows = synth_history.sql(
        "SELECT job_id, CAST('0x' || substr(sha1(job_id), 1, 8) AS UBIGINT) % 5 FROM jobs"
    ).fetchall()
    assert all(shard_of(job_id, 5) == shard for job_id, shard in rows)


# -- killed exports -------------------------------------------------------------------------------

_KILL_AT = """
import os, signal, sys
from perstack_logq.api import connect
from perstack_logq.views.export import ExportOptions, export_dataset
store, out, stage, at, endpoint = sys.argv[1:]
def progress(state):
    if state.stage == stage and state.done == (state.total if at == "all" else int(at)):
        os.kill(os.getpid(), signal.SIGKILL)
options = ExportOptions(
    output=out, tables=("jobs", "events", "tool_calls"), output_endpoint=endpoint or None
)
export_dataset(connect(store, cache=False), options, progress)
"""
_KILL_TABLES = ("jobs", "events", "tool_calls")


@pytest.mark.parametrize(("stage", "at"), [("write", "2"), ("publish", "all")])
def test_killed_export_leaves_no_partial_data(tmp_path: Path, stage: str, at: str) -> None:
    """Killed (SIGKILL) half-way through staging, or after publishing every file."""
    store, out = tmp_path / "store", tmp_path / "out"
    generate(store, jobs=6, seed=31)
    with connect(str(store), cache=False) as history:
        export_dataset(history, ExportOptions(output=str(out), tables=_KILL_TABLES))
        committed = {t: dataset_rows(out, t, ["job_id"]) for t in _KILL_TABLES}
    manifest = (out / "_manifest" / "shard-0-of-1.json").read_bytes()
    generate(store, jobs=4, seed=32, start_ms=1_790_000_000_000 + 40 * DAY_MS)

    killed = subprocess.run(
        [sys.executable, "-c", _KILL_AT, str(store), str(out), stage, at, ""],
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr.decode()
    # The commit marker is untouched, and what it lists reads back as before.
    assert (out / "_manifest" / "shard-0-of-1.json").read_bytes() == manifest
    assert {t: dataset_rows(out, t, ["job_id"]) for t in _KILL_TABLES} == committed
    if stage == "write":
        # Staged files only (*.parquet.tmp under _tmp/): nothing a *.parquet glob picks up.
        assert list((out / "_tmp").rglob("*.parquet.tmp"))
        assert parquet_files(out) == listed_files(out)
    else:
        # Files published before the commit: no manifest lists them, the next run removes them.
        assert parquet_files(out) - listed_files(out)

    with connect(str(store), cache=False) as history:
        export_dataset(history, ExportOptions(output=str(out), tables=_KILL_TABLES))
        assert_dataset_equals_tables(out, history, _KILL_TABLES)
    assert parquet_files(out) == listed_files(out)
    assert not (out / "_tmp").exists()


def test_killed_export_to_s3_commits_nothing(
    moto_endpoint: str, aws_test_credentials: None, tmp_path: Path
) -> None:
    """Killed after uploading every file, before the manifest: S3 keeps the old commit."""
    store = tmp_path / "store"
    generate(store, jobs=5, seed=33)
    create_bucket(moto_endpoint, "perstack-killed")
    output = "s3://perstack-killed/history"
    options = ExportOptions(output=output, tables=_KILL_TABLES, output_endpoint=moto_endpoint)
    with connect(str(store), cache=False) as history:
        export_dataset(history, options)
    manifests = read_manifests(output, moto_endpoint)
    generate(store, jobs=3, seed=34, start_ms=1_790_000_000_000 + 50 * DAY_MS)

    killed = subprocess.run(
        [sys.executable, "-c", _KILL_AT, str(store), output, "publish", "all", moto_endpoint],
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr.decode()
    assert read_manifests(output, moto_endpoint) == manifests
    listed = {f["path"] for m in manifests.values() for f in m["files"]}
    keys = set(download(moto_endpoint, "perstack-killed", "history/", tmp_path / "before"))
    assert keys - listed - {"_manifest/shard-0-of-1.json"}, "uploaded, but not committed"

    with connect(str(store), cache=False) as history:
        report = export_dataset(history, options)
        keys = set(download(moto_endpoint, "perstack-killed", "history/", tmp_path / "after"))
        assert_dataset_equals_tables(tmp_path / "after", history, _KILL_TABLES)
    assert report.jobs_listed == 8
    now_listed = {
        f["path"] for m in read_manifests(output, moto_endpoint).values() for f in m["files"]
    }
    assert keys == now_listed | {"_manifest/shard-0-of-1.json"}


# -- no secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_no_secret_in_any_exported_file(
    synth_store: tuple[Path, GenerationReport],
    synth_history: History,
    tmp_path: Path,
    fmt: ExportFormat,
) -> None:
    _, report = synth_store
    secrets = report.planted_secrets
    assert secrets
    out = tmp_path / "out"
    export_dataset(
        synth_history, ExportOptions(output=str(out), format=fmt, tables=tuple(EXPORT_TABLES))
    )
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == f".{fmt}" for p in files)
    assert (out / "run_settings").exists() and (out / "runs").exists()
    for path in files:
        texts = [path.read_bytes().decode("utf-8", errors="replace")]
        if path.suffix == ".parquet":
            texts.append(str(pq.read_table(path).to_pylist()))  # compressed: look inside
        for text in texts:
            assert PLANTED_SECRET_MARKER not in text, path
            assert not any(secret in text for secret in secrets), path
    manifest = read_manifests(str(out))["_manifest/shard-0-of-1.json"]
    for table, facts in manifest["tables"].items():
        assert facts["rows"] == synth_history.sql(f"SELECT count(*) FROM {table}").fetchone()[0]
    # The text formats hold every row: read back with DuckDB.
    reader = {"csv": "read_csv", "jsonl": "read_json", "parquet": "read_parquet"}[fmt]
    counts = duckdb.sql(
        f"SELECT count(*) FROM {reader}('{out}/run_settings/**/*.{fmt}')"
    ).fetchone()
    assert counts == (report.run_settings,)


def test_no_fixture_credential_in_export(tmp_path: Path) -> None:
    with connect(str(FIXTURE_STORE), cache=False) as history:
        export_dataset(
            history,
            ExportOptions(
                output=str(tmp_path), format=ExportFormat.jsonl, tables=("run_settings", "runs")
            ),
        )
    text = "".join(p.read_text("utf-8") for p in tmp_path.rglob("*.jsonl"))
    assert "<redacted>" in text
    assert FIXTURE_API_KEY not in text


# -- the command line -----------------------------------------------------------------------------


def test_cli_export_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    base = ["log", "export", "--storage", str(FIXTURE_STORE), "--no-cache", "-o", str(out)]
    assert main([*base, "--tables", "jobs,events", "--format", "csv"]) == 0
    stdout = capsys.readouterr().out
    assert f"Exported 11 job(s) to {out}" in stdout
    assert "rows: jobs 11, events 145" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["_manifest", "events", "jobs"]
    for args, message in [
        (("--shard", "4/4"), "Invalid value for --shard: '4/4'"),
        (("--format", "xml"), "Invalid value for --format: 'xml'"),
        (("--tables", "jobs,nope"), "Invalid value for --tables: 'jobs,nope'"),
        (("--partition-by", "hour"), "Invalid value for --partition-by: 'hour'"),
        (("--shard", "1/2"), "holds an export in 1 shard(s)"),
        (("--output-endpoint", "http://127.0.0.1:9"), "--output-endpoint goes with an s3://"),
    ]:
        assert main([*base, *args]) == 2, args
        stderr = capsys.readouterr().err
        assert stderr.startswith("Error: ") and message in stderr, args


def test_progress_bar_redraws_one_line_per_stage() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    for state in (
        ExportProgress("sync", 0, 0),
        ExportProgress("sync", 5, 10),
        ExportProgress("sync", 10, 10),
        ExportProgress("write", 1, 2),
        ExportProgress("write", 2, 2),
        ExportProgress("publish", 3, 3),
    ):
        bar(state)
    lines = stream.getvalue().split("\n")
    assert lines[0].endswith(f"\rexport [{'#' * 30}] sync 10/10 objects")
    assert "\rexport [###############               ] sync 5/10 objects" in lines[0]
    assert lines[1].endswith("write 2/2 tables")
    assert lines[2].endswith("publish 3/3 files") and lines[3] == ""
