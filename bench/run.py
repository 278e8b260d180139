"""Benchmarks of perstack_logq, side by side with their baselines and goals, in one run.

    python bench/run.py --full     # the figures of bench/README.md (~2.5 GB of stores; <= 35 min)
    python bench/run.py --smoke    # the same figures on tiny stores (seconds), for CI

Stores come from the project's generator (perstack_logq.synth), the long-session one from its
``long`` profile, and are kept under ``--work`` (default bench/out/, git-ignored) so that they
are generated once. The original Node ``perstack log`` is compared when ``--upstream DIR`` (or
PERSTACK_UPSTREAM_CLI) names a build of it: DIR/node/bin/node and DIR/cli.mjs. The table is
printed and written to ``--output`` (default bench/README.md) with the machine it ran on.
Every timed step runs in a process of its own, with its peak memory sampled, and a step that
fails or overruns its time limit becomes a row saying so: the run always ends with a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BUCKET = "perstack-bench"
PREFIX = "perstack/"
DUMMY_KEY = "bench"
REGION = "us-east-1"
PROXY_DELAY_MS = 20
BARE_CONCURRENCIES = (32, 64)
DROP_CACHES = "/proc/sys/vm/drop_caches"
UPSTREAM_ENV = "PERSTACK_UPSTREAM_CLI"
QUERY = "SELECT type, count(*) AS n, sum(size_bytes) AS bytes FROM events GROUP BY ALL"
MESSAGES_QUERY = "select count(*) from messages"
WARM_QUERY_ROUNDS = 5  # times `repeats`: figure 4 times two short commands in turns
MEMORY_GOAL_MB = 1536  # issue 11: peak RSS of any command on the long-session store
SEARCH_WORDS = "timeout error"
LISTING_PAGE = 100  # keys per ListObjectsV2 page in the listing figure (S3's own: 1,000)
# Bytes of a command's output kept in memory: a whole 150 MB --json output, decoded and kept
# for each of nine runs, held gigabytes in this process, and the long store's rows ran two to
# five times slower than alone while it did. A digest tells outputs apart.
KEPT_OUTPUT = 1 << 20
SLOW_COMMAND = 10.0  # seconds: a command this slow is timed once, not ``repeats`` times
FULL_BUDGET_MINUTES = 33.0  # the whole --full run, store generation included


class Budget:
    """The run's time budget: every measured command's time limit is cut to what is left,
    and a figure that would start after it is spent becomes a row saying so."""

    ends_at = float("inf")  # time.monotonic() value; set by main()

    @classmethod
    def left(cls) -> float:
        return cls.ends_at - time.monotonic()


@dataclass(frozen=True)
class Sizes:
    main_jobs: int  # the 950-job filesystem store (~200 MB of JSON in full)
    main_scale: float
    many_jobs: int  # the 10,000-job store
    many_scale: float
    long_bytes: int  # the long-session store (>= 2 GB in full)
    long_scale: float
    long_seed: int
    s3_objects: int  # objects of the main store uploaded to moto for figure 2
    sequential_sample: int  # objects read one GET at a time (a rate: the rest would be the same)
    repeats: int  # runs of each short command (median)
    s3_rounds: int  # rounds of figure 2's measurements, interleaved; each keeps its best
    timeout: float  # seconds any one measured command may take


FULL = Sizes(950, 1.0, 10_000, 0.05, 2_100_000_000, 1.0, 1, 3_000, 300, 3, 2, 900.0)
SMOKE = Sizes(6, 0.2, 20, 0.05, 2_000_000, 0.02, 2, 60, 10, 1, 1, 300.0)  # long: 1 job, 29 steps


@dataclass
class Row:
    figure: str
    ours: str
    reference: str
    ratio: str
    goal: str
    met: bool | None  # None: no goal, for reference only

    def cells(self) -> list[str]:
        verdict = "" if self.met is None else ("yes" if self.met else "**MISSED**")
        return [self.figure, self.ours, self.reference, self.ratio, self.goal, verdict]


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(" | ".join(row.cells()), flush=True)


# -- stores -------------------------------------------------------------------------------------


def ensure_store(work: Path, jobs: int, seed: int, scale: float) -> Path:
    """A generated store under ``work/stores``, made once (a marker says it is complete)."""
    from perstack_logq.synth import DirectoryWriter, generate_store

    root = work / "stores" / f"{jobs}jobs-seed{seed}-scale{scale}"
    marker = root / ".complete"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    report = generate_store(DirectoryWriter(root), jobs=jobs, seed=seed, scale=scale)
    marker.write_text(report.summary() + "\n", encoding="utf-8")
    print(f"generated {root.name} in {time.perf_counter() - started:.0f} s: {report.summary()}")
    return root


def files_under(directory: Path) -> Iterator[Path]:
    for parent, _, names in os.walk(directory):
        for name in names:
            yield Path(parent, name)


def store_files(root: Path) -> Iterator[Path]:
    return files_under(root / "jobs")


def warm_page_cache(root: Path) -> None:
    for path in store_files(root):
        path.read_bytes()


def store_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in store_files(root))


def copy_jobs(source: Path, target: Path, job_ids: list[str]) -> Path:
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        for job_id in job_ids:
            shutil.copytree(source / "jobs" / job_id, target / "jobs" / job_id)
        (target / ".complete").write_text(" ".join(job_ids) + "\n", encoding="utf-8")
    return target


def ensure_long_store(work: Path, size: int, seed: int, scale: float) -> Path:
    """The long-session store (synth's ``long`` profile) of at least ``size`` bytes, made once."""
    from perstack_logq.synth import DirectoryWriter, generate_store

    root = work / "stores" / f"long-{size / 1e6:.0f}MB-seed{seed}-scale{scale}"
    marker = root / ".complete"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    report = generate_store(
        DirectoryWriter(root), jobs=1000, seed=seed, scale=scale, profile="long", until_bytes=size
    )
    marker.write_text(report.summary() + "\n", encoding="utf-8")
    print(f"generated {root.name} in {time.perf_counter() - started:.0f} s: {report.summary()}")
    return root


def tree_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in files_under(directory))


def md(text: str) -> str:
    """A table cell: one line, no column separator."""
    return " ".join(text.split()).replace("|", "\\|")


# -- processes ----------------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


@dataclass
class Measured:
    """One command's wall time, its peak memory (RSS of it and its children together), how it
    ended (``returncode`` None: killed at the time limit) and what it printed."""

    seconds: float
    peak_rss_mb: float
    returncode: int | None
    stdout: str  # only up to KEPT_OUTPUT bytes of it: see stdout_digest
    stderr: str
    stdout_digest: str = ""  # sha256 of all of stdout, to tell outputs apart
    stdout_bytes: int = 0  # how much it printed
    output: dict[str, Any] = field(default_factory=dict)  # what a --child task printed

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        """Why it did not succeed, in one line (its last line of stderr)."""
        if self.returncode is None:
            return f"stopped at the time limit ({self.seconds:.0f} s)"
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return f"exit {self.returncode}: " + (lines[-1][:160] if lines else "no message")


