"""A real S3 endpoint for tests: moto's server mode on 127.0.0.1, spoken to over HTTP.

Nothing here mocks boto3: the code under test and these helpers send real signed HTTP requests
to a moto server running in a thread of the test process.

Credentials: by default moto accepts any access key. ``enforced_auth`` switches on moto's IAM
simulation (its ``/moto-api/reset-auth`` endpoint, the server-mode form of
``INITIAL_NO_AUTH_ACTION_COUNT``): unknown keys then get InvalidAccessKeyId, a wrong secret
SignatureDoesNotMatch, and an IAM user without a policy AccessDenied.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import boto3

# Helpers pass these explicitly so they never read the user's ~/.aws.
DUMMY_KEY_ID = "testing"
DUMMY_SECRET = "testing"
REGION = "us-east-1"


def free_port() -> int:
    """A port nobody listens on right now (also what an "unreachable endpoint" test needs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_moto_server() -> Iterator[str]:
    """Start moto on 127.0.0.1 and a free port; yield its URL; stop it afterwards."""
    # Imported here: moto takes ~0.4 s to import, and most test runs never need it.
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(endpoint: str, service: str = "s3", **credentials: str) -> Any:
    """A boto3 client for the moto server, with dummy credentials unless others are given."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials.get("key_id", DUMMY_KEY_ID),
        aws_secret_access_key=credentials.get("secret", DUMMY_SECRET),
    )


def create_bucket(endpoint: str, bucket: str) -> None:
    client(endpoint).create_bucket(Bucket=bucket)


def upload_tree(endpoint: str, bucket: str, prefix: str, root_dir: Path) -> int:
    """Copy every file under ``root_dir`` to ``{prefix}{relative path}`` in ``bucket``.

    Creates the bucket if needed; returns the number of objects written.
    """
    s3 = client(endpoint)
    with suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    files = sorted(path for path in root_dir.rglob("*") if path.is_file())

    def put(path: Path) -> None:
        key = prefix + path.relative_to(root_dir).as_posix()
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, files))
    return len(files)


def put_objects_in_process(bucket: str, objects: Mapping[str, bytes]) -> None:
    """Write objects straight into the moto backend of this process (the server runs in a
    thread here): a thousand PUTs over HTTP take seconds, this takes milliseconds. Only a
    test-setup shortcut: everything the code under test does still goes over HTTP."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key, body in objects.items():
        backend.put_object(bucket, key, body)


def create_iam_user_key(endpoint: str, user_name: str) -> tuple[str, str]:
    """An IAM user with no policy at all, and its access key pair (moto keeps both)."""
    iam = client(endpoint, "iam")
    iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _reset_auth(endpoint: str, no_auth_action_count: str) -> str:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=no_auth_action_count.encode(),
        method="POST",
        # Not form-encoded: moto reads the raw body, which Flask empties for form posts.
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


@contextmanager
def enforced_auth(endpoint: str) -> Iterator[None]:
    """Within the block, moto checks signatures and IAM permissions of every request.

    Process-wide for that server: tests using it must not run concurrently with others on the
    same server (pytest runs a worker's tests one at a time; xdist workers each have their own).
    """
    previous = _reset_auth(endpoint, "0")
    try:
        yield
    finally:
        _reset_auth(endpoint, previous)
