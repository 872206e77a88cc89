"""Metadata accuracy of newsetl vs plain ``trafilatura.bare_extraction`` on the corpus' ground truth.

Usage:  python bench/metadata.py [--corpus DIR] [--verbose] [--misses] [--json out.json]
        (DIR defaults to $NEWSETL_CORPUS, else ../shared/corpus)

Datasets: fundus (every publisher, every parser version; split into a ``dev`` and a
``check`` half of the publishers, see bench.metadata_eval.split_of) and the pages of
trafilatura's evaluation set that state a title, date or author. Columns (share of the
pages the ground truth can score, n in brackets):

  title    equal to the expected title after normalisation (case, quotes, dashes, spaces)
  instant  publication time within 1 h (only where the truth states an offset; plain
           trafilatura returns a date, so it has no instant)
  day      publication day as the truth writes it
  authors  author-set F1; for newsetl ``authors`` + ``agencies`` (organisations credited
           in the byline, which fundus lists among its authors)
  persons  author-set F1 of newsetl's ``authors`` column alone
  topics   F1 of tags + categories vs fundus' topics

A benchmark, not a test: it reports numbers (tests/test_metadata.py asserts floors).
--verbose adds a per-publisher breakdown, --misses lists every page where newsetl is wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import trafilatura

from bench.metadata_eval import (
    METRICS,
    MetaGuess,
    MetaTruth,
    PageScore,
    fundus_metadata,
    score_page,
    split_of,
    summarize,
    trafilatura_metadata,
)
from newsetl.errors import Rejection
from newsetl.models import DocKind
from newsetl.pipeline.process import article_from_bytes

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
logging.getLogger("htmldate").setLevel(logging.CRITICAL)


def newsetl_guess(page: MetaTruth) -> MetaGuess:
    try:
        a = article_from_bytes(page.path.read_bytes(), DocKind.HTML, max_bytes=50 * 2**20, url=page.url)
    except Rejection:
        return MetaGuess()
    day: date | None = None
    if a.published_at is not None:
        offset = getattr(a, "published_at_offset_min", None)
        day = (a.published_at + timedelta(minutes=offset or 0)).date()
    agencies = list(getattr(a, "agencies", None) or [])
    return MetaGuess(
        title=a.title,
        published_at=a.published_at,
        day=day,
        authors=[*a.authors, *agencies],
        persons=list(a.authors),
        topics=[*a.tags, *a.categories],
    )


def trafilatura_guess(page: MetaTruth) -> MetaGuess:
    doc = trafilatura.bare_extraction(page.path.read_bytes(), url=page.url, with_metadata=True)
    if doc is None:
        return MetaGuess()
    day: date | None = None
    if doc.date:
        try:
            day = datetime.strptime(doc.date[:10], "%Y-%m-%d").replace(tzinfo=UTC).date()
        except ValueError:
            day = None
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return MetaGuess(
        title=doc.title,
        published_at=None,
        day=day,
        authors=authors,
        topics=[*(doc.tags or []), *(doc.categories or [])],
    )


EXTRACTORS: dict[str, Callable[[MetaTruth], MetaGuess]] = {
    "newsetl": newsetl_guess,
    "trafilatura": trafilatura_guess,
}


def _fmt(value: float, n: int) -> str:
    return f"{'—':>5s} (0)" if math.isnan(value) else f"{value:5.3f} ({n})"


def _row(label: str, name: str, summary: dict[str, tuple[float, int]], ms: float | None) -> str:
    cells = " ".join(f"{_fmt(*summary[m]):>12s}" for m in METRICS)
    timing = f"{ms:8.1f}" if ms is not None else " " * 8
    return f"{label:22s} {name:12s} {cells} {timing}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_corpus = (
        os.environ.get("NEWSETL_CORPUS") or Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
    )
    ap.add_argument(
        "--corpus",
        type=Path,
        default=Path(default_corpus),
        help="default: $NEWSETL_CORPUS or ../shared/corpus",
    )
    ap.add_argument("--verbose", action="store_true", help="per-publisher breakdown")
    ap.add_argument("--misses", action="store_true", help="list every page newsetl gets wrong")
    ap.add_argument("--json", type=Path, help="write the summary as JSON")
    args = ap.parse_args()
    corpus = args.corpus.resolve()
    if not (corpus / "fundus").is_dir():
        print(f"corpus not found at {corpus}", file=sys.stderr)
        return 2
    pages = list(fundus_metadata(corpus / "fundus"))
    if (corpus / "trafilatura" / "evaldata.json").exists():
        pages += list(trafilatura_metadata(corpus / "trafilatura"))

    scores: dict[str, list[PageScore]] = {}
    ms_per_page: dict[str, float] = {}
    for name, fn in EXTRACTORS.items():
        t0 = time.perf_counter()
        scores[name] = [score_page(p, fn(p)) for p in pages]
        ms_per_page[name] = (time.perf_counter() - t0) / max(1, len(pages)) * 1000

    groups: dict[str, Callable[[MetaTruth], bool]] = {
        "fundus (all)": lambda p: p.dataset == "fundus",
        "fundus dev half": lambda p: p.dataset == "fundus" and split_of(p.publisher) == "dev",
        "fundus check half": lambda p: p.dataset == "fundus" and split_of(p.publisher) == "check",
        "trafilatura evaldata": lambda p: p.dataset == "trafilatura",
    }
    header = " ".join(f"{m:>12s}" for m in METRICS)
    print(f"{'dataset':22s} {'extractor':12s} {header} {'ms/page':>8s}")
    results: dict[str, dict[str, dict[str, float | int]]] = {}
    for label, keep in groups.items():
        for name in EXTRACTORS:
            chosen = [s for s in scores[name] if keep(s.page)]
            if not chosen:
                continue
            summary = summarize(chosen)
            ms = ms_per_page[name] if label == "fundus (all)" else None
            print(_row(label, name, summary, ms))
            results.setdefault(label, {})[name] = {
                **{m: summary[m][0] for m in METRICS},
                **{f"{m}_n": summary[m][1] for m in METRICS},
                "pages": len(chosen),
            }
    if args.verbose:
        print()
        publishers = sorted({p.publisher for p in pages})
        for pub in publishers:
            for name in EXTRACTORS:
                chosen = [s for s in scores[name] if s.page.publisher == pub]
                split = split_of(pub) if chosen[0].page.dataset == "fundus" else "-"
                print(_row(f"{pub} [{split}]", name, summarize(chosen), None))
    if args.misses:
        print()
        for s in scores["newsetl"]:
            wrong = [m for m in METRICS if (v := getattr(s, m)) is not None and v < 1]
            if wrong:
                print(f"{s.page.page_id}: {', '.join(wrong)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