def tree_rss_kb(pid: int) -> int:
    """Resident set size of a process and all its descendants."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as kids:
                    pending.extend(int(child) for child in kids.read().split())
        except (OSError, StopIteration):
            continue  # ended while we looked
    return total


def measure(
    args: list[str], *, timeout: float, env: dict[str, str] | None = None, cwd: Path = REPO
) -> Measured:
    """Run a command to its end or its time limit (cut to the run's budget); peak RSS
    sampled every 50 ms.

    stdout goes to a file in memory (/dev/shm, when the machine has one), as `> out.json`
    would send it to a file: read from a pipe here, a 150 MB output cost this process CPU on
    the same two cores while the command ran, and written to disk on this shared machine it
    took 1.1 s against 0.82 s in memory (measured alone), each charged to whichever command
    printed the most. Only a digest and the first KEPT_OUTPUT bytes are kept."""
    timeout = max(1.0, min(timeout, Budget.left()))
    in_memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryFile(dir=in_memory) as output_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            args,
            stdout=output_file,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=child_env(**(env or {})),
            cwd=cwd,
            start_new_session=True,  # its own process group: a time-out kills every child too
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.05):
                peak = max(peak, tree_rss_kb(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode: int | None
        try:
            _, err = process.communicate(timeout=timeout)
            returncode = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _, err = process.communicate()
            returncode = None
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        output_file.seek(0)
        digest = hashlib.file_digest(output_file, "sha256").hexdigest()
        printed = output_file.tell()
        output_file.seek(0)
        out = output_file.read(KEPT_OUTPUT)
    return Measured(
        seconds,
        peak / 1024,
        returncode,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
        digest,
        stdout_bytes=printed,
    )


def run_child(task: dict[str, Any], timeout: float, env: dict[str, str] | None = None) -> Measured:
    """``run.py --child TASK`` in a fresh interpreter; ``seconds`` becomes the child's own
    timing of its work (after its imports), read from the JSON it prints."""
    args = [sys.executable, str(Path(__file__)), "--child", json.dumps(task)]
    result = measure(args, timeout=timeout, env=env)
    if result.ok:
        result.output = json.loads(result.stdout)
        result.seconds = result.output["seconds"]
    return result


def child_main(task: dict[str, Any]) -> None:
    """Runs in the child: one timed task, its result printed as JSON."""
    tasks = {"sync": child_sync, "hold": child_hold, "report": child_report, "list": child_list}
    if task["kind"] not in tasks:
        raise SystemExit(f"unknown child task {task['kind']}")
    print(json.dumps(tasks[task["kind"]](task)), flush=True)


def bench_s3_config(endpoint: str) -> Any:
    """The S3 store of figure 2 (moto behind the latency proxy at ``endpoint``)."""
    from perstack_logq.config import S3Config

    return S3Config(
        bucket=BUCKET, region=REGION, prefix=PREFIX, endpoint=endpoint, force_path_style=True
    )


def child_sync(task: dict[str, Any]) -> dict[str, Any]:
    """A sync through the Python API into a cache directory, timed from opening the history to
    closing it (final checkpoint included), as a notebook's ``connect(...)`` then sync."""
    from perstack_logq.api import connect

    location: Any = Path(task["root"]) if task.get("root") else None
    if task.get("endpoint"):
        location = bench_s3_config(task["endpoint"])
    options = {"direct_reads": True} if task.get("direct") else {}
    # Imports are not timed, as for the floor. Where pandas is installed (here: the dask
    # extra; a default install has none), pyarrow and DuckDB import it on their first use.
    pandas_import = time.perf_counter()
    with suppress(ImportError):
        import pandas  # noqa: F401
    pandas_import = time.perf_counter() - pandas_import
    started = time.perf_counter()
    history = connect(location, cache_dir=Path(task["cache_dir"]), sync=False, **options)
    report = history.sync()
    events = history.sql("SELECT count(*) FROM events").fetchone()[0]
    client = getattr(history.storage, "client_name", None)
    history.close()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "read": getattr(report, "read", None),
        "events": events,
        "client": client,
        "pandas_import": pandas_import,
    }


def child_list(task: dict[str, Any]) -> dict[str, Any]:
    """The store's full listing, as a sync makes it (key ranges side by side) and as one
    stream of pages, in pages of ``page_size`` keys; each side keeps its best of 3."""
    from perstack_logq.storage import s3

    s3.PAGE_SIZE = task["page_size"]
    storage = s3.S3Storage(bench_s3_config(task["endpoint"]))
    storage.check()
    best = {"ranges": float("inf"), "stream": float("inf")}
    for _ in range(3):
        for side, listing in (
            ("ranges", lambda: storage.list_changes({}, [])),
            ("stream", storage.list_objects),
        ):
            started = time.perf_counter()
            listed = sum(1 for _ in listing())
            best[side] = min(best[side], time.perf_counter() - started)
    storage.close()
    return {"seconds": best["ranges"], "stream_seconds": best["stream"], "listed": listed}


def child_hold(task: dict[str, Any]) -> dict[str, Any]:
    """A notebook that keeps the cache open: connect, query once, say so, wait for stdin."""
    from perstack_logq.api import connect

    history = connect(Path(task["root"]), cache_dir=Path(task["cache_dir"]))
    history.sql(QUERY).fetchall()
    print(json.dumps({"seconds": 0, "holding": True}), flush=True)
    sys.stdin.read()
    history.close()
    return {"seconds": 0}


def child_report(task: dict[str, Any]) -> dict[str, Any]:
    """``history.report`` on a synced cache: the report's own work (queries, charts, page),
    timed after the imports and the sync."""
    from perstack_logq.api import connect

    history = connect(Path(task["root"]), cache_dir=Path(task["cache_dir"]))
    history.sync()
    started = time.perf_counter()
    summary = history.report(task["output"])
    seconds = time.perf_counter() - started
    history.close()
    return {"seconds": seconds, "bytes": summary.bytes, "views": summary.job_views}


def timed(
    args: list[str], repeats: int, timeout: float, env: dict[str, str] | None = None
) -> Measured:
    """Median wall time of a command (a user's view: start-up included); a command slower than
    SLOW_COMMAND runs once. The first failure is returned as it is."""
    runs: list[Measured] = []
    for _ in range(repeats):
        result = measure(args, timeout=timeout, env=env)
        if not result.ok:
            return result
        runs.append(result)
        if result.seconds > SLOW_COMMAND:
            break
    middle = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
    middle.seconds = statistics.median(run.seconds for run in runs)
    return middle


