"""Fixtures of the CLI tests: the real fixture store on each backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import FIXTURE_BUCKET, FIXTURE_PREFIX, FIXTURE_STORE, R2_ACCOUNT_ID
from support.cli import BACKENDS, Backend, write_config
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION


@pytest.fixture(params=BACKENDS)
def fixture_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The real fixture store on the filesystem, on S3 and on R2 (both served by moto)."""
    name = request.param
    if name == "filesystem":
        return Backend(
            name,
            ("--storage", str(FIXTURE_STORE), "--no-cache"),
            {},
            f"Storage: filesystem {FIXTURE_STORE}",
        )
    endpoint = request.getfixturevalue("moto_fixture_store")
    if name == "s3":
        config = write_config(
            tmp_path,
            f'[storage]\ntype = "s3"\n[storage.s3]\nbucket = "{FIXTURE_BUCKET}"\n'
            f'region = "{REGION}"\nprefix = "{FIXTURE_PREFIX}"\nendpoint = "{endpoint}"\n'
            "forcePathStyle = true\n",
        )
        env = {"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET}
        # An S3-compatible server: the Storage line names it.
        line = f"Storage: s3 s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX} (endpoint {endpoint})"
    else:
        config = write_config(
            tmp_path,
            f'[storage]\ntype = "r2"\n[storage.r2]\naccountId = "{R2_ACCOUNT_ID}"\n'
            f'bucket = "{FIXTURE_BUCKET}"\nprefix = "{FIXTURE_PREFIX}"\nendpoint = "{endpoint}"\n',
        )
        env = {"R2_ACCESS_KEY_ID": DUMMY_KEY_ID, "R2_SECRET_ACCESS_KEY": DUMMY_SECRET}
        line = f"Storage: r2 r2://{R2_ACCOUNT_ID}/{FIXTURE_BUCKET}/{FIXTURE_PREFIX}"
    return Backend(name, ("--config", str(config), "--no-cache"), env, line)
