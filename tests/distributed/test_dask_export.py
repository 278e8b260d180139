"""Sharded exports on a real Dask cluster: a LocalCluster of two worker processes over TCP.

A sharded export must equal a single-process export row for row (from the filesystem and from
S3, to a directory and to S3), survive a worker killed in the middle of a shard, and leave no
uncommitted file behind.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster
from support.cli import run_cli
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION, create_bucket, upload_tree

from perstack_logq.api import connect, connect_dataset
from perstack_logq.config import S3Config
from perstack_logq.distributed.dask_export import export_on_dask
from perstack_logq.errors import UsageError
from perstack_logq.synth import DirectoryWriter, generate_store
from perstack_logq.views.export import (
    DEFAULT_TABLES,
    STAGING_DIR,
    ExportOptions,
    Shard,
    export_dataset,
    read_manifests,
)

PARTITION_COLUMNS = ("event_date", "run_date", "job_date")


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[Client]:
    # Workers inherit the environment they start with: the dummy keys of the moto server.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
        env.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                protocol="tcp",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dask-store") / "perstack"
    generate_store(DirectoryWriter(root), jobs=40, seed=5)
    return root


@pytest.fixture(scope="module")
def single_process(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("single") / "dataset"
    with connect(str(store), cache=False) as history:
        export_dataset(history, ExportOptions(output=str(out)))
    return out


def dataset_rows(location: str, endpoint: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    rows = {}
    with connect_dataset(location, endpoint=endpoint) as dataset:
        for table in DEFAULT_TABLES:
            columns = [r[0] for r in dataset.sql(f"DESCRIBE {table}").fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in PARTITION_COLUMNS)
            rows[table] = sorted(dataset.sql(f"SELECT {kept} FROM {table}").fetchall(), key=repr)
    return rows


def assert_no_uncommitted_files(directory: Path) -> None:
    manifests = read_manifests(str(directory))
    listed = {f["path"] for m in manifests.values() for f in m["files"]}
    on_disk = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and not p.relative_to(directory).as_posix().startswith("_manifest/")
    }
    assert on_disk == listed
    assert not (directory / STAGING_DIR).exists()


def test_sharded_export_equals_a_single_process_export(
    cluster_client: Client, store: Path, single_process: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sharded"
    report = export_on_dask(cluster_client, str(store), ExportOptions(output=str(out)), shards=4)
    assert sorted(s.index for s in report.shards) == [0, 1, 2, 3]
    assert len({s.worker for s in report.shards}) == 2, "both worker processes took shards"
    assert len(read_manifests(str(out))) == 4
    expected = dataset_rows(str(single_process))
    assert all(expected.values()), "an empty table would prove nothing"
    assert dataset_rows(str(out)) == expected
    assert_no_uncommitted_files(out)
    # A shard is idempotent: running them all again changes nothing.
    export_on_dask(cluster_client, str(store), ExportOptions(output=str(out)), shards=4)
    assert dataset_rows(str(out)) == expected


def test_from_s3_to_s3_and_to_a_directory(
    cluster_client: Client,
    store: Path,
    single_process: Path,
    moto_endpoint: str,
    aws_test_credentials: None,
    tmp_path: Path,
) -> None:
    create_bucket(moto_endpoint, "dask-source")
    create_bucket(moto_endpoint, "dask-lake")
    upload_tree(moto_endpoint, "dask-source", "perstack/", store)
    source = S3Config(
        bucket="dask-source",
        region=REGION,
        prefix="perstack/",
        endpoint=moto_endpoint,
        force_path_style=True,
    )
    expected = dataset_rows(str(single_process))
    to_directory = tmp_path / "from-s3"
    export_on_dask(cluster_client, source, ExportOptions(output=str(to_directory)), shards=3)
    assert dataset_rows(str(to_directory)) == expected
    to_bucket = ExportOptions(output="s3://dask-lake/lake", output_endpoint=moto_endpoint)
    export_on_dask(cluster_client, source, to_bucket, shards=3)
    assert dataset_rows("s3://dask-lake/lake", endpoint=moto_endpoint) == expected


def test_dask_and_shard_contradict(cluster_client: Client, store: Path, tmp_path: Path) -> None:
    options = ExportOptions(output=str(tmp_path / "x"), shard=Shard(0, 2))
    with pytest.raises(UsageError, match="contradict"):
        export_on_dask(cluster_client, str(store), options, shards=2)


def test_the_cli_runs_a_local_cluster(store: Path, single_process: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = run_cli(
        "log", "export", "--storage", str(store), "--no-cache", "-o", str(out),
        "--dask", "local:2", "--shards", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "in 3 shard(s) on Dask" in result.stdout
    assert result.stderr.count("committed by") == 3, result.stderr
    assert dataset_rows(str(out)) == dataset_rows(str(single_process))
    alone = run_cli("log", "export", "--storage", str(store), "-o", str(out), "--dask", "local:2")
    assert alone.returncode == 2
    assert "--dask and --shards go together" in alone.stderr


# Last of the tests on the module's cluster: it leaves one worker restarting.
def test_a_worker_killed_mid_shard_is_retried_elsewhere(
    cluster_client: Client, store: Path, single_process: Path, tmp_path: Path
) -> None:
    """SIGKILL to the worker process running shard 0 while it runs; the nanny restarts it and
    the scheduler runs the shard again. The dataset is still whole, and nothing is left
    uncommitted."""
    out = tmp_path / "killed"
    killed: list[int] = []

    def kill_the_worker_of_shard_0() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for address, keys in cluster_client.processing().items():
                if any("shard-0-of-2" in str(key) for key in keys):
                    time.sleep(0.2)  # well inside the shard: it reads the store first
                    pid = cluster_client.run(os.getpid, workers=[address])[address]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_worker_of_shard_0)
    killer.start()
    report = export_on_dask(cluster_client, str(store), ExportOptions(output=str(out)), shards=2)
    killer.join()
    assert killed, "shard 0 was never seen running"
    shard_0 = next(s for s in report.shards if s.index == 0)
    assert not shard_0.worker.endswith(f":{killed[0]}"), "the shard finished on the killed worker"
    assert dataset_rows(str(out)) == dataset_rows(str(single_process))
    assert_no_uncommitted_files(out)