def timed_side_by_side(
    commands: list[tuple[list[str], dict[str, str] | None]], repeats: int, timeout: float
) -> list[Measured]:
    """``timed`` of each command (with its environment), their runs taken in turns: on a
    shared machine a slow spell then slows each command alike, where all the runs of one
    command, then all of the next, charged it to whichever ran in it."""
    runs: list[list[Measured]] = [[] for _ in commands]
    failed: dict[int, Measured] = {}
    for _ in range(repeats):
        for index, (args, env) in enumerate(commands):
            if index in failed:
                continue
            result = measure(args, timeout=timeout, env=env)
            if not result.ok:
                failed[index] = result
                continue
            runs[index].append(result)
        if any(run.seconds > SLOW_COMMAND for done in runs for run in done[-1:]):
            break
    medians = []
    for index, done in enumerate(runs):
        if index in failed:
            medians.append(failed[index])
            continue
        middle = sorted(done, key=lambda run: run.seconds)[len(done) // 2]
        middle.seconds = statistics.median(run.seconds for run in done)
        medians.append(middle)
    return medians


def perstack(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("perstack")), *args]


def cache_file(cache_dir: Path) -> Path | None:
    """The DuckDB file a sync left in ``cache_dir`` (the biggest, if there are several)."""
    files = sorted(cache_dir.rglob("*.duckdb"), key=lambda path: path.stat().st_size)
    return files[-1] if files else None


# -- baselines ----------------------------------------------------------------------------------


def orjson_floor(root: Path) -> float:
    """The floor of any Python design: read every file and parse it with orjson, nothing else."""
    import orjson

    started = time.perf_counter()
    for path in store_files(root):
        with open(path, "rb") as handle:
            orjson.loads(handle.read())
    return time.perf_counter() - started


def duckdb_json(root: Path) -> float:
    import duckdb

    started = time.perf_counter()
    duckdb.connect().execute(
        "SELECT count(*) FROM read_json_objects(?, format = 'unstructured')",
        [str(root / "jobs" / "**" / "*.json")],
    ).fetchall()
    return time.perf_counter() - started


def drop_page_cache() -> bool:
    """Empty the kernel's page cache; False where this process may not."""
    os.sync()
    try:
        Path(DROP_CACHES).write_text("1\n")
    except OSError:
        return False
    return True


# -- figures ------------------------------------------------------------------------------------


def rate(count: float, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}/s"


def ratio_row(
    figure: str, ours: str, reference: str, ratio: float, goal: str, check: Callable[[float], bool]
) -> Row:
    return Row(figure, ours, reference, f"{ratio:.2f}", goal, check(ratio))


def failed_row(figure: str, goal: str, *results: Measured) -> Row:
    reasons = "; ".join(result.failure() for result in results if not result.ok)
    return Row(figure, md(f"failed: {reasons}"), "-", "-", goal, False)


def sync_task(root: Path, cache_dir: Path) -> dict[str, Any]:
    return {"kind": "sync", "root": str(root), "cache_dir": str(cache_dir)}


def figure_cold_ingest(
    report: Report, label: str, root: Path, cache_dir: Path, sizes: Sizes, *, floor_runs: int
) -> Measured:
    """1. A cold sync of a filesystem store against reading and parsing every file."""
    files = sum(1 for _ in store_files(root))
    megabytes = store_bytes(root) / 1e6
    report.notes.append(
        f"{label}: {root.name}: {files:,} files, {megabytes:,.0f} MB of JSON "
        "(page cache warm for every reader)."
    )
    warm_page_cache(root)  # every reader below starts from the same state
    floor = min(orjson_floor(root) for _ in range(floor_runs))
    shutil.rmtree(cache_dir, ignore_errors=True)
    ours = run_child(sync_task(root, cache_dir), sizes.timeout)
    figure = f"1. cold ingest, filesystem, {label}, vs read+orjson floor"
    if not ours.ok:
        report.add(failed_row(figure, ">= 1.0", ours))
        return ours
    events = ours.output["events"]
    if label == "950-job store":
        report.notes.append(
            "Syncs through the Python API (figures 1, 2, 3, 5) do not time imports, pandas "
            "included where installed, as it is here (the dask extra): pyarrow and DuckDB "
            "import it on first use, which took "
            f"{ours.output['pandas_import']:.2f} s in figure 1's process. A default install "
            "has no pandas; the CLI hides it (cli.entry_point)."
        )
    report.add(
        ratio_row(
            figure,
            f"{rate(events, ours.seconds, 'events')}, {rate(megabytes, ours.seconds, 'MB')} "
            f"({ours.seconds:.1f} s)",
            f"{rate(events, floor, 'events')}, {rate(megabytes, floor, 'MB')} ({floor:.1f} s)",
            floor / ours.seconds,
            ">= 1.0",
            lambda r: r >= 1.0,
        )
    )
    return ours


def figure_engine_decode(report: Report, root: Path) -> None:
    """1. (reference) Decoding in the engine where it is easiest: the plain event files."""
    from engine_decode import compare

    result = compare(root)
    report.add(
        Row(
            f"1. (reference) decoding the 950-job store's {result.files:,} event files that "
            f"make only an events row ({result.megabytes:.0f} MB): our Python decoder vs "
            "DuckDB SQL with the checks that keep its rows equal (bench/plain_events.sql)",
            f"{result.python_seconds:.2f} s",
            f"{result.sql_seconds:.2f} s ({result.accepted:,} files accepted, rows equal: "
            f"{'yes' if result.same_rows else 'NO'})",
            f"{result.sql_seconds / result.python_seconds:.2f}",
            "reference",
            None,
        )
    )


def figure_duckdb_json(report: Report, root: Path, cold: Measured) -> None:
    if not cold.ok:
        return
    duck = duckdb_json(root)
    report.add(
        Row(
            "1. cold ingest, filesystem, 950-job store, vs DuckDB read_json_objects",
            f"{cold.seconds:.1f} s",
            f"{duck:.1f} s",
            f"{duck / cold.seconds:.2f}",
            "reference",
            None,
        )
    )


