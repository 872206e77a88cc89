"""Full-text search: BM25 over title + text with DuckDB's ``fts`` extension, one index per
language so each gets its own Snowball stemmer and stop words ("Kirche" finds "Kirchen").

Index layout: articles of language ``xx`` with a Snowball stemmer live in the fts schema
``fts_main_search_xx``; every other language (and undetected ones) in
``fts_main_search_other`` without stemming. ``search_index_docs`` records which version of
which article each index holds, ``search_indexes`` when each was built and refreshed, and the
persisted table macro ``search_articles(query, lang := NULL)`` queries all indexes at once,
so analysts can search from plain SQL.

Keeping it current: ``PRAGMA create_fts_index`` always rebuilds from scratch, which costs
1.3-2 ms per article (bench/search_index.py: 9 s at 5,000 articles, 27 s at 20,000), too
slow to repeat after every run of a growing warehouse. :func:`refresh_search_index`
therefore updates an existing index in place: it tokenises only new and changed articles
with the index's own ``tokenize`` macro, stop words and stemmer, and adjusts ``docs``,
``dict`` (document frequencies), ``terms`` and ``stats`` exactly as a rebuild would compute
them (tests/test_search.py checks that scores match a fresh rebuild). A full rebuild
happens for a new index, a changed tokenizer configuration, a change touching most of an
index, or on request (``full=True``, e.g. in maintenance).
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from newsetl.storage.duckdb_file import load_extension, session, transaction

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


@dataclass(slots=True)
class IndexChange:
    index_name: str
    mode: str  # 'full', 'incremental' or 'dropped'
    added: int
    removed: int
    articles: int
    ms: float


@dataclass(slots=True)
class RefreshReport:
    changes: list[IndexChange] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def pending_before(self) -> int:
        return sum(c.added for c in self.changes)


def _indexes_in_db(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(conn.execute("SELECT index_name, config FROM search_indexes").fetchall())


def _schema_exists(conn: duckdb.DuckDBPyConnection, schema: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ? AND database_name = current_database()",
        [schema],
    ).fetchone()
    return bool(row and row[0])


def refresh_search_index(
    conn: duckdb.DuckDBPyConnection, *, full: bool = False, now: datetime | None = None
) -> RefreshReport:
    """Bring every language index up to date with ``articles``; one transaction.

    Cost is proportional to the articles added or changed since the last refresh (plus a
    scan of the index's ``terms`` for changed ones), unless a full rebuild is needed.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    load_extension(conn, "fts")
    report = RefreshReport()
    with transaction(conn):
        languages = [r[0] for r in conn.execute("SELECT DISTINCT language FROM articles").fetchall()]
        mapping = [(lang, index_name_for(lang)) for lang in languages if lang is not None]
        conn.execute("CREATE OR REPLACE TEMP TABLE _search_lang (language VARCHAR, index_name VARCHAR)")
        if mapping:
            conn.executemany("INSERT INTO _search_lang VALUES (?, ?)", mapping)
        conn.execute(
            """CREATE OR REPLACE TEMP TABLE _search_want AS
               SELECT a.article_id, a.content_hash, coalesce(m.index_name, $other) AS index_name
               FROM articles AS a LEFT JOIN _search_lang AS m USING (language)""",
            {"other": OTHER},
        )
        existing = _indexes_in_db(conn)
        wanted = {r[0] for r in conn.execute("SELECT DISTINCT index_name FROM _search_want").fetchall()}
        # Plan every index before touching any: an article can move between indexes.
        plans = {name: _plan(conn, name) for name in sorted(wanted | set(existing))}
        for name, (added, removed, n_indexed) in plans.items():
            change = _apply(conn, index_config(name) if name in wanted else None, name, added, removed,
                            n_indexed, existing, full)  # fmt: skip
            if change is not None:
                report.changes.append(change)
        conn.execute(
            """DELETE FROM search_index_docs AS d WHERE NOT EXISTS (
                   SELECT 1 FROM _search_want AS w WHERE w.article_id = d.article_id
                   AND w.index_name = d.index_name AND w.content_hash = d.content_hash)"""
        )
        conn.execute(
            """INSERT INTO search_index_docs (article_id, index_name, content_hash, indexed_at)
               SELECT w.article_id, w.index_name, w.content_hash, $now FROM _search_want AS w
               WHERE w.article_id NOT IN (SELECT article_id FROM search_index_docs)""",
            {"now": now},
        )
        for change in report.changes:
            _record(conn, change, now)
        if report.changes or full:
            _create_search_macro(conn)
        conn.execute("DROP TABLE IF EXISTS _search_want")
        conn.execute("DROP TABLE IF EXISTS _search_lang")
    report.seconds = time.perf_counter() - started
    return report


def _plan(conn: duckdb.DuckDBPyConnection, name: str) -> tuple[list[str], list[str], int]:
    """(articles to add, articles to remove, articles indexed now) for one index."""
    added = [
        r[0]
        for r in conn.execute(
            """SELECT w.article_id FROM _search_want AS w
               LEFT JOIN search_index_docs AS d
                 ON d.article_id = w.article_id AND d.index_name = w.index_name
                 AND d.content_hash = w.content_hash
               WHERE w.index_name = ? AND d.article_id IS NULL ORDER BY w.article_id""",
            [name],
        ).fetchall()
    ]
    removed = [
        r[0]
        for r in conn.execute(
            """SELECT d.article_id FROM search_index_docs AS d
               LEFT JOIN _search_want AS w
                 ON w.article_id = d.article_id AND w.index_name = d.index_name
                 AND w.content_hash = d.content_hash
               WHERE d.index_name = ? AND w.article_id IS NULL ORDER BY d.article_id""",
            [name],
        ).fetchall()
    ]
    row = conn.execute("SELECT count(*) FROM search_index_docs WHERE index_name = ?", [name]).fetchone()
    return added, removed, int(row[0]) if row else 0


def _apply(
    conn: duckdb.DuckDBPyConnection,
    cfg: IndexConfig | None,
    name: str,
    added: list[str],
    removed: list[str],
    n_indexed: int,
    existing: dict[str, str],
    full: bool,
) -> IndexChange | None:
    t0 = time.perf_counter()
    if cfg is None:  # no article of this language is left
        conn.execute(f"DROP SCHEMA IF EXISTS fts_main_search_{name} CASCADE")
        conn.execute("DELETE FROM search_indexes WHERE index_name = ?", [name])
        return IndexChange(name, "dropped", 0, len(removed), 0, (time.perf_counter() - t0) * 1000)
    rebuild = (
        full
        or existing.get(name) != cfg.config
        or not _schema_exists(conn, cfg.schema)
        or len(added) + len(removed) > REBUILD_SHARE * max(n_indexed, 1)
    )
    if not rebuild and not added and not removed:
        return None
    if rebuild:
        _build_full(conn, cfg)
        mode = "full"
    else:
        _update_in_place(conn, cfg, added, removed)
        mode = "incremental"
    row = conn.execute(f"SELECT num_docs FROM {cfg.schema}.stats").fetchone()
    n_articles = int(row[0]) if row and row[0] is not None else 0
    return IndexChange(name, mode, len(added), len(removed), n_articles, (time.perf_counter() - t0) * 1000)


def _record(conn: duckdb.DuckDBPyConnection, change: IndexChange, now: datetime) -> None:
    if change.mode == "dropped":
        return
    cfg = index_config(change.index_name)
    conn.execute(
        """INSERT INTO search_indexes AS s
               (index_name, stemmer, stopwords, config, built_at, refreshed_at, articles, last_mode, last_ms)
           VALUES ($name, $stemmer, $stopwords, $config, $now, $now, $articles, $mode, $ms)
           ON CONFLICT (index_name) DO UPDATE SET
               stemmer = excluded.stemmer, stopwords = excluded.stopwords, config = excluded.config,
               built_at = CASE WHEN excluded.last_mode = 'full' THEN excluded.built_at ELSE s.built_at END,
               refreshed_at = excluded.refreshed_at, articles = excluded.articles,
               last_mode = excluded.last_mode, last_ms = excluded.last_ms""",
        {
            "name": change.index_name,
            "stemmer": cfg.stemmer,
            "stopwords": _stopword_count(conn, cfg),
            "config": cfg.config,
            "now": now,
            "articles": change.articles,
            "mode": change.mode,
            "ms": change.ms,
        },
    )


def _stopword_count(conn: duckdb.DuckDBPyConnection, cfg: IndexConfig) -> int:
    row = conn.execute(f"SELECT count(*) FROM {cfg.schema}.stopwords").fetchone()
    return int(row[0]) if row else 0


def _build_full(conn: duckdb.DuckDBPyConnection, cfg: IndexConfig) -> None:
    """``PRAGMA create_fts_index`` over a staging table that is dropped afterwards: the index
    keeps its own copy of what it needs, so the text is not stored twice."""
    staging = f"search_{cfg.index_name}"
    conn.execute(
        f"""CREATE OR REPLACE TABLE {staging} AS
            SELECT a.article_id, a.title, a.text FROM articles AS a
            JOIN _search_want AS w USING (article_id)
            WHERE w.index_name = ? ORDER BY a.article_id""",
        [cfg.index_name],
    )
    stopwords = "none"
    if cfg.stopwords == ("<fts:english>",):
        stopwords = "english"
    elif cfg.stopwords:
        tokenize = f"lower({'strip_accents(w)' if cfg.strip_accents else 'w'})"
        conn.execute("CREATE OR REPLACE TABLE _search_stopwords (sw VARCHAR)")
        conn.executemany("INSERT INTO _search_stopwords VALUES (?)", [(w,) for w in cfg.stopwords])
        # Stop words are compared with tokens after lower-casing, accent stripping and splitting.
        conn.execute(
            f"""CREATE OR REPLACE TABLE _search_stopwords AS
                SELECT DISTINCT
                    unnest(string_split_regex(regexp_replace({tokenize}, $ignore, ' ', 'g'), '\\s+')) AS sw
                FROM (SELECT sw AS w FROM _search_stopwords)""",
            {"ignore": IGNORE},
        )
        conn.execute("DELETE FROM _search_stopwords WHERE sw = ''")
        stopwords = "_search_stopwords"
    conn.execute(
        f"""PRAGMA create_fts_index('{staging}', 'article_id', 'title', 'text',
                stemmer = '{cfg.stemmer}', stopwords = '{stopwords}', ignore = '{IGNORE}',
                strip_accents = {int(cfg.strip_accents)}, lower = 1, overwrite = 1)"""
    )
    conn.execute(f"DROP TABLE {staging}")
    conn.execute("DROP TABLE IF EXISTS _search_stopwords")


def _update_in_place(
    conn: duckdb.DuckDBPyConnection, cfg: IndexConfig, added: Sequence[str], removed: Sequence[str]
) -> None:
    """Apply the same steps as the extension's indexing script to the changed documents only.

    The BM25 inputs are per-document lengths, per-term document frequencies, term
    occurrences and the collection's size and average length; all are updated exactly.
    """
    fts = cfg.schema
    gone = sorted(set(removed) | set(added))  # a changed article is removed, then added again
    if gone:
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE _search_gone AS SELECT docid FROM {fts}.docs "
            "WHERE name IN (SELECT unnest($ids))",
            {"ids": gone},
        )
        conn.execute(
            f"""UPDATE {fts}.dict AS d SET df = d.df - g.n
                FROM (SELECT termid, count(DISTINCT docid) AS n FROM {fts}.terms
                      WHERE docid IN (SELECT docid FROM _search_gone) GROUP BY termid) AS g
                WHERE d.termid = g.termid"""
        )
        conn.execute(f"DELETE FROM {fts}.terms WHERE docid IN (SELECT docid FROM _search_gone)")
        conn.execute(f"DELETE FROM {fts}.docs WHERE docid IN (SELECT docid FROM _search_gone)")
        conn.execute(f"DELETE FROM {fts}.dict WHERE df <= 0")
        conn.execute("DROP TABLE _search_gone")
    if added:
        conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE _search_add AS
                SELECT (SELECT coalesce(max(docid), -1) FROM {fts}.docs)
                       + row_number() OVER (ORDER BY a.article_id) AS docid,
                       a.article_id AS name, a.title, a.text
                FROM articles AS a WHERE a.article_id IN (SELECT unnest($ids))""",
            {"ids": list(added)},
        )
        conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE _search_tok AS
                WITH tokenized AS (
                    SELECT unnest({fts}.tokenize(title)) AS w, docid, 0 AS fieldid FROM _search_add
                    UNION ALL
                    SELECT unnest({fts}.tokenize(text)) AS w, docid, 1 AS fieldid FROM _search_add
                )
                SELECT stem(w, '{cfg.stemmer}') AS term, docid, fieldid FROM tokenized
                WHERE w IS NOT NULL AND len(w) > 0 AND w NOT IN (SELECT sw FROM {fts}.stopwords)"""
        )
        conn.execute(
            f"""INSERT INTO {fts}.docs (docid, name, len)
                SELECT a.docid, a.name, count(t.term) FROM _search_add AS a
                LEFT JOIN _search_tok AS t USING (docid) GROUP BY a.docid, a.name"""
        )
        conn.execute(
            f"""INSERT INTO {fts}.dict (termid, term, df)
                SELECT (SELECT coalesce(max(termid), -1) FROM {fts}.dict) + row_number() OVER (ORDER BY term),
                       term, 0
                FROM (SELECT DISTINCT term FROM _search_tok
                      WHERE term NOT IN (SELECT term FROM {fts}.dict))"""
        )
        conn.execute(
            f"""UPDATE {fts}.dict AS d SET df = d.df + n.n
                FROM (SELECT term, count(DISTINCT docid) AS n FROM _search_tok GROUP BY term) AS n
                WHERE d.term = n.term"""
        )
        conn.execute(
            f"""INSERT INTO {fts}.terms (docid, fieldid, termid)
                SELECT t.docid, t.fieldid, d.termid FROM _search_tok AS t JOIN {fts}.dict AS d USING (term)"""
        )
        conn.execute("DROP TABLE _search_add")
        conn.execute("DROP TABLE _search_tok")
    conn.execute(f"DELETE FROM {fts}.stats")
    conn.execute(f"INSERT INTO {fts}.stats SELECT count(docid), sum(len) / count(len) FROM {fts}.docs")


