"""Full-text search on real corpus pages: ranking, per-language stemming, in-place refresh."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import duckdb

from newsetl.analysis import search, search_index

from .helpers import connect

_WORD = re.compile(r"[^\W\d_]{6,}")


def _ro(db: Path) -> duckdb.DuckDBPyConnection:
    return connect(db, read_only=True)


def _distinctive_query(text: str, doc_freq: Counter[str], n: int = 5) -> str:
    """The article's most frequent long words that at most one other article uses."""
    counts = Counter(w.lower() for w in _WORD.findall(text))
    rare = [w for w, _ in counts.most_common() if doc_freq[w] <= 2]
    return " ".join(rare[:n])


def test_distinctive_words_find_their_article_first(corpus_warehouse: Path) -> None:
    with _ro(corpus_warehouse) as conn:
        rows = conn.execute(
            """SELECT article_id, language, text FROM articles
               WHERE language IN ('de', 'en') AND word_count >= 300 ORDER BY article_id"""
        ).fetchall()
        doc_freq: Counter[str] = Counter()
        for _, _, text in rows:
            doc_freq.update({w.lower() for w in _WORD.findall(text)})
        checked = 0
        for article_id, language, text in rows[::8]:  # a spread of German and English pages
            query = _distinctive_query(text, doc_freq)
            hits = search.search(conn, query, limit=3)
            assert hits and hits[0].article_id == article_id, (query, [h.title for h in hits])
            assert hits[0].language == language and hits[0].score > 0
            checked += 1
    assert checked >= 10


# Common German nouns and an inflected form the German stemmer maps to the same stem.
GERMAN_FORMS = [("Wahl", "Wahlen"), ("Regierung", "Regierungen"), ("Haus", "Häuser"), ("Kirche", "Kirchen"),
                ("Partei", "Parteien"), ("Land", "Länder"), ("Frau", "Frauen"), ("Kind", "Kinder"),
                ("Stadt", "Städte"), ("Gericht", "Gerichte"), ("Bericht", "Berichte")]  # fmt: skip


def test_german_stemming_matches_inflected_forms(corpus_warehouse: Path) -> None:
    tested = 0
    with _ro(corpus_warehouse) as conn:
        for query, inflected in GERMAN_FORMS:
            # Articles with the inflected form but not the query word: found only by stemming.
            only_inflected = {
                r[0]
                for r in conn.execute(
                    """SELECT article_id FROM articles WHERE language = 'de' AND regexp_matches(text, ?)
                       AND NOT regexp_matches(coalesce(title, '') || ' ' || text, ?)""",
                    [rf"\b{inflected}\b", rf"\b{query}\b"],
                ).fetchall()
            }
            if not only_inflected:
                continue
            found = {h.article_id for h in search.search(conn, query, lang="de", limit=500)}
            assert only_inflected <= found, (query, inflected)
            tested += 1
    assert tested >= 2, "the corpus has too few inflected German forms to test stemming"


def test_snippet_marks_the_query_words(corpus_warehouse: Path) -> None:
    with _ro(corpus_warehouse) as conn:
        hits = search.search(conn, "Regierung", lang="de", limit=5)
    assert hits
    for h in hits:
        assert h.spans, h.snippet
        for start, end in h.spans:
            assert h.snippet[start:end].lower().startswith("regierung")


def test_keyword_in_context_is_accent_and_case_insensitive() -> None:
    text = "Vorspann. " * 30 + "Die Häuser am Fluss wurden geräumt, sagte die Polizei."
    snippet, spans = search.keyword_in_context(text, ["haus"], width=80)
    assert snippet.startswith("…") and "Häuser" in snippet
    assert [snippet[s:e] for s, e in spans] == ["Häuser"]
    snippet, spans = search.keyword_in_context("Kurzer Text ohne Treffer.", ["xyz"], width=80)
    assert snippet == "Kurzer Text ohne Treffer." and spans == []