def figure_long_store(
    report: Report, root: Path, cache_dir: Path, cold: Measured, work: Path, sizes: Sizes
) -> None:
    """5. Peak memory of sync, a full count of messages and an export of every table, and
    6. the cache's size against the store's, on the long-session store."""
    megabytes = store_bytes(root) / 1e6
    where = f"long-session store ({megabytes:,.0f} MB)"
    goal = "<= 1.5 GB, no error"
    if cold.ok:
        report.add(
            Row(
                f"5. peak RSS, cold sync (Python API), {where}",
                f"{cold.peak_rss_mb:,.0f} MB",
                f"{cold.seconds:.0f} s",
                "-",
                goal,
                cold.peak_rss_mb <= MEMORY_GOAL_MB,
            )
        )
        cache = tree_bytes(cache_dir)
        report.add(
            ratio_row(
                f"6. cache bytes / store bytes, {where}",
                f"{cache / 1e6:,.0f} MB",
                f"{megabytes:,.0f} MB",
                cache / 1e6 / megabytes,
                "<= 0.35",
                lambda r: r <= 0.35,
            )
        )
    else:
        report.add(failed_row(f"5. peak RSS, cold sync (Python API), {where}", goal, cold))
        report.add(failed_row(f"6. cache bytes / store bytes, {where}", "<= 0.35", cold))
    location = ["--storage", str(root), "--cache-dir", str(cache_dir)]
    count = measure(
        perstack("log", "query", MESSAGES_QUERY, "--format", "csv", *location),
        timeout=sizes.timeout,
    )
    figure = f'5. peak RSS, `perstack log query "{MESSAGES_QUERY}"`, {where}'
    if count.ok:
        answer = count.stdout.strip().splitlines()[-1]
        report.add(
            Row(
                figure,
                f"{count.peak_rss_mb:,.0f} MB",
                f"{count.seconds:.1f} s, {answer} messages",
                "-",
                goal,
                count.peak_rss_mb <= MEMORY_GOAL_MB,
            )
        )
    else:
        report.add(failed_row(figure, goal, count))
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        dataset = Path(scratch) / "dataset"
        export = measure(
            perstack("log", "export", "--tables", "all", "--output", str(dataset), *location),
            timeout=sizes.timeout,
        )
        written = tree_bytes(dataset) if dataset.exists() else 0
    figure = f"5. peak RSS, `perstack log export --tables all`, {where}"
    if export.ok:
        report.add(
            Row(
                figure,
                f"{export.peak_rss_mb:,.0f} MB",
                f"{export.seconds:.0f} s, {written / 1e6:,.1f} MB of Parquet",
                "-",
                goal,
                export.peak_rss_mb <= MEMORY_GOAL_MB,
            )
        )
    else:
        report.add(failed_row(figure, goal, export))
    job_id = sorted(path.name for path in (root / "jobs").iterdir())[0]
    shown = measure(
        perstack("log", "--job", job_id, "--json", "--take", "0", *location),
        timeout=sizes.timeout,
    )
    figure = f"5. (reference) peak RSS, `perstack log --job X --json --take 0`, {where}"
    if shown.ok:
        report.add(
            Row(
                figure,
                f"{shown.peak_rss_mb:,.0f} MB",
                f"{shown.seconds:.2f} s, {shown.stdout_bytes / 1e6:,.0f} MB printed",
                "-",
                "reference",
                None,
            )
        )
    else:
        report.add(failed_row(figure, "reference", shown))


def figure_search(
    report: Report, root: Path, cache_dir: Path, cold: Measured, sizes: Sizes
) -> None:
    """12. Issue 14: the first search of the long-session store (it builds the index) against
    the cold sync, and a search once the index is built."""
    megabytes = store_bytes(root) / 1e6
    where = f"long-session store ({megabytes:,.0f} MB)"
    command = perstack(
        "log",
        "search",
        SEARCH_WORDS,
        "--limit",
        "5",
        "--storage",
        str(root),
        "--cache-dir",
        str(cache_dir),
    )
    first = measure(command, timeout=sizes.timeout)
    figure = f"12. first `perstack log search` (builds the index) vs cold sync, {where}"
    if not first.ok or not cold.ok:
        report.add(failed_row(figure, "reference", first, cold))
        return
    report.add(
        ratio_row(
            figure,
            f"{first.seconds:.1f} s, peak {first.peak_rss_mb:,.0f} MB",
            f"{cold.seconds:.1f} s",
            first.seconds / cold.seconds,
            "reference; <= 1.5 GB",
            lambda _: first.peak_rss_mb <= MEMORY_GOAL_MB,
        )
    )
    warm = timed(command, sizes.repeats, sizes.timeout)
    figure = f"12. a search once the index is built (`{SEARCH_WORDS}`), {where}"
    if not warm.ok:
        report.add(failed_row(figure, "reference", warm))
        return
    report.add(
        Row(
            figure,
            f"{warm.seconds:.2f} s",
            f"peak {warm.peak_rss_mb:,.0f} MB",
            "-",
            "reference",
            None,
        )
    )


def query_command(root: Path, cache_dir: Path) -> list[str]:
    return perstack(
        "log",
        "query",
        QUERY,
        "--format",
        "csv",
        "--storage",
        str(root),
        "--cache-dir",
        str(cache_dir),
    )


def figure_warm_query(report: Report, root: Path, cache_dir: Path, sizes: Sizes) -> Measured:
    """4. `perstack log query` on a synced cache against DuckDB alone on the same file, in
    turns: both are a fraction of a second, and a shared machine's slow spells moved either
    median by a fifth between runs (1.55x and 2.21x in two runs of the same code)."""
    command = query_command(root, cache_dir)
    first = measure(command, timeout=sizes.timeout)  # brings the cache up to date, if it is not
    figure = "4. warm `perstack log query` vs the DuckDB floor (950-job store)"
    database = cache_file(cache_dir)
    if not first.ok or database is None:
        report.add(
            failed_row(figure, "<= 1.5x", first)
            if not first.ok
            else Row(
                figure,
                f"{first.seconds:.2f} s",
                "no .duckdb file in the cache directory",
                "-",
                "<= 1.5x",
                False,
            )
        )
        return first
    floor_script = (
        "import sys, duckdb; "
        "duckdb.connect(sys.argv[1], read_only=True).sql(sys.argv[2]).fetchall()"
    )
    floor_command = [sys.executable, "-c", floor_script, str(database), QUERY]
    # The same with the CLI's library imported first: what any command of a typer CLI pays
    # before its own work (the store check, the sandbox, the output).
    typer_command = [
        sys.executable,
        "-c",
        "import typer.main; " + floor_script,
        str(database),
        QUERY,
    ]
    ours, floor, with_typer = timed_side_by_side(
        [(command, None), (floor_command, None), (typer_command, None)],
        sizes.repeats * WARM_QUERY_ROUNDS,
        sizes.timeout,
    )
    if not ours.ok or not floor.ok:
        report.add(failed_row(figure, "<= 1.5x", ours if not ours.ok else floor))
        return ours
    report.add(
        Row(
            figure,
            f"{ours.seconds:.2f} s",
            f"{floor.seconds:.2f} s (`python -c`: import duckdb, open read-only, same SQL)",
            f"{ours.seconds / floor.seconds:.2f}x",
            "<= 1.5x",
            ours.seconds / floor.seconds <= 1.5,
        )
    )
    if with_typer.ok:
        report.add(
            Row(
                "4. (reference) the DuckDB floor with typer imported first, vs the DuckDB floor",
                f"{with_typer.seconds:.2f} s",
                f"{floor.seconds:.2f} s",
                f"{with_typer.seconds / floor.seconds:.2f}x",
                "reference",
                None,
            )
        )
    return ours


def figure_shared_cache(
    report: Report, root: Path, cache_dir: Path, alone: Measured, sizes: Sizes
) -> None:
    """7. The same query while another process (a notebook) holds the cache open."""
    figure = "7. CLI query while a notebook holds the cache vs alone (950-job store)"
    holder = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__)),
            "--child",
            json.dumps({"kind": "hold", "root": str(root), "cache_dir": str(cache_dir)}),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        cwd=REPO,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout is not None
        if not holder.stdout.readline():
            report.add(
                Row(
                    figure,
                    "failed: the notebook process could not open the cache",
                    md(holder.communicate()[1][-200:]),
                    "-",
                    "<= 1.5x",
                    False,
                )
            )
            return
        held = timed(query_command(root, cache_dir), sizes.repeats, sizes.timeout)
    finally:
        if holder.poll() is None:
            assert holder.stdin is not None
            holder.stdin.close()
            try:
                holder.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(holder.pid, signal.SIGKILL)
                holder.wait()
    if not held.ok or not alone.ok:
        report.add(failed_row(figure, "<= 1.5x, store not re-read", held, alone))
        return
    reread = "without it" in held.stderr or "in use" in held.stderr
    ratio = held.seconds / alone.seconds
    report.add(
        Row(
            figure,
            f"{held.seconds:.2f} s, store {'RE-READ' if reread else 'not re-read'}",
            f"{alone.seconds:.2f} s",
            f"{ratio:.2f}x",
            "<= 1.5x, store not re-read",
            ratio <= 1.5 and not reread,
        )
    )


