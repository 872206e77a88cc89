"""A loopback news site for the sitemap tests: robots.txt -> sitemap index -> a gzipped Google
News sitemap and a plain sitemap -> real corpus pages."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from newsetl.settings import Settings
from newsetl.sources.sitemaps import SitemapStats, ingest_sitemaps

from ..feeds.conftest import benchmark_pages, fast_feed_settings
from ..feeds.server import FeedServer

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def urlset(entries: list[tuple[str, str | None]], news: dict[str, dict[str, str]] | None = None) -> bytes:
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS} {NEWS_NS}>']
    for loc, lastmod in entries:
        parts.append(f"<url><loc>{loc}</loc>")
        if lastmod:
            parts.append(f"<lastmod>{lastmod}</lastmod>")
        tags = (news or {}).get(loc)
        if tags:
            parts.append(
                "<news:news><news:publication>"
                f"<news:name>{tags['name']}</news:name><news:language>{tags['language']}</news:language>"
                f"</news:publication><news:publication_date>{tags['date']}</news:publication_date>"
                f"<news:title>{tags['title']}</news:title><news:keywords>{tags['keywords']}</news:keywords>"
                "</news:news>"
            )
        parts.append("</url>")
    parts.append("</urlset>\n")
    return "".join(parts).encode()


def index(children: list[tuple[str, str | None]]) -> bytes:
    body = "".join(
        f"<sitemap><loc>{loc}</loc>{f'<lastmod>{lm}</lastmod>' if lm else ''}</sitemap>"
        for loc, lm in children
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex {NS}>{body}</sitemapindex>\n'.encode()


@dataclass
class Site:
    server: FeedServer
    news_urls: list[str] = field(default_factory=list)
    page_urls: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return self.server.url("/")

    def serve_pages(self, lastmods: dict[str, str] | None = None, etag: str = "p1") -> None:
        entries = [(u, (lastmods or {}).get(u, "2024-05-01T08:00:00Z")) for u in self.page_urls]
        self.server.add("/sitemap-pages.xml", urlset(entries), content_type="application/xml", etag=etag)


def build_site(server: FeedServer, n_news: int = 3, n_pages: int = 4) -> Site:
    pages = benchmark_pages()
    site = Site(server)
    for i in range(n_news + n_pages):
        _, html, _ = pages[i]
        url = server.add(f"/article/{i}", html)
        (site.news_urls if i < n_news else site.page_urls).append(url)
    site.page_urls.append(site.news_urls[0])  # one story in both sitemaps
    news = {
        u: {"name": "Loopback Times", "language": "EN", "date": f"2024-05-0{i + 1}T06:00:00+02:00",
            "title": f"News title {i}", "keywords": "harbour, ferry"}
        for i, u in enumerate(site.news_urls)
    }  # fmt: skip
    robots = f"User-agent: *\nDisallow: /private/\nSitemap: {server.url('/sitemap_index.xml')}\n"
    server.add("/robots.txt", robots.encode(), content_type="text/plain")
    server.add(
        "/sitemap_index.xml",
        index([(server.url("/news-sitemap.xml.gz"), "2024-05-03"), (server.url("/sitemap-pages.xml"), None)]),
        content_type="application/xml",
        etag="i1",
    )
    gz = gzip.compress(urlset([(u, None) for u in site.news_urls], news))
    server.add("/news-sitemap.xml.gz", gz, content_type="application/gzip", etag="n1")
    site.serve_pages()
    return site


def sm_settings(db: Path, **overrides: Any) -> Settings:
    return fast_feed_settings(**overrides).with_(db=db, workers=0, batch_size=5, lock_timeout_s=20)


def run(urls: list[str], db: Path, **overrides: Any) -> tuple[Any, SitemapStats]:
    summary, stats = ingest_sitemaps(urls, sm_settings(db, **overrides))
    return summary, SitemapStats(**{k: v for k, v in stats.items() if k in SitemapStats.__dataclass_fields__})


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    yield srv
    srv.close()


class PeakRss:
    """Peak resident memory of this process above where it started, sampled every 20 ms."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.base = self._proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 2**20
