"""Keeping the search indexes current, in place.

``PRAGMA create_fts_index`` always rebuilds from scratch, which costs 1.3-2 ms per article
(bench/search_index.py: 9 s at 5,000 articles, 27 s at 20,000), too slow to repeat after
every run of a growing warehouse. :func:`refresh_search_index` therefore updates an existing
index in place: it tokenises only new and changed articles with the index's own
``tokenize`` macro, stop words and stemmer, and adjusts ``docs``, ``dict`` (document
frequencies), ``terms`` and ``stats`` exactly as a rebuild would compute them
(tests/test_search.py checks that scores match a fresh rebuild). A full rebuild happens for
a new index, a changed tokenizer configuration, a change touching most of an index, or on
request (``full=True``, e.g. in maintenance).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from newsetl.analysis.search import (
    IGNORE,
    OTHER,
    REBUILD_SHARE,
    IndexConfig,
    freshness,
    index_config,
    index_name_for,
)
from newsetl.storage.base import Warehouse, transaction
from newsetl.storage.extensions import load_extension
from newsetl.storage.sqllists import text_list


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
    # search_keys: (article_id, content_hash, language) of every article, as the search
    # session provides it (a lake's locally synced copy); the articles table otherwise.
    conn.execute(
        """CREATE TEMP VIEW IF NOT EXISTS search_keys AS
           SELECT article_id, content_hash, language FROM articles"""
    )
    with transaction(conn):
        languages = [r[0] for r in conn.execute("SELECT DISTINCT language FROM search_keys").fetchall()]
        mapping = [(lang, index_name_for(lang)) for lang in languages if lang is not None]
        conn.execute("CREATE OR REPLACE TEMP TABLE _search_lang (language VARCHAR, index_name VARCHAR)")
        if mapping:
            conn.executemany("INSERT INTO _search_lang VALUES (?, ?)", mapping)
        conn.execute(
            """CREATE OR REPLACE TEMP TABLE _search_want AS
               SELECT a.article_id, a.content_hash, coalesce(m.index_name, $other) AS index_name
               FROM search_keys AS a LEFT JOIN _search_lang AS m USING (language)""",
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
        """MERGE INTO search_indexes AS t
           USING (SELECT $name AS index_name, $stemmer AS stemmer, $stopwords AS stopwords, $config AS config,
                         $now AS built_at, $now AS refreshed_at, $articles AS articles, $mode AS last_mode,
                         $ms AS last_ms) AS s
           ON t.index_name = s.index_name
           WHEN MATCHED THEN UPDATE SET
               stemmer = s.stemmer, stopwords = s.stopwords, config = s.config,
               built_at = CASE WHEN s.last_mode = 'full' THEN s.built_at ELSE t.built_at END,
               refreshed_at = s.refreshed_at, articles = s.articles, last_mode = s.last_mode,
               last_ms = s.last_ms
           WHEN NOT MATCHED THEN INSERT
               (index_name, stemmer, stopwords, config, built_at, refreshed_at, articles, last_mode, last_ms)
               VALUES (s.index_name, s.stemmer, s.stopwords, s.config, s.built_at, s.refreshed_at, s.articles,
                       s.last_mode, s.last_ms)""",
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
            "WHERE name IN (SELECT unnest($ids::JSON::VARCHAR[]))",
            {"ids": text_list(gone)},
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
                FROM articles AS a WHERE a.article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))""",
            {"ids": text_list(added)},
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


def refresh(store: Warehouse, *, full: bool = False) -> RefreshReport:
    """Open the warehouse, refresh the search indexes, close."""
    with store.search_session() as conn:
        return refresh_search_index(conn, full=full)


def refresh_after_run(store: Warehouse, *, max_pending: int = 1000) -> tuple[RefreshReport | None, int]:
    """What flows call after a run: keep search current when that is cheap.

    An in-place refresh costs about 2-3 s per 500 changed articles at 20,000 articles, but
    indexing a bulk load from scratch costs ~1.3 s per 1,000 articles; more than
    ``max_pending`` changes are left to the nightly maintenance flow (or the first
    ``newsetl search``), and the index says how far behind it is. Returns the report (None
    when skipped) and the number of pending articles.
    """
    with store.search_session() as conn:
        pending = freshness(conn).pending
        if pending == 0 or pending > max_pending:
            return None, pending
        return refresh_search_index(conn), pending
