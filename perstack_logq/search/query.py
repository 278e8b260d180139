"""``perstack log search TEXT``: ranked hits over everything agents said and saw.

Query syntax: words (each must occur, matched by stem: ``deploy`` finds "deploying"),
``"a phrase"`` (must occur as written, case aside) and ``prefix*`` (a word starting so).
Hits are ranked by BM25 (DuckDB's fts extension over the index of search/index.py).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from perstack_logq.engine.database import Database, row_limit
from perstack_logq.engine.sqlfiles import sql_file
from perstack_logq.errors import UsageError
from perstack_logq.search.index import refresh_index

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"[^\W_]+")  # as the index splits terms (search/index.py)
SNIPPET_CONTEXT = 60
MARK_OPEN, MARK_CLOSE = "«", "»"


@dataclass(frozen=True)
class SearchQuery:
    words: tuple[str, ...]
    phrases: tuple[str, ...]
    prefixes: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> SearchQuery:
        words: list[str] = []
        phrases: list[str] = []
        prefixes: list[str] = []
        for phrase, token in _TOKEN.findall(text):
            if phrase:
                if _WORD.search(phrase):
                    phrases.append(" ".join(phrase.lower().split()))
            elif token.endswith("*") and _WORD.fullmatch(token[:-1]):
                prefixes.append(token[:-1].lower())
            else:
                words.extend(w.lower() for w in _WORD.findall(token))
        if not (words or phrases or prefixes):
            raise UsageError(
                f'Nothing to search for in {text!r}: give words, "a phrase" or a prefix*'
            )
        return cls(tuple(words), tuple(phrases), tuple(prefixes))


@dataclass(frozen=True)
class SearchRequest:
    text: str
    job: str | None = None
    expert: str | None = None
    type: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 20


_HIT_SCHEMA = pa.schema(
    [
        ("score", pa.float64()),
        ("job_id", pa.string()),
        ("run_id", pa.string()),
        ("step_number", pa.int64()),
        ("event_time", pa.timestamp("us")),
        ("event_type", pa.string()),
        ("kind", pa.string()),
        ("expert_key", pa.string()),
        ("label", pa.string()),
        ("snippet", pa.string()),
    ]
)


def search(database: Database, request: SearchRequest) -> duckdb.DuckDBPyRelation:
    """The hits, best first, each with a snippet around its first match, from the database as
    it is (the caller syncs), once the index is brought up to date with it."""
    query = SearchQuery.parse(request.text)
    refresh_index(database)
    con = database.connection
    expansions = [
        term
        for prefix in query.prefixes
        for (term,) in con.execute(
            sql_file("search", "15_prefix_terms").text, {"prefix": prefix}
        ).fetchall()
    ]
    phrase_words = [w for phrase in query.phrases for w in _WORD.findall(phrase)]
    required = [*query.words, *phrase_words]
    params = {
        # A prefix that no indexed word starts with: nothing can match.
        "terms": " ".join([*required, *expansions]) or "-",
        "required": " ".join(required) or None,
        "phrases": list(query.phrases) or None,
        "prefixes": [rf"(?i)\b{re.escape(p)}" for p in query.prefixes] or None,
        "job": request.job,
        "expert": request.expert,
        "type": request.type,
        "since": request.since,
        "until": request.until,
        "limit": row_limit(request.limit),
    }
    rows = con.execute(sql_file("search", "20_search").text, params).fetchall()
    marker = _match_pattern(con, query)
    hits = [(*row[:9], snippet(row[9], marker)) for row in rows]
    table = pa.Table.from_pylist(
        [dict(zip(_HIT_SCHEMA.names, hit, strict=True)) for hit in hits], schema=_HIT_SCHEMA
    )
    return con.from_arrow(table)


def _match_pattern(con: duckdb.DuckDBPyConnection, query: SearchQuery) -> re.Pattern[str]:
    """What to mark in a snippet: a word by its stem (the index matched it so), a phrase as
    written (any spacing), a prefix as given."""
    stems = [
        con.execute("SELECT stem($w, 'porter')", {"w": word}).fetchone()[0] for word in query.words
    ]
    alternatives = [
        *(r"\s+".join(re.escape(w) for w in phrase.split()) for phrase in query.phrases),
        *(rf"\b{re.escape(stem)}\w*" for stem in stems),
        *(rf"\b{re.escape(prefix)}\w*" for prefix in query.prefixes),
    ]
    return re.compile("|".join(alternatives), re.IGNORECASE)


def snippet(text: str, marker: re.Pattern[str], context: int = SNIPPET_CONTEXT) -> str:
    """One line around the first match, the match marked «so»; control characters of the
    (hostile) text are shown escaped, so they cannot steer a terminal."""
    match = marker.search(text)
    start, end = (match.start(), match.end()) if match else (0, 0)
    before = text[max(0, start - context) : start]
    after = text[end : end + context + (0 if match else context)]
    return (
        ("…" if start > context else "")
        + _printable(before)
        + (MARK_OPEN + _printable(text[start:end]) + MARK_CLOSE if match else "")
        + _printable(after)
        + ("…" if end + context < len(text) else "")
    )


def _printable(text: str) -> str:
    out = []
    for ch in text:
        if ch in "\n\r\t":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)
