"""Fixtures for the feed tests: a local HTTP server, fast settings, real feeds and pages."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import feedparser
import pytest

from newsetl.models import RunSummary
from newsetl.settings import Settings
from newsetl.sources.feeds import FeedStats, ingest_feeds
from newsetl.web.client import Fetcher, make_client
from newsetl.web.politeness import Politeness
from newsetl.web.ssrf import SsrfGuard

from ..conftest import corpus_path
from .server import FeedServer


def fast_feed_settings(**overrides: Any) -> Settings:
    """Loopback-friendly: no per-host delay, short timeouts and back-offs."""
    base: dict[str, Any] = {
        "min_host_delay_s": 0.0,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "retry_after_cap_s": 2.0,
        "connect_timeout_s": 2.0,
        "read_timeout_s": 1.0,
        "total_timeout_s": 5.0,
        "concurrency": 8,
    }
    base.update(overrides)
    return Settings.make(**base)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    yield srv
    srv.close()


@pytest.fixture
def fsettings() -> Settings:
    return fast_feed_settings()


@cache
def benchmark_pages() -> list[tuple[str, bytes, str]]:
    """(page id, HTML bytes, original URL) of the article-extraction-benchmark pages."""
    root = corpus_path("article-extraction-benchmark")
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for p in sorted((root / "html").glob("*.html.gz")):
        pid = p.name.split(".")[0]
        out.append((pid, gzip.decompress(p.read_bytes()), truth.get(pid, {}).get("url", "")))
    return out


def feed_links(data: bytes) -> list[str]:
    return [e.link for e in feedparser.parse(io.BytesIO(data)).entries if e.get("link")]


def serve_news_feed(
    server: FeedServer,
    corpus_file: str,
    path: str,
    *,
    page_offset: int = 0,
    limit: int | None = None,
    etag: str | None = "v1",
    content_type: str = "application/rss+xml",
    host: str = "127.0.0.1",
    page_prefix: str | None = None,
) -> tuple[str, list[str]]:
    """Serve a real corpus feed whose entry links point at real corpus pages on this server.

    Returns (feed URL, local page URLs in entry order). ``limit`` keeps only the first
    entries' links local: the others point at pages that answer 404.
    """
    raw = corpus_path("feeds", "news", *corpus_file.split("/")).read_bytes()
    links = list(dict.fromkeys(feed_links(raw)))
    pages = benchmark_pages()
    prefix = page_prefix or path.rsplit(".", 1)[0].replace("/", "_")
    local: list[str] = []
    for i, link in enumerate(sorted(links, key=len, reverse=True)):
        idx = links.index(link)
        page_path = f"/pages/{prefix}/{idx}"
        url = server.url(page_path, host)
        if limit is None or idx < limit:
            _, html, _ = pages[(page_offset + idx) % len(pages)]
            server.add(page_path, html)
        raw = raw.replace(link.replace("&", "&amp;").encode(), url.encode())
        raw = raw.replace(link.encode(), url.encode())
        del i
    local = [server.url(f"/pages/{prefix}/{i}", host) for i in range(len(links))]
    assert feed_links(raw) == local, "entry links were not all rewritten"
    server.add(path, raw, content_type=content_type, etag=etag)
    return server.url(path, host), local


def run(
    urls: list[str],
    db: Path,
    fsettings: Settings,
    *,
    workers: int = 0,
    batch_size: int = 200,
    **kw: Any,
) -> tuple[RunSummary, FeedStats]:
    settings = fsettings.with_(db=db, workers=workers, batch_size=batch_size, lock_timeout_s=20)
    summary, stats = ingest_feeds(urls, settings, **kw)
    return summary, FeedStats(**stats)


@pytest.fixture
def fetcher(fsettings: Settings) -> Iterator[Fetcher]:
    """A fetcher with a real guarded client; the test server's host counts as trusted."""
    guard = SsrfGuard()
    web = fsettings.web
    with make_client(web, guard) as client:
        yield Fetcher(client, web, guard, Politeness(web.per_host_concurrency, web.min_host_delay_s))
