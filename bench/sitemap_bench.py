"""A loopback news site of the corpus' benchmark pages, ingested through its sitemaps three
times: cold, unchanged (every document answers 304), and after one page's lastmod changed.

    NEWSETL_CORPUS=../shared/corpus python bench/sitemap_bench.py [--workers 2]

Prints seconds, inputs and HTTP requests per run (no Prefect).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.feeds.conftest import benchmark_pages  # noqa: E402
from tests.feeds.server import FeedServer  # noqa: E402
from tests.sitemaps.conftest import index, urlset  # noqa: E402

from newsetl.settings import Settings  # noqa: E402
from newsetl.sources.sitemaps import ingest_sitemaps  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    pages = benchmark_pages()
    server = FeedServer()
    urls = [server.add(f"/a/{i}", html) for i, (_, html, _) in enumerate(pages)]
    half = len(urls) // 2
    news = {u: {"name": "Bench", "language": "en", "date": "2024-05-01", "title": f"T{i}", "keywords": "k"}
            for i, u in enumerate(urls[:half])}  # fmt: skip
    server.add("/robots.txt", f"Sitemap: {server.url('/index.xml')}\n".encode(), content_type="text/plain")
    server.add("/index.xml", index([(server.url("/news.xml.gz"), None), (server.url("/pages.xml"), None)]),
               content_type="application/xml", etag="i")  # fmt: skip
    server.add("/news.xml.gz", gzip.compress(urlset([(u, None) for u in urls[:half]], news)),
               content_type="application/gzip", etag="n")  # fmt: skip
    lastmods = {u: "2024-05-01" for u in urls[half:]}
    server.add("/pages.xml", urlset(list(lastmods.items())), content_type="application/xml", etag="p1")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.make(db=Path(tmp) / "news.duckdb", workers=args.workers, batch_size=50,
                                 min_host_delay_s=0, concurrency=8)  # fmt: skip
        for label in ("cold", "unchanged (304)", "one lastmod newer"):
            if label == "one lastmod newer":
                lastmods[urls[-1]] = "2024-06-01"
                server.add(
                    "/pages.xml", urlset(list(lastmods.items())), content_type="application/xml", etag="p2"
                )
            server.clear_log()
            started = time.perf_counter()
            summary, stats = ingest_sitemaps([server.url("/")], settings)
            seconds = time.perf_counter() - started
            print(f"{label:<20} {seconds:6.2f} s  inputs {summary.report.total:>4}  "
                  f"{dict((k, v) for k, v in summary.report.counts.items() if v)}  "
                  f"requests {len(server.requests())}  pages fetched {stats['pages_fetched']}")  # fmt: skip
    server.close()


if __name__ == "__main__":
    main()
