"""Per-page time of newsetl's extract stage (HTML -> text + metadata) on the corpus pages.

Usage:  python bench/extract_timing.py [--corpus DIR] [--repeat 3]
        (DIR defaults to $NEWSETL_CORPUS, else ../shared/corpus)

Each page is decoded once, then ``extract_html`` is timed ``--repeat`` times in CPU time of
this process (the machine is shared: wall-clock time measures the neighbours too) and the
fastest run kept. Prints the
median, mean and 95th percentile in ms over all pages. To compare two revisions, run the
script of one checkout with ``PYTHONPATH=<other checkout>/src``. ``--parts`` (revision 2 and
later) also times the metadata steps one by one, and the fallback comparison of the
listing guard where it triggers: component times are steadier than totals on a busy machine.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.evaluation import GroundTruthPage, article_extraction_benchmark, fundus
from newsetl.errors import Rejection
from newsetl.pipeline.decode import decode_bytes, maybe_decompress
from newsetl.pipeline.extract import EXTRACTOR_VERSION, extract_html

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = (
        os.environ.get("NEWSETL_CORPUS") or Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
    )
    ap.add_argument("--corpus", type=Path, default=Path(default))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parts", action="store_true", help="time the metadata steps one by one")
    args = ap.parse_args()
    corpus = args.corpus.resolve()
    if not corpus.is_dir():
        print(f"corpus not found at {corpus}", file=sys.stderr)
        return 2
    pages = [
        *article_extraction_benchmark(corpus / "article-extraction-benchmark"),
        *fundus(corpus / "fundus"),
    ]
    per_page: list[float] = []
    for page in pages:
        html = decode_bytes(maybe_decompress(page.path.read_bytes(), 2**26), None, markup=True).text
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.process_time()
            with contextlib.suppress(Rejection):
                extract_html(html, url=page.url)
            best = min(best, time.process_time() - t0)
        per_page.append(best * 1000)
    if args.parts:
        parts(pages, args.repeat)
    per_page.sort()
    p95 = per_page[int(0.95 * (len(per_page) - 1))]
    print(
        f"{EXTRACTOR_VERSION}: {len(per_page)} pages, extract_html ms/page "
        f"median {statistics.median(per_page):.1f}  mean {statistics.mean(per_page):.1f}  p95 {p95:.1f}"
    )
    return 0


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t0)
    return best * 1000, result


def _time_page(page: GroundTruthPage, repeat: int) -> dict[str, float]:
    """ms of each metadata step on one page, and of the fallback comparison if it triggers."""
    import trafilatura
    from trafilatura.utils import load_html

    from newsetl.pipeline import extract, listing
    from newsetl.pipeline.metadata import bylines, dates
    from newsetl.pipeline.metadata.jsonld import linked_data
    from newsetl.pipeline.metadata.sites import SiteNames

    html = decode_bytes(maybe_decompress(page.path.read_bytes(), 2**26), None, markup=True).text
    head = html[: extract._HEAD_SCAN]
    end = extract._HEAD_END.search(head)
    metas = extract._meta_tags(head if end is None else head[: end.start()])
    tree = load_html(extract.strip_inert(html))
    out: dict[str, float] = {}
    out["JSON-LD record"], ld = _best(lambda: linked_data(tree, page.url), repeat)
    out["publication time"], _ = _best(
        lambda: dates.choose_published(extract._date_candidates(html, metas, ld)), repeat
    )
    meta = extract.page_metadata(tree, page.url, need_date=False)
    site = SiteNames.of([meta.sitename, metas.get("og:site_name")], page.url)
    out["title"], _ = _best(lambda: extract._choose_title(tree, metas, ld, meta, site), repeat)
    out["bylines"], _ = _best(
        lambda: bylines.credits(extract._byline_sources(tree, metas, ld, meta), site), repeat
    )
    doc = trafilatura.bare_extraction(
        tree, url=page.url, fast=True, include_comments=False, include_tables=True, with_metadata=False
    )
    text = (doc.text if doc is not None else "") or ""
    out["listing check"], why = _best(lambda: listing.listing_like(text, listing.PageLinks.of(tree)), repeat)
    out["fallback comparison"] = 0.0
    if why:
        out["fallback comparison"], _ = _best(
            lambda: extract._bare_extraction(
                tree, page.url, "balanced", listing.PageLinks.of(tree), fast=False
            ),
            repeat,
        )
    return out


def parts(pages: list[GroundTruthPage], repeat: int) -> None:
    """Mean ms per page (over all pages) of each metadata step and of the guard."""
    timed = [_time_page(page, repeat) for page in pages]
    for name in timed[0]:
        print(f"  {name:22s} {sum(t[name] for t in timed) / len(timed):6.2f} ms/page")
    triggered = sum(1 for t in timed if t["fallback comparison"])
    print(f"  (the listing guard triggered on {triggered} of {len(pages)} pages)")


if __name__ == "__main__":
    sys.exit(main())
