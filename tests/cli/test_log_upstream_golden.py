"""`perstack log` prints what the original command printed over the same store, on every backend.

The store in shared/fixtures was written by Perstack's runtime, and upstream-log-outputs/ holds
the original command's output for 18 invocations. Only the `Storage:` line, `storagePath` and
our added `storage` key may differ; everything else must be byte for byte the same.
"""

from __future__ import annotations

import re
import shlex

import orjson
import pytest
from support import UPSTREAM_OUTPUTS
from support.cli import Backend


def _invocations() -> list[tuple[str, list[str]]]:
    lines = (UPSTREAM_OUTPUTS / "_index.txt").read_text(encoding="utf-8").splitlines()
    ids = dict(pair.split("=", 1) for pair in lines[0].split())
    cases = []
    for line in lines[1:]:
        name = line.split(" rc=", 1)[0]
        words = shlex.split(line.split(" :: ", 1)[1])[2:]  # drop "perstack log"
        # The index joins argv with spaces; --filter received its expression as one argument.
        if words and words[0] == "--filter":
            words = ["--filter", " ".join(words[1:])]
        cases.append((name, [ids.get(word, word) for word in words]))
    return cases


INVOCATIONS = _invocations()


def test_index_lists_eighteen_invocations() -> None:
    assert len(INVOCATIONS) == 18


def _without_storage_keys(text: str) -> str:
    """Drop storagePath (and our storage object) from compact or pretty JSON text."""
    text = re.sub(r',"storagePath":"[^"]*"', "", text)
    text = re.sub(r',"storage":\{"type":"[^"]*","location":"[^"]*"\}', "", text)
    text = re.sub(r'\n  "storagePath": "[^"]*",', "", text)
    return re.sub(
        r'\n  "storage": \{\n    "type": "[^"]*",\n    "location": "[^"]*"\n  \},', "", text
    )


@pytest.mark.parametrize(("name", "argv"), INVOCATIONS, ids=[name for name, _ in INVOCATIONS])
def test_output_matches_the_original(fixture_backend: Backend, name: str, argv: list[str]) -> None:
    expected = (UPSTREAM_OUTPUTS / f"{name}.txt").read_text(encoding="utf-8")
    result = fixture_backend.run("log", *argv)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    if expected.lstrip().startswith("{"):
        ours = orjson.loads(result.stdout)
        assert ours["storage"]["type"] == fixture_backend.name
        # The text line also names an S3-compatible endpoint; the JSON keeps type and location.
        assert (
            fixture_backend.storage_line.split(" (endpoint ")[0]
            == f"Storage: {ours['storage']['type']} " + ours["storage"]["location"]
        )
        assert ours["storagePath"] == ours["storage"]["location"]
        assert _without_storage_keys(result.stdout) == _without_storage_keys(expected)
    else:
        assert fixture_backend.storage_line in result.stdout.splitlines()
        storage_line = re.compile(r"^Storage: .*$", re.MULTILINE)
        assert storage_line.sub("Storage:", result.stdout) == storage_line.sub("Storage:", expected)


@pytest.mark.parametrize("fixture_backend", ["s3", "r2"], indirect=True)
def test_direct_reads_through_httpfs_print_the_same(fixture_backend: Backend) -> None:
    """`--direct-reads` fetches S3/R2 objects with DuckDB httpfs: the output is the same."""
    name, argv = next(case for case in INVOCATIONS if case[0] == "job-json")
    expected = (UPSTREAM_OUTPUTS / f"{name}.txt").read_text(encoding="utf-8")
    result = fixture_backend.run("log", "--direct-reads", *argv)
    assert result.returncode == 0, result.stderr
    assert _without_storage_keys(result.stdout) == _without_storage_keys(expected)
