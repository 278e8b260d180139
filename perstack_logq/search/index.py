"""The search index: the texts agents said and saw, kept up to date with the cache.

Why this design: DuckDB's fts extension builds its BM25 index in one pass over a table
(``PRAGMA create_fts_index``); it cannot add documents to an existing index. So the expensive
part, pulling texts out of event JSON, is incremental: ``_search_documents`` gains the texts
of event files not indexed yet (``_search_sources`` remembers which, at which version), a
bounded batch of files per transaction, and forgets those of files that left the store. The
fts index is then rebuilt only when documents changed since it was built, never per search:
a search over an unchanged cache reuses it. Rebuilding reads only the extracted texts, a
small part of the store's bytes (no checkpoints, no repeated conversations).

The extension loads offline from the ``duckdb-extension-fts`` wheel of DuckDB's own version
(the ``search`` extra); nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from perstack_logq.decode import schema
from perstack_logq.engine.database import Database, columns_sql, insert_rows
from perstack_logq.engine.sqlfiles import sql_file
from perstack_logq.errors import UsageError

DUCKDB_VERSION = "v1.5.5"
INDEX_SCHEMA = "fts_main__search_documents"
# What separates terms: anything but a letter or a digit (HTTP 500 and non-Latin text count).
TOKEN_SEPARATORS = r"[^\p{L}\p{N}]+"
# Event files whose texts are extracted in one transaction, at most this many or this much
# JSON: a step-closing event carries its whole checkpoint, so this bounds what is parsed at
# once (the cache's DuckDB memory limit is 256 MB).
_BATCH_FILES = 2_000
_BATCH_BYTES = 16 * 1024 * 1024
_SEARCH_BATCH = schema.Table(
    "_search_batch",
    "the event files one transaction indexes",
    (
        schema.Column("source_key", "VARCHAR", "store-relative key"),
        schema.Column("version", "VARCHAR", "its version when indexed"),
    ),
)


@dataclass
class IndexReport:
    added_sources: int = 0
    removed_sources: int = 0
    documents: int = 0
    rebuilt: bool = False


def extension_path() -> Path:
    """The fts binary shipped in the ``duckdb_extension_fts`` wheel (the search extra)."""
    try:
        import duckdb_extension_fts
    except ImportError:
        raise UsageError(
            "search needs the duckdb-extension-fts package (pip install 'perstack-logq[search]')"
        ) from None
    path = (
        Path(duckdb_extension_fts.__file__).parent
        / "extensions"
        / DUCKDB_VERSION
        / "fts.duckdb_extension"
    )
    if not path.is_file():
        raise UsageError(f"fts extension for DuckDB {DUCKDB_VERSION} not found at {path}")
    return path


def load_fts(connection: duckdb.DuckDBPyConnection) -> None:
    """Load the extension once. Whether it is loaded is asked of the catalog (its ``stem``
    function), not of ``duckdb_extensions()``, which lists the extension directory: a
    connection that user SQL locked against files (engine/sandbox.lock_down) refuses that."""
    loaded = connection.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'stem'"
    ).fetchone()[0]
    if not loaded:
        escaped = str(extension_path()).replace("'", "''")
        connection.execute(f"LOAD '{escaped}'")


def refresh_index(database: Database) -> IndexReport:
    """Bring the documents and the fts index up to date with the cache's tables."""
    con = database.write_connection()
    load_fts(con)
    con.execute(sql_file("search", "00_tables").text)
    report = IndexReport()
    con.execute(sql_file("search", "01_stale").text)
    report.removed_sources = con.execute("SELECT count(*) FROM _search_stale").fetchone()[0]
    if report.removed_sources:
        con.execute("BEGIN TRANSACTION")
        for table in ("_search_documents", "_search_sources"):
            con.execute(
                f"DELETE FROM {table} WHERE source_key IN (SELECT source_key FROM _search_stale)"
            )
        con.execute("COMMIT")
    con.execute(sql_file("search", "05_pending").text)
    pending = con.cursor()
    try:
        result = pending.execute("SELECT source_key, version, size FROM _search_pending ORDER BY 1")
        batch: list[tuple[str, str]] = []
        batch_bytes = 0
        while rows := result.fetchmany(_BATCH_FILES):
            for key, version, size in rows:
                batch.append((key, version))
                batch_bytes += size or 0
                if len(batch) >= _BATCH_FILES or batch_bytes >= _BATCH_BYTES:
                    _index_batch(con, batch)
                    report.added_sources += len(batch)
                    batch, batch_bytes = [], 0
        if batch:
            _index_batch(con, batch)
            report.added_sources += len(batch)
    finally:
        pending.close()
    con.execute("DROP TABLE IF EXISTS _search_pending")
    con.execute("DROP TABLE IF EXISTS _search_stale")
    changed = bool(report.added_sources or report.removed_sources)
    state = con.execute("SELECT generation, indexed_generation FROM _search_state").fetchone()
    if state is None:
        con.execute("INSERT INTO _search_state VALUES (1, 0)")
        state = (1, 0)
    generation, indexed = state
    if changed:
        generation += 1
        con.execute("UPDATE _search_state SET generation = ?", [generation])
    if generation != indexed or not _index_exists(con):
        con.execute(
            "PRAGMA create_fts_index('_search_documents', 'doc_id', 'text', "
            "stemmer = 'porter', stopwords = 'none', strip_accents = 1, lower = 1, "
            # Every word is a term: the english stop list (571 words, "old" and "new" among
            # them) would make them unsearchable, and BM25 already weighs common words down.
            # Letters and digits of any script make terms (the default keeps only a-z).
            f"ignore = '{TOKEN_SEPARATORS}', overwrite = 1)"
        )
        con.execute("UPDATE _search_state SET indexed_generation = ?", [generation])
        report.rebuilt = True
    report.documents = con.execute("SELECT count(*) FROM _search_documents").fetchone()[0]
    return report


def _index_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?", [INDEX_SCHEMA]
        ).fetchone()[0]
    )


def _index_batch(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str]]) -> None:
    """One batch of event files: their texts and their sources, in one transaction."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_SEARCH_BATCH.name} ({columns_sql(_SEARCH_BATCH)})")
    insert_rows(con, _SEARCH_BATCH, rows)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(sql_file("search", "10_documents").text)
        con.execute("INSERT INTO _search_sources SELECT source_key, version FROM _search_batch")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    con.execute("DROP TABLE _search_batch")