def figure_incremental(
    report: Report,
    label: str,
    root: Path,
    cache_dir: Path,
    cold: Measured,
    scale: float,
    work: Path,
    timeout: float,
    *,
    goal: bool,
) -> None:
    """3. A sync after 1% more jobs against a cold sync of the same store: the +1% jobs are
    generated once, moved into the store for the sync, and moved out again."""
    jobs = sum(1 for path in (root / "jobs").iterdir() if path.is_dir())
    new_jobs = max(1, jobs // 100)
    figure = f"3. incremental sync after +1% jobs ({new_jobs}) vs cold sync ({label})"
    wanted = "<= 0.05" if goal else "reference"
    extra = ensure_store(work, new_jobs, 99, scale)
    moved = sorted(path.name for path in (extra / "jobs").iterdir())
    for job_id in moved:
        (extra / "jobs" / job_id).rename(root / "jobs" / job_id)
    try:
        ours = run_child(sync_task(root, cache_dir), timeout)
    finally:
        for job_id in moved:
            (root / "jobs" / job_id).rename(extra / "jobs" / job_id)
    if not ours.ok or not cold.ok:
        report.add(failed_row(figure, wanted, ours, cold))
        return
    read = ours.output.get("read")
    ratio = ours.seconds / cold.seconds
    report.add(
        Row(
            figure,
            f"{ours.seconds:.2f} s" + (f" ({read:,} objects read)" if read is not None else ""),
            f"{cold.seconds:.2f} s",
            f"{ratio:.2f}",
            wanted,
            ratio <= 0.05 if goal else None,
        )
    )


def figure_incremental_at_size(
    report: Report, label: str, root: Path, cache_dir: Path, sizes: Sizes, work: Path
) -> None:
    """3. (reference) Figure 3 on a bigger store, where what a sync does in proportion to
    the whole store (stats, the listing's SQL) weighs more than its fixed costs."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    cold = run_child(sync_task(root, cache_dir), sizes.timeout)
    figure_incremental(
        report, label, root, cache_dir, cold, sizes.many_scale, work, sizes.timeout, goal=False
    )


@contextmanager
def moto_behind_proxy(root: Path, objects: int) -> Iterator[tuple[str, list[str]]]:
    """A moto server (own process) holding whole jobs of ``root`` up to ``objects`` objects,
    behind the 20 ms latency proxy (own process); yields the proxy URL and the keys."""
    moto = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--serve-moto", str(root), str(objects)],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    proxy = None
    try:
        assert moto.stdout is not None
        moto_port = int(moto.stdout.readline().split()[1])
        keys = json.loads(moto.stdout.readline())
        proxy = subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "latency_proxy.py"),
                "--upstream",
                f"http://127.0.0.1:{moto_port}",
                "--delay-ms",
                str(PROXY_DELAY_MS),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proxy.stdout is not None
        proxy_port = int(proxy.stdout.readline().split()[1])
        yield f"http://127.0.0.1:{proxy_port}", keys
    finally:
        for process in (proxy, moto):
            if process is not None:
                process.kill()
                process.wait()


def serve_moto(root: Path, objects: int) -> None:
    """Child: load whole jobs into moto's in-process backend, serve until stdin closes."""
    import logging

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(BUCKET, REGION)
    keys: list[str] = []
    for job in sorted((root / "jobs").iterdir()):
        if len(keys) >= objects:
            break
        for path in sorted(files_under(job)):
            key = path.relative_to(root).as_posix()
            backend.put_object(BUCKET, PREFIX + key, path.read_bytes())
            keys.append(key)
    print(f"port {server.get_host_and_port()[1]}", flush=True)
    print(json.dumps(keys), flush=True)
    sys.stdin.read()  # the parent closes it (or dies)
    server.stop()


def s3_client(endpoint: str, concurrency: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        config=Config(max_pool_connections=max(concurrency, 10), s3={"addressing_style": "path"}),
    )


def get_all(endpoint: str, keys: list[str], concurrency: int) -> float:
    """Bare client: a thread pool doing only GETs of the keys (1 thread: one at a time)."""
    client = s3_client(endpoint, concurrency)
    client.list_buckets()  # connect before the clock starts

    def get(key: str) -> int:
        return len(client.get_object(Bucket=BUCKET, Key=PREFIX + key)["Body"].read())

    started = time.perf_counter()
    if concurrency == 1:
        for key in keys:
            get(key)
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(get, keys))
    return time.perf_counter() - started


def obstore_get_all(endpoint: str, keys: list[str], concurrency: int) -> float | None:
    """Bare obstore client: a thread pool doing only its GETs (None: obstore not installed)."""
    try:
        import obstore
        from obstore.store import S3Store
    except ImportError:
        return None
    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region=REGION,
        access_key_id=DUMMY_KEY,
        secret_access_key=DUMMY_KEY,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )

    def get(key: str) -> int:
        return len(obstore.get(store, PREFIX + key).bytes())

    get(keys[0])  # connect before the clock starts
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, keys))
    return time.perf_counter() - started


S3_SYNCS = (  # label, environment, direct_reads
    ("default settings", {}, False),
    ("boto3 GETs (PERSTACK_LOGQ_S3_CLIENT=boto3)", {"PERSTACK_LOGQ_S3_CLIENT": "boto3"}, False),
    ("DuckDB httpfs (direct_reads)", {}, True),
)


