"""Extraction quality of newsetl vs plain ``trafilatura.extract`` on the corpus' ground truth.

Usage:  python bench/quality.py [--corpus ../shared/corpus] [--json out.json] [--per-page]

Prints precision / recall / F1 with the article-extraction-benchmark metric for
``article-extraction-benchmark`` and ``fundus`` (summary + section headlines + paragraphs),
and trafilatura's own snippet check on its evaluation pages (``trafilatura/evaldata.json``).
A benchmark, not a test: it reports numbers (tests/test_quality.py asserts the floor).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import trafilatura

from bench.evaluation import (
    GroundTruthPage,
    article_extraction_benchmark,
    evaluate,
    fundus,
    page_scores,
)
from newsetl.errors import Rejection
from newsetl.models import DocKind
from newsetl.pipeline.process import article_from_bytes

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def newsetl_text(page: GroundTruthPage) -> str:
    try:
        return article_from_bytes(
            page.path.read_bytes(), DocKind.HTML, max_bytes=50 * 2**20, url=page.url
        ).text
    except Rejection:
        return ""


def plain_trafilatura(page: GroundTruthPage) -> str:
    return trafilatura.extract(page.html_bytes()) or ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--corpus",
        type=Path,
        default=Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus",
    )
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    ap.add_argument(
        "--per-page",
        action="store_true",
        help="list pages where newsetl loses to plain trafilatura",
    )
    args = ap.parse_args()
    corpus = args.corpus.resolve()
    if not corpus.is_dir():
        print(f"corpus not found at {corpus}", file=sys.stderr)
        return 2
    datasets = {
        "article-extraction-benchmark": list(
            article_extraction_benchmark(corpus / "article-extraction-benchmark")
        ),
        "fundus": list(fundus(corpus / "fundus")),
    }
    extractors = {"newsetl": newsetl_text, "trafilatura.extract": plain_trafilatura}
    results: dict[str, dict[str, dict[str, float]]] = {}
    cols = ("pages", "precision", "recall", "F1", "ms/page")
    print(f"{'dataset':30s} {'extractor':20s} " + " ".join(f"{c:>9s}" for c in cols))
    for ds, pages in datasets.items():
        for name, fn in extractors.items():
            t0 = time.perf_counter()
            s = evaluate(pages, fn)
            ms = (time.perf_counter() - t0) / max(1, len(pages)) * 1000
            results.setdefault(ds, {})[name] = {
                "precision": s.precision,
                "recall": s.recall,
                "f1": s.f1,
                "pages": s.pages,
            }
            values = (
                f"{s.pages:9d}",
                f"{s.precision:9.4f}",
                f"{s.recall:9.4f}",
                f"{s.f1:9.4f}",
                f"{ms:9.1f}",
            )
            print(f"{ds:30s} {name:20s} " + " ".join(values))
        if args.per_page:
            for p in pages:
                ours, base = (
                    page_scores(p.truth, newsetl_text(p)),
                    page_scores(p.truth, plain_trafilatura(p)),
                )
                if ours[0] + 0.02 < base[0]:
                    print(f"  worse: {p.page_id} tp {ours[0]:.3f} vs {base[0]:.3f}")
    evaldata = corpus / "trafilatura" / "evaldata.json"
    if evaldata.exists():
        # trafilatura's own check: snippets a correct extraction contains ("with") or not ("without")
        for name, counts in snippet_counts(evaldata).items():
            found, total, leaked, bad = counts
            results.setdefault("trafilatura-evaldata", {})[name] = {
                "with": found / total,
                "without": leaked / bad,
            }
            print(
                f"{'trafilatura evaldata':30s} {name:20s} with-snippets found {found}/{total}, "
                f"without-snippets found {leaked}/{bad}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def snippet_counts(evaldata: Path) -> dict[str, list[int]]:
    """Per extractor: [with found, with total, without found, without total] over the pages."""
    data = json.loads(evaldata.read_text(encoding="utf-8"))
    out = {"newsetl": [0, 0, 0, 0], "trafilatura.extract": [0, 0, 0, 0]}

    def norm(s: str) -> str:
        return " ".join(s.split()).casefold()

    for url, entry in data.items():
        raw = (evaldata.parent / "cache" / entry["file"]).read_bytes()
        try:
            ours = article_from_bytes(raw, DocKind.HTML, max_bytes=50 * 2**20, url=url).text
        except Rejection:
            ours = ""
        for name, text in (("newsetl", ours), ("trafilatura.extract", trafilatura.extract(raw) or "")):
            t = norm(text)
            c = out[name]
            c[0] += sum(norm(x) in t for x in entry.get("with", []))
            c[1] += len(entry.get("with", []))
            c[2] += sum(norm(x) in t for x in entry.get("without", []))
            c[3] += len(entry.get("without", []))
    return out


if __name__ == "__main__":
    sys.exit(main())
