"""The SQL shipped in the package (``sql/`` in the repository, ``perstack_logq.sql`` installed).

Every ``.sql`` file starts with a header of ``--`` comments: the first line says what the file
answers; ``-- param: name = default  description`` lines declare the parameters a canned query
takes (bound as DuckDB ``$name`` parameters, never pasted into the text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from perstack_logq.errors import UsageError

_PARAM = re.compile(r"^--\s*param:\s*(\w+)\s*(?:=\s*(\S+))?\s*(.*)$")


@dataclass(frozen=True)
class QueryParam:
    name: str
    default: str | None  # None: required
    doc: str


@dataclass(frozen=True)
class SqlFile:
    name: str  # file name without .sql
    summary: str  # the header's first line: what the query answers
    params: tuple[QueryParam, ...]
    text: str


def _root() -> Traversable:
    return files("perstack_logq.sql")


def _parse(name: str, text: str) -> SqlFile:
    header = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    summary = header[0].lstrip("- ").strip() if header else ""
    params = []
    for line in header[1:]:
        match = _PARAM.match(line)
        if match:
            params.append(QueryParam(match[1], match[2], match[3].strip()))
    return SqlFile(name, summary, tuple(params), text)


@cache
def sql_folder(folder: str) -> tuple[SqlFile, ...]:
    """Every ``.sql`` file of ``sql/<folder>/``, sorted by file name (names set the order)."""
    directory = _root().joinpath(folder)
    entries = sorted(
        (entry for entry in directory.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return tuple(_parse(entry.name[: -len(".sql")], entry.read_text("utf-8")) for entry in entries)


def sql_file(folder: str, name: str) -> SqlFile:
    for candidate in sql_folder(folder):
        if candidate.name == name:
            return candidate
    known = ", ".join(f.name for f in sql_folder(folder))
    raise UsageError(f"Unknown query {name!r} (known: {known})")
