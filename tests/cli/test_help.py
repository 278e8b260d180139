"""The command explains itself: bare `perstack` and every `--help` print usage and exit 0."""

from __future__ import annotations

import pytest
from support.cli import run_cli


def test_bare_command_shows_the_help() -> None:
    result = run_cli()
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: ")
    assert "log" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["jobs"],
        ["info"],
        ["query"],
        ["queries"],
        ["sync"],
        ["export"],
        ["demo"],
        ["cost"],
        ["search"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli("log", *command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ")
