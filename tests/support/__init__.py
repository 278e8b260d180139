"""Helpers shared by the tests (importable as ``support`` once tests/conftest.py has run)."""

from pathlib import Path

# A copy of the real store lives in the repository (tests/fixtures/README.md says where it came
# from): a user's clone has nothing beside it.
FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "perstack-runtime-store"
# A store written by Perstack's own runtime (see its README and STATS.txt).
FIXTURE_STORE = FIXTURE_DIR / "store" / "perstack"
# What the original `perstack log` printed over it, one file per command (see _index.txt).
UPSTREAM_OUTPUTS = FIXTURE_DIR / "upstream-log-outputs"
# Where tests/conftest.py uploads it on the moto server.
FIXTURE_BUCKET = "perstack-fixture"
FIXTURE_PREFIX = "perstack/"
FIXTURE_ROOT_BUCKET = "perstack-fixture-root"  # the same store at the bucket's root (prefix "")
R2_ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
