"""No credential from a run setting reaches any table, output format or export.

The generator plants fake secrets (each holding PLANTED_SECRET_MARKER) exactly where real
ones sit: providerConfig keys and headers, perstackApiKey, env, the userinfo of proxyUrl.
Every table and view is read whole with every column as text, every output format of
``perstack log query`` is produced for every table, and ``perstack log`` (JSON and terminal),
``perstack log jobs --json``, ``perstack log info --json`` and ``perstack log export`` are run;
none may hold a planted value or the marker.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from perstack_logq.api import TABLES, connect
from perstack_logq.cli import main
from perstack_logq.synth import (
    PLANTED_SECRET_MARKER,
    DirectoryWriter,
    GenerationReport,
    generate_store,
    planted_secrets,
)
from perstack_logq.views.output import OutputFormat
from perstack_logq.views.query import canned_queries

PERSTACK = Path(sys.executable).parent / "perstack"


class Store:
    def __init__(self, root: Path, report: GenerationReport, cache_dir: Path) -> None:
        self.root = root
        self.report = report
        self.cache_dir = cache_dir
        self.secrets = planted_secrets(report)

    def args(self) -> list[str]:
        return ["--storage", str(self.root), "--cache-dir", str(self.cache_dir)]

    def assert_clean(self, text: str, where: str) -> None:
        assert PLANTED_SECRET_MARKER.lower() not in text.lower(), f"the marker leaks in {where}"
        leaked = sorted(secret for secret in self.secrets if secret in text)
        assert not leaked, f"{where} holds planted secrets: {leaked[:3]}"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    base = tmp_path_factory.mktemp("secrets")
    root = base / "perstack"
    report = generate_store(DirectoryWriter(root), jobs=12, seed=23, with_run_settings=0.8)
    planted = Store(root, report, base / "cache")
    # The test means something only if the store really holds them.
    raw = "".join(path.read_text("utf-8") for path in root.rglob("run-setting.json"))
    assert planted.secrets and all(secret in raw for secret in planted.secrets)
    where: set[str] = set()
    for path in root.rglob("run-setting.json"):
        setting = json.loads(path.read_text("utf-8"))
        where |= {key for key, value in setting.items() if PLANTED_SECRET_MARKER in str(value)}
        provider = setting.get("providerConfig", {})
        where |= {key for key, value in provider.items() if PLANTED_SECRET_MARKER in str(value)}
    assert {"apiKey", "env", "perstackApiKey", "proxyUrl"} <= where
    return planted


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out + err


def test_no_table_or_view_holds_a_secret(store: Store) -> None:
    with connect(str(store.root), cache=False) as history:
        names = [
            name
            for (name,) in history.sql(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                "UNION SELECT view_name FROM duckdb_views() "
                "WHERE schema_name = 'main' AND NOT internal"
            ).fetchall()
        ]
        assert set(TABLES) <= set(names)
        for name in names:
            rows = history.sql(f"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {name}").fetchall()
            store.assert_clean("\n".join(map(repr, rows)), f"table {name}")
        # The run settings are there, redacted, not dropped.
        settings = history.sql("SELECT settings FROM run_settings").fetchall()
        assert len(settings) == store.report.run_settings > 0
        assert all("<redacted>" in text for (text,) in settings)


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_no_query_output_holds_a_secret(
    store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    run_cli(capsys, "log", "sync", *store.args())
    sqls = [f"SELECT * FROM {name}" for name in TABLES]
    for sql in sqls:
        args = ["log", "query", *store.args(), "--no-sync", "--format", fmt, sql]
        if fmt == "parquet":
            target = tmp_path / "out.parquet"
            run_cli(capsys, *args, "--output", str(target))
            text = repr(pq.read_table(target).to_pylist())
        else:
            text = run_cli(capsys, *args)
        store.assert_clean(text, f"{fmt} output of {sql!r}")


def test_no_canned_query_output_holds_a_secret(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = store.report.job_ids[0]
    for query in canned_queries():
        params = ["--param", f"job_id={job_id}"] if query.name == "delegation_tree" else []
        text = run_cli(
            capsys, "log", "query", *store.args(), "--name", query.name, *params, "--format", "json"
        )
        store.assert_clean(text, f"canned query {query.name}")


def test_no_log_output_holds_a_secret(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    store.assert_clean(run_cli(capsys, "log", *store.args(), "--json"), "perstack log --json")
    store.assert_clean(run_cli(capsys, "log", "jobs", *store.args(), "--json"), "log jobs --json")
    store.assert_clean(run_cli(capsys, "log", "info", *store.args(), "--json"), "log info --json")
    for job_id in store.report.job_ids:
        for extra in (["--json", "--take", "0"], ["--verbose", "--take", "0", "--summary"]):
            text = run_cli(capsys, "log", *store.args(), "--job", job_id, *extra)
            store.assert_clean(text, f"perstack log --job {job_id} {' '.join(extra)}")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_no_export_holds_a_secret(
    store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / "dataset"
    run_cli(
        capsys,
        "log",
        "export",
        *store.args(),
        "-o",
        str(target),
        "--tables",
        "all",
        "--format",
        fmt,
    )
    files = [path for path in target.rglob("*") if path.is_file()]
    assert any(path.suffix == f".{fmt}" for path in files)
    for path in files:
        text = (
            repr(pq.read_table(path).to_pylist())
            if path.suffix == ".parquet"
            else path.read_text("utf-8")
        )
        store.assert_clean(text, f"export file {path.relative_to(target)}")


def test_the_real_command_prints_no_secret(store: Store) -> None:
    done = subprocess.run(
        [str(PERSTACK), "log", "query", *store.args(), "-f", "jsonl", "SELECT * FROM runs"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == store.report.runs
    store.assert_clean(done.stdout + done.stderr, "perstack log query (subprocess)")
