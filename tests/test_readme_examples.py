"""Every shell example of README.md runs, in order, as printed, and prints what the README shows.

The convention (follow it when you add an example; nothing else needs to change here):

- A fenced block opened with ```` ```console ```` is an example. Its ``$ `` lines are commands,
  run one after the other with bash in one directory (shown as ``/tmp/readme``), as a user who
  followed the README from the top would: the first is ``perstack log demo``, which writes the
  store ``./perstack`` that the later ones read. ``perstack`` is the installed command (the
  virtual environment's ``bin`` comes first on the PATH, as after ``. .venv/bin/activate``).
- The lines after a command, up to the next ``$ `` line or the block's end, are what it prints
  (stdout and stderr, as a terminal shows them). A line ``...`` stands for any number of lines.
  A command with no lines after it is only checked to succeed.
- A command ends with ``  # exit N`` when it is meant to fail with that exit code.
- Blocks with any other tag (```` ```sh ````, ```` ```toml ````, plain ```` ``` ````) are not run.

Blocks run in the order of the file, so a section added anywhere is picked up without touching
this test; a block's commands may rely on the files earlier blocks made (``./lake``, ...).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SHOWN_DIRECTORY = "/tmp/readme"
_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
_EXIT = re.compile(r"\s+# exit (\d+)$")


@dataclass(frozen=True)
class Example:
    command: str
    expected: list[str]  # lines; "..." matches any number of lines
    exit_code: int
    line: int  # where the command is in README.md

    def __str__(self) -> str:
        return f"README.md:{self.line}: $ {self.command}"


def readme_examples(text: str) -> list[Example]:
    examples: list[Example] = []
    for block in _BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        current: tuple[str, int, int] | None = None
        expected: list[str] = []
        for offset, line in enumerate(block[1].splitlines()):
            if line.startswith("$ "):
                if current:
                    examples.append(Example(current[0], expected, current[1], current[2]))
                command = line[2:]
                code = _EXIT.search(command)
                exit_code = int(code[1]) if code else 0
                current = (_EXIT.sub("", command), exit_code, first_line + offset)
                expected = []
            elif current is None:
                raise AssertionError(f"README.md:{first_line + offset}: output before any `$ `")
            else:
                expected.append(line)
        if current:
            examples.append(Example(current[0], expected, current[1], current[2]))
    return examples


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; ``...`` matches any run of lines (trailing blank lines are ignored)."""
    while expected and not expected[-1].strip():
        expected = expected[:-1]
    while actual and not actual[-1].strip():
        actual = actual[:-1]
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and matches(expected[1:], actual[1:])


def test_the_convention_is_parsed_as_documented() -> None:
    text = (
        "```console\n$ perstack a\none\n...\n$ perstack b  # exit 2\n```\n"
        "```sh\n$ not run\n```\n```console\n$ perstack c\n```\n"
    )
    examples = readme_examples(text)
    assert [(e.command, e.expected, e.exit_code) for e in examples] == [
        ("perstack a", ["one", "..."], 0),
        ("perstack b", [], 2),
        ("perstack c", [], 0),
    ]
    assert matches(["a", "...", "d"], ["a", "b", "c", "d", ""])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["a"], ["a", "b"])


def test_readme_examples_run_in_order(tmp_path: Path) -> None:
    examples = readme_examples(README.read_text(encoding="utf-8"))
    assert examples[0].command == "perstack log demo", "the first example must be the demo"
    assert len(examples) >= 10
    workdir = tmp_path / "readme"
    workdir.mkdir()
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "perstack").exists():
        pytest.fail(f"no perstack command beside {sys.executable}: pip install -e . first")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PERSTACK", "AWS_", "R2_"))},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "PYTHONUNBUFFERED": "1",  # stdout and stderr interleave as on a terminal
    }
    env.pop("COLUMNS", None)
    failures = []
    for example in examples:
        result = subprocess.run(
            ["bash", "-c", example.command],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        shown = result.stdout.replace(str(workdir), SHOWN_DIRECTORY).splitlines()
        if result.returncode != example.exit_code:
            failures.append(f"{example}: exit {result.returncode}\n{result.stdout}")
        elif example.expected and not matches(example.expected, shown):
            failures.append(f"{example}: printed\n" + "\n".join(shown))
    assert not failures, "\n\n".join(failures)
