"""`perstack log` over generated stores, every option and combination, on every backend.

Two oracles:
- on a store where every job has job.json and every run its run-setting.json, the original
  command's semantics and ours coincide, so our output must equal the independent reference
  implementation of the original (tests/views/test_render.py: reads the files directly, the
  way the TypeScript command does) byte for byte;
- on a store without them (spec §4, the common case today) there is no original to compare
  with: the outputs are snapshots in tests/cli/golden/, identical on all three backends.
  Regenerate them with PERSTACK_LOGQ_UPDATE_GOLDENS=1 after an intended change, and review
  the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from support.cli import BACKENDS
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION, upload_tree
from views.test_render import reference_output, render

from perstack_logq.cli import main
from perstack_logq.synth import DirectoryWriter, GenerationReport, generate_store

GOLDEN_DIR = Path(__file__).parent / "golden"
BUCKET = "generated-stores"
UPDATE = os.environ.get("PERSTACK_LOGQ_UPDATE_GOLDENS") == "1"


class GeneratedStore:
    def __init__(self, root: Path, report: GenerationReport, prefix: str) -> None:
        self.root = root
        self.report = report
        self.prefix = prefix

    def job_of(self, scenario: str) -> str:
        return next(f.job_id for f in self.report.job_facts.values() if f.scenario == scenario)

    def ids(self) -> dict[str, str]:
        deleg = self.job_of("delegation")
        facts = self.report.job_facts[deleg]
        checkpoints = sorted((self.root / "jobs" / deleg / "checkpoints").glob("*.json"))
        continued = self.job_of("continued")
        continued_facts = self.report.job_facts[continued]
        return {
            "DELEG": deleg,
            "DELEG_RUN": facts.run_ids[1],
            "DELEG_CP": checkpoints[len(checkpoints) // 2].stem,
            "ERRJOB": self.job_of("provider_error"),
            "TOOLJOB": self.job_of("tools"),
            "CONT": continued,
            "CONT_RUN": continued_facts.run_ids[-1],
            "RUNNING": self.job_of("running"),
        }


def _generate(tmp: Path, name: str, moto_endpoint: str, **options: float) -> GeneratedStore:
    root = tmp / name
    report = generate_store(DirectoryWriter(root), jobs=24, seed=41, **options)
    upload_tree(moto_endpoint, BUCKET, f"{name}/", root)
    return GeneratedStore(root, report, f"{name}/")


@pytest.fixture(scope="session")
def complete_store(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> GeneratedStore:
    tmp = tmp_path_factory.mktemp("generated")
    return _generate(tmp, "complete", moto_endpoint, with_job_files=1.0, with_run_settings=1.0)


@pytest.fixture(scope="session")
def bare_store(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> GeneratedStore:
    tmp = tmp_path_factory.mktemp("generated")
    return _generate(tmp, "bare", moto_endpoint, with_job_files=0.0, with_run_settings=0.0)


@pytest.fixture(scope="session")
def remote_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache per test process for the S3/R2 cases: the first case of a store reads it
    over HTTP, the others only list it (the cache's own tests prove cache == --no-cache)."""
    return tmp_path_factory.mktemp("remote-cache")


def _backend_args(
    backend: str,
    store: GeneratedStore,
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cache_dir: Path,
) -> list[str]:
    if backend == "filesystem":
        return ["--storage", str(store.root), "--no-cache"]
    config = tmp_path / "perstack.toml"
    if backend == "s3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
        config.write_text(
            f'[storage]\ntype = "s3"\n[storage.s3]\nbucket = "{BUCKET}"\nregion = "{REGION}"\n'
            f'prefix = "{store.prefix}"\nendpoint = "{endpoint}"\nforcePathStyle = true\n'
        )
    else:
        monkeypatch.setenv("R2_ACCESS_KEY_ID", DUMMY_KEY_ID)
        monkeypatch.setenv("R2_SECRET_ACCESS_KEY", DUMMY_SECRET)
        config.write_text(
            f'[storage]\ntype = "r2"\n[storage.r2]\naccountId = "acct"\nbucket = "{BUCKET}"\n'
            f'prefix = "{store.prefix}"\nendpoint = "{endpoint}"\n'
        )
    return ["--config", str(config), "--cache-dir", str(cache_dir)]