def test_filters_language_and_date(corpus_warehouse: Path) -> None:
    query = "president government police Regierung Polizei"
    with _ro(corpus_warehouse) as conn:
        everything = search.search(conn, query, limit=500)
        english = search.search(conn, query, lang="en", limit=500)
        dates = sorted(h.dated_at for h in everything if h.dated_at is not None)
        since = dates[len(dates) // 2].date()
        recent = search.search(conn, query, since=since, limit=500)
    assert english and all(h.language == "en" for h in english)
    assert {h.language for h in everything} > {"en"}
    assert recent and all(h.dated_at is not None and h.dated_at.date() >= since for h in recent)
    assert len(recent) < len(everything)


def test_plain_sql_macro_gives_the_same_ranking(corpus_warehouse: Path) -> None:
    with _ro(corpus_warehouse) as conn:
        lib = [h.article_id for h in search.search(conn, "Regierung president", limit=5)]
        sql = [
            r[0]
            for r in conn.execute(
                "SELECT article_id FROM search_articles('Regierung president') LIMIT 5"
            ).fetchall()
        ]
    assert lib == sql and lib


def _index_state(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Everything BM25 reads, independent of internal ids: per index the collection stats,
    term document frequencies and per-document lengths; plus scores for a few queries."""
    state: dict[str, object] = {}
    for (name,) in conn.execute("SELECT index_name FROM search_indexes ORDER BY 1").fetchall():
        fts = f"fts_main_search_{name}"
        state[f"{name}:stats"] = conn.execute(f"SELECT num_docs, round(avgdl, 9) FROM {fts}.stats").fetchall()
        state[f"{name}:df"] = sorted(conn.execute(f"SELECT term, df FROM {fts}.dict WHERE df > 0").fetchall())
        state[f"{name}:len"] = sorted(conn.execute(f"SELECT name, len FROM {fts}.docs").fetchall())
        state[f"{name}:postings"] = sorted(
            conn.execute(
                f"""SELECT d.name, t.fieldid, k.term, count(*) FROM {fts}.terms t
                    JOIN {fts}.docs d USING (docid) JOIN {fts}.dict k USING (termid) GROUP BY ALL"""
            ).fetchall()
        )
    for q in ("Regierung Wahl Berlin", "president election hearing", "Aktualisierung Redaktion"):
        state[q] = [
            (r[0], round(r[1], 9))
            for r in conn.execute("SELECT article_id, score FROM search_articles(?)", [q]).fetchall()
        ]
    return state


def test_in_place_refresh_equals_a_full_rebuild(corpus_warehouse: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(corpus_warehouse, db)
    with connect(db) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT article_id FROM articles WHERE language IN ('de', 'en') ORDER BY article_id"
            ).fetchall()
        ]
        # A run's worth of change: new articles, edited ones, a deleted one, one whose
        # language was re-detected (it moves to another index).
        conn.execute(
            """INSERT INTO articles SELECT * REPLACE ('n' || article_id AS article_id,
                   text || ' Aktualisierung Landeskirche Wahl' AS text, content_hash || 'n' AS content_hash)
               FROM articles WHERE article_id IN (SELECT unnest($ids))""",
            {"ids": ids[:6]},
        )
        conn.execute(
            """UPDATE articles SET text = replace(text, 'die', 'eine') || ' Regierung',
                   content_hash = 'edited'
               WHERE article_id IN (SELECT unnest($ids))""",
            {"ids": ids[10:14]},
        )
        conn.execute("DELETE FROM articles WHERE article_id = ?", [ids[20]])
        conn.execute(
            "UPDATE articles SET language = 'fr', content_hash = 'moved' WHERE article_id = ?", [ids[30]]
        )
        report = search_index.refresh_search_index(conn)
        modes = {c.index_name: c.mode for c in report.changes}
        assert modes.get("de") == "incremental" and modes.get("en") == "incremental", modes
        assert sum(c.added for c in report.changes) == 6 + 4 + 1
        incremental = _index_state(conn)
        assert search.freshness(conn).pending == 0
        search_index.refresh_search_index(conn, full=True)
        rebuilt = _index_state(conn)
    for key in rebuilt:
        assert incremental[key] == rebuilt[key], key


def test_freshness_counts_articles_waiting_for_the_index(corpus_warehouse: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(corpus_warehouse, db)
    with connect(db) as conn:
        before = search.freshness(conn)
        assert before.exists and before.pending == 0 and before.searchable == before.articles
        conn.execute(
            """INSERT INTO articles SELECT * REPLACE ('x' || article_id AS article_id, content_hash || 'x' AS
               content_hash) FROM articles ORDER BY article_id LIMIT 3"""
        )
        stale = search.freshness(conn)
        assert stale.pending == 3 and stale.oldest_pending_since is not None
        assert search_index.refresh_search_index(conn).changes
        assert search.freshness(conn).pending == 0
        assert search_index.refresh_search_index(conn).changes == []  # nothing to do: no work
