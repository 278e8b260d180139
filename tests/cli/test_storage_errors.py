"""Bad storage input through the real CLI, on each backend: one `Error:` line, a storage exit
code (3), no traceback; `--debug` adds the traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support import FIXTURE_BUCKET, FIXTURE_PREFIX, R2_ACCOUNT_ID
from support.cli import run_cli, write_config
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION, enforced_auth, free_port

STORAGE_ERROR = 3


def _s3_config(directory: Path, endpoint: str, bucket: str = FIXTURE_BUCKET) -> Path:
    return write_config(
        directory,
        f'[storage]\ntype = "s3"\n[storage.s3]\nbucket = "{bucket}"\nregion = "{REGION}"\n'
        f'prefix = "{FIXTURE_PREFIX}"\nendpoint = "{endpoint}"\nforcePathStyle = true\n',
    )


def _r2_config(directory: Path, endpoint: str, bucket: str = FIXTURE_BUCKET) -> Path:
    return write_config(
        directory,
        f'[storage]\ntype = "r2"\n[storage.r2]\naccountId = "{R2_ACCOUNT_ID}"\n'
        f'bucket = "{bucket}"\nprefix = "{FIXTURE_PREFIX}"\nendpoint = "{endpoint}"\n',
    )


AWS_KEYS = {"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET}
R2_KEYS = {"R2_ACCESS_KEY_ID": DUMMY_KEY_ID, "R2_SECRET_ACCESS_KEY": DUMMY_SECRET}


def _assert_one_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == STORAGE_ERROR, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_directory(tmp_path: Path) -> None:
    result = run_cli("log", "--storage", str(tmp_path / "nope"), "--no-cache")
    _assert_one_line(result, "Storage directory not found", str(tmp_path / "nope"))
    debug = run_cli("log", "--storage", str(tmp_path / "nope"), "--no-cache", "--debug")
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("Error: Storage directory not found")


def test_a_file_where_the_store_should_be(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    _assert_one_line(
        run_cli("log", "--storage", str(tmp_path / "file"), "--no-cache"), "not a directory"
    )


@pytest.mark.parametrize(("backend", "make_config", "keys"), [
    ("s3", _s3_config, AWS_KEYS), ("r2", _r2_config, R2_KEYS)
])  # fmt: skip
def test_missing_bucket(
    backend: str,
    make_config: Callable[..., Path],
    keys: dict[str, str],
    moto_fixture_store: str,
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, moto_fixture_store, bucket="no-such-bucket")
    result = run_cli("log", "--config", str(config), "--no-cache", env=keys)
    _assert_one_line(result, "Bucket not found", "no-such-bucket")


@pytest.mark.parametrize(("make_config", "keys"), [(_s3_config, AWS_KEYS), (_r2_config, R2_KEYS)])
def test_unreachable_endpoint(
    make_config: Callable[..., Path], keys: dict[str, str], tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    config = make_config(tmp_path, endpoint)
    result = run_cli("log", "--config", str(config), "--no-cache", env=keys)
    _assert_one_line(result, "Cannot reach endpoint", endpoint)


@pytest.mark.parametrize(("make_config", "keys"), [(_s3_config, AWS_KEYS), (_r2_config, R2_KEYS)])
def test_wrong_credentials(
    make_config: Callable[..., Path], keys: dict[str, str], moto_fixture_store: str, tmp_path: Path
) -> None:
    config = make_config(tmp_path, moto_fixture_store)
    wrong = {name: "WRONG" + value for name, value in keys.items()}
    with enforced_auth(moto_fixture_store):
        result = run_cli("log", "--config", str(config), "--no-cache", env=wrong)
    _assert_one_line(result, "Access denied", "invalid credentials")
    assert "WRONG" not in result.stderr


def test_empty_store_is_not_an_error(tmp_path: Path) -> None:
    result = run_cli("log", "--storage", str(tmp_path), "--no-cache")
    assert (result.returncode, result.stdout) == (0, "No data found\n")
