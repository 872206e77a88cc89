"""Full-text search: BM25 over title + text with DuckDB's ``fts`` extension, one index per
language so each gets its own Snowball stemmer and stop words ("Kirche" finds "Kirchen").

Index layout: articles of language ``xx`` with a Snowball stemmer live in the fts schema
``fts_main_search_xx``; every other language (and undetected ones) in
``fts_main_search_other`` without stemming. ``search_index_docs`` records which version of
which article each index holds, ``search_indexes`` when each was built and refreshed, and the
table macro ``search_articles(query, lang := NULL)`` queries all indexes at once, so analysts
can search from plain SQL. This module holds the index configuration and the queries;
keeping the indexes current is newsetl.analysis.search_index.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from newsetl.storage.extensions import load_extension

# ISO 639-1 code -> Snowball stemmer shipped with the fts extension.
STEMMERS: dict[str, str] = {
    "ar": "arabic", "ca": "catalan", "da": "danish", "de": "german", "el": "greek", "en": "english",
    "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "it": "italian", "lt": "lithuanian", "ne": "nepali",
    "nl": "dutch", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil", "tr": "turkish",
}  # fmt: skip
OTHER = "other"
# Scripts whose stemmers need their diacritics (Cyrillic й, Greek tonos, Indic vowel signs).
_KEEP_ACCENTS = {"ar", "el", "hi", "ne", "ru", "sr", "ta", OTHER}
# Letters and digits of any script are tokens; everything else separates them.
IGNORE = r"[^\p{L}\p{N}]+"
TOKENIZER_REVISION = 1  # bump when tokenisation changes: forces a rebuild of every index
# Rebuild instead of updating in place when a change touches more than this share of an index.
REBUILD_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class IndexConfig:
    index_name: str
    stemmer: str
    strip_accents: bool
    stopwords: tuple[str, ...]

    @property
    def schema(self) -> str:
        return f"fts_main_search_{self.index_name}"

    @property
    def config(self) -> str:
        digest = hashlib.sha256("\n".join(self.stopwords).encode()).hexdigest()[:12]
        return (
            f"rev={TOKENIZER_REVISION};stemmer={self.stemmer};strip_accents={int(self.strip_accents)};"
            f"ignore={IGNORE};stopwords={len(self.stopwords)}:{digest}"
        )


def index_name_for(language: str | None) -> str:
    return language if language in STEMMERS else OTHER


def _stopwords(language: str) -> tuple[str, ...]:
    if language == "en":
        return ()  # the fts extension's own English list is used (see index_config)
    try:
        from stop_words import StopWordError, get_stop_words
    except ImportError:  # pragma: no cover - a declared dependency
        return ()
    try:
        words = get_stop_words(language)
    except StopWordError:
        return ()
    return tuple(sorted(set(words)))


def index_config(index_name: str) -> IndexConfig:
    if index_name == OTHER:
        return IndexConfig(OTHER, "none", False, ())
    return IndexConfig(
        index_name,
        STEMMERS[index_name],
        index_name not in _KEEP_ACCENTS,
        ("<fts:english>",) if index_name == "en" else _stopwords(index_name),
    )


# --- querying ---------------------------------------------------------------------------


@dataclass(slots=True)
class Hit:
    rank: int
    score: float
    article_id: str
    title: str | None
    dated_at: datetime | None
    domain: str | None
    sitename: str | None
    language: str | None
    url: str | None
    snippet: str
    spans: list[tuple[int, int]]  # where the query's words are in ``snippet``


@dataclass(slots=True)
class Freshness:
    articles: int
    searchable: int
    pending: int
    oldest_pending_since: datetime | None
    refreshed_at: datetime | None
    indexes: list[dict[str, Any]]

    @property
    def exists(self) -> bool:
        return bool(self.indexes)


def freshness(conn: duckdb.DuckDBPyConnection) -> Freshness:
    row = conn.execute(
        "SELECT articles, searchable, pending, oldest_pending_since, refreshed_at FROM search_freshness"
    ).fetchone()
    assert row is not None
    cur = conn.execute(
        """SELECT index_name, stemmer, stopwords, articles, built_at, refreshed_at, last_mode, last_ms
           FROM search_indexes ORDER BY articles DESC, index_name"""
    )
    cols = [d[0] for d in cur.description or []]
    indexes = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    return Freshness(int(row[0]), int(row[1]), int(row[2]), row[3], row[4], indexes)


def search(
    conn: duckdb.DuckDBPyConnection,
    query: str,
    *,
    lang: str | None = None,
    since: date | datetime | None = None,
    limit: int = 10,
    snippet_chars: int = 200,
) -> list[Hit]:
    """Ranked articles for ``query`` (BM25; any word may match, more matches rank higher)."""
    load_extension(conn, "fts")
    if not query.strip():
        return []
    sql = "SELECT score, article_id, title, dated_at, domain, sitename, language, url, index_name, text FROM "
    sql += (
        "search_articles($q, lang := $lang) JOIN (SELECT article_id, text FROM articles) USING (article_id)"
    )
    params: dict[str, Any] = {"q": query, "lang": lang, "limit": limit}
    if since is not None:
        sql += " WHERE dated_at >= $since"
        if not isinstance(since, datetime):
            since = datetime(since.year, since.month, since.day)
        params["since"] = since if since.tzinfo else since.replace(tzinfo=UTC)  # a date means a UTC day
    sql += " ORDER BY score DESC, article_id LIMIT $limit"
    rows = conn.execute(sql, params).fetchall()
    stems = _query_stems(conn, query, {r[8] for r in rows})
    hits = []
    for i, (score, aid, title, dated_at, domain, sitename, language, url, index_name, text) in enumerate(
        rows, 1
    ):
        snippet, spans = keyword_in_context(text, stems.get(index_name, []), snippet_chars)
        hits.append(
            Hit(i, float(score), aid, title, dated_at, domain, sitename, language, url, snippet, spans)
        )
    return hits


def _query_stems(conn: duckdb.DuckDBPyConnection, query: str, index_names: set[str]) -> dict[str, list[str]]:
    """The query's words as each index sees them (stemmed, lower-cased, accents stripped)."""
    out: dict[str, list[str]] = {}
    for name in index_names:
        cfg = index_config(name)
        row = conn.execute(
            f"SELECT list(DISTINCT stem(w, '{cfg.stemmer}')) FROM "
            f"(SELECT unnest({cfg.schema}.tokenize($q)) AS w) WHERE len(w) > 0",
            {"q": query},
        ).fetchone()
        out[name] = sorted({s for s in (row[0] if row and row[0] else []) if s}, key=len, reverse=True)
    return out