# Every option of the original, alone and combined; placeholders name jobs of a scenario.
CASES: list[tuple[str, list[str]]] = [
    ("latest", []),
    ("latest-json", ["--json"]),
    ("latest-pretty", ["--json", "--pretty"]),
    ("summary", ["--summary"]),
    ("summary-json", ["--summary", "--json"]),
    ("job", ["--job", "DELEG", "--take", "0"]),
    ("job-json", ["--job", "DELEG", "--json"]),
    ("job-verbose", ["--job", "TOOLJOB", "--verbose"]),
    ("job-run", ["--job", "DELEG", "--run", "DELEG_RUN"]),
    ("job-run-json", ["--job", "DELEG", "--run", "DELEG_RUN", "--json"]),
    ("checkpoint", ["--job", "DELEG", "--checkpoint", "DELEG_CP"]),
    ("checkpoint-messages", ["--job", "DELEG", "--checkpoint", "DELEG_CP", "--messages"]),
    ("checkpoint-json", ["--job", "DELEG", "--checkpoint", "DELEG_CP", "--json", "--pretty"]),
    ("step-exact", ["--job", "TOOLJOB", "--step", "2"]),
    ("step-gt", ["--job", "TOOLJOB", "--step", ">2"]),
    ("step-gte", ["--job", "TOOLJOB", "--step", ">=2"]),
    ("step-lt", ["--job", "TOOLJOB", "--step", "<2"]),
    ("step-lte", ["--job", "TOOLJOB", "--step", "<=2"]),
    ("step-range", ["--job", "TOOLJOB", "--step", "2-3"]),
    ("type", ["--job", "TOOLJOB", "--type", "resolveToolResults"]),
    ("errors", ["--job", "ERRJOB", "--errors"]),
    ("tools", ["--job", "TOOLJOB", "--tools", "--take", "0"]),
    ("delegations", ["--job", "DELEG", "--delegations"]),
    ("errors-and-tools", ["--job", "TOOLJOB", "--errors", "--tools"]),
    ("filter-array", ["--job", "TOOLJOB", "--filter", '.toolCalls[].toolName == "readTextFile"']),
    ("filter-number", ["--job", "TOOLJOB", "--filter", ".stepNumber >= 2", "--json"]),
    ("filter-ne", ["--job", "TOOLJOB", "--filter", ".type != 'startGeneration'"]),
    ("take-offset", ["--job", "TOOLJOB", "--take", "3", "--offset", "2"]),
    ("offset-past-end", ["--job", "TOOLJOB", "--offset", "100000"]),
    ("context", ["--job", "TOOLJOB", "--type", "callTools", "--context", "1"]),
    (
        "context-paginated",
        ["--job", "TOOLJOB", "--type", "callTools", "--take", "1", "--context", "2"],
    ),
    (
        "combined",
        [
            "--job",
            "TOOLJOB",
            "--step",
            ">=1",
            "--tools",
            "--take",
            "2",
            "--offset",
            "1",
            "--context",
            "1",
            "--verbose",
            "--summary",
        ],
    ),
    ("continued", ["--job", "CONT", "--take", "0"]),
    ("continued-run", ["--job", "CONT", "--run", "CONT_RUN", "--json"]),
    ("running", ["--job", "RUNNING", "--json"]),
    ("run-of-latest", ["--run", "DELEG_RUN"]),
    ("unknown-run", ["--job", "DELEG", "--run", "nosuchrun"]),
    ("no-such-job", ["--job", "nosuchjob"]),
]


def _argv(store: GeneratedStore, template: list[str]) -> list[str]:
    ids = store.ids()
    return [ids.get(word, word) for word in template]


def _normalise(text: str) -> str:
    text = re.sub(r"^Storage: .*$", "Storage: <STORE>", text, flags=re.MULTILINE)
    text = re.sub(r'"storagePath": ?"[^"]*"', '"storagePath":"<STORE>"', text)
    return re.sub(r',\s*"storage": ?\{\s*"type": ?"[^"]*",\s*"location": ?"[^"]*"\s*\}', "", text)


# The typos among the cases: stdout stays the original's, and stderr says what was not found.
TYPO_HINTS = {
    "run-of-latest": "no run ",
    "unknown-run": "no run nosuchrun in job ",
    "no-such-job": "no job nosuchjob; closest: ",
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], case: str) -> str:
    code = main(["log", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    if case in TYPO_HINTS:
        assert captured.err.startswith(TYPO_HINTS[case]), captured.err
        assert captured.err.count("\n") == 1, captured.err
    else:
        assert captured.err == ""
    return captured.out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "template"), CASES, ids=[name for name, _ in CASES])
def test_complete_store_matches_the_original_semantics(
    backend: str,
    name: str,
    template: list[str],
    complete_store: GeneratedStore,
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    remote_cache_dir: Path,
) -> None:
    argv = _argv(complete_store, template)
    expected_output = reference_output(argv, complete_store.root)
    expected = "No data found" if expected_output is None else render(argv, expected_output)
    args = _backend_args(
        backend, complete_store, moto_endpoint, tmp_path, monkeypatch, remote_cache_dir
    )
    ours = _run([*argv, *args], capsys, name)
    assert _normalise(ours) == _normalise(expected + "\n")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "template"), CASES, ids=[name for name, _ in CASES])
def test_bare_store_snapshots(
    backend: str,
    name: str,
    template: list[str],
    bare_store: GeneratedStore,
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    remote_cache_dir: Path,
) -> None:
    args = _backend_args(
        backend, bare_store, moto_endpoint, tmp_path, monkeypatch, remote_cache_dir
    )
    ours = _normalise(_run([*_argv(bare_store, template), *args], capsys, name))
    golden = GOLDEN_DIR / f"bare-{name}.txt"
    if UPDATE and backend == "filesystem":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(ours, encoding="utf-8")
    assert ours == golden.read_text(encoding="utf-8")
