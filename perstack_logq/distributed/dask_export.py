"""``perstack log export --dask ADDRESS --shards N``: the N shards of an export as Dask tasks.

Each shard is the same work ``--shard I/N`` does in a process of its own (views/export.py): a
worker opens the store itself (a directory the workers see, or S3/R2), reads only its shard's
jobs, writes its files and commits its manifest. Nothing else travels: the task carries the
store's location (a StorageConfig, which never holds a credential) and the export options;
credentials come from the workers' own environment (AWS_*, R2_*, profiles), as for any boto3
program.

A shard is idempotent (its file names are fixed by table, partition, batch and shard, and a
re-run removes what an interrupted one published without committing), so Dask may run it again:
on another worker when the one running it dies (the scheduler does that by itself, up to its
``allowed-failures``), or after an error (``retries``).

Dask is an optional extra (``perstack-logq[dask]``): this module imports it only when called.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perstack_logq.config import StorageConfig, load_storage_config
from perstack_logq.errors import StorageError, UsageError
from perstack_logq.views.export import ExportOptions, Shard

if TYPE_CHECKING:
    from distributed import Client

_LOCAL = re.compile(r"^local:(\d+)$")


@dataclass(frozen=True)
class ShardDone:
    """One shard committed: which, where it ran, and what it wrote."""

    index: int
    count: int
    worker: str
    seconds: float
    jobs_written: int
    files_written: int
    rows_written: dict[str, int]


@dataclass
class DaskExportReport:
    location: str
    shards: list[ShardDone] = field(default_factory=list)

    @property
    def jobs_written(self) -> int:
        return sum(s.jobs_written for s in self.shards)

    @property
    def files_written(self) -> int:
        return sum(s.files_written for s in self.shards)

    @property
    def rows_written(self) -> dict[str, int]:
        rows: dict[str, int] = {}
        for shard in self.shards:
            for table, count in shard.rows_written.items():
                rows[table] = rows.get(table, 0) + count
        return rows


def import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--dask needs Dask's distributed scheduler: pip install 'perstack-logq[dask]'"
        ) from None
    return distributed


@contextmanager
def dask_client(address: str) -> Iterator[Client]:
    """``local:K`` starts a LocalCluster of K worker processes for the block; anything else is
    the address of a running scheduler (``tcp://host:8786``)."""
    distributed = import_distributed()
    match = _LOCAL.match(address.strip())
    if match and not 1 <= int(match[1]) <= 256:
        raise UsageError(f"Invalid value for --dask: {address!r} (local:K with 1 <= K <= 256)")
    with ExitStack() as stack:
        try:
            if match:
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=int(match[1]),
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                )
                client = stack.enter_context(distributed.Client(cluster))
            else:
                client = stack.enter_context(distributed.Client(address, timeout="10s"))
        except (OSError, TimeoutError) as exc:
            raise StorageError(f"Cannot reach the Dask scheduler at {address}: {exc}") from exc
        except ValueError as exc:
            raise UsageError(f"Invalid value for --dask: {address!r} ({exc})") from exc
        yield client


def export_on_dask(
    client: Client,
    storage: str | StorageConfig,
    options: ExportOptions,
    shards: int,
    *,
    concurrency: int | None = None,
    retries: int = 2,
    progress: Callable[[ShardDone], None] | None = None,
) -> DaskExportReport:
    """Export every shard of ``shards`` as a task on ``client``'s cluster; returns once all are
    committed, or raises the first shard's error that outlived its retries."""
    distributed = import_distributed()
    if shards < 1:
        raise UsageError(f"Invalid value for --shards: {shards} (at least 1)")
    if options.shard != Shard():
        raise UsageError("--shard and --dask contradict each other: --dask runs every shard")
    if isinstance(storage, str):
        # Resolved here, once: a worker must not find another store from its own directory.
        storage = load_storage_config(storage=storage)
    run = uuid.uuid4().hex[:8]
    futures = {
        client.submit(
            _export_shard,
            storage,
            dataclasses.replace(options, shard=Shard(index, shards)),
            concurrency,
            key=f"perstack-export-{run}-shard-{index}-of-{shards}",
            retries=retries,
            pure=False,
        ): index
        for index in range(shards)
    }
    report = DaskExportReport(options.output)
    try:
        for future in distributed.as_completed(futures):
            if future.status != "finished":
                index = futures[future]
                error = future.exception()
                raise _shard_error(index, shards, error)
            done = ShardDone(**future.result())
            report.shards.append(done)
            if progress:
                progress(done)
    finally:
        client.cancel(list(futures), force=True)
    report.shards.sort(key=lambda s: s.index)
    return report


def _shard_error(index: int, count: int, error: BaseException | None) -> Exception:
    what = f"shard {index}/{count} failed on the Dask cluster"
    if isinstance(error, UsageError | StorageError):
        return type(error)(f"{what}: {error}")
    message = str(error).strip().splitlines()[0] if error and str(error).strip() else ""
    return StorageError(f"{what}: {type(error).__name__}{': ' + message if message else ''}")


def _export_shard(
    storage: StorageConfig, options: ExportOptions, concurrency: int | None
) -> dict[str, Any]:
    """Runs on a worker: one shard, read from the store and committed, as plain data."""
    from perstack_logq.api import connect
    from perstack_logq.views.export import export_dataset

    started = time.monotonic()
    # No cache on a worker: a shard reads its own jobs once, and workers share no disk.
    with connect(storage, cache=False, concurrency=concurrency) as history:
        report = export_dataset(history, options)
    return {
        "index": options.shard.index,
        "count": options.shard.count,
        "worker": f"{os.uname().nodename}:{os.getpid()}",
        "seconds": round(time.monotonic() - started, 3),
        "jobs_written": report.jobs_written,
        "files_written": report.files_written,
        "rows_written": report.rows_written,
    }
