"""create_storage_from_config: the right backend, and boto3 only when a bucket is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import FIXTURE_STORE

from perstack_logq.config import FileSystemConfig, R2Config, S3Config
from perstack_logq.errors import StorageError
from perstack_logq.storage.factory import create_storage_from_config
from perstack_logq.storage.filesystem import FileSystemStorage


def test_filesystem() -> None:
    storage = create_storage_from_config(FileSystemConfig(FIXTURE_STORE), concurrency=3)
    assert isinstance(storage, FileSystemStorage)
    assert storage.get_storage_info().location == str(FIXTURE_STORE)
    assert len(storage.list_job_ids()) == 11


def test_s3_and_r2(aws_test_credentials: None) -> None:
    from perstack_logq.storage.s3 import DEFAULT_CONCURRENCY, R2Storage, S3Storage

    s3 = create_storage_from_config(S3Config(bucket="b", prefix="p/"))
    assert isinstance(s3, S3Storage)
    assert s3.concurrency == DEFAULT_CONCURRENCY
    assert s3.get_storage_info().location == "s3://b/p/"
    r2 = create_storage_from_config(R2Config(account_id="a", bucket="b"), concurrency=5)
    assert isinstance(r2, R2Storage)
    assert r2.concurrency == 5
    assert r2.get_storage_info().location == "r2://a/b/"


def test_missing_boto3_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import boto3` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.delitem(sys.modules, "perstack_logq.storage.s3", raising=False)
    monkeypatch.delattr("perstack_logq.storage.s3", raising=False)
    with pytest.raises(StorageError) as caught:
        create_storage_from_config(S3Config(bucket="b"))
    assert str(caught.value) == "S3/R2 storage needs boto3: pip install 'perstack-logq[s3]'"


def test_filesystem_store_never_imports_boto3(tmp_path: Path) -> None:
    """In a fresh interpreter (this one has boto3 loaded by the S3 tests)."""
    (tmp_path / "perstack.toml").write_text('[storage]\ntype = "filesystem"\n')
    code = f"""
import sys
from pathlib import Path
from perstack_logq.config import load_storage_config
from perstack_logq.storage.factory import create_storage_from_config

config = load_storage_config(cwd=Path({str(tmp_path)!r}), storage={str(FIXTURE_STORE)!r})
storage = create_storage_from_config(config)
storage.check()
assert len(storage.list_job_ids()) == 11
assert len(list(storage.read_objects(i.key for i in storage.list_objects()))) == 204
config = load_storage_config(cwd=Path({str(tmp_path)!r}))
create_storage_from_config(config)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))
print(",".join(loaded) or "none")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"
