"""Direct reads of S3/R2 objects through DuckDB's httpfs extension.

An alternative to boto3 GETs for a sync: a DuckDB connection of its own, with httpfs loaded
offline from the ``duckdb_extension_httpfs`` wheel (never downloaded) and a temporary S3
secret made from ``ObjectStoreStorage.httpfs_settings()``, fetches object bodies with
``read_blob`` over a list of ``s3://`` URLs, a chunk at a time. It yields ``(key, body)`` exactly
like ``Storage.read_objects``, so the same decoder runs on the same bytes and the tables are
identical by construction.

httpfs fails a whole ``read_blob`` query when one URL fails (a key deleted since the listing,
a denied key): such a chunk is read again through the storage's own client, which reports the
one bad key as a ReadFailure and raises a one-line StorageError for a store-wide problem.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from itertools import islice
from pathlib import Path

import duckdb

from perstack_logq.errors import StorageError
from perstack_logq.storage.base import ReadFailure, reader_threads, too_large_to_read
from perstack_logq.storage.s3 import ObjectStoreStorage

DUCKDB_VERSION = "v1.5.5"
# Objects per read_blob query (one query reads its files one after the other): small, so that
# many queries run at once and a chunk of MB-sized checkpoints stays small in memory.
DEFAULT_CHUNK = 8


def extension_path() -> Path:
    """The httpfs binary shipped in the ``duckdb_extension_httpfs`` wheel (the s3 extra)."""
    try:
        import duckdb_extension_httpfs
    except ImportError:
        raise StorageError(
            "direct reads need the duckdb-extension-httpfs package "
            "(pip install 'perstack-logq[s3]')"
        ) from None
    path = (
        Path(duckdb_extension_httpfs.__file__).parent
        / "extensions"
        / DUCKDB_VERSION
        / "httpfs.duckdb_extension"
    )
    if not path.is_file():
        raise StorageError(f"httpfs extension for DuckDB {DUCKDB_VERSION} not found at {path}")
    return path


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def load_with_store_secret(
    connection: duckdb.DuckDBPyConnection, storage: ObjectStoreStorage
) -> None:
    """Load httpfs (offline) into ``connection`` and give it a temporary S3 secret that reads
    what ``storage``'s own client reads: same credential chain, endpoint and addressing."""
    connection.execute(f"LOAD {_literal(extension_path())}")
    settings = storage.httpfs_settings()
    options = [
        "TYPE s3",
        f"KEY_ID {_literal(settings['key_id'])}",
        f"SECRET {_literal(settings['secret'])}",
        f"REGION {_literal(settings['region'])}",
        f"ENDPOINT {_literal(settings['endpoint'])}",
        f"URL_STYLE {_literal(settings['url_style'])}",
        f"USE_SSL {'true' if settings['use_ssl'] else 'false'}",
    ]
    if settings["session_token"]:
        options.append(f"SESSION_TOKEN {_literal(settings['session_token'])}")
    # A temporary secret: it lives in this connection's memory, never on disk.
    connection.execute(f"CREATE TEMPORARY SECRET perstack_store ({', '.join(options)})")


class DirectReader:
    """Reads a bucket's objects with DuckDB httpfs; same contract as ``Storage.read_objects``.

    One ``read_blob`` query fetches its files one after the other, so ``concurrency`` queries
    (threads, each on a cursor of the one connection; DuckDB releases the GIL while it waits)
    run side by side over small chunks, at most two chunks per thread ahead of the caller.
    httpfs sends a HEAD before each GET, so the default is twice the storage's concurrency:
    as many requests in flight as boto3 would have.
    """

    def __init__(
        self,
        storage: ObjectStoreStorage,
        *,
        concurrency: int | None = None,
        chunk: int = DEFAULT_CHUNK,
    ) -> None:
        self.storage = storage
        self.chunk = chunk
        self.concurrency = concurrency or 2 * storage.concurrency
        self.connection = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"},
        )
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        try:
            load_with_store_secret(self.connection, storage)
            self.connection.execute("SET http_keep_alive = true")
        except BaseException:
            self.connection.close()
            raise

    def read_objects(
        self, keys: Iterable[str], *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, bytes | ReadFailure]]:
        """As ``Storage.read_objects``, but ``read_blob`` reads a body before its size is known:
        one over ``max_bytes`` is read, then refused, as the other readers refuse it."""
        read_chunk = functools.partial(self._read_chunk, max_bytes=max_bytes)
        key_iter = iter(keys)
        chunks = iter(lambda: list(islice(key_iter, self.chunk)), [])
        window = 2 * self.concurrency
        with reader_threads(self.concurrency, "perstack-logq-httpfs") as pool:
            pending = [pool.submit(read_chunk, chunk) for chunk in islice(chunks, window)]
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                pending = [future for future in pending if future not in done]
                pending.extend(pool.submit(read_chunk, c) for c in islice(chunks, len(done)))
                for future in done:
                    yield from future.result()

    def _read_chunk(
        self, chunk: list[str], max_bytes: int | None
    ) -> list[tuple[str, bytes | ReadFailure]]:
        urls = {self.storage.url_for(key): key for key in chunk}
        try:
            rows = (
                self._cursor()
                .execute("SELECT filename, content FROM read_blob($urls)", {"urls": list(urls)})
                .fetchall()
            )
        except duckdb.Error:
            # One bad key fails the query: let the storage's client sort out which.
            return list(self.storage.read_objects(chunk, max_bytes=max_bytes))
        return [
            (
                urls[url],
                too_large_to_read(urls[url], len(body), max_bytes)
                if max_bytes is not None and len(body) > max_bytes
                else body,
            )
            for url, body in rows
        ]

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self.connection.cursor()
            self._local.cursor = cursor
            with self._cursors_lock:
                self._cursors.append(cursor)
        return cursor

    def close(self) -> None:
        for cursor in self._cursors:
            cursor.close()
        self.connection.close()
