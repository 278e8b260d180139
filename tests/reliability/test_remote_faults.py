"""Faults of a remote store, injected over real HTTP by fault_proxy in front of moto's server.

Transient faults (HTTP 500, 503 SlowDown, read timeouts, connection resets, truncated bodies)
are retried with exponential backoff and full jitter up to the attempt limit, then end in one
line naming the key. Faults that retrying cannot fix (AccessDenied, NoSuchBucket, bad or
expired credentials) end in one line at once, after a single request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from reliability_support import Result, cli
from support import FIXTURE_BUCKET, FIXTURE_PREFIX
from support.fault_proxy import Fault, FaultProxy, running_fault_proxy

from perstack_logq import connect
from perstack_logq.config import S3Config
from perstack_logq.errors import StorageError
from perstack_logq.storage.base import ReadFailure
from perstack_logq.storage.s3 import S3Storage

JOB = "mq65x3vs2c09epdmpdo634n5"
KEY = f"jobs/{JOB}/job.json"
URL = f"s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX}"
STORE_OBJECTS = 204


@pytest.fixture(scope="module")
def proxy(moto_fixture_store: str) -> Iterator[FaultProxy]:
    with running_fault_proxy(moto_fixture_store) as running:
        yield running


@pytest.fixture
def faults(proxy: FaultProxy) -> Iterator[FaultProxy]:
    """The proxy with no fault planned and an empty log; faults are cleared afterwards, and
    the test must have closed every connection it opened (the proxy serves the whole module:
    connections left open add up until it can take no more)."""
    proxy.plan()
    proxy.clear_log()
    yield proxy
    proxy.plan()
    assert proxy.connections_left_open() == 0, "the test left connections to the store open"


@pytest.fixture
def via_proxy(
    faults: FaultProxy, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> FaultProxy:
    """``--storage s3://...`` reaches moto through the proxy (boto3's endpoint variable)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", faults.url)
    return faults


# A read timeout the proxy's answers always meet, even on a loaded machine (0.5 s was missed
# by a good answer under load); and a short one for the faults that answer nothing, well
# below the proxy's delay (5 s) so that the test sees timeouts, not a slow answer.
_READ_TIMEOUT = 10.0
_SHORT_READ_TIMEOUT = 2.0


def _read_timeout(fault: Fault) -> float:
    return _SHORT_READ_TIMEOUT if fault.kind == "timeout" else _READ_TIMEOUT


def _storage(
    proxy: FaultProxy,
    *,
    max_attempts: int = 3,
    read_timeout: float = _READ_TIMEOUT,
    concurrency: int = 2,
) -> S3Storage:
    config = S3Config(
        bucket=FIXTURE_BUCKET,
        region="us-east-1",
        prefix=FIXTURE_PREFIX,
        endpoint=proxy.url,
        force_path_style=True,
    )
    return S3Storage(
        config, concurrency=concurrency, max_attempts=max_attempts, read_timeout=read_timeout
    )


def _read_one(storage: S3Storage) -> bytes | ReadFailure:
    try:
        ((key, body),) = list(storage.read_objects([KEY]))
    finally:
        storage.close()
    assert key == KEY
    return body


# --- transient faults: retried, with backoff, up to a limit ---------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("error", 500, "InternalError", times=2, path_contains=KEY),
        Fault("error", 503, "SlowDown", times=2, path_contains=KEY),
        Fault("reset", times=2, path_contains=KEY),
        Fault("timeout", times=2, path_contains=KEY),
        Fault("truncate", times=2, path_contains=KEY),
    ],
    ids=lambda fault: f"{fault.kind}-{fault.code}",
)
def test_transient_fault_is_retried_until_it_passes(
    faults: FaultProxy, aws_test_credentials: None, fault: Fault
) -> None:
    faults.plan(replace(fault))  # a copy: the plan counts down
    body = _read_one(_storage(faults, read_timeout=_read_timeout(fault)))
    assert isinstance(body, bytes)
    assert orjson.loads(body)["id"] == JOB
    requests = faults.requests(KEY)
    assert [entry.fault for entry in requests] == [fault.kind, fault.kind, None]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault("error", 500, "InternalError", times=None), "InternalError (HTTP 500)"),
        (Fault("error", 503, "SlowDown", times=None), "SlowDown (HTTP 503)"),
        (Fault("reset", times=None), "connection closed before a response"),
        (Fault("timeout", times=None), "no response in time (read timeout)"),
    ],
    ids=lambda value: f"{value.kind}-{value.code}" if isinstance(value, Fault) else "",
)
def test_persistent_fault_ends_in_one_error_naming_the_key(
    faults: FaultProxy, aws_test_credentials: None, fault: Fault, reason: str
) -> None:
    faults.plan(replace(fault, path_contains=KEY))
    with pytest.raises(StorageError) as caught:
        _read_one(_storage(faults, max_attempts=3, read_timeout=_read_timeout(fault)))
    assert str(caught.value) == f"Cannot read {URL}{KEY}: {reason}, gave up after 3 attempts"
    requests = faults.requests(KEY)
    assert len(requests) == 3  # the limit, no more