def _create_search_macro(conn: duckdb.DuckDBPyConnection) -> None:
    """(Re)create ``search_articles(query, lang := NULL)`` over the indexes that exist now."""
    names = [
        r[0] for r in conn.execute("SELECT index_name FROM search_indexes ORDER BY index_name").fetchall()
    ]
    branches = [
        f"""SELECT article_id, index_name, fts_main_search_{n}.match_bm25(article_id, query) AS score
            FROM search_index_docs
            WHERE index_name = '{n}' AND (lang IS NULL OR index_name = lang OR index_name = '{OTHER}')"""
        for n in names
    ] or [
        "SELECT NULL::VARCHAR AS article_id, NULL::VARCHAR AS index_name, NULL::DOUBLE AS score WHERE false"
    ]
    conn.execute(
        f"""CREATE OR REPLACE MACRO search_articles(query, lang := NULL) AS TABLE
            SELECT s.score, a.article_id, a.title, coalesce(a.published_at, a.first_seen_at) AS dated_at,
                   a.domain, a.sitename, a.language, a.url, s.index_name
            FROM ({" UNION ALL ".join(branches)}) AS s
            JOIN articles AS a USING (article_id)
            WHERE s.score IS NOT NULL AND (lang IS NULL OR a.language = lang)
            ORDER BY s.score DESC, a.article_id"""
    )


def refresh(db_path: str | Path, *, full: bool = False, timeout_s: float = 60.0) -> RefreshReport:
    """Open the warehouse, refresh the search indexes, close."""
    with session(db_path, timeout_s=timeout_s) as conn:
        return refresh_search_index(conn, full=full)


def refresh_after_run(
    db_path: str | Path, *, max_pending: int = 1000, timeout_s: float = 60.0
) -> tuple[RefreshReport | None, int]:
    """What flows call after a run: keep search current when that is cheap.

    An in-place refresh costs about 2-3 s per 500 changed articles at 20,000 articles, but
    indexing a bulk load from scratch costs ~1.3 s per 1,000 articles; more than
    ``max_pending`` changes are left to the nightly maintenance flow (or the first
    ``newsetl search``), and the index says how far behind it is. Returns the report (None
    when skipped) and the number of pending articles.
    """
    with session(db_path, timeout_s=timeout_s) as conn:
        pending = freshness(conn).pending
        if pending == 0 or pending > max_pending:
            return None, pending
        return refresh_search_index(conn), pending


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
