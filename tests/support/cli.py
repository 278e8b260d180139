"""Running the real CLI in a subprocess, against a store on any of the three backends."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("filesystem", "s3", "r2")


@dataclass(frozen=True)
class Backend:
    """How to point the CLI at one store: arguments and environment."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str]
    storage_line: str  # what `Storage:` must say

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, *self.args, env=self.env, check=check)


def run_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``perstack <args>`` in a fresh interpreter, as a user runs it."""
    merged = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "perstack_logq", *args],
        capture_output=True,
        text=True,
        env=merged,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"perstack {' '.join(args)} failed: {result.stderr}")
    return result


def run_cli_as_a_user(*args: str) -> subprocess.CompletedProcess[str]:
    """``run_cli`` in a process that file permissions apply to. Root reads a chmod 000
    directory anyway, and tests run as root here and in CI: root then runs it without the two
    capabilities that bypass permissions (setpriv, from util-linux)."""
    command = [sys.executable, "-m", "perstack_logq", *args]
    if os.geteuid() == 0:
        command = [*_without_permission_bypass(), *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@functools.cache
def _without_permission_bypass() -> tuple[str, ...]:
    import pytest

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root reads a chmod 000 directory anyway, and setpriv is missing")
    prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search")
    if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode:
        pytest.skip("root reads a chmod 000 directory anyway, and setpriv may not drop that")
    return prefix


def write_config(directory: Path, body: str) -> Path:
    path = directory / "perstack.toml"
    path.write_text(body, encoding="utf-8")
    return path
