"""Sitemaps and URL lists on a DuckLake (SQLite catalog): the same SQL, no constraints."""

from __future__ import annotations

import io
from pathlib import Path

from newsetl.sources.sitemaps import ingest_sitemaps
from newsetl.sources.urls import ingest_urls
from newsetl.storage.backends import open_warehouse

from ..feeds.server import FeedServer
from ..lake.conftest import sqlite_lake
from .conftest import build_site, sm_settings


def test_site_and_url_list_on_a_lake(server: FeedServer, tmp_path: Path) -> None:
    site = build_site(server)
    lake = sqlite_lake(tmp_path)
    settings = sm_settings(tmp_path / "unused.duckdb").with_(db=lake.storage.db)
    first, _ = ingest_sitemaps([site.root], settings)
    assert first.status == "completed" and first.report.counts["loaded"] == 7
    second, stats = ingest_sitemaps([site.root], settings)
    assert second.report.total == 0 and stats["not_modified"] == 3
    listed = ingest_urls(
        "-", settings.with_(allow_private_hosts=True), stream=io.StringIO(site.news_urls[1] + "\n")
    )
    assert listed.report.counts["duplicate"] == 1  # already ingested through the sitemap: not fetched
    with open_warehouse(settings.storage).session(read_only=True) as conn:
        health = conn.execute("SELECT health, documents, urls, articles FROM v_sitemap_health").fetchall()
        urls = conn.execute("SELECT count(*), count(DISTINCT (sitemap, url)) FROM sitemap_urls").fetchone()
    assert health == [("ok", 3, 7, 7)]
    assert urls == (8, 8)
