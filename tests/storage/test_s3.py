"""S3Storage and R2Storage against a real (moto) S3 endpoint, compared with the filesystem.

No boto3 mocks: every test sends real HTTP requests to the moto server of tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from support import (
    FIXTURE_BUCKET,
    FIXTURE_PREFIX,
    FIXTURE_ROOT_BUCKET,
    FIXTURE_STORE,
    R2_ACCOUNT_ID,
)
from support.moto_server import (
    DUMMY_KEY_ID,
    DUMMY_SECRET,
    client,
    create_bucket,
    create_iam_user_key,
    enforced_auth,
    free_port,
    put_objects_in_process,
)

from perstack_logq.config import R2Config, S3Config
from perstack_logq.errors import StorageError
from perstack_logq.storage.base import ReadFailure, Storage
from perstack_logq.storage.filesystem import FileSystemStorage
from perstack_logq.storage.s3 import ObjectStoreStorage, R2Storage, S3Storage

FIXTURE_LOCATION = f"s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX}"
R2_LOCATION = f"r2://{R2_ACCOUNT_ID}/{FIXTURE_BUCKET}/{FIXTURE_PREFIX}"


def s3_over_moto(endpoint: str, bucket: str = FIXTURE_BUCKET, prefix: str = FIXTURE_PREFIX,
                 **options: object) -> S3Storage:  # fmt: skip
    config = S3Config(
        bucket=bucket, region="us-east-1", prefix=prefix, endpoint=endpoint, force_path_style=True
    )
    return S3Storage(config, **options)  # type: ignore[arg-type]


@pytest.fixture
def root_bucket_storage(moto_fixture_store: str, aws_test_credentials: None) -> Iterator[S3Storage]:
    """The fixture store at the root of a bucket (empty prefix), without forcePathStyle:
    botocore picks path style by itself for an IP endpoint."""
    config = S3Config(bucket=FIXTURE_ROOT_BUCKET, endpoint=moto_fixture_store)
    storage = S3Storage(config)
    yield storage
    storage.close()


@pytest.fixture(params=["s3_storage", "r2_storage", "root_bucket_storage"])
def remote(request: pytest.FixtureRequest) -> ObjectStoreStorage:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# --- same store, same answers ---------------------------------------------------------------


def test_same_objects_and_bytes_as_the_filesystem(remote: ObjectStoreStorage) -> None:
    local = FileSystemStorage(FIXTURE_STORE)
    remote.check()
    assert remote.list_job_ids() == local.list_job_ids()
    assert len(remote.list_job_ids()) == 11

    remote_objects = sorted(remote.list_objects(), key=lambda info: info.key)
    local_objects = sorted(local.list_objects(), key=lambda info: info.key)
    assert [(o.key, o.size) for o in remote_objects] == [(o.key, o.size) for o in local_objects]
    assert len(remote_objects) == 204

    keys = [info.key for info in local_objects]
    remote_bodies = dict(remote.read_objects(keys))
    assert remote_bodies == dict(local.read_objects(keys))
    for info in remote_objects:  # moto's ETag of a single PUT is the MD5 of the body
        assert info.version == hashlib.md5(remote_bodies[info.key]).hexdigest()


def _with_boto3_gets(remote: ObjectStoreStorage) -> ObjectStoreStorage:
    """The same storage, its client chosen again (PERSTACK_LOGQ_S3_CLIENT=boto3 set): boto3."""
    by_boto3 = type(remote).__new__(type(remote))
    by_boto3.__dict__.update(remote.__dict__, _fast_store=None)
    assert by_boto3.client_name == "boto3"
    return by_boto3


def test_bulk_gets_go_through_obstore(
    remote: ObjectStoreStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """obstore serves read_objects by itself: with boto3's GET out of the way, every body
    still arrives; PERSTACK_LOGQ_S3_CLIENT=boto3 gives the same bodies through boto3."""
    keys = [info.key for info in FileSystemStorage(FIXTURE_STORE).list_objects()][:40]
    expected = {key: (FIXTURE_STORE / key).read_bytes() for key in keys}
    monkeypatch.setenv("PERSTACK_LOGQ_S3_CLIENT", "obstore")
    assert remote.client_name == "obstore"

    def boto3_get(key: str) -> bytes:
        raise AssertionError(f"boto3 asked for {key}")

    with monkeypatch.context() as patched:
        patched.setattr(remote, "_get", boto3_get)
        assert dict(remote.read_objects(keys)) == expected
    monkeypatch.setenv("PERSTACK_LOGQ_S3_CLIENT", "boto3")
    by_boto3 = _with_boto3_gets(remote)
    assert dict(by_boto3.read_objects(keys)) == expected


def test_objects_grown_past_max_bytes_are_refused_by_both_clients(
    remote: ObjectStoreStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size limit at read time (an object overwritten bigger since the listing): obstore
    and boto3 take the size from the answer's headers and refuse what is over it; the rest is
    read as always."""
    infos = sorted(FileSystemStorage(FIXTURE_STORE).list_objects(), key=lambda info: info.size)
    limit = infos[len(infos) // 2].size
    expected = {
        info.key: (FIXTURE_STORE / info.key).read_bytes()
        if info.size <= limit
        else ReadFailure(
            info.key, f"{info.size:,} bytes when read, over the limit of {limit:,} bytes"
        )
        for info in infos
    }
    assert 50 < sum(isinstance(value, ReadFailure) for value in expected.values()) < len(infos)
    keys = list(expected)
    monkeypatch.setenv("PERSTACK_LOGQ_S3_CLIENT", "obstore")
    assert remote.client_name == "obstore"
    assert dict(remote.read_objects(keys, max_bytes=limit)) == expected
    monkeypatch.setenv("PERSTACK_LOGQ_S3_CLIENT", "boto3")
    by_boto3 = _with_boto3_gets(remote)
    assert dict(by_boto3.read_objects(keys, max_bytes=limit)) == expected
    assert dict(by_boto3.read_objects(keys)) == {
        key: (FIXTURE_STORE / key).read_bytes() for key in keys
    }


def test_boto3_takes_over_the_gets_obstore_cannot_do(
    moto_fixture_store: str, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An obstore that cannot reach the store (here: sent to a port nobody listens on) costs
    one failed GET: boto3 reads that object and every later one."""
    from obstore.store import S3Store

    monkeypatch.setenv("PERSTACK_LOGQ_S3_CLIENT", "obstore")
    storage = s3_over_moto(moto_fixture_store)
    keys = [info.key for info in FileSystemStorage(FIXTURE_STORE).list_objects()][:10]
    storage._fast_store = S3Store(
        FIXTURE_BUCKET,
        endpoint=f"http://127.0.0.1:{free_port()}",
        region="us-east-1",
        skip_signature=True,
        client_options={"allow_http": True},
        retry_config={"max_retries": 0},
    )
    assert storage.client_name == "obstore"
    bodies = dict(storage.read_objects(keys))
    assert bodies == {key: (FIXTURE_STORE / key).read_bytes() for key in keys}
    assert storage.client_name == "boto3"


def test_per_job_listing_matches(remote: ObjectStoreStorage) -> None:
    local = FileSystemStorage(FIXTURE_STORE)
    for job_id in local.list_job_ids():
        assert sorted(i.key for i in remote.list_job_objects(job_id)) == sorted(
            i.key for i in local.list_job_objects(job_id)
        )
    job_id = local.list_job_ids()[0]
    run_key = next(i.key for i in local.list_job_objects(job_id) if "/runs/" in i.key)
    run_id = run_key.split("/")[3]
    assert sorted(i.key for i in remote.list_run_objects(job_id, run_id)) == sorted(
        i.key for i in local.list_run_objects(job_id, run_id)
    )


def test_job_files_and_keys_match(remote: ObjectStoreStorage) -> None:
    """The object stores' list_job_files and list_keys (a listing per job, and list_objects
    without sizes): the same keys as the filesystem's own, a stat and a readdir each."""
    local = FileSystemStorage(FIXTURE_STORE)
    job_ids = [*local.list_job_ids(), "no-such-job"]
    assert [i.key for i in remote.list_job_files(job_ids)] == [
        i.key for i in local.list_job_files(job_ids)
    ]
    assert len(list(local.list_job_files(job_ids))) == 11
    for prefix in ("jobs/", f"jobs/{job_ids[0]}/runs/"):
        assert sorted(remote.list_keys(prefix)) == sorted(local.list_keys(prefix))


def test_storage_info(
    s3_storage: S3Storage,
    r2_storage: R2Storage,
    root_bucket_storage: S3Storage,
    moto_fixture_store: str,
) -> None:
    # An S3-compatible server is named: the bucket alone does not say where the data is.
    assert (s3_storage.get_storage_info().type, str(s3_storage.get_storage_info())) == (
        "s3",
        f"s3 {FIXTURE_LOCATION} (endpoint {moto_fixture_store})",
    )
    assert r2_storage.get_storage_info().location == R2_LOCATION
    assert r2_storage.get_storage_info().type == "r2"
    assert root_bucket_storage.get_storage_info().location == f"s3://{FIXTURE_ROOT_BUCKET}/"


def test_read_object_and_missing_objects(s3_storage: S3Storage) -> None:
    key = next(s3_storage.list_objects()).key
    assert s3_storage.read_object(key) == (FIXTURE_STORE / key).read_bytes()
    missing = "jobs/nope/job.json"
    results = dict(s3_storage.read_objects([key, missing]))
    assert results[missing] == ReadFailure(missing, "not found")
    assert results[key] == (FIXTURE_STORE / key).read_bytes()
    with pytest.raises(StorageError) as caught:
        s3_storage.read_object(missing)
    assert str(caught.value) == f"Cannot read {FIXTURE_LOCATION}{missing}: not found"


def test_pagination_over_a_thousand_keys(moto_endpoint: str, aws_test_credentials: None) -> None:
    """1,005 jobs: both listings need a second page of ListObjectsV2."""
    bucket = "many-jobs"
    create_bucket(moto_endpoint, bucket)
    job_ids = [f"job{i:04d}" for i in range(1005)]
    put_objects_in_process(bucket, {f"p/jobs/{j}/job.json": b"{}" for j in job_ids})
    storage = s3_over_moto(moto_endpoint, bucket, "p/")
    assert storage.list_job_ids() == job_ids
    assert [info.key for info in storage.list_objects()] == [f"jobs/{j}/job.json" for j in job_ids]


def _listing_requests(storage: S3Storage) -> list[dict]:
    """The parameters of every ListObjectsV2 the storage sends from now on (botocore's own
    event hook: the requests still go to the server)."""
    requests: list[dict] = []
    storage._client.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: requests.append(dict(params))
    )
    return requests


