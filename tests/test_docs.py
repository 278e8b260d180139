"""The docs keep up with the code: every command and option is documented, and CI runs the
README's own test command."""

from __future__ import annotations

import re
from pathlib import Path

from perstack_logq.cli import log_app, log_commands

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_quick_start_is_two_commands() -> None:
    assert len(_quick_start_commands()) == 2


def test_the_first_command_installs_the_extras_the_examples_use() -> None:
    """The README promises every example works as printed after command 1: the commands
    that need an extra (and say so when it is missing) get it from that install."""
    install = _quick_start_commands()[0]
    extras = re.search(r"-e '\.\[([a-z,]+)\]'", install)
    installed = set(extras.group(1).split(",")) if extras else set()
    shown = set(re.findall(r"^\$ perstack log (\w+)", README, re.MULTILINE))
    extra_of = {"cost": "cost", "search": "search", "report": "report"}
    assert {extra_of[command] for command in shown if command in extra_of} <= installed
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for extra in installed:
        assert re.search(rf"^{extra} = \[", pyproject, re.MULTILINE), extra


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _quick_start_commands()[1]
    assert "pytest" in test_command
    assert test_command in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_every_command_is_documented() -> None:
    assert len(log_commands.registered_commands) > 5
    for command in log_commands.registered_commands:
        name = command.name or command.callback.__name__
        assert f"perstack log {name}" in README, f"README does not show `perstack log {name}`"


def test_every_option_of_the_log_view_is_documented() -> None:
    import inspect

    source = inspect.getsource(log_app.registered_callback.callback)
    options = set(re.findall(r'typer\.Option\("(--[a-z-]+)"', source))
    shared = {"--config", "--storage", "--cache-dir", "--no-cache", "--concurrency", "--debug"}
    for option in options - shared:
        assert f"`{option}" in README, f"README does not mention {option}"


def test_architecture_doc_names_every_module() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = REPO / "perstack_logq"
    for module in package.rglob("*.py"):
        if module.name in {"__init__.py", "__main__.py"}:
            continue
        assert module.name in doc, f"docs/architecture.md does not mention {module.name}"


def test_what_the_readme_calls_works_after_the_install_it_shows() -> None:
    # .df() needs pandas, which the plain install does not bring: the README names the extra.
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"^pandas = \[", pyproject, re.MULTILINE)
    if ".df()" in README:
        assert "perstack-logq[pandas]" in README
    # The examples read ./perstack, where the demo writes (tests/test_readme_examples.py runs them).
    assert "Generated sample store /tmp/readme/perstack (" in README
    assert ". .venv/bin/activate" in README
