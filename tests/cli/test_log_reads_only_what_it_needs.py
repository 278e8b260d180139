"""`perstack log --job X` lists and reads only objects under jobs/X/ (issue: reads only what
it needs). Measured as the requests moto's server receives, through a logging proxy: the
count for one job is the same in a store of 10 jobs and in a store of 200."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from support.fault_proxy import LoggedRequest, running_fault_proxy
from support.moto_server import (
    DUMMY_KEY_ID,
    DUMMY_SECRET,
    REGION,
    create_bucket,
    put_objects_in_process,
)

from perstack_logq.cli import main
from perstack_logq.synth import generate_store

BUCKET = "request-count"


class MemoryWriter:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def write(self, key: str, body: bytes) -> None:
        self.objects[key] = body


@pytest.fixture(scope="module")
def stores(moto_endpoint: str) -> tuple[str, list[str]]:
    """The same jobs under two prefixes: the first 10 jobs alone, and all 200.

    The first 10 ids are listed first, then those of the jobs whose runs resumed from a
    checkpoint (continued, or back from delegates), from all 200."""
    writer = MemoryWriter()
    report = generate_store(writer, jobs=200, seed=5, with_job_files=0.5, with_run_settings=0.5)
    few = set(report.job_ids[:10])
    resumed = [
        facts.job_id
        for facts in report.job_facts.values()
        if facts.scenario in ("continued", "delegation")
    ]
    create_bucket(moto_endpoint, BUCKET)
    put_objects_in_process(BUCKET, {f"many/{k}": v for k, v in writer.objects.items()})
    put_objects_in_process(
        BUCKET, {f"few/{k}": v for k, v in writer.objects.items() if k.split("/")[1] in few}
    )
    return moto_endpoint, [*report.job_ids[:10], *resumed]


def _requests_for(
    endpoint: str, prefix: str, argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[LoggedRequest]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    with running_fault_proxy(endpoint) as proxy:
        config = tmp_path / f"{prefix.strip('/')}.toml"
        config.write_text(
            f'[storage]\ntype = "s3"\n[storage.s3]\nbucket = "{BUCKET}"\nregion = "{REGION}"\n'
            f'prefix = "{prefix}"\nendpoint = "{proxy.url}"\nforcePathStyle = true\n'
        )
        assert main(["log", *argv, "--config", str(config), "--no-cache", "--json"]) == 0
        return proxy.requests()


def _touched_keys(requests: list[LoggedRequest]) -> list[str]:
    """The key prefix each request named: a listing's prefix, or a GET's key."""
    touched = []
    for request in requests:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        if "list-type" in query:
            touched.append(query.get("prefix", [""])[0])
        else:
            touched.append(unquote(parts.path).split("/", 2)[2])
    return touched


def _object_gets(requests: list[LoggedRequest], prefix: str) -> list[str]:
    """The keys of the objects read, in order (listings and storage.check() left out)."""
    return [
        key
        for request, key in zip(requests, _touched_keys(requests), strict=True)
        if request.method == "GET" and "list-type" not in request.path and key != prefix
    ]


def test_job_view_requests_do_not_grow_with_other_jobs(
    stores: tuple[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, job_ids = stores
    for job_id in job_ids[:3]:
        few = _requests_for(endpoint, "few/", ["--job", job_id], tmp_path, monkeypatch)
        many = _requests_for(endpoint, "many/", ["--job", job_id], tmp_path, monkeypatch)
        capsys.readouterr()
        assert len(few) == len(many) > 0
        assert {r.method for r in many} <= {"GET", "HEAD"}
        for prefix, requests in (("few/", few), ("many/", many)):
            for touched in _touched_keys(requests):
                # A bare listing of the bucket root is storage.check(): one request, no keys.
                assert touched.startswith(f"{prefix}jobs/{job_id}/") or touched == prefix


def test_latest_job_reads_job_files_and_listings_only(
    stores: tuple[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, _ = stores
    requests = _requests_for(endpoint, "many/", [], tmp_path, monkeypatch)
    latest = __import__("orjson").loads(capsys.readouterr().out)["job"]["id"]
    gets = _object_gets(requests, "many/")
    other_files = [
        key
        for key in gets
        if not key.endswith("/job.json") and not key.startswith(f"many/jobs/{latest}/")
    ]
    assert gets and other_files == []


def test_direct_reads_fetch_through_httpfs_and_read_the_same_keys(
    stores: tuple[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With --direct-reads DuckDB's httpfs fetches the bodies (it sends a HEAD before each
    GET, boto3 never does), the same keys are read, and the output is the same."""
    endpoint, job_ids = stores
    argv = ["--job", job_ids[0]]
    via_boto3 = _requests_for(endpoint, "few/", argv, tmp_path, monkeypatch)
    boto3_output = capsys.readouterr().out
    via_httpfs = _requests_for(endpoint, "few/", [*argv, "--direct-reads"], tmp_path, monkeypatch)
    assert capsys.readouterr().out == boto3_output
    assert not [r for r in via_boto3 if r.method == "HEAD"]
    heads = {unquote(urlsplit(r.path).path) for r in via_httpfs if r.method == "HEAD"}
    gets = {
        unquote(urlsplit(r.path).path)
        for r in via_boto3
        if r.method == "GET" and "list-type" not in r.path
    }
    assert heads and heads <= gets


def test_a_resumed_run_s_records_are_put_back_without_reading_them_twice(
    stores: tuple[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run resumed from a checkpoint holds the messages it reloaded in schema order, not in
    the order of the cache's rows: they are still put back from the rows, so `--json` GETs
    each file of the job once (the sync's read), not again to print it."""
    endpoint, job_ids = stores
    resumed = job_ids[10:]
    assert len(resumed) >= 2
    for job_id in resumed[:4]:
        requests = _requests_for(endpoint, "many/", ["--job", job_id], tmp_path, monkeypatch)
        capsys.readouterr()
        gets = _object_gets(requests, "many/")
        assert gets and len(gets) == len(set(gets)), job_id
