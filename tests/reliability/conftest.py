"""Fixtures of the reliability tests (helpers live in reliability_support)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)  # so that test modules can `import reliability_support`

from reliability_support import copy_fixture_store  # noqa: E402 - needs the entry above


@pytest.fixture
def store_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture store, to damage."""
    return copy_fixture_store(tmp_path / "store")