def figure_s3(report: Report, root: Path, sizes: Sizes, work: Path) -> None:
    """2. A cold sync over S3 through the latency proxy against the fastest bare GET client."""
    with moto_behind_proxy(root, sizes.s3_objects) as (endpoint, keys):
        count = len(keys)
        sequential_rate = sizes.sequential_sample / get_all(
            endpoint, keys[: sizes.sequential_sample], 1
        )
        # Every measurement runs once per round, the rounds interleaved, and keeps its best
        # rate: a busy moment of the shared machine then hurts no side more than the other.
        bare: dict[str, float] = {}
        ours: dict[str, float] = {}
        clients: dict[str, str] = {}
        failures: dict[str, Measured] = {}
        for round_ in range(sizes.s3_rounds):
            if round_ and Budget.left() <= 0:
                break  # the bare clients run in this process: the budget stops them here
            for concurrency in BARE_CONCURRENCIES:
                for name, get in (("boto3", get_all), ("obstore", obstore_get_all)):
                    seconds = get(endpoint, keys, concurrency)
                    if seconds is not None:
                        label = f"{name}, {concurrency} threads"
                        bare[label] = max(bare.get(label, 0.0), count / seconds)
            for label, env, direct in S3_SYNCS:
                if direct and round_:
                    continue  # a reference, and the slowest: one round is enough
                cache_dir = work / "caches" / "s3"
                shutil.rmtree(cache_dir, ignore_errors=True)
                task = {
                    "kind": "sync",
                    "endpoint": endpoint,
                    "cache_dir": str(cache_dir),
                    "direct": direct,
                }
                result = run_child(task, sizes.timeout, env)
                if result.ok:
                    ours[label] = max(ours.get(label, 0.0), count / result.seconds)
                    clients[label] = result.output.get("client") or "boto3"
                else:
                    failures[label] = result
        best = max(bare, key=lambda label: bare[label])
        report.notes.append(
            f"S3: {count:,} objects (whole jobs of the 950-job store) on a moto server behind "
            f"a {PROXY_DELAY_MS} ms proxy; bare GET clients (objects/s): "
            + ", ".join(f"{label}: {value:,.0f}" for label, value in bare.items())
            + f"; one GET at a time with boto3 (as the original reads), timed on "
            f"{sizes.sequential_sample} objects: {sequential_rate:,.0f}."
        )
        for label, _, _ in S3_SYNCS:
            default = label == S3_SYNCS[0][0]
            shown = f"{label}, GETs by {clients[label]}" if default and label in clients else label
            figure = (
                f"2. cold ingest, S3 via {PROXY_DELAY_MS} ms proxy, {shown}, "
                "vs fastest bare GET client"
            )
            goal = ">= 0.9" if default else "reference"
            if label in failures:
                report.add(failed_row(figure, goal, failures[label]))
                continue
            report.add(
                Row(
                    figure,
                    rate(ours[label], 1, "objects"),
                    f"{rate(bare[best], 1, 'objects')} ({best})",
                    f"{ours[label] / bare[best]:.2f}",
                    goal,
                    ours[label] / bare[best] >= 0.9 if default else None,
                )
            )
        figure_s3_listing(report, endpoint, count, sizes)


def figure_s3_listing(report: Report, endpoint: str, count: int, sizes: Sizes) -> None:
    """2. (reference) The full listing a sync makes of a bucket, in key ranges side by side,
    against one stream of pages. Pages of 100 keys: moto scans the whole bucket for every
    page (70 ms for these 3,005 keys, serialized by its GIL), so a bucket of real pages would
    measure moto, where S3 answers pages side by side."""
    figure = (
        f"2. full listing of the S3 store ({count:,} keys in pages of {LISTING_PAGE}) via "
        f"{PROXY_DELAY_MS} ms proxy: key ranges side by side vs one stream of pages"
    )
    task = {"kind": "list", "endpoint": endpoint, "page_size": LISTING_PAGE}
    result = run_child(task, sizes.timeout, child_env())
    if not result.ok:
        report.add(failed_row(figure, "reference", result))
        return
    stream = result.output["stream_seconds"]
    report.add(
        Row(
            figure,
            f"{result.seconds:.2f} s",
            f"{stream:.2f} s",
            f"{result.seconds / stream:.2f}",
            "reference",
            None,
        )
    )


def original_command(upstream: Path, *args: str) -> list[str]:
    return [str(upstream / "node" / "bin" / "node"), str(upstream / "cli.mjs"), *args]


def figure_original(
    report: Report, stores: list[tuple[str, Path, Path]], upstream: Path | None, sizes: Sizes
) -> None:
    """8. The original Node `perstack log` against ours, same store, same command."""
    if upstream is None or not (upstream / "cli.mjs").is_file():
        report.add(
            Row(
                "8. the original Node `perstack log` vs ours",
                f"skipped: no build of the original (--upstream DIR or {UPSTREAM_ENV}, holding "
                "node/bin/node and cli.mjs)",
                "-",
                "-",
                ">= 2x / >= 5x faster",
                None,
            )
        )
        return
    timeout = min(sizes.timeout, 300.0)
    identical: list[str] = []
    for label, root, cache_dir in stores:
        job_id = sorted(path.name for path in (root / "jobs").iterdir())[0]
        for name, args in (
            ("`log`", ["log"]),
            ("`log --job X --json --take 0`", ["log", "--job", job_id, "--json", "--take", "0"]),
        ):
            ours_args = [*args, "--storage", str(root)]
            cached = [*ours_args, "--cache-dir", str(cache_dir)]
            filled = measure(perstack(*cached), timeout=sizes.timeout)  # syncs the cache once
            original, no_cache, fresh = timed_side_by_side(
                [
                    (original_command(upstream, *args), {"PERSTACK_STORAGE_PATH": str(root)}),
                    (perstack(*ours_args, "--no-cache"), None),
                    (perstack(*cached), None),
                ],
                sizes.repeats,
                timeout,
            )
            if not filled.ok:
                fresh = filled
            if original.ok and fresh.ok:
                same = "yes" if original.stdout_digest == fresh.stdout_digest else "no"
                identical.append(f"{name} on the {label}: {same}")
            for mode, ours, times in (("--no-cache", no_cache, 2), ("fresh cache", fresh, 5)):
                figure = f"8. {name}, {label}: original vs ours, {mode}"
                goal = f">= {times}x faster"
                if not original.ok or not ours.ok:
                    report.add(failed_row(figure, goal, original, ours))
                    continue
                report.add(
                    Row(
                        figure,
                        f"{ours.seconds:.2f} s",
                        f"{original.seconds:.2f} s (original)",
                        f"{original.seconds / ours.seconds:.1f}x",
                        goal,
                        original.seconds / ours.seconds >= times,
                    )
                )
    if identical:
        report.notes.append(
            "Figure 8, output byte-identical to the original's (cached run): "
            + "; ".join(identical)
            + ". Not identical by design (README, deviations): our `Storage:` line names the "
            "backend and `--json` adds `storage`; a job without job.json starts at its first "
            "event, not at its directory's mtime, so the latest job can differ; and events are "
            "found by listing runs/, so a continued run's events, which the original drops, "
            "are shown (on the long-session store, 688 events of the first job against the "
            "original's 176). The recorded outputs of tests/fixtures are matched byte for byte."
        )


def figure_startup(report: Report, tiny: Path, cache_dir: Path, sizes: Sizes) -> None:
    """9. Start-up: the installed command against a bare interpreter."""
    bare = timed([sys.executable, "-c", "pass"], sizes.repeats, sizes.timeout)
    for label, args in (
        ("`perstack log --help`", ["log", "--help"]),
        (
            "`perstack log` on a 6-job store (cached)",
            ["log", "--storage", str(tiny), "--cache-dir", str(cache_dir)],
        ),
    ):
        measure(perstack(*args), timeout=sizes.timeout)
        ours = timed(perstack(*args), sizes.repeats, sizes.timeout)
        if not ours.ok:
            report.add(failed_row(f"9. start-up: {label}", "reference", ours))
            continue
        report.add(
            Row(
                f"9. start-up: {label}",
                f"{ours.seconds:.2f} s",
                f"{bare.seconds:.2f} s (`python -c pass`)",
                f"{ours.seconds / bare.seconds:.1f}x",
                "reference",
                None,
            )
        )


