"""A loopback news site end to end: discovery, news tags, incremental runs, lastmod changes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from .conftest import build_site, run, urlset


def _q(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def test_site_discovery_news_tags_and_incremental(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = build_site(server)
    db = tmp_path / "news.duckdb"
    s1, st1 = run([site.root], db)
    assert s1.status == "completed", s1
    c = s1.report.counts
    # 7 distinct pages; the story listed in both sitemaps is fetched once, the repeat is a duplicate
    assert (c["loaded"], c["duplicate"], c["rejected"]) == (7, 1, 0), (c, s1.top_reasons)
    assert st1.documents == 3 and st1.parsed == 3 and st1.new_urls == 8
    assert all(server.hits(f"/article/{i}") == 1 for i in range(7))
    rows = _q(
        db, "SELECT parent_ref, count(*) FROM inputs WHERE run_id = ? GROUP BY ALL ORDER BY 1", s1.run_id
    )
    assert rows == [(server.url("/news-sitemap.xml.gz"), 3), (server.url("/sitemap-pages.xml"), 5)]
    news = _q(db, """SELECT news_title, news_publication, news_language, keywords FROM sitemap_urls
                     WHERE sitemap LIKE '%news-sitemap%' ORDER BY url""")  # fmt: skip
    assert news[0] == ("News title 0", "Loopback Times", "en", ["harbour", "ferry"])
    health = _q(db, "SELECT kind, health, last_outcome, documents, urls, articles FROM v_sitemap_health")
    assert health == [("site", "ok", "new_urls", 3, 7, 7)]
    docs = _q(db, "SELECT url, depth, doc_type, etag FROM sitemap_documents ORDER BY depth, url")
    assert [d[1:] for d in docs] == [(0, "index", "i1"), (1, "urlset", "n1"), (1, "urlset", "p1")]

    # Second run: every document answers 304; nothing is fetched or extracted.
    server.clear_log()
    s2, st2 = run([site.root], db)
    assert s2.report.total == 0 and st2.not_modified == 3 and st2.new_urls == 0
    assert [r.path for r in server.requests() if r.path.startswith("/article")] == []
    conditional = [r for r in server.requests() if "sitemap" in r.path]
    assert len(conditional) == 3 and all("if-none-match" in r.headers for r in conditional)

    # One page's lastmod changes (and its text): only that page is fetched again.
    changed = site.page_urls[1]
    path = "/" + changed.split("/", 3)[3]
    server.add(path, server.route("/article/5").responses[0].body)  # another article's bytes now
    site.serve_pages({changed: "2024-06-01T08:00:00Z"}, etag="p2")
    server.clear_log()
    s3, st3 = run([site.root], db)
    assert [r.path for r in server.requests() if r.path.startswith("/article")] == [path]
    assert s3.report.total == 1 and st3.known_urls == 4 and st3.new_urls == 1
    assert s3.report.counts["rejected"] == 0
    lastmod = _q(db, "SELECT lastmod FROM sitemap_urls WHERE url = ?", changed)
    assert str(lastmod[0][0]).startswith("2024-06-01")

    # The same bytes under a new ETag: not parsed again, nothing fetched.
    site.serve_pages({changed: "2024-06-01T08:00:00Z"}, etag="p3")
    server.clear_log()
    s4, st4 = run([site.root], db)
    assert s4.report.total == 0 and st4.unchanged_body == 1 and st4.not_modified == 2
    assert [r.path for r in server.requests() if r.path.startswith("/article")] == []


def test_news_tags_fill_what_the_page_lacks(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(
        f"Die Fähre legte um {i} Uhr im Hafen an, und die Passagiere gingen an Land." for i in range(30)
    )
    server.add("/bare", f"<html><body><article><p>{text}</p></article></body></html>".encode())
    news = {server.url("/bare"): {"name": "Hafenblatt", "language": "de", "date": "2024-05-02T06:00:00+02:00",
                                  "title": "Fähre im Hafen", "keywords": "Hafen, Fähre"}}  # fmt: skip
    server.add("/news.xml", urlset([(server.url("/bare"), "2024-05-02")], news), content_type="text/xml")
    db = tmp_path / "news.duckdb"
    summary, _ = run([server.url("/news.xml")], db)
    assert summary.report.counts["loaded"] == 1, summary.top_reasons
    row = _q(
        db,
        """SELECT title, published_at, published_at_source, tags, declared_language, filled_from_feed
           FROM articles""",
    )
    title, published, origin, tags, lang, filled = row[0]
    assert (title, origin, tags, lang) == ("Fähre im Hafen", "sitemap", ["Hafen", "Fähre"], "de")
    assert published == datetime(2024, 5, 2, 4, 0, tzinfo=UTC)
    assert {"title", "published_at", "tags", "declared_language"} <= set(filled)


def test_sitemap_pages_get_the_text_files_get(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from newsetl.sources.files import ingest_files

    from ..feeds.conftest import benchmark_pages
    from .conftest import sm_settings

    pages = benchmark_pages()[10:18]
    folder = tmp_path / "pages"
    folder.mkdir()
    for i, (pid, html, _) in enumerate(pages):
        (folder / f"{pid}.html").write_bytes(html)
        server.add(f"/story/{i}", html)
    server.add("/map.xml", urlset([(server.url(f"/story/{i}"), None) for i in range(len(pages))]))
    files_db, site_db = tmp_path / "files.duckdb", tmp_path / "site.duckdb"
    ingest_files([folder], sm_settings(files_db))
    summary, _ = run([server.url("/map.xml")], site_db)
    assert summary.report.counts["loaded"] == len(pages)
    texts = "SELECT text, word_count, language FROM articles ORDER BY content_hash"
    assert _q(site_db, texts) == _q(files_db, texts)