def test_persistently_truncated_body_is_an_unreadable_file(
    faults: FaultProxy, aws_test_credentials: None
) -> None:
    """Cut bodies are retried by perstack_logq itself (botocore only retries requests); the
    object is then reported unreadable, and not recorded as read, so the next sync retries."""
    faults.plan(Fault("truncate", times=None, path_contains=KEY))
    body = _read_one(_storage(faults, max_attempts=3))
    assert body == ReadFailure(KEY, "connection lost while reading, gave up after 3 attempts")
    assert len(faults.requests(KEY)) == 3


def test_backoff_has_jitter(faults: FaultProxy, aws_test_credentials: None) -> None:
    """Throttled requests wait rand(0, 1) * 2**i seconds: retries spread out, not in lockstep."""
    storage = _storage(faults)
    try:
        keys = [info.key for info in storage.list_objects(f"jobs/{JOB}/runs/")][:4]
        faults.plan(*(Fault("error", 503, "SlowDown", times=1, path_contains=k) for k in keys))
        bodies = dict(storage.read_objects(keys))
    finally:
        storage.close()
    assert all(isinstance(body, bytes) for body in bodies.values())
    gaps = []
    for key in keys:
        throttled, retried = faults.requests(key)
        assert (throttled.fault, retried.fault) == ("error", None)
        gaps.append(retried.at - throttled.at)
    assert all(0 <= gap <= 2.0 for gap in gaps), gaps
    assert len({round(gap, 3) for gap in gaps}) > 1, gaps


# --- faults that retrying cannot fix: one line at once ---------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (403, "AccessDenied", f"Access denied to {URL}: the credentials in use may not list"),
        (404, "NoSuchBucket", f"Bucket not found: s3://{FIXTURE_BUCKET}/ (check [storage.s3]"),
        (403, "InvalidAccessKeyId", f"Access denied to {URL}: invalid credentials"),
        (403, "SignatureDoesNotMatch", f"Access denied to {URL}: invalid credentials"),
        (400, "ExpiredToken", f"Access denied to {URL}: the credentials have expired"),
    ],
)
def test_permanent_fault_is_one_line_without_retries(
    via_proxy: FaultProxy, status: int, code: str, message: str
) -> None:
    via_proxy.plan(Fault("error", status, code, times=None))
    result = cli("--storage", URL, "--no-cache")
    assert result.returncode == 3, result.stderr
    assert result.error_lines == [result.stderr.strip()]
    assert result.stderr.startswith(f"Error: {message}")
    assert len(via_proxy.requests()) == 1  # no retry storm
    assert "Traceback" not in result.stderr


def test_access_denied_on_one_object_skips_only_that_object(via_proxy: FaultProxy) -> None:
    via_proxy.plan(
        Fault("error", 403, "AccessDenied", times=None, method="GET", path_contains=f"{KEY}")
    )
    result = cli(
        "--storage",
        URL,
        "--no-cache",
        "query",
        "--format",
        "json",
        "SELECT (SELECT count(*) FROM events) AS events, "
        "(SELECT list(source_key || ' ' || reason) FROM skipped_files) AS skipped",
    )
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout) == [{"events": 145, "skipped": [f"{KEY} unreadable"]}]
    assert len(via_proxy.requests(KEY)) == 1


# --- an interrupted sync loses nothing ---------------------------------------------------------


def _counts(cache_dir: Path) -> Result:
    return cli(
        "--storage",
        URL,
        "--cache-dir",
        str(cache_dir),
        "query",
        "--no-sync",
        "--format",
        "json",
        "SELECT (SELECT count(*) FROM events) AS events, "
        "(SELECT count(*) FROM checkpoints) AS checkpoints, "
        "(SELECT count(*) FROM job_files) AS jobs, "
        "(SELECT count(*) FROM skipped_files) AS skipped, "
        "(SELECT count(*) FROM _objects) AS objects",
    )


