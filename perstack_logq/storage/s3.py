"""Stores in an S3 bucket or a Cloudflare R2 bucket, through one boto3 S3 client.

This is the only module that imports boto3/botocore, and the factory imports it only for an
S3 or R2 store: a filesystem user never pays for (or needs) boto3.

Read-only: the client is only ever asked for ListObjectsV2 and GetObject.

Bulk GETs (``read_objects``) go through obstore (Rust, from the ``s3`` extra) when it is
installed and reaches the store the way boto3 does: it spends far less CPU per request than
boto3, which matters on a small machine where the reader competes with decoding (bench/README.md:
about twice boto3's rate through a 20 ms round trip). boto3 stays the source of truth: it
finds the credentials (obstore asks it for them, refreshed) and lists. obstore retries a GET
itself (``max_attempts`` in all, body cuts included), and when the store answered, or reached it
and lost the answer, its failure is final and reads exactly as boto3's would (the same
StorageError or ReadFailure, after the same number of requests): a second look by boto3 would
double every retry. Only a GET obstore could not send at all (no connection, TLS, credentials)
is done again by boto3. obstore is opt-in: ``PERSTACK_LOGQ_S3_CLIENT=obstore`` turns it on.

Every request has a whole-request deadline (storage/deadline.py; 120 s, or
PERSTACK_LOGQ_S3_REQUEST_DEADLINE): read timeouts only bound the gaps between bytes, so a
server that trickles its answer would otherwise hold a command for ever. A request cut by it
is retried like a lost connection; when the last attempt was cut too, the error says so and
names the key (or the prefix being listed).

Errors: a failure that concerns the whole store (no bucket, bad credentials, unreachable
endpoint) raises a one-line StorageError naming the location and what to do. A failure that
concerns one object (vanished, denied for that key) becomes a ReadFailure from read_objects,
so one bad object does not hide the others.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import boto3
import botocore.exceptions as boto_errors
from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from botocore.config import Config

from perstack_logq import __version__
from perstack_logq.config import R2Config, S3Config, check_endpoint, check_region
from perstack_logq.errors import ConfigError, StorageError
from perstack_logq.storage import deadline
from perstack_logq.storage.base import (
    DirectoryState,
    ObjectInfo,
    ReadFailure,
    Storage,
    StorageInfo,
    read_concurrently,
    reader_threads,
    too_large_to_read,
)
from perstack_logq.storage.key_ranges import (
    KeyRange,
    list_ranges,
    ranges_worth_listing,
    split_after,
)
from perstack_logq.storage.layout import JOBS_DIR

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000  # ListObjectsV2's maximum page
DEFAULT_CONCURRENCY = 32
# "obstore" sends the bulk GETs through obstore (when installed); boto3 does them otherwise.
CLIENT_ENV = "PERSTACK_LOGQ_S3_CLIENT"

# Errors about one object: reported for that key, the others are still read.
_OBJECT_ERROR_REASONS = {
    "NoSuchKey": "not found",
    "404": "not found",
    "AccessDenied": "access denied",
    "InvalidObjectState": "archived (InvalidObjectState): restore it first",
}
_INVALID_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
_EXPIRED_CREDENTIALS = {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"}
# Lost connections while streaming a body are not retried by botocore (only the request is).
_BODY_ERRORS = (
    boto_errors.IncompleteReadError,
    boto_errors.ResponseStreamingError,
    boto_errors.ReadTimeoutError,
    boto_errors.ConnectionClosedError,
)
# Backoff between those body retries: full jitter, like botocore's own (rand * base * 2**i).
_BODY_RETRY_BASE = 0.1
_BODY_RETRY_MAX_DELAY = 5.0
# Codes that concern the whole store even when one GET meets them.
_STORE_WIDE_CODES = {"NoSuchBucket", "AllAccessDisabled"} | _INVALID_CREDENTIALS
_STORE_WIDE_CODES |= _EXPIRED_CREDENTIALS
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")

# obstore (0.12) gives no structured error: only text ending in the Debug form of object_store's
# error, which holds the retries made, the HTTP status and S3's XML body, or the kind of HTTP
# failure. pyproject.toml pins obstore to 0.12.x because of this.
_OBSTORE_RETRIES = re.compile(r"\bretries: (\d+),")
_OBSTORE_STATUS = re.compile(r"inner: Status \{\s*status: (\d+)")
_OBSTORE_HTTP_KIND = re.compile(r"HttpError \{\s*kind: (\w+)")
_S3_XML_CODE = re.compile(r"<Code>([^<]+)</Code>")
_S3_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
# Answers boto3 may still turn into a body: it follows S3's redirects to the bucket's region.
_REDIRECT_CODES = {"PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed"}


# Connections of our boto3 clients tell the deadline watchdog when they send a request.
class _WatchedHTTPConnection(AWSHTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        deadline.enlist(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPSConnection(AWSHTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        deadline.enlist(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPConnectionPool(AWSHTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(AWSHTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _watch_connections(client: Any) -> None:
    """Make ``client``'s connections report their requests to the deadline watchdog.

    botocore has no public hook for its connection classes: its URLLib3Session keeps the pool
    classes in one dict shared by its pool managers (botocore 1.34 to 1.44 at least; the
    suite proves the deadline through a trickling server, tests/reliability/test_interrupts.py).
    Should a later botocore move it, the store still works, without the deadline, and says so
    once rather than fail every command."""
    try:
        classes = client._endpoint.http_session._pool_classes_by_scheme
    except AttributeError:
        logger.warning(
            "this botocore version hides its connection pools: S3 requests run without the "
            "whole-request deadline (PERSTACK_LOGQ_S3_REQUEST_DEADLINE)"
        )
        return
    classes["http"] = _WatchedHTTPConnectionPool
    classes["https"] = _WatchedHTTPSConnectionPool


def _close_pooled_connections(client: Any) -> None:
    """Close ``client``'s pooled connections now, not when the garbage collector gets to them.

    botocore's ``client.close()`` only empties urllib3's pool managers, and since urllib3 2.0.3
    an emptied pool's connections are closed when the pool is freed (urllib3/urllib3#3082). A
    failed read's traceback holds the pool in a reference cycle, so a sync that failed left
    a socket per reader thread open until the next full collection: in a notebook, or in any
    process that carries on after the error. Private attributes again (see
    ``_watch_connections``); a botocore without them keeps its own ``close()`` alone."""
    try:
        session = client._endpoint.http_session
        managers = [session._manager, *session._proxy_managers.values()]
    except AttributeError:
        return
    for manager in managers:
        for key in list(manager.pools.keys()):
            pool = manager.pools.get(key)
            if pool is not None:
                pool.close()


def _refuse_requests_once(closed: threading.Event, client: Any, location: str) -> None:
    """Make ``client`` refuse to send a request once ``closed`` is set.

    A closed client still sends: it opens a new pool and connection for the request, which
    nothing closes. A key range listing on its daemon thread can still be retrying when
    another range's failure has ended the listing and the store was closed. The hook holds
    the event, not the storage: a storage the hook referred to would be freed only by the
    garbage collector, and with it the connections of a storage nobody closed."""

    def refuse(**_: Any) -> None:
        if closed.is_set():
            raise StorageError(f"{location}: the connection to the store was closed")

    client.meta.events.register("before-send.s3", refuse)


class SecretSettings(dict[str, Any]):
    """A dict that holds credentials and refuses to show them if printed or logged by mistake."""

    _HIDDEN = frozenset({"key_id", "secret", "session_token"})

    def __repr__(self) -> str:
        shown = {k: ("***" if k in self._HIDDEN and v else v) for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"


class ObjectStoreStorage(Storage):
    """What S3 and R2 share: a bucket, a normalised prefix, one client, concurrent GETs."""

    storage_type: ClassVar[str]
    config_section: ClassVar[str]  # where the user fixes the bucket name: "[storage.s3]"
    credentials_hint: ClassVar[str]  # what to set when no credentials are found

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        location: str,
        endpoint_url: str | None,
        region: str | None,
        profile: str | None,
        path_style: bool,
        access_key: tuple[str, str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        request_deadline: float | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise ValueError(
                f"concurrency and max_attempts must be >= 1 ({concurrency}, {max_attempts})"
            )
        self.bucket = bucket
        self.prefix = prefix
        self.location = location
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self._path_style = path_style
        self._timeouts = (connect_timeout, read_timeout)
        # Seconds one request may take from sending to its last byte (see storage/deadline.py).
        self.request_deadline = (
            deadline.deadline_from_environment() if request_deadline is None else request_deadline
        )
        self._fast_store: Any = None  # obstore's store, made on the first bulk read
        self._closed = threading.Event()
        # With neither, the client's region is only a default (us-east-1, AWS_DEFAULT_REGION):
        # botocore follows S3's redirects to the bucket's region, DuckDB httpfs does not.
        self._region_is_known = region is not None or endpoint_url is not None
        config = Config(
            region_name=region,
            signature_version="s3v4",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # total_max_attempts counts the first request; botocore's max_attempts does not.
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            # Every reader thread shares this client; enough pooled connections for all of
            # them means connections are reused instead of reopened per request.
            max_pool_connections=max(concurrency, 10),
            s3={"addressing_style": "path"} if path_style else {},
            user_agent_extra=f"perstack-logq/{__version__}",
            **(extra_config or {}),
        )
        try:
            key_id, secret = access_key if access_key else (None, None)
            self._session = boto3.Session(
                profile_name=profile, aws_access_key_id=key_id, aws_secret_access_key=secret
            )
            # One client for all threads: boto3 clients are thread-safe, sessions are not,
            # so the session is only used here and in httpfs_settings (caller's thread).
            self._client = self._session.client("s3", endpoint_url=endpoint_url, config=config)
            _watch_connections(self._client)
            _refuse_requests_once(self._closed, self._client, location)
        except boto_errors.InvalidRegionError as exc:
            region_name = exc.kwargs.get("region_name")
            raise ConfigError(f"{location}: invalid region {region_name!r}") from None
        except boto_errors.BotoCoreError as exc:
            raise self._storage_error(exc) from exc
        except ValueError as exc:  # an endpoint from AWS_ENDPOINT_URL such as http://[::1
            raise ConfigError(
                f"{location}: invalid endpoint {_environment_endpoint()!r} ({exc})"
            ) from None
        # The region and endpoint may come from the environment or a profile, which
        # perstack.toml's checks never saw: a malformed one is a usage error, not the store's.
        check_region(location, self._client.meta.region_name or "us-east-1")
        check_endpoint(f"{location}: endpoint", self._client.meta.endpoint_url)

    # --- Storage ----------------------------------------------------------------------------

    def get_storage_info(self) -> StorageInfo:
        return StorageInfo(self.storage_type, self.location, self.custom_endpoint)

    @property
    def custom_endpoint(self) -> str | None:
        """The server's URL when it is not AWS's own S3 (perstack.toml, --endpoint or
        AWS_ENDPOINT_URL): shown beside the location, since the bucket name alone is ambiguous."""
        if self.storage_type != "s3":
            return None
        url = self._client.meta.endpoint_url
        host = urlsplit(url).hostname or ""
        return None if host.endswith(".amazonaws.com") else url

    def check(self) -> None:
        """One cheap request, so that a wrong bucket or credentials fail before any work."""
        self._list_page({"Prefix": self.prefix, "MaxKeys": 1})

    def list_job_ids(self) -> list[str]:
        jobs_prefix = f"{self.prefix}{JOBS_DIR}/"
        job_ids: list[str] = []
        for page in self._list_pages(jobs_prefix, delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                job_id = common["Prefix"][len(jobs_prefix) :].rstrip("/")
                if job_id:  # "jobs//" (a key with an empty segment) is no job
                    job_ids.append(job_id)
        return sorted(job_ids)

    def list_objects(self, prefix: str = "jobs/") -> Iterator[ObjectInfo]:
        """Objects under ``{store prefix}{prefix}``, 1,000 a page, in S3's key order."""
        for page in self._list_pages(f"{self.prefix}{prefix}"):
            yield from self._objects_of(page.get("Contents", []))

    def list_changes(
        self, known: Mapping[str, int | None], recheck: Iterable[str]
    ) -> Iterator[ObjectInfo | DirectoryState]:
        """Every object under ``jobs/``, each sync (a bucket has no directory times to skip
        by). A store of one page takes one request; past that page the rest is listed as up
        to ``concurrency`` key ranges side by side (storage/key_ranges.py), in no set order."""
        jobs_prefix = f"{self.prefix}{JOBS_DIR}/"
        with reader_threads(self.concurrency, "perstack-logq-list") as executor:
            # The job ids (the ranges' boundaries) are listed while the first page is.
            job_ids = executor.submit(self.list_job_ids)
            first = self._list_page({"Prefix": jobs_prefix, "MaxKeys": PAGE_SIZE})
            contents = first.get("Contents", [])
            yield from self._objects_of(contents)
            if not first.get("IsTruncated") or not contents:
                return
            boundaries = [f"{jobs_prefix}{job_id}/" for job_id in job_ids.result()]
            first_keys = [item["Key"] for item in contents]
            count = ranges_worth_listing(first_keys, jobs_prefix, len(boundaries), self.concurrency)
            ranges = split_after(first_keys[-1], boundaries, count)
            yield from list_ranges(ranges, self._list_range)

    def _list_range(self, key_range: KeyRange) -> Iterator[list[ObjectInfo]]:
        """The pages of one key range (full keys: the store's prefix included)."""
        start_after, stop_before = key_range
        for page in self._list_pages(f"{self.prefix}{JOBS_DIR}/", start_after=start_after):
            contents = page.get("Contents", [])
            # Only the range's own keys, even from an S3-compatible server that ignored
            # StartAfter: the ranges never list a key twice.
            within = [
                item
                for item in contents
                if (start_after is None or item["Key"] > start_after)
                and (stop_before is None or item["Key"] < stop_before)
            ]
            yield self._objects_of(within)
            if stop_before is not None and contents and contents[-1]["Key"] >= stop_before:
                return

    def _objects_of(self, contents: list[dict[str, Any]]) -> list[ObjectInfo]:
        strip = len(self.prefix)
        return [
            ObjectInfo(key=item["Key"][strip:], size=item["Size"], version=item["ETag"].strip('"'))
            for item in contents
            # A key ending in "/" is a "folder" marker some tools create: not a file.
            if not item["Key"].endswith("/")
        ]

    def _list_pages(
        self, prefix: str, delimiter: str | None = None, start_after: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """ListObjectsV2 pages of ``prefix``, each one request under the request deadline."""
        request: dict[str, Any] = {"Prefix": prefix, "MaxKeys": PAGE_SIZE}
        if delimiter:
            request["Delimiter"] = delimiter
        if start_after:
            request["StartAfter"] = start_after
        while True:
            page = self._list_page(request)
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            request = {**request, "ContinuationToken": token}

    def _list_page(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """One page; botocore retries what failed before the answer, this a page whose body
        the request deadline cut (botocore would hand over the cut XML as a parse error)."""
        with deadline.watched(self.request_deadline) as watch:
            while True:
                sent = watch.requests
                try:
                    return dict(self._client.list_objects_v2(Bucket=self.bucket, **request))
                except Exception as exc:
                    # Retried only when this call sent a request and the deadline cut it.
                    if not watch.cut_last or watch.requests == sent:
                        if isinstance(exc, boto_errors.ClientError | boto_errors.BotoCoreError):
                            raise self._storage_error(exc) from exc
                        raise
                    if watch.requests >= self.max_attempts:
                        where = f"s3://{self.bucket}/{request['Prefix']}"
                        raise self._deadline_error("list", where, watch.requests) from None

    def read_object(self, key: str) -> bytes:
        body = self._get(key)
        if isinstance(body, ReadFailure):
            raise StorageError(f"Cannot read {self.url_for(key)}: {body.reason}")
        return body

    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]:
        """Concurrent GETs, yielded as they complete, at most ``2 * concurrency`` ahead."""
        get = self._get_fast if self._obstore() is not None else self._get
        read = functools.partial(get, max_bytes=max_bytes)
        # Running GETs end within the request deadline; Ctrl-C does not wait for them.
        with reader_threads(self.concurrency, "perstack-logq-get") as executor:
            yield from read_concurrently(executor, read, keys, 2 * self.concurrency)

    def close(self) -> None:
        self._closed.set()
        _close_pooled_connections(self._client)
        self._client.close()

    # --- for DuckDB httpfs --------------------------------------------------------------------

    def url_for(self, key: str) -> str:
        """The ``s3://`` URL of a store-relative key (R2 too: httpfs speaks S3 to R2)."""
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def httpfs_settings(self) -> SecretSettings:
        """What DuckDB's httpfs needs to read the objects this client reads.

        Keys match ``CREATE SECRET (TYPE s3, ...)``: endpoint (host[:port], no scheme),
        url_style ("path" or "vhost"), use_ssl, region, key_id, secret, session_token ("" when
        none). Credentials are a snapshot of the boto3 chain: temporary ones are not refreshed.
        Never print it: it holds the secret key (its repr hides it).
        """
        try:
            credentials = self._session.get_credentials()
        except boto_errors.BotoCoreError as exc:
            raise self._storage_error(exc) from exc
        if credentials is None:
            raise self._storage_error(boto_errors.NoCredentialsError())
        frozen = credentials.get_frozen_credentials()
        endpoint = urlsplit(self._client.meta.endpoint_url)
        host = endpoint.hostname or ""
        return SecretSettings(
            endpoint=endpoint.netloc,
            url_style="path" if self._path_style or _is_ip_or_localhost(host) else "vhost",
            use_ssl=endpoint.scheme == "https",
            region=self._bucket_region(),
            key_id=frozen.access_key,
            secret=frozen.secret_key,
            session_token=frozen.token or "",
        )

    # --- internals ----------------------------------------------------------------------------

    def _bucket_region(self) -> str:
        """The region httpfs must sign for: the bucket's own, asked of S3 when not configured."""
        default = self._client.meta.region_name or "us-east-1"
        if self._region_is_known:
            return default
        try:
            with deadline.watched(self.request_deadline):
                response = self._client.head_bucket(Bucket=self.bucket)
        except (boto_errors.ClientError, boto_errors.BotoCoreError):
            return default  # the reads will report what is wrong, with a better message
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return str(headers.get("x-amz-bucket-region") or default)

    @property
    def client_name(self) -> str:
        """Which library does the bulk GETs: "obstore" or "boto3"."""
        return "obstore" if self._obstore() is not None else "boto3"

    def _obstore(self) -> Any:
        """obstore's S3Store for this bucket, or None where boto3 must do the GETs: obstore
        not installed or turned off, an endpoint it would address differently from boto3
        (virtual-host style on a custom endpoint), or a GET that boto3 got and it did not."""
        if self._fast_store is not None:
            return self._fast_store or None
        self._fast_store = False
        # Opt-in until its retry accounting is proven: a throttled read sometimes made one
        # request fewer than the attempts obstore reported (tests/reliability/test_remote_faults).
        if os.environ.get(CLIENT_ENV, "").strip().lower() != "obstore":
            return None
        endpoint = str(self._client.meta.endpoint_url)
        host = urlsplit(endpoint).hostname or ""
        if not (self._path_style or _is_ip_or_localhost(host) or host.endswith(".amazonaws.com")):
            return None
        try:
            from obstore.auth.boto3 import Boto3CredentialProvider
            from obstore.store import S3Store
        except ImportError:
            return None
        connect_timeout, read_timeout = self._timeouts
        try:
            self._fast_store = S3Store(
                self.bucket,
                endpoint=endpoint,
                region=self._bucket_region(),
                virtual_hosted_style_request=False,  # path style: what boto3 uses here too
                credential_provider=Boto3CredentialProvider(self._session),
                client_options={
                    "allow_http": endpoint.startswith("http://"),
                    "connect_timeout": f"{round(connect_timeout * 1000)}ms",
                    # reqwest's timeout bounds the whole request: the deadline, if shorter.
                    "timeout": f"{round(min(read_timeout, self.request_deadline) * 1000)}ms",
                    "user_agent": f"perstack-logq/{__version__}",
                },
                retry_config={"max_retries": self.max_attempts - 1},
            )
        except Exception:  # no credentials, an option it refuses: boto3 does it all, as before
            self._fast_store = False
            return None
        return self._fast_store

    def _get_fast(self, key: str, max_bytes: int | None = None) -> bytes | ReadFailure:
        """One object's body through obstore, which retries it itself (max_attempts in all).

        A failure where the store answered (an S3 error code) or was reached and the answer
        lost (reset, read timeout, body cut) is final: it becomes the StorageError or
        ReadFailure boto3 would give, after the same number of requests. Asking boto3 again
        would repeat every retry against a store that already failed them. Only a GET obstore
        could not make (no connection, TLS, credentials, a redirect) is done again by boto3;
        when boto3 gets that object (a proxy or a CA bundle only boto3 knows), boto3 does the
        remaining GETs."""
        import obstore

        store = self._fast_store
        if not store:
            return self._get(key, max_bytes)
        try:
            answer = obstore.get(store, self.prefix + key)
            size = answer.meta["size"]
            if max_bytes is not None and size > max_bytes:
                return too_large_to_read(key, size, max_bytes)  # the body is never fetched
            return bytes(answer.bytes())
        except Exception as exc:
            final = self._obstore_failure(key, exc)
            if isinstance(final, StorageError):
                raise final from exc
            if final is not None:
                return final
            body = self._get(key, max_bytes)
            if isinstance(body, bytes):
                self._fast_store = False
            return body

    def _obstore_failure(self, key: str, exc: Exception) -> StorageError | ReadFailure | None:
        """What boto3 would have made of the failure obstore met on ``key``, or None when
        obstore did not reach the store (boto3 must try: it may, and it names the cause)."""
        text = str(exc)
        retries = _OBSTORE_RETRIES.search(text)
        attempts = int(retries.group(1)) + 1 if retries else self.max_attempts
        status = _OBSTORE_STATUS.search(text)
        if status:
            code_match = _S3_XML_CODE.search(text)
            code = code_match.group(1) if code_match else status.group(1)
            if code in _REDIRECT_CODES or status.group(1).startswith("3"):
                return None
            if code in _OBJECT_ERROR_REASONS:
                return ReadFailure(key, _OBJECT_ERROR_REASONS[code])
            message = _S3_XML_MESSAGE.search(text)
            error = boto_errors.ClientError(
                {
                    "Error": {"Code": code, "Message": message.group(1) if message else ""},
                    "ResponseMetadata": {
                        "HTTPStatusCode": int(status.group(1)),
                        "RetryAttempts": attempts - 1,
                    },
                },
                "GetObject",
            )
            return self._read_error(key, error)
        kind_match = _OBSTORE_HTTP_KIND.search(text)
        kind = kind_match.group(1) if kind_match else None
        if kind is None or kind == "Connect" or "ConnectError" in text:
            return None  # never reached the store this way: boto3's turn
        if "RetryError" not in text and (kind == "Interrupted" or "body error" in text):
            # The answer began and its body was cut; obstore retried the body like _get does.
            return ReadFailure(
                key, f"connection lost while reading, gave up after {attempts} attempts"
            )
        if kind == "Timeout":
            reason = _short_reason(boto_errors.ReadTimeoutError(endpoint_url=self.url_for(key)))
        elif kind in ("Request", "Interrupted"):
            reason = _short_reason(boto_errors.ConnectionClosedError(endpoint_url=""))
        else:
            return None
        return StorageError(
            f"Cannot read {self.url_for(key)}: {reason}, gave up after {attempts} attempts"
        )

    def _get(self, key: str, max_bytes: int | None = None) -> bytes | ReadFailure:
        """One object's body; runs on reader threads. Store-wide failures raise."""
        with deadline.watched(self.request_deadline) as watch:
            try:
                return self._get_watched(key, watch, max_bytes)
            except (boto_errors.ClientError, boto_errors.BotoCoreError, StorageError):
                if watch.cut_last:
                    raise self._deadline_error("read", self.url_for(key), watch.requests) from None
                raise

    def _get_watched(
        self, key: str, watch: deadline.RequestWatch, max_bytes: int | None
    ) -> bytes | ReadFailure:
        attempt = 1
        while True:
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            except boto_errors.ClientError as exc:
                code = _error_code(exc)
                if code in _OBJECT_ERROR_REASONS:
                    return ReadFailure(key, _OBJECT_ERROR_REASONS[code])
                raise self._read_error(key, exc) from exc
            except boto_errors.BotoCoreError as exc:
                raise self._read_error(key, exc) from exc
            size = response.get("ContentLength")
            if max_bytes is not None and size is not None and size > max_bytes:
                response["Body"].close()  # the body is never read
                return too_large_to_read(key, size, max_bytes)
            try:
                return response["Body"].read()
            except _BODY_ERRORS:
                # botocore retries the request, not a body cut mid-stream: retry it here.
                if attempt >= self.max_attempts:
                    if watch.cut_last:  # the deadline cut the body, not the server
                        raise self._deadline_error("read", self.url_for(key), attempt) from None
                    return ReadFailure(
                        key, f"connection lost while reading, gave up after {attempt} attempts"
                    )
                delay = min(_BODY_RETRY_MAX_DELAY, _BODY_RETRY_BASE * 2 ** (attempt - 1))
                time.sleep(random.random() * delay)
                attempt += 1

    def _deadline_error(self, action: str, where: str, attempts: int) -> StorageError:
        return StorageError(
            f"Cannot {action} {where}: no complete answer within {self.request_deadline:g} s "
            f"(the request deadline, {deadline.DEADLINE_ENV}), gave up after {attempts} attempts"
        )

    def _read_error(self, key: str, exc: Exception) -> StorageError:
        """One line for a GET that failed for good, once botocore's retries are spent: a
        store-wide cause names the store, anything else (5xx, throttling, read timeouts, lost
        connections) names the object."""
        if isinstance(exc, boto_errors.ClientError) and _error_code(exc) not in _STORE_WIDE_CODES:
            metadata = exc.response.get("ResponseMetadata", {})
            attempts = int(metadata.get("RetryAttempts", 0)) + 1
            status = metadata.get("HTTPStatusCode")
            reason = f"{_error_code(exc)}" + (f" (HTTP {status})" if status else "")
        elif isinstance(exc, boto_errors.ConnectionClosedError | boto_errors.ReadTimeoutError):
            # Reached the endpoint, lost this answer (an unreachable endpoint is store-wide).
            attempts, reason = self.max_attempts, _short_reason(exc)
        else:
            return self._storage_error(exc)
        return StorageError(
            f"Cannot read {self.url_for(key)}: {reason}, gave up after {attempts} attempts"
        )

    def _storage_error(self, exc: Exception) -> StorageError:
        """One line naming the store and what to do, for a store-wide failure."""
        where = self.location
        if isinstance(exc, boto_errors.ClientError):
            code = _error_code(exc)
            if code == "NoSuchBucket":
                bucket_url = self.location[: -len(self.prefix)] if self.prefix else self.location
                return StorageError(
                    f"Bucket not found: {bucket_url} (check {self.config_section} bucket in "
                    "perstack.toml)"
                )
            if code in _INVALID_CREDENTIALS:
                return StorageError(f"Access denied to {where}: invalid credentials ({code})")
            if code in _EXPIRED_CREDENTIALS:
                return StorageError(
                    f"Access denied to {where}: the credentials have expired ({code}); "
                    "refresh them (e.g. aws sso login) and retry"
                )
            if code in ("AccessDenied", "AllAccessDisabled", "403"):
                return StorageError(
                    f"Access denied to {where}: the credentials in use may not list or read it "
                    f"({code}); they need s3:ListBucket and s3:GetObject"
                )
            message = exc.response.get("Error", {}).get("Message") or "no message"
            return StorageError(f"Request to {where} failed: {code}: {message}")
        if isinstance(exc, boto_errors.NoCredentialsError):
            return StorageError(f"No credentials found for {where}: {self.credentials_hint}")
        if isinstance(exc, boto_errors.PartialCredentialsError):
            return StorageError(f"Incomplete credentials for {where}: {exc}")
        if isinstance(exc, boto_errors.ProfileNotFound):
            profile = exc.kwargs.get("profile")
            return StorageError(
                f'AWS profile "{profile}" not found for {where} (check AWS_PROFILE or '
                f"{self.config_section} profile in perstack.toml)"
            )
        if isinstance(exc, boto_errors.ConnectionError | boto_errors.HTTPClientError):
            endpoint = self._client.meta.endpoint_url if hasattr(self, "_client") else "?"
            return StorageError(
                f"Cannot reach endpoint {endpoint} for {where}: {_short_reason(exc)}"
            )
        return StorageError(f"Cannot use {where}: {exc}")


def _environment_endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""


class S3Storage(ObjectStoreStorage):
    """An S3 bucket (or an S3-compatible server through ``endpoint``).

    Credentials: the standard AWS chain (environment, AWS_PROFILE or the ``profile`` key,
    shared files, SSO, instance role). With no ``endpoint``, boto3 also honours
    AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
    """

    storage_type = "s3"
    config_section = "[storage.s3]"
    credentials_hint = "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"

    def __init__(
        self,
        config: S3Config,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
    ) -> None:
        self.config = config
        super().__init__(
            bucket=config.bucket,
            prefix=config.prefix,
            location=f"s3://{config.bucket}/{config.prefix}",
            endpoint_url=config.endpoint,
            region=config.region,
            profile=config.profile,
            path_style=config.force_path_style,
            concurrency=concurrency,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
        )


class R2Storage(ObjectStoreStorage):
    """A Cloudflare R2 bucket, through R2's S3-compatible API.

    Endpoint ``https://{accountId}[.{jurisdiction}].r2.cloudflarestorage.com`` unless
    ``endpoint`` overrides it; region "auto"; path-style addressing (R2 supports it and it
    needs no per-bucket DNS). Credentials: R2_ACCESS_KEY_ID/R2_SECRET_ACCESS_KEY when both are
    set, else the AWS chain (AWS_PROFILE or the ``profile`` key, AWS_ACCESS_KEY_ID/...).
    """

    storage_type = "r2"
    config_section = "[storage.r2]"
    credentials_hint = "set R2_ACCESS_KEY_ID/R2_SECRET_ACCESS_KEY (or AWS_PROFILE)"

    def __init__(
        self,
        config: R2Config,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        env = os.environ if env is None else env
        location = f"r2://{config.account_id}/{config.bucket}/{config.prefix}"
        key_id, secret = env.get("R2_ACCESS_KEY_ID"), env.get("R2_SECRET_ACCESS_KEY")
        if bool(key_id) != bool(secret):
            present, missing = (
                ("R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY")
                if key_id
                else ("R2_SECRET_ACCESS_KEY", "R2_ACCESS_KEY_ID")
            )
            raise StorageError(
                f"Incomplete credentials for {location}: {present} is set but {missing} is not "
                "(set both, or neither to use the AWS credential chain)"
            )
        host = (
            f"{config.account_id}.{config.jurisdiction}.r2.cloudflarestorage.com"
            if config.jurisdiction
            else f"{config.account_id}.r2.cloudflarestorage.com"
        )
        super().__init__(
            bucket=config.bucket,
            prefix=config.prefix,
            location=location,
            endpoint_url=config.endpoint or f"https://{host}",
            region="auto",
            profile=config.profile,
            path_style=True,
            access_key=(key_id, secret) if key_id and secret else None,
            concurrency=concurrency,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            # R2 does not accept every flexible-checksum header newer botocore sends by
            # default; Cloudflare's boto3 guide asks for checksums only when required.
            extra_config={
                "request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required",
            },
        )


def failure_reason(exc: Exception) -> str:
    """Why an S3 request failed, in a few words, for messages that name their own target
    (an export's output): the reasons a read of the store gives, without its store hints."""
    if isinstance(exc, boto_errors.ClientError):
        code = _error_code(exc)
        if code == "NoSuchBucket":
            return "the bucket does not exist (NoSuchBucket)"
        if code in _INVALID_CREDENTIALS:
            return f"invalid credentials ({code})"
        if code in _EXPIRED_CREDENTIALS:
            return f"the credentials have expired ({code}); refresh them and retry"
        if code in ("AccessDenied", "AllAccessDisabled", "403"):
            return f"access denied ({code}): the credentials in use may not list or write it"
        message = exc.response.get("Error", {}).get("Message") or "no message"
        return f"{code}: {message}"
    if isinstance(exc, boto_errors.NoCredentialsError):
        return "no credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    if isinstance(exc, boto_errors.ConnectionError | boto_errors.HTTPClientError):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        url = urlsplit(endpoint)
        where = f" {url.scheme}://{url.netloc}" if url.netloc else ""
        return f"cannot reach endpoint{where}: {_short_reason(exc)}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _error_code(exc: boto_errors.ClientError) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code") or status or "Unknown")


def _short_reason(exc: Exception) -> str:
    """``connection refused`` rather than botocore's nested repr of a urllib3 pool."""
    if isinstance(exc, boto_errors.ConnectTimeoutError):
        return "connection timed out"
    if isinstance(exc, boto_errors.ReadTimeoutError):
        return "no response in time (read timeout)"
    if isinstance(exc, boto_errors.SSLError):
        return "TLS handshake failed (check the endpoint URL and certificates)"
    if isinstance(exc, boto_errors.ConnectionClosedError):
        return "connection closed before a response"
    match = _ERRNO_TEXT.search(str(getattr(exc, "kwargs", {}).get("error", exc)))
    if match:
        return match.group(1).strip().lower()
    return str(exc)


def _is_ip_or_localhost(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