def test_a_store_past_one_page_is_listed_in_key_ranges_with_every_key_once(
    moto_endpoint: str, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 7 keys: the first page alone, then ranges split at job boundaries, listed side
    by side. Keys at and around the boundaries (folder markers, a file named like a job,
    files between jobs, ids that sort between others) land in exactly one range."""
    bucket = "ranges"
    create_bucket(moto_endpoint, bucket)
    keys = [f"p/jobs/job{i:03d}/runs/r/event-{n}-1-x.json" for i in range(60) for n in range(3)]
    keys += [
        "p/jobs/job010",  # named like the job, no slash: sorts before jobs/job010/...
        "p/jobs/job010/",  # a folder marker: never a file
        "p/jobs/job0105/job.json",  # sorts between job010/ and job011/
        "p/jobs/job030.json",
        "p/jobs/job059/z/deep/key.json",
        "p/jobs/zzz-not-a-job.txt",
        "p/other/outside.json",  # not under jobs/: never listed
    ]
    put_objects_in_process(bucket, dict.fromkeys(keys, b"{}"))
    monkeypatch.setattr("perstack_logq.storage.s3.PAGE_SIZE", 7)
    storage = s3_over_moto(moto_endpoint, bucket, "p/", concurrency=8)
    requests = _listing_requests(storage)
    sequential = [info.key for info in storage.list_objects()]
    assert len(sequential) == len(keys) - 2
    listed_once = len(requests)
    requests.clear()
    in_ranges = [info.key for info in storage.list_changes({}, [])]
    assert sorted(in_ranges) == sequential  # each key once, none missing
    pages = [params for params in requests if "Delimiter" not in params]
    assert len({params.get("StartAfter") for params in pages}) == 8 + 1  # first page, 8 ranges
    # A range's last page is a partial one (or overshoots into the next): at most one more
    # request per range than one stream of pages makes.
    assert len(pages) <= listed_once + 8
    storage.close()


def test_ranges_list_each_key_once_from_a_server_that_ignores_start_after(
    moto_endpoint: str, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some S3-compatible servers may not honour StartAfter: each range then lists from the
    first key, and still keeps only its own."""
    bucket = "no-start-after"
    create_bucket(moto_endpoint, bucket)
    keys = [f"jobs/job{i:02d}/runs/r/event-{n}-1-x.json" for i in range(20) for n in range(3)]
    put_objects_in_process(bucket, dict.fromkeys(keys, b"{}"))
    monkeypatch.setattr("perstack_logq.storage.s3.PAGE_SIZE", 7)
    storage = s3_over_moto(moto_endpoint, bucket, "", concurrency=4)
    list_pages = storage._list_pages
    monkeypatch.setattr(
        storage,
        "_list_pages",
        lambda prefix, delimiter=None, start_after=None: list_pages(prefix, delimiter),
    )
    listed = [info.key for info in storage.list_changes({}, [])]
    assert sorted(listed) == sorted(keys)
    storage.close()


def test_a_store_of_one_page_is_listed_in_one_request(
    moto_endpoint: str, aws_test_credentials: None
) -> None:
    bucket = "one-page"
    create_bucket(moto_endpoint, bucket)
    put_objects_in_process(bucket, {f"jobs/j{i}/job.json": b"{}" for i in range(5)})
    storage = s3_over_moto(moto_endpoint, bucket, "")
    requests = _listing_requests(storage)
    assert sorted(info.key for info in storage.list_changes({}, [])) == [
        f"jobs/j{i}/job.json" for i in range(5)
    ]
    listings = [params for params in requests if "Delimiter" not in params]
    assert len(listings) == 1
    storage.close()


def test_folder_markers_and_empty_segments(moto_endpoint: str, aws_test_credentials: None) -> None:
    bucket = "odd-keys"
    create_bucket(moto_endpoint, bucket)
    s3 = client(moto_endpoint)
    for key in ("jobs/", "jobs/j1/", "jobs/j1/job.json", "jobs//stray.json", "other.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    storage = s3_over_moto(moto_endpoint, bucket, "")
    assert storage.list_job_ids() == ["j1"]
    assert [info.key for info in storage.list_objects()] == ["jobs//stray.json", "jobs/j1/job.json"]
    assert [info.key for info in storage.list_objects("")][-1] == "other.txt"


def test_empty_store(moto_endpoint: str, aws_test_credentials: None) -> None:
    create_bucket(moto_endpoint, "empty-store")
    storage = s3_over_moto(moto_endpoint, "empty-store")
    storage.check()
    assert storage.list_job_ids() == []
    assert list(storage.list_objects()) == []


# --- bounded, concurrent reads -------------------------------------------------------------


def test_read_objects_keeps_a_bounded_window(s3_storage: S3Storage) -> None:
    """Never pulls more keys than a window ahead of what it has handed over."""
    keys = [info.key for info in s3_storage.list_objects()]
    storage = s3_over_moto(s3_storage.config.endpoint or "", concurrency=4)
    pulled = 0
    most_ahead = 0

    def counting() -> Iterator[str]:
        nonlocal pulled
        for key in keys:
            pulled += 1
            yield key

    handed = 0
    for _key, body in storage.read_objects(counting()):
        assert isinstance(body, bytes)
        handed += 1
        most_ahead = max(most_ahead, pulled - handed)
        if handed == 20:
            assert pulled < len(keys)
    assert handed == len(keys) == pulled
    # at most 2 * concurrency requests in flight, plus one finished batch not yet handed over
    assert most_ahead <= 4 * 4


def test_stopping_early_releases_the_threads(s3_storage: S3Storage) -> None:
    keys = [info.key for info in s3_storage.list_objects()]
    results = s3_storage.read_objects(keys)
    first = [next(results) for _ in range(3)]
    assert all(isinstance(body, bytes) for _, body in first)
    results.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("perstack-logq-get")]


# --- bad storage input: one-line StorageErrors --------------------------------------------


def assert_storage_error(storage: Storage, message: str) -> None:
    """check(), both listings and reads all fail with exactly this message."""
    for action in (
        storage.check,
        storage.list_job_ids,
        lambda: list(storage.list_objects()),
        lambda: list(storage.read_objects(["jobs/j/job.json"])),
    ):
        with pytest.raises(StorageError) as caught:
            action()
        assert str(caught.value) == message


def test_missing_bucket(
    moto_endpoint: str, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_storage_error(
        s3_over_moto(moto_endpoint, "no-such-bucket"),
        "Bucket not found: s3://no-such-bucket/ (check [storage.s3] bucket in perstack.toml)",
    )
    monkeypatch.setenv("R2_ACCESS_KEY_ID", DUMMY_KEY_ID)
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", DUMMY_SECRET)
    r2 = R2Storage(R2Config(account_id="acct", bucket="no-such-bucket", endpoint=moto_endpoint))
    assert_storage_error(
        r2,
        "Bucket not found: r2://acct/no-such-bucket/ (check [storage.r2] bucket in perstack.toml)",
    )


def test_unknown_access_key(moto_fixture_store: str, aws_test_credentials: None) -> None:
    storage = s3_over_moto(moto_fixture_store)
    with enforced_auth(moto_fixture_store):
        assert_storage_error(
            storage,
            f"Access denied to {FIXTURE_LOCATION}: invalid credentials (InvalidAccessKeyId)",
        )


def test_wrong_secret_and_bad_session_token(
    moto_fixture_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id, _secret = create_iam_user_key(moto_fixture_store, f"wrong-secret-{uuid.uuid4().hex}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    storage = s3_over_moto(moto_fixture_store)
    with enforced_auth(moto_fixture_store):
        assert_storage_error(
            storage,
            f"Access denied to {FIXTURE_LOCATION}: invalid credentials (SignatureDoesNotMatch)",
        )
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", _secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-token-for-a-long-term-key")
    storage = s3_over_moto(moto_fixture_store)
    with enforced_auth(moto_fixture_store), pytest.raises(StorageError) as caught:
        storage.check()
    assert str(caught.value) == (
        f"Access denied to {FIXTURE_LOCATION}: invalid credentials (InvalidToken)"
    )


def test_valid_credentials_without_permission(
    moto_fixture_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real IAM user with no policy: listing is refused, and each read fails on its own."""
    key_id, secret = create_iam_user_key(moto_fixture_store, f"no-policy-{uuid.uuid4().hex}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    storage = s3_over_moto(moto_fixture_store)
    key = next(FileSystemStorage(FIXTURE_STORE).list_objects()).key
    with enforced_auth(moto_fixture_store):
        with pytest.raises(StorageError) as caught:
            storage.check()
        assert str(caught.value) == (
            f"Access denied to {FIXTURE_LOCATION}: the credentials in use may not list or read "
            "it (AccessDenied); they need s3:ListBucket and s3:GetObject"
        )
        assert dict(storage.read_objects([key])) == {key: ReadFailure(key, "access denied")}


def test_no_credentials(moto_fixture_store: str) -> None:
    """The autouse fixture leaves no keys, profile, AWS files or instance metadata."""
    storage = s3_over_moto(moto_fixture_store)
    message = (
        f"No credentials found for {FIXTURE_LOCATION}: "
        "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    )
    assert_storage_error(storage, message)
    with pytest.raises(StorageError) as caught:
        storage.httpfs_settings()
    assert str(caught.value) == message
    r2 = R2Storage(R2Config(account_id=R2_ACCOUNT_ID, bucket=FIXTURE_BUCKET,
                            prefix=FIXTURE_PREFIX, endpoint=moto_fixture_store))  # fmt: skip
    with pytest.raises(StorageError) as caught:
        r2.check()
    assert str(caught.value) == (
        f"No credentials found for {R2_LOCATION}: "
        "set R2_ACCESS_KEY_ID/R2_SECRET_ACCESS_KEY (or AWS_PROFILE)"
    )


def test_unreachable_endpoint(aws_test_credentials: None) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    storage = s3_over_moto(endpoint, "some-bucket", "", max_attempts=1, connect_timeout=1)
    assert_storage_error(
        storage, f"Cannot reach endpoint {endpoint} for s3://some-bucket/: connection refused"
    )


def test_unknown_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StorageError) as caught:
        S3Storage(S3Config(bucket="b", profile="nope"))
    assert str(caught.value) == (
        'AWS profile "nope" not found for s3://b/ '
        "(check AWS_PROFILE or [storage.s3] profile in perstack.toml)"
    )
    monkeypatch.setenv("AWS_PROFILE", "from-env")
    with pytest.raises(StorageError, match=r'^AWS profile "from-env" not found for s3://b/ '):
        S3Storage(S3Config(bucket="b")).check()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ExpiredToken", f"Access denied to {FIXTURE_LOCATION}: the credentials have expired "
         "(ExpiredToken); refresh them (e.g. aws sso login) and retry"),
        ("SlowDown", f"Request to {FIXTURE_LOCATION} failed: SlowDown: Please reduce your rate"),
    ],
)  # fmt: skip
def test_errors_moto_cannot_produce(code: str, message: str) -> None:
    """moto never expires a session token: map a ClientError built the way botocore builds it."""
    storage = S3Storage(S3Config(bucket=FIXTURE_BUCKET, prefix=FIXTURE_PREFIX))
    response = {"Error": {"Code": code, "Message": "Please reduce your rate"}}
    error = ClientError(response, "GetObject")  # type: ignore[arg-type]
    assert str(storage._storage_error(error)) == message


def test_r2_needs_both_r2_keys() -> None:
    config = R2Config(account_id="acct", bucket="b")
    with pytest.raises(StorageError) as caught:
        R2Storage(config, env={"R2_ACCESS_KEY_ID": "k"})
    assert str(caught.value) == (
        "Incomplete credentials for r2://acct/b/: R2_ACCESS_KEY_ID is set but "
        "R2_SECRET_ACCESS_KEY is not (set both, or neither to use the AWS credential chain)"
    )
    with pytest.raises(StorageError, match=r"R2_SECRET_ACCESS_KEY is set but R2_ACCESS_KEY_ID"):
        R2Storage(config, env={"R2_SECRET_ACCESS_KEY": "s"})


# --- credentials, endpoints and what DuckDB httpfs gets ---------------------------------------


def test_r2_endpoints_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No request is sent: the endpoint and keys are what the client was built with."""
    r2_env = {"R2_ACCESS_KEY_ID": "r2-key", "R2_SECRET_ACCESS_KEY": "r2-secret"}
    settings = R2Storage(R2Config(account_id="acct", bucket="b"), env=r2_env).httpfs_settings()
    assert dict(settings) == {
        "endpoint": "acct.r2.cloudflarestorage.com",
        "url_style": "path",
        "use_ssl": True,
        "region": "auto",
        "key_id": "r2-key",
        "secret": "r2-secret",
        "session_token": "",
    }
    eu = R2Storage(R2Config(account_id="acct", bucket="b", jurisdiction="eu"), env=r2_env)
    assert eu.httpfs_settings()["endpoint"] == "acct.eu.r2.cloudflarestorage.com"
    custom = R2Config(account_id="acct", bucket="b", endpoint="https://r2.example.test:8443")
    assert R2Storage(custom, env=r2_env).httpfs_settings()["endpoint"] == "r2.example.test:8443"
    # Without R2_* keys, the AWS chain.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "aws-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    settings = R2Storage(R2Config(account_id="acct", bucket="b"), env={}).httpfs_settings()
    assert (settings["key_id"], settings["secret"]) == ("aws-key", "aws-secret")


def test_profile_from_the_config_and_from_aws_profile(
    moto_fixture_store: str, monkeypatch: pytest.MonkeyPatch, isolated_environment: Path
) -> None:
    credentials = isolated_environment / "aws-credentials"
    credentials.write_text(
        "[work]\naws_access_key_id = work-key\naws_secret_access_key = work-secret\n"
    )
    config = S3Config(
        bucket=FIXTURE_BUCKET,
        prefix=FIXTURE_PREFIX,
        region="us-east-1",
        endpoint=moto_fixture_store,
        force_path_style=True,
        profile="work",
    )
    storage = S3Storage(config)
    assert len(storage.list_job_ids()) == 11
    assert storage.httpfs_settings()["key_id"] == "work-key"
    monkeypatch.setenv("AWS_PROFILE", "work")
    from_env = s3_over_moto(moto_fixture_store)
    assert from_env.httpfs_settings()["secret"] == "work-secret"


def test_httpfs_settings_for_aws_and_session_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRETEXAMPLE")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "TOKENEXAMPLE")
    storage = S3Storage(S3Config(bucket="b", region="eu-west-1", prefix="p/"))
    settings = storage.httpfs_settings()
    assert dict(settings) == {
        "endpoint": "s3.eu-west-1.amazonaws.com",
        "url_style": "vhost",
        "use_ssl": True,
        "region": "eu-west-1",
        "key_id": "AKIDEXAMPLE",
        "secret": "SECRETEXAMPLE",
        "session_token": "TOKENEXAMPLE",
    }
    assert storage.url_for("jobs/j/job.json") == "s3://b/p/jobs/j/job.json"
    shown = f"{settings!r} {settings}"
    assert "EXAMPLE" not in shown and "***" in shown
    forced = S3Storage(S3Config(bucket="b", region="eu-west-1", force_path_style=True))
    assert forced.httpfs_settings()["url_style"] == "path"


def test_endpoint_from_the_environment_and_the_bucket_region(
    moto_endpoint: str, aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--storage s3://...`` with AWS_ENDPOINT_URL_S3; no region given, so httpfs gets the
    bucket's own region (S3 answers it), not the client's default."""
    client(moto_endpoint).create_bucket(
        Bucket="in-eu-west-3",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-3"},
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    storage = S3Storage(S3Config(bucket="in-eu-west-3"))
    storage.check()
    settings = storage.httpfs_settings()
    assert settings["endpoint"] == moto_endpoint.removeprefix("http://")
    assert (settings["region"], settings["url_style"], settings["use_ssl"]) == (
        "eu-west-3",
        "path",
        False,
    )


def test_duckdb_httpfs_reads_the_same_bytes(s3_storage: S3Storage, r2_storage: R2Storage) -> None:
    """httpfs_settings is what the engine hands DuckDB: it must really read the objects."""
    duckdb = pytest.importorskip("duckdb")
    extension_package = pytest.importorskip("duckdb_extension_httpfs")
    extension = next(
        Path(extension_package.__file__).parent.glob("extensions/*/httpfs.duckdb_extension")
    )
    key = next(s3_storage.list_objects()).key
    for storage in (s3_storage, r2_storage):
        settings = storage.httpfs_settings()
        con = duckdb.connect(config={"autoinstall_known_extensions": "false"})
        con.execute(f"LOAD '{extension}'")
        con.execute(
            "CREATE SECRET store (TYPE s3, KEY_ID ?, SECRET ?, SESSION_TOKEN ?, REGION ?, "
            "ENDPOINT ?, URL_STYLE ?, USE_SSL ?)",
            [settings[name] for name in ("key_id", "secret", "session_token", "region",
                                         "endpoint", "url_style", "use_ssl")],
        )  # fmt: skip
        query = "SELECT content FROM read_blob(?)"
        (content,) = con.execute(query, [storage.url_for(key)]).fetchone()
        assert content == (FIXTURE_STORE / key).read_bytes()
        con.close()


def test_aws_itself_is_not_named_but_aws_endpoint_url_is(
    aws_test_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(variable, raising=False)
    aws = S3Storage(S3Config(bucket="b", region="eu-west-1", prefix="p/"))
    assert str(aws.get_storage_info()) == "s3 s3://b/p/"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    compatible = S3Storage(S3Config(bucket="b", prefix="p/"))
    assert str(compatible.get_storage_info()) == "s3 s3://b/p/ (endpoint http://127.0.0.1:9)"


def test_an_unknown_host_is_one_clean_line(aws_test_credentials: None) -> None:
    storage = S3Storage(
        S3Config(bucket="b", endpoint="http://no-such-host.invalid:9000", force_path_style=True),
        max_attempts=1,
        connect_timeout=5,
    )
    with pytest.raises(StorageError) as caught:
        storage.check()
    message = str(caught.value)
    assert message.startswith(
        "Cannot reach endpoint http://no-such-host.invalid:9000 for s3://b/: "
    )
    assert "\n" not in message
    assert message.count("(") == message.count(")"), message
