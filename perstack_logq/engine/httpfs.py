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

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import duckdb

from perstack_logq.errors import StorageError
from perstack_logq.storage.base import ReadFailure
from perstack_logq.storage.s3 import ObjectStoreStorage

DUCKDB_VERSION = "v1.5.5"
# Objects per read_blob query: enough to keep every httpfs thread busy, few enough that a
# chunk of MB-sized checkpoints stays small in memory.
DEFAULT_CHUNK = 64


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


class DirectReader:
    """Reads a bucket's objects with DuckDB httpfs; same contract as ``Storage.read_objects``."""

    def __init__(
        self, storage: ObjectStoreStorage, *, threads: int | None = None, chunk: int = DEFAULT_CHUNK
    ) -> None:
        self.storage = storage
        self.chunk = chunk
        self.connection = duckdb.connect(
            ":memory:",
            config={
                "autoinstall_known_extensions": "false",
                "autoload_known_extensions": "false",
                # Threads of this connection wait on the network, not on a core.
                "threads": threads or storage.concurrency,
            },
        )
        try:
            self.connection.execute(f"LOAD {_literal(extension_path())}")
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
            self.connection.execute(
                f"CREATE TEMPORARY SECRET perstack_store ({', '.join(options)})"
            )
            self.connection.execute("SET http_keep_alive = true")
        except BaseException:
            self.connection.close()
            raise

    def read_objects(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes | ReadFailure]]:
        key_iter = iter(keys)
        while chunk := list(islice(key_iter, self.chunk)):
            urls = {self.storage.url_for(key): key for key in chunk}
            try:
                result = self.connection.execute(
                    "SELECT filename, content FROM read_blob($urls)", {"urls": list(urls)}
                )
                rows = result.fetchall()
            except duckdb.Error:
                # One bad key fails the query: let the storage's client sort out which.
                yield from self.storage.read_objects(chunk)
                continue
            for url, body in rows:
                yield urls[url], body

    def close(self) -> None:
        self.connection.close()
