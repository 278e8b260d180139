"""An export never writes into the store it reads: an --output inside the store, or holding
it, is refused before anything is written."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from support import FIXTURE_BUCKET, FIXTURE_PREFIX, FIXTURE_STORE
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION, client

from perstack_logq.cli import main


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("inside", ["lake", ".", "jobs/exports", ".."])
def test_local_output_overlapping_the_store_is_refused(
    tmp_path: Path, inside: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "parent" / "store"
    shutil.copytree(FIXTURE_STORE, store)
    before = _tree_digest(tmp_path)
    output = store / inside
    code = main(["log", "export", "--storage", str(store), "--no-cache", "--output", str(output)])
    error = capsys.readouterr().err
    assert code == 2
    assert "overlaps the store being exported" in error
    assert _tree_digest(tmp_path) == before


def test_output_beside_the_store_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store)
    code = main(
        ["log", "export", "--storage", str(store), "--no-cache", "-o", str(tmp_path / "lake")]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "lake" / "_manifest").is_dir()


def test_s3_output_under_the_store_prefix_is_refused(
    moto_fixture_store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    config = tmp_path / "perstack.toml"
    config.write_text(
        f'[storage]\ntype = "s3"\n[storage.s3]\nbucket = "{FIXTURE_BUCKET}"\nregion = "{REGION}"\n'
        f'prefix = "{FIXTURE_PREFIX}"\nendpoint = "{moto_fixture_store}"\nforcePathStyle = true\n'
    )
    s3 = client(moto_fixture_store)
    count = s3.list_objects_v2(Bucket=FIXTURE_BUCKET)["KeyCount"]
    output = f"s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX}lake"
    code = main(
        ["log", "export", "--config", str(config), "--no-cache", "--output", output,
         "--output-endpoint", moto_fixture_store]
    )  # fmt: skip
    assert code == 2
    assert "overlaps the store being exported" in capsys.readouterr().err
    assert s3.list_objects_v2(Bucket=FIXTURE_BUCKET)["KeyCount"] == count