def figure_report(report: Report, root: Path, cache_dir: Path, work: Path, sizes: Sizes) -> None:
    """10. `perstack log report` on the 950-job store: its size against the bound, its time,
    and the CPU time it used (which a shared machine's load does not stretch as wall time)."""
    output = work / "report.html"
    jobs = sum(1 for _ in (root / "jobs").iterdir())
    figure = f"10. `perstack log report` of a {jobs:,}-job store (cached): page size"
    task = {"kind": "report", "root": str(root), "cache_dir": str(cache_dir), "output": str(output)}
    ours = run_child(task, sizes.timeout)
    if not ours.ok:
        report.add(failed_row(figure, "<= 5 MB for 1,000 jobs", ours))
        return
    megabytes = ours.output["bytes"] / 1e6
    command = perstack(
        "log", "report", "--storage", str(root), "--cache-dir", str(cache_dir), "-o", str(output)
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    timing = timed(command, sizes.repeats, sizes.timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / sizes.repeats
    report.add(
        Row(
            f"{figure}, {ours.output['views']:,} job views",
            f"{megabytes:.2f} MB",
            f"{timing.seconds:.1f} s the command ({cpu:.1f} s of CPU), "
            f"{ours.peak_rss_mb:,.0f} MB peak",
            "-",
            "<= 5 MB for 1,000 jobs",
            megabytes <= 5,
        )
    )


def figure_dask(report: Report, root: Path, cache_dir: Path, work: Path, sizes: Sizes) -> None:
    """11. Issue 18: an export on a LocalCluster of 2 worker processes (`--dask local:2`)
    against one process, and a query of the exported dataset against the same on the cache."""
    jobs = sum(1 for _ in (root / "jobs").iterdir())
    objects = sum(1 for _ in store_files(root))
    out = work / "datasets"
    shutil.rmtree(out, ignore_errors=True)
    base = ["log", "export", "--storage", str(root), "--no-cache"]
    single = timed(perstack(*base, "-o", str(out / "single")), 1, sizes.timeout)
    dask = timed(
        perstack(*base, "-o", str(out / "dask"), "--dask", "local:2", "--shards", "4"),
        1,
        sizes.timeout,
    )
    figure = f"11. export of the {jobs:,}-job store, `--dask local:2 --shards 4` vs one process"
    if not single.ok or not dask.ok:
        report.add(failed_row(figure, "reference", single, dask))
    else:
        report.add(
            ratio_row(
                figure,
                f"{dask.seconds:.1f} s ({objects / dask.seconds / 2:,.0f} objects/s per worker)",
                f"{single.seconds:.1f} s",
                single.seconds / dask.seconds,
                "reference (speed-up)",
                lambda _: None,
            )
        )
    sql = "select type, count(*) from events group by all order by 2 desc"
    dataset = timed(
        perstack("log", "query", "--dataset", str(out / "single"), sql),
        sizes.repeats,
        sizes.timeout,
    )
    cached = timed(
        perstack("log", "query", "--storage", str(root), "--cache-dir", str(cache_dir), sql),
        sizes.repeats,
        sizes.timeout,
    )
    figure = "11. `query --dataset` (exported Parquet) vs the same query on the cache"
    if not dataset.ok or not cached.ok:
        report.add(failed_row(figure, "reference", dataset, cached))
        return
    report.add(
        ratio_row(
            figure,
            f"{dataset.seconds:.2f} s",
            f"{cached.seconds:.2f} s",
            dataset.seconds / cached.seconds,
            "reference",
            lambda _: None,
        )
    )


# -- output -------------------------------------------------------------------------------------


def machine() -> str:
    memory = "?"
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    model = platform.processor() or "?"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import duckdb

    return (
        f"{os.cpu_count()} cores ({model}), {memory} RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, DuckDB {duckdb.__version__}"
    )


HOW = """How each figure is measured (all in one run of this script, side by side):

1. A cold sync through the Python API (`connect(store, cache_dir=new)` then `sync()`, in a
   fresh process, timed from opening the history to closing it, imports before it: see the
   note on pandas) against the floor of any
   Python design: one process walking `jobs/`, reading every file and parsing it with
   `orjson.loads`, nothing else (page cache warm for both). On the 950-job store and on the
   long-session store (`python -m perstack_logq.synth --profile long --size 2.1G`). For
   reference, DuckDB's `read_json_objects` over the same files; and decoding in the engine
   where it is easiest (`bench/engine_decode.py`): the event files that make only an events
   row, read into memory, decoded by our Python decoder and by `bench/plain_events.sql` on an
   open DuckDB connection (with the Python it needs first: run ids, masking), three rounds in
   turns, the fastest of each; the rows of the files the SQL accepts are compared with ours.
2. A moto server (own process) behind `bench/latency_proxy.py` (own process, +20 ms per
   request), holding whole jobs of the 950-job store. Bare GET clients: thread pools doing only
   GETs, with boto3 and with obstore, at 32 and 64 threads; the fastest is the reference. Ours:
   a full cold sync (listing, GETs, decoding, DuckDB) with default settings, and, for
   reference, with boto3 GETs only and with DuckDB httpfs. Rounds interleaved, each side keeps
   its best rate. moto and the proxy run on the same two cores (about 7.5 s of their CPU per
   run, whichever client), so a client's own CPU for decoding and DuckDB slows the server
   too. The listing row: the sync's full listing (key ranges side by side) against one stream
   of pages, best of 3 each, in pages of 100 keys: moto scans the whole bucket for each page
   (about 70 ms here, serialized by its GIL), so pages of 1,000 would time moto, where S3
   answers pages side by side.
3. 1% more jobs (generated with another seed) moved into the 950-job store, then a sync of
   figure 1's cache, against figure 1's cold sync; the jobs are moved out again afterwards.
   The reference row does the same on the 10,000-job store, against a cold sync of it into a
   cache of its own.
4. `perstack log query SQL --format csv` on figure 1's synced cache (wall time, start-up
   included, median) against a fresh `python -c` that imports duckdb, opens the cache file
   read-only and runs the same SQL; the two run in turns, 15 rounds. The reference row: the
   same `python -c` importing `typer.main` first (the CLI library), in the same turns.
5. Peak RSS (the process and its children, sampled every 50 ms) of figure 1's cold sync of the
   long-session store, of `perstack log query "select count(*) from messages"` and of
   `perstack log export --tables all` on its cache.
6. The cache directory's bytes after figure 1's cold sync of the long-session store, against
   the store's bytes.
7. Figure 4's command while another process holds `connect()` open on the same cache (as a
   notebook does), against figure 4's time alone; "re-read" when the command says it reads
   the store without the cache.
8. The original Node `perstack log` (Perstack's CLI built from its sources into one bundled
   file) against ours, same store, same command (wall time, median; a command over 10 s runs
   once): ours `--no-cache`, and ours on a fresh cache (synced by one untimed run first).
   X is the store's first job id. Every command here writes its stdout to a file in memory
   (/dev/shm), as `> out.json` would to a file; the three commands of a row run in turns
   (original, `--no-cache`, cache), `repeats` rounds.
9. Wall time of the installed `perstack` command against `python -c pass` (median).
10. `perstack log report` of the 950-job store on figure 1's cache: the page's size against
   the bound (5 MB for 1,000 jobs) and how many job views fit in it; wall time (median) and
   CPU time of the command, and peak memory of `history.report` in a child.
"""


def write_readme(path: Path, report: Report, smoke: bool, seconds: float) -> None:
    header = ["figure", "perstack_logq", "baseline", "ratio", "goal", "goal met"]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    rows = sorted(report.rows, key=lambda row: int(row.figure.split(".", 1)[0]))
    lines = [
        "# Benchmarks",
        "",
        "Written by `python bench/run.py"
        + (" --smoke" if smoke else " --full")
        + f"` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, in {seconds / 60:.1f} min.",
        "",
        f"Machine: {machine()}. Load average when the run ended (1, 5, 15 min): {load} "
        "(the machine is shared: other processes ran during the run).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row.cells()) + " |" for row in rows),
        "",
        "Notes:",
        "",
        *(f"- {note}" for note in report.notes),
        "",
        HOW,
    ]
    if smoke:
        lines[2:2] = ["**Smoke run: tiny stores, the figures say nothing about speed.**", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def guarded(
    report: Report, figure: str, step: Callable[..., Any], *args: Any, **options: Any
) -> Any:
    """Run one figure; a bench step that breaks becomes a row, and the run goes on."""
    if Budget.left() <= 0:
        report.add(
            Row(
                f"{figure}. {step.__name__.removeprefix('figure_').replace('_', ' ')}",
                "not run: the run's time budget was spent",
                "-",
                "-",
                "-",
                False,
            )
        )
        return None
    try:
        return step(report, *args, **options)
    except Exception as error:  # the table must still be written
        report.add(
            Row(
                f"{figure} (bench step failed)",
                md(f"{type(error).__name__}: {error}"),
                "-",
                "-",
                "-",
                False,
            )
        )
        return None


def compile_package() -> str:
    """Byte-compile perstack_logq, as installing a package does; what to note in the report.

    An editable install writes its .pyc files on first use, unless PYTHONDONTWRITEBYTECODE is
    set (as on this machine): then every command compiled the package again, ~25 ms of each.
    """
    import compileall

    import perstack_logq

    compileall.compile_dir(Path(perstack_logq.__file__).parent, quiet=1)
    setting = os.environ.get("PYTHONDONTWRITEBYTECODE")
    return "perstack_logq was byte-compiled before the run, as an installed package is" + (
        f" (PYTHONDONTWRITEBYTECODE={setting} here)." if setting else "."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="tiny stores: seconds, not minutes")
    size.add_argument("--full", action="store_true", help="real-size stores (the default)")
    parser.add_argument("--work", type=Path, help="stores and caches (default bench/out/)")
    parser.add_argument("--output", type=Path, default=BENCH / "README.md")
    parser.add_argument(
        "--upstream",
        type=Path,
        default=os.environ.get(UPSTREAM_ENV) or None,
        help=f"a build of the original CLI: node/bin/node and cli.mjs (or {UPSTREAM_ENV})",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        help=f"stop starting figures after this long (default {FULL_BUDGET_MINUTES:.0f} with "
        "--full, none with --smoke); each command's time limit is cut to what is left",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--serve-moto", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(json.loads(args.child))
        return
    if args.serve_moto:
        serve_moto(Path(args.serve_moto[0]), int(args.serve_moto[1]))
        return
    sizes = SMOKE if args.smoke else FULL
    work = args.work or BENCH / "out" / ("smoke" if args.smoke else "full")
    started = time.perf_counter()
    budget = args.budget_minutes or (None if args.smoke else FULL_BUDGET_MINUTES)
    if budget is not None:
        Budget.ends_at = time.monotonic() + budget * 60
    report = Report()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    report.notes.append(f"Load average when the run started (1, 5, 15 min): {load}.")
    report.notes.append(compile_package())
    main_store = ensure_store(work, sizes.main_jobs, 1, sizes.main_scale)
    many = ensure_store(work, sizes.many_jobs, 2, sizes.many_scale)
    long = ensure_long_store(work, sizes.long_bytes, sizes.long_seed, sizes.long_scale)
    main_jobs = sorted(path.name for path in (main_store / "jobs").iterdir())
    tiny = copy_jobs(main_store, work / "stores" / "6jobs-of-main", main_jobs[:6])
    caches = work / "caches"
    main_cache, long_cache = caches / "fs-main", caches / "fs-long"

    # Cheap figures on the small stores first, the long-session store last: if the budget
    # runs out, what is missing is what the table says is missing.
    no_result = Measured(0, 0, -1, "", "no result")
    cold = (
        guarded(
            report,
            "1",
            figure_cold_ingest,
            "950-job store",
            main_store,
            main_cache,
            sizes,
            floor_runs=2,
        )
        or no_result
    )
    guarded(report, "1", figure_duckdb_json, main_store, cold)
    guarded(report, "1", figure_engine_decode, main_store)
    alone = guarded(report, "4", figure_warm_query, main_store, main_cache, sizes) or no_result
    guarded(report, "7", figure_shared_cache, main_store, main_cache, alone, sizes)
    guarded(
        report,
        "3",
        figure_incremental,
        "950-job store",
        main_store,
        main_cache,
        cold,
        sizes.main_scale,
        work,
        sizes.timeout,
        goal=True,
    )
    guarded(report, "2", figure_s3, main_store, sizes, work)
    guarded(report, "9", figure_startup, tiny, caches / "tiny", sizes)
    guarded(report, "10", figure_report, main_store, main_cache, work, sizes)
    guarded(report, "11", figure_dask, main_store, main_cache, work, sizes)
    small_stores = [
        (f"{sizes.main_jobs:,}-job store", main_store, main_cache),
        (f"{sizes.many_jobs:,}-job store", many, caches / "many"),
    ]
    guarded(report, "8", figure_original, small_stores, args.upstream, sizes)
    guarded(
        report,
        "3",
        figure_incremental_at_size,
        f"{sizes.many_jobs:,}-job store",
        many,
        caches / "many-full",
        sizes,
        work,
    )
    cold_long = (
        guarded(
            report,
            "1",
            figure_cold_ingest,
            "long-session store",
            long,
            long_cache,
            sizes,
            floor_runs=1,
        )
        or no_result
    )
    guarded(report, "5", figure_long_store, long, long_cache, cold_long, work, sizes)
    guarded(report, "12", figure_search, long, long_cache, cold_long, sizes)
    if args.upstream is not None and (args.upstream / "cli.mjs").is_file():
        long_store = [("long-session store", long, long_cache)]
        guarded(report, "8", figure_original, long_store, args.upstream, sizes)
    write_readme(args.output, report, args.smoke, time.perf_counter() - started)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