def test_sync_interrupted_by_a_fault_is_completed_by_the_next(
    via_proxy: FaultProxy, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    # Credentials revoked halfway through: the sync stops at once, naming the store.
    via_proxy.plan(
        Fault(
            "error",
            403,
            "InvalidAccessKeyId",
            times=None,
            method="GET",
            path_contains=f"jobs/{JOB}/runs/",
        )
    )
    first = cli("--storage", URL, "--cache-dir", str(cache), "sync")
    assert first.returncode == 3, first.stderr
    assert first.error_lines == [
        f"Error: Access denied to {URL}: invalid credentials (InvalidAccessKeyId)"
    ]
    via_proxy.plan()
    second = cli("--storage", URL, "--cache-dir", str(cache), "sync")
    assert second.returncode == 0, second.stderr
    after = _counts(cache)
    assert after.returncode == 0, after.stderr
    assert orjson.loads(after.stdout) == [
        {"events": 145, "checkpoints": 30, "jobs": 11, "skipped": 0, "objects": STORE_OBJECTS}
    ]


def test_a_throttled_read_in_the_cli_names_the_key(via_proxy: FaultProxy) -> None:
    """Through the CLI's own limit (5 attempts): 500s back off in tens of milliseconds."""
    via_proxy.plan(
        Fault("error", 500, "InternalError", times=None, method="GET", path_contains=KEY)
    )
    result = cli("--storage", URL, "--no-cache", "--job", JOB)
    assert result.returncode == 3
    assert result.error_lines == [
        f"Error: Cannot read {URL}{KEY}: InternalError (HTTP 500), gave up after 5 attempts"
    ]
    assert len(via_proxy.requests(KEY)) == 5


def test_a_failed_read_leaves_no_connection_open_once_closed(
    faults: FaultProxy, aws_test_credentials: None
) -> None:
    """The error's traceback keeps the storage, its client and their connection pool alive:
    ``close()`` still closes every connection at once (urllib3 2 leaves an emptied pool's
    connections to the garbage collector)."""
    faults.plan(Fault("error", 403, "InvalidAccessKeyId", times=None, path_contains="/runs/"))
    storage = _storage(faults, concurrency=8)
    keys = [info.key for info in storage.list_objects()]
    with pytest.raises(StorageError) as caught:
        list(storage.read_objects(keys))
    assert "invalid credentials" in str(caught.value)
    assert faults.open_connections > 0  # the readers' connections, pooled for reuse
    storage.close()
    assert faults.connections_left_open() == 0
    assert caught.value.__traceback__ is not None  # still held, and the pool with it


def test_a_closed_storage_sends_nothing(faults: FaultProxy, aws_test_credentials: None) -> None:
    """A thread still at work once the storage is closed (a key range retrying after another
    failed) gets an error instead of a new connection that nothing would close."""
    storage = _storage(faults)
    storage.close()
    with pytest.raises(StorageError, match="the connection to the store was closed"):
        list(storage.list_objects())
    assert faults.requests() == []
    assert faults.open_connections == 0


def test_a_store_failing_its_check_leaves_no_connection_open(via_proxy: FaultProxy) -> None:
    """``connect()`` fails on its first request; the error, still held, holds the storage in
    its traceback, which connect() closed before raising."""
    via_proxy.plan(Fault("error", 403, "AccessDenied", times=None))
    with pytest.raises(StorageError, match="Access denied") as caught:
        connect(URL, cache=False)
    assert via_proxy.connections_left_open() == 0
    assert caught.value.__traceback__ is not None


# --- a listing in key ranges -------------------------------------------------------------------


def test_a_failing_key_range_fails_the_listing_and_a_passing_fault_does_not(
    faults: FaultProxy, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 20 keys: the store's 204 are listed as key ranges side by side. A range whose
    requests keep failing ends the listing in the error a single stream would give; one
    that fails twice is retried, and every key is listed once."""
    monkeypatch.setattr("perstack_logq.storage.s3.PAGE_SIZE", 20)
    faults.plan(Fault("error", 500, "InternalError", times=2, path_contains="start-after="))
    storage = _storage(faults)
    try:
        listed = [info.key for info in storage.list_changes({}, [])]
        assert sorted(listed) == sorted(info.key for info in storage.list_objects())
        assert len(listed) == STORE_OBJECTS
        faults.plan(Fault("error", 500, "InternalError", times=None, path_contains="start-after="))
        with pytest.raises(StorageError) as caught:
            list(storage.list_changes({}, []))
    finally:
        storage.close()
    assert (
        str(caught.value) == f"Request to {URL} failed: InternalError: injected by the fault proxy"
    )
