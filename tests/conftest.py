"""Fixtures shared by every test.

- Every test runs cut off from the user's real environment (HOME, caches, AWS profile and
  credentials, PERSTACK_STORAGE_PATH): a developer's ~/.aws or a real store must never leak in.
- ``moto_endpoint``: one real S3 endpoint (moto server mode) for the session.
- ``s3_storage`` / ``r2_storage``: S3Storage / R2Storage over the real fixture store, uploaded
  once to that endpoint.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from perstack_logq.config import R2Config, S3Config
from perstack_logq.storage.s3 import R2Storage, S3Storage

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))  # so that tests can `from support.moto_server import ...`

from support import (  # noqa: E402 - needs the sys.path entry above
    FIXTURE_BUCKET,
    FIXTURE_PREFIX,
    FIXTURE_ROOT_BUCKET,
    FIXTURE_STORE,
    R2_ACCOUNT_ID,
)
from support.moto_server import (  # noqa: E402
    DUMMY_KEY_ID,
    DUMMY_SECRET,
    REGION,
    running_moto_server,
    upload_tree,
)

# Environment a test must not inherit: it selects a store, an AWS identity or an endpoint.
_LEAKY_ENV = (
    "PERSTACK_STORAGE_PATH",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "R2_ACCESS_KEY_ID",
    "R2_SECRET_ACCESS_KEY",
)


def _point_aws_files_at(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """AWS config and credentials files that do not exist yet, and no instance metadata
    lookups (which would wait on 169.254.169.254, or find a real role on a cloud machine)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(directory / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(directory / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, caches and AWS files inside tmp_path; no inherited store, profile or keys."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("PERSTACK_LOGQ_CACHE_DIR", str(tmp_path / "logq-cache"))
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    _point_aws_files_at(monkeypatch, home)
    return home


# How long a test's own threads may take to end after it: a read under way ends within its
# timeouts, far sooner than this.
_THREADS_END_WITHIN = 30.0


@pytest.fixture(autouse=True)
def no_thread_left_running() -> Iterator[None]:
    """Every non-daemon thread the tool started during a test has ended soon after it. One
    left blocked (on a queue nobody reads, say) would hold the test process's exit forever:
    CI then sees a suite that stops printing, not the test that caused it. (Daemon threads,
    such as the request-deadline watcher, never hold an exit.)"""
    before = set(threading.enumerate())
    yield
    ends = time.monotonic() + _THREADS_END_WITHIN

    def ours_still_running() -> list[threading.Thread]:
        return [
            thread
            for thread in threading.enumerate()
            if thread not in before
            and not thread.daemon
            and thread.name.startswith("perstack-logq")
        ]

    while (left := ours_still_running()) and time.monotonic() < ends:
        time.sleep(0.05)
    if left:
        frames = sys._current_frames()
        stacks = "\n".join(
            f"{thread.name}:\n{''.join(traceback.format_stack(frames[thread.ident]))}"
            for thread in left
            if thread.ident in frames
        )
        pytest.fail(f"threads still running after the test:\n{stacks}")


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server for the whole session (about 0.5 s to start)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        # Session fixtures run before the per-test isolation: isolate the helpers' clients too.
        _point_aws_files_at(monkeypatch, tmp_path_factory.mktemp("moto-aws"))
        with running_moto_server() as endpoint:
            yield endpoint


@pytest.fixture(scope="session")
def moto_fixture_store(moto_endpoint: str) -> str:
    """The fixture store uploaded under FIXTURE_PREFIX and at the root of a second bucket."""
    upload_tree(moto_endpoint, FIXTURE_BUCKET, FIXTURE_PREFIX, FIXTURE_STORE)
    upload_tree(moto_endpoint, FIXTURE_ROOT_BUCKET, "", FIXTURE_STORE)
    return moto_endpoint


@pytest.fixture
def aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy keys in the environment, found by the standard AWS chain as real ones would be."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def s3_storage(moto_fixture_store: str, aws_test_credentials: None) -> Iterator[S3Storage]:
    config = S3Config(
        bucket=FIXTURE_BUCKET,
        region=REGION,
        prefix=FIXTURE_PREFIX,
        endpoint=moto_fixture_store,
        force_path_style=True,
    )
    storage = S3Storage(config, concurrency=8)
    yield storage
    storage.close()


@pytest.fixture
def r2_storage(moto_fixture_store: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[R2Storage]:
    """R2Storage reached through its ``endpoint`` override (moto), with R2_* keys."""
    monkeypatch.setenv("R2_ACCESS_KEY_ID", DUMMY_KEY_ID)
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", DUMMY_SECRET)
    config = R2Config(
        account_id=R2_ACCOUNT_ID,
        bucket=FIXTURE_BUCKET,
        prefix=FIXTURE_PREFIX,
        endpoint=moto_fixture_store,
    )
    storage = R2Storage(config, concurrency=8)
    yield storage
    storage.close()
