"""Near-duplicate detection: threshold precision/recall on constructed pairs, and linking cost.

Usage:  python bench/neardup.py [--corpus ../shared/corpus] [--db corpus.duckdb]
                                [--existing 20000] [--batch 500] [--batches 5] [--skip-cost]

1. Quality. Articles (>= 50 words) of a warehouse built from the corpus (or --db) become
   labelled pairs (newsetl.neardup_eval): realistic edited copies as positives, same-outlet
   and same-topic articles as hard negatives, all other pairs as background. Prints
   precision/recall of newsetl's bottom-k MinHash estimate per threshold and per kind, next
   to exact shingle Jaccard and trafilatura's SimHash for comparison.
2. Cost. Fills a scratch warehouse with --existing synthetic articles (sentences of corpus
   articles recombined, 5% near-duplicate copies), then times ``link_articles`` on batches
   of --batch new articles (10% edited copies of stored ones), as the loader would call it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trafilatura.deduplication import Simhash

from bench.neardup_eval import EvalArticle, Pair, build_pairs, confusion, load_articles
from newsetl.analysis import neardup
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
from newsetl.storage.backends import open_warehouse
from newsetl.storage.base import transaction
from newsetl.storage.migrations import migrate

ROOT = Path(__file__).resolve().parents[1]


def corpus_warehouse(corpus: Path, db: Path | None) -> Path:
    if db is not None:
        return db
    out = Path(tempfile.mkdtemp(prefix="newsetl-neardup-")) / "corpus.duckdb"
    print(f"building a warehouse from {corpus} ...", file=sys.stderr)
    ingest_files([corpus], Settings.make(db=out, workers=2))
    return out


_SETS: dict[str, set[int]] = {}
_SIMHASHES: dict[str, Simhash] = {}


def _exact_jaccard(a: str, b: str) -> float:
    for t in (a, b):
        if t not in _SETS:
            _SETS[t] = set(neardup.shingle_hashes(t).tolist())
    sa, sb = _SETS[a], _SETS[b]
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def _simhash(a: str, b: str) -> float:
    for t in (a, b):
        if t not in _SIMHASHES:
            _SIMHASHES[t] = Simhash(t)
    return _SIMHASHES[a].similarity(_SIMHASHES[b])


def quality(articles: list[EvalArticle]) -> None:
    pairs, real = build_pairs(articles)
    sketches: dict[str, neardup.Sketch] = {}

    def bottomk(a: str, b: str) -> float:
        for t in (a, b):
            if t not in sketches:
                sketches[t] = neardup.sketch(t)
        if min(len(sketches[a]), len(sketches[b])) < neardup.MIN_SHINGLES:
            return 0.0
        return neardup.similarity(sketches[a], sketches[b])

    t0 = time.perf_counter()
    methods = {
        "bottom-k MinHash (newsetl)": bottomk,
        "exact shingle Jaccard": _exact_jaccard,
        "SimHash": _simhash,
    }
    scored: dict[str, list[tuple[Pair, float]]] = {}
    for name, fn in methods.items():
        scored[name] = [(p, fn(p.a, p.b)) for p in pairs]
    kinds = sorted({p.kind for p in pairs})
    n_pos = sum(p.positive is True for p in pairs)
    hard = {"same-outlet", "same-topic"}
    print(
        f"{len(articles)} articles -> {n_pos} positive pairs, "
        f"{sum(p.kind in hard for p in pairs)} hard negatives (same outlet / same topic), "
        f"{sum(p.kind == 'background' for p in pairs)} background pairs  [{time.perf_counter() - t0:.1f} s]"
    )
    print("\nunlabelled real pairs with the same headline (not counted; scored for inspection):")
    by_label = {p.label: s for p, s in scored["bottom-k MinHash (newsetl)"] if p.kind == "same-headline"}
    for kind, a, b in real:
        if kind == "same-headline":
            score = by_label[f"{a.article_id}~{b.article_id}"]
            print(f"  {score:5.3f}  {a.title!r}  {a.domain} {a.article_id} ~ {b.domain} {b.article_id}")
    print()
    eval_kinds = {p.kind for p in pairs if p.positive} | hard
    for name, rows in scored.items():
        print(f"## {name}")
        print("threshold  precision  recall   FP(hard)  FP(background)")
        grid = (
            [x / 100 for x in range(10, 95, 5)] if name != "SimHash" else [x / 64 for x in range(40, 64, 2)]
        )
        for th in grid:
            c = confusion(rows, th, eval_kinds)
            bg = confusion(rows, th, {"background"})
            print(f"  {th:6.3f}   {c.precision:8.3f}  {c.recall:7.3f}   {c.fp:6d}   {bg.fp:8d}")
        print()
    rows = scored["bottom-k MinHash (newsetl)"]
    th = neardup.THRESHOLD
    print(f"## newsetl at THRESHOLD = {th}: per kind")
    print("kind                         pairs  detected   min score  p1 score  max score")
    for kind in kinds:
        vals = sorted(s for p, s in rows if p.kind == kind)
        hit = sum(s >= th for s in vals)
        p1 = vals[len(vals) // 100] if vals else 0.0
        print(f"  {kind:26s} {len(vals):6d} {hit:8d}   {vals[0]:9.3f} {p1:9.3f} {vals[-1]:9.3f}")
    c = confusion(rows, th, eval_kinds)
    bg = confusion(rows, th, {"background"})
    print(
        f"\nprecision {c.precision:.3f}  recall {c.recall:.3f}  (tp {c.tp}, fp {c.fp}, fn {c.fn}); "
        f"background false positives {bg.fp} of {bg.fp + bg.tn}"
    )


def _synthetic_texts(articles: list[EvalArticle], n: int, rng: random.Random) -> list[str]:
    """Distinct articles with natural phrase statistics: a real article whose longer words are
    replaced at random from the corpus vocabulary (short function words, and with them the
    common phrases that all news shares, are kept); 5% are near-duplicates of earlier ones."""
    vocab = sorted({w for a in articles for w in a.text.split() if len(w) > 3 and w.isalpha()})
    texts: list[str] = []
    for i in range(n):
        if texts and i % 20 == 0:
            texts.append(rng.choice(texts) + "\n" + " ".join(rng.choices(vocab, k=25)) + ".")
            continue
        base = rng.choice(articles).text
        texts.append(
            " ".join(rng.choice(vocab) if len(w) > 3 and w.isalpha() else w for w in base.split(" "))
        )
    return texts


def _insert_articles(conn, rows: list[dict[str, object]], run_id: str) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    frame = pl.DataFrame(rows, schema={"article_id": pl.Utf8, "text": pl.Utf8,
                                       "first_seen_at": pl.Datetime("us", "UTC")})  # fmt: skip
    conn.register("_bench_articles", frame)
    conn.execute(
        """INSERT INTO articles (article_id, text, word_count, reading_time_s, content_hash, text_source,
                  extractor_version, source_kind, source_ref, first_seen_at, first_run_id, run_id,
                  ingested_at)
           SELECT article_id, text, 0, 0, md5(text), 'text', 'bench', 'file', article_id, first_seen_at,
                  $run, $run, first_seen_at FROM _bench_articles""",
        {"run": run_id},
    )
    conn.unregister("_bench_articles")


def cost(articles: list[EvalArticle], existing: int, batch: int, batches: int) -> None:
    rng = random.Random(11)
    db = Path(tempfile.mkdtemp(prefix="newsetl-neardup-cost-")) / "cost.duckdb"
    conn = open_warehouse(Settings.make(db=str(db))).connect()
    migrate(conn)
    texts = _synthetic_texts(articles, existing, rng)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    fill = time.perf_counter()
    for i in range(0, existing, 1000):
        rows = [
            {
                "article_id": f"e{j:07d}",
                "text": texts[j],
                "first_seen_at": t0 + timedelta(seconds=j),
                "version": 1,
            }
            for j in range(i, min(existing, i + 1000))
        ]
        with transaction(conn):
            _insert_articles(conn, rows, "fill")
            neardup.link_articles(conn, "fill", t0, rows)
    print(f"\nfilled {existing} existing articles in {time.perf_counter() - fill:.1f} s "
          f"({conn.execute('SELECT count(*) FROM article_sketches').fetchone()[0]} sketch rows)")  # type: ignore[index]  # fmt: skip
    per_batch: list[float] = []
    for b in range(batches):
        new_texts = _synthetic_texts(articles, batch, rng)
        for i in range(0, batch, 10):  # 10% edited copies of stored articles
            new_texts[i] = rng.choice(texts) + "\n" + rng.choice(articles).text.split("\n")[0]
        now = t0 + timedelta(days=1 + b)
        rows = [
            {"article_id": f"b{b}-{j:05d}", "text": t, "first_seen_at": now, "version": 1}
            for j, t in enumerate(new_texts)
        ]
        with transaction(conn):
            _insert_articles(conn, rows, f"bench-{b}")
            report = neardup.link_articles(conn, f"bench-{b}", now, rows)
        per_batch.append(report.seconds)
        timings = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in report.timings.items())
        print(
            f"batch {b}: {report.seconds * 1000:.0f} ms for {batch} articles "
            f"({report.seconds / batch * 1000:.2f} ms/article; {report.candidates} candidates, "
            f"{report.links} links) [{timings}]"
        )
    print(
        f"median {statistics.median(per_batch) * 1000:.0f} ms per batch of {batch} at ~{existing} stored "
        f"articles = {statistics.median(per_batch) / batch * 1000:.2f} ms per article"
    )
    conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--db", type=Path, help="an existing warehouse built from the corpus")
    ap.add_argument("--existing", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    db = corpus_warehouse(args.corpus, args.db)
    with open_warehouse(Settings.make(db=str(db))).connect(read_only=True) as conn:
        articles = load_articles(conn)
    if not args.skip_quality:
        quality(articles)
    if not args.skip_cost:
        cost(articles, args.existing, args.batch, args.batches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
