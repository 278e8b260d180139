"""Helpers for the reliability tests: the real CLI, store copies, tree checksums.

``cli(...)`` runs ``perstack log ...``: through the CLI's entry point in this process (fast,
the same parsing, output and exit codes), or with ``process=True`` as a subprocess of the
installed ``perstack`` script, exactly as a user runs it. Given ``store=``, it also proves the
command left that store untouched: a checksum of the whole tree (names, types, modes, sizes,
modification times, contents, link targets) is taken before and after every command.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from support import FIXTURE_STORE

from perstack_logq.cli import main

PERSTACK = str(Path(sys.executable).with_name("perstack"))
CLI_TIMEOUT = 90


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Error: ")]


def tree_checksum(root: Path) -> str:
    """A digest of everything under ``root`` that a write could change (not access times)."""
    digest = hashlib.sha256()
    for directory, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted([*dirs, *files]):
            path = Path(directory, name)
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            digest.update(
                f"{relative}\0{stat.S_IFMT(info.st_mode)}\0{info.st_mode}\0{info.st_size}\0"
                f"{info.st_mtime_ns}\0".encode()
            )
            if stat.S_ISLNK(info.st_mode):
                digest.update(os.readlink(path).encode())
            elif stat.S_ISREG(info.st_mode):
                with path.open("rb") as file:
                    digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()


def cli(*args: str, store: Path | None = None, process: bool = False) -> Result:
    """``perstack log <args>``; with ``store``, also assert the command did not change it."""
    before = tree_checksum(store) if store is not None else None
    if process:
        completed = subprocess.run(
            [PERSTACK, "log", *args],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        result = Result(tuple(args), completed.returncode, completed.stdout, completed.stderr)
    else:
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            code = main(["log", *args])
        result = Result(tuple(args), code, stdout.getvalue(), stderr.getvalue())
    if store is not None:
        assert tree_checksum(store) == before, f"perstack log {' '.join(args)} changed {store}"
    return result


def copy_fixture_store(destination: Path) -> Path:
    """A writable copy of the runtime-written fixture store (never damage the original)."""
    shutil.copytree(FIXTURE_STORE, destination, symlinks=True)
    return destination
