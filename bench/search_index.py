"""Search index cost: full rebuild vs in-place refresh, and query latency, by warehouse size.

Usage:  python bench/search_index.py [--db corpus.duckdb] [--sizes 200,5000] [--new 500]

Synthetic articles are corpus articles (German and English, from --db, a warehouse built from
../shared/corpus) whose longer words are replaced at random from the corpus vocabulary, so
the dictionary grows like a real collection's. For each size N: time a full rebuild of all
indexes (``refresh_search_index(full=True)``), then an in-place refresh after a run that
added --new articles and changed 1% of the stored ones, then a few queries.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from newsetl.analysis import search, search_index
from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
from newsetl.storage.base import transaction
from newsetl.storage.migrations import migrate


def _synthetic(
    base: list[tuple[str, str, str]], n: int, rng: random.Random, vocab: list[str], tag: str
) -> list[dict[str, object]]:
    rows = []
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(n):
        lang, title, text = rng.choice(base)
        words = [
            rng.choice(vocab) if len(w) > 3 and w.isalpha() and rng.random() < 0.5 else w
            for w in text.split(" ")
        ]
        body = " ".join(words)
        rows.append(
            {
                "article_id": f"{tag}{i:07d}",
                "title": title,
                "text": body,
                "language": lang,
                "content_hash": f"{hash(body):x}",
                "first_seen_at": t0 + timedelta(seconds=i),
            }
        )
    return rows


def _insert(conn, rows: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    frame = pl.DataFrame(rows)
    conn.register("_b", frame)
    conn.execute(
        """INSERT INTO articles (article_id, title, text, language, word_count, reading_time_s, content_hash,
               text_source, extractor_version, source_kind, source_ref, first_seen_at, first_run_id, run_id,
               ingested_at)
           SELECT article_id, title, text, language, 0, 0, content_hash, 'text', 'bench', 'file', article_id,
                  first_seen_at, 'bench', 'bench', first_seen_at FROM _b"""
    )
    conn.unregister("_b")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True, help="a warehouse built from the corpus")
    ap.add_argument("--sizes", default="200,5000")
    ap.add_argument("--new", type=int, default=500)
    args = ap.parse_args()
    with open_warehouse(Settings.make(db=str(args.db))).connect(read_only=True) as src:
        base = src.execute(
            "SELECT language, title, text FROM articles WHERE language IN ('de', 'en') AND word_count >= 50"
        ).fetchall()
    vocab = sorted({w for _, _, t in base for w in t.split() if len(w) > 3 and w.isalpha()})
    rng = random.Random(3)
    print(f"{len(base)} base articles, vocabulary {len(vocab)}")
    print("articles  full rebuild   per article | refresh after +new/1% changed   | query (median of 3)")
    for n in [int(x) for x in args.sizes.split(",")]:
        db = Path(tempfile.mkdtemp(prefix="newsetl-search-")) / "s.duckdb"
        conn = open_warehouse(Settings.make(db=str(db))).connect()
        migrate(conn)
        rows = _synthetic(base, n, rng, vocab, "a")
        with transaction(conn):
            _insert(conn, rows)
        t = time.perf_counter()
        search_index.refresh_search_index(conn, full=True)
        full_s = time.perf_counter() - t
        new_rows = _synthetic(base, args.new, rng, vocab, "n")
        changed = rng.sample([str(r["article_id"]) for r in rows], max(1, n // 100))
        with transaction(conn):
            _insert(conn, new_rows)
            conn.execute(
                "UPDATE articles SET text = text || ' Aktualisiert update', "
                "content_hash = content_hash || 'x' "
                "WHERE article_id IN (SELECT unnest($ids))",
                {"ids": changed},
            )
        t = time.perf_counter()
        rep = search_index.refresh_search_index(conn)
        inc_s = time.perf_counter() - t
        modes = ",".join(sorted({c.mode for c in rep.changes}))
        times = []
        for q in ("Regierung Kirche Berlin", "impeachment hearing testimony", "climate"):
            t = time.perf_counter()
            search.search(conn, q, limit=10)
            times.append(time.perf_counter() - t)
        times.sort()
        print(
            f"{n:8d}  {full_s:9.2f} s   {full_s / n * 1000:6.2f} ms  | "
            f"{inc_s:6.2f} s ({modes}; +{args.new} new, {len(changed)} changed) | {times[1] * 1000:6.0f} ms"
        )
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