def _fold(text: str) -> str:
    """Lower-case and strip accents character by character, so offsets stay the same."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFD", ch)[0].lower() if ch.isalpha() else ch.lower()
        out.append(base if len(base) == 1 else ch)
    return "".join(out)


def keyword_in_context(
    text: str, stems: Sequence[str], width: int = 200
) -> tuple[str, list[tuple[int, int]]]:
    """A ~``width``-character window of ``text`` around the first query word, and where the
    words are in it. Words are matched by stem prefix ('kirch' marks 'Kirchen')."""
    flat = " ".join(text.split())
    if not stems:
        return _clip(flat, 0, width), []
    folded = _fold(flat)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(_fold(s)) for s in stems) + r")\w*")
    first = pattern.search(folded)
    if first is None:
        return _clip(flat, 0, width), []
    start = max(0, first.start() - width // 3)
    if start > 0:
        space = flat.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 30 else start
    snippet = _clip(flat, start, width)
    offset = start - (1 if start > 0 else 0)  # the leading ellipsis
    spans = []
    for m in pattern.finditer(folded, start, start + width):
        s, e = m.start() - offset, min(m.end(), start + width) - offset
        if e > s:
            spans.append((s, e))
    return snippet, spans


def _clip(text: str, start: int, width: int) -> str:
    piece = text[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(text) else ""
    return prefix + piece + suffix
