"""Hostile sitemaps end with recorded reasons, in bounded memory and time: entity expansion,
XXE, a 50 MB body (plain, gzip-encoded, .xml.gz), 50,000 URLs, an index that includes
itself, indexes nested too deep, a site without sitemaps."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from pathlib import Path

import duckdb

from ..feeds.server import FeedServer
from .conftest import PeakRss, index, run, urlset

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://127.0.0.1/&lol9;</loc></url></urlset>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://127.0.0.1/&xxe;</loc></url></urlset>
"""
MB = 1024 * 1024


def _gzip_zeros(n: int) -> bytes:
    """gzip of ``n`` spaces, made without holding them (a bomb: ~1000:1)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * MB
    parts = [comp.compress(block) for _ in range(n // MB)]
    return b"".join(parts) + comp.flush()


def _rejections(db: Path, run_id: str) -> dict[str, tuple[str, str, str]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            """SELECT source_ref, parent_ref, stage, reason FROM inputs
               WHERE run_id = ? AND outcome = 'rejected'""",
            [run_id],
        ).fetchall()
    return {r[0].rsplit("/", 1)[-1]: (r[1], r[2], r[3]) for r in rows}


def test_hostile_documents_end_with_reasons_in_bounded_memory(server: FeedServer, tmp_path: Path) -> None:
    u = server.url
    server.add("/laughs.xml", BILLION_LAUGHS, content_type="application/xml")
    server.add("/xxe.xml", XXE, content_type="application/xml")
    bomb = _gzip_zeros(60 * MB)
    server.add("/encoded.xml", bomb, content_type="application/xml", headers={"Content-Encoding": "gzip"})
    server.add("/bomb.xml.gz", bomb, content_type="application/gzip")
    server.add("/huge.xml", b"<urlset>" + b" " * (51 * MB) + b"</urlset>", content_type="application/xml")
    server.add("/feed.xml", b"<rss version='2.0'><channel/></rss>", content_type="application/xml")
    for d in range(5):  # an index chain deeper than the limit
        server.add(f"/deep{d}.xml", index([(u(f"/deep{d + 1}.xml"), None)]), content_type="application/xml")
    children = ["/laughs.xml", "/xxe.xml", "/encoded.xml", "/bomb.xml.gz", "/huge.xml", "/feed.xml",
                "/missing.xml", "/index.xml", "/deep0.xml"]  # fmt: skip
    server.add("/index.xml", index([(u(c), None) for c in children]), content_type="application/xml")
    db = tmp_path / "news.duckdb"
    run([u("/robots-only-warmup")], db)  # schema and imports before measuring
    tracemalloc.start()
    started = time.monotonic()
    summary, stats = run([u("/index.xml")], db, max_sitemap_depth=2)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert summary.status == "completed"
    got = _rejections(db, summary.run_id)
    assert "declares a DTD" in got["laughs.xml"][2] and got["laughs.xml"][1] == "parse"
    assert "declares a DTD" in got["xxe.xml"][2]
    assert "exceeds the cap" in got["encoded.xml"][2]
    assert "exceeds the cap" in got["bomb.xml.gz"][2] and "gzip bomb" in got["bomb.xml.gz"][2]
    assert "Content-Length" in got["huge.xml"][2]
    assert "a feed (<rss>), not a sitemap" in got["feed.xml"][2]
    assert "HTTP 404" in got["missing.xml"][2]
    assert "listed again in this run" in got["index.xml"][2] and got["index.xml"][0] == u("/index.xml")
    assert "nested deeper than 2" in got["deep2.xml"][2]  # index -> deep0 -> deep1 -> deep2
    assert "deep1.xml" not in got and "deep3.xml" not in got  # followed to the limit, not beyond
    assert stats.loops == 1 and stats.failed == 7
    assert (
        server.hits("/index.xml") == 1 and server.hits("/deep1.xml") == 1 and server.hits("/deep2.xml") == 0
    )
    print(f"hostile documents: peak traced memory {peak / MB:.0f} MB, {elapsed:.1f} s")
    assert peak < 160 * MB, f"peak traced memory {peak / MB:.0f} MB"
    assert elapsed < 30, f"{elapsed:.1f} s"
    with duckdb.connect(str(db), read_only=True) as conn:
        health = conn.execute(
            "SELECT health, failing_documents FROM v_sitemap_health WHERE url = ?", [u("/index.xml")]
        ).fetchone()
    assert health == ("ok", 7)  # the index itself was read; its broken children are counted


def test_fifty_thousand_urls_are_taken_a_slice_per_run(server: FeedServer, tmp_path: Path) -> None:
    n = 50_001  # one more than sitemaps.org allows
    body = gzip.compress(urlset([(server.url(f"/p/{i}"), "2024-05-01") for i in range(n)]))
    server.add("/big.xml.gz", body, content_type="application/gzip")
    db = tmp_path / "news.duckdb"
    started = time.monotonic()
    with PeakRss() as rss:
        s1, st1 = run([server.url("/big.xml.gz")], db, max_new_urls_per_sitemap=20)
    assert time.monotonic() - started < 60
    print(f"50,001 URLs: +{rss.growth_mb:.0f} MB resident, {time.monotonic() - started:.1f} s")
    assert rss.growth_mb < 250, f"resident memory grew by {rss.growth_mb:.0f} MB"
    assert st1.urls_listed == 50_000 and st1.over_limit == 1
    assert st1.new_urls == 20 and st1.deferred_urls == 49_980
    assert s1.report.total == 20 and s1.report.counts["rejected"] == 20  # the pages answer 404
    with duckdb.connect(str(db), read_only=True) as conn:
        doc = conn.execute("SELECT over_limit, last_error, last_outcome FROM sitemap_documents").fetchone()
        root = conn.execute("SELECT last_outcome, next_check_at <= last_checked_at FROM sitemaps").fetchone()
    assert doc is not None and doc[0] is True and "more than 50000 entries" in doc[1]
    assert doc[2] == "parsed_capped" and root == ("new_urls_capped", True)
    first = {r.path for r in server.requests() if r.path.startswith("/p/")}
    server.clear_log()
    _, st2 = run([], db, max_new_urls_per_sitemap=20)  # due again at once: the next slice
    second = {r.path for r in server.requests() if r.path.startswith("/p/")}
    assert st2.known_urls == 20 and st2.new_urls == 20 and len(second) == 20 and not first & second


def test_a_site_without_sitemaps_is_failing_with_the_reason(server: FeedServer, tmp_path: Path) -> None:
    server.add("/robots.txt", b"User-agent: *\nDisallow:\n", content_type="text/plain")
    db = tmp_path / "news.duckdb"
    summary, _ = run([server.url("/")], db)
    got = _rejections(db, summary.run_id)
    assert "no sitemap found: robots.txt names none, and /sitemap.xml: HTTP 404" in got["sitemap.xml"][2]
    with duckdb.connect(str(db), read_only=True) as conn:
        health = conn.execute("SELECT health, error_streak, last_error FROM v_sitemap_health").fetchone()
    assert health is not None and health[:2] == ("failing", 1) and "no sitemap found" in health[2]
    from newsetl.analysis.status import warehouse_status
    from newsetl.settings import Settings
    from newsetl.storage.backends import open_warehouse

    sections = {s.title: s for s in warehouse_status(open_warehouse(Settings.make(db=db).storage)).sections}
    assert sections["sitemaps"].rows == [(1, 0, 1, 1, 0)]
    assert "no sitemap found" in sections["failing sitemaps"].rows[0][2]


def test_a_site_without_sitemap_lines_falls_back_to_sitemap_xml(server: FeedServer, tmp_path: Path) -> None:
    text = "\n\n".join(
        f"Paragraph {i}: the harbour ferry left at dawn with forty passengers aboard." for i in range(12)
    )
    server.add("/story.txt", text.encode(), content_type="text/plain; charset=utf-8")
    server.add("/robots.txt", b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    server.add("/sitemap.xml", b"http://127.0.0.1:%d/story.txt\n" % server.port, content_type="text/plain")
    db = tmp_path / "news.duckdb"
    summary, stats = run([server.url("/")], db)
    assert summary.report.counts["loaded"] == 1 and stats.parsed == 1
    with duckdb.connect(str(db), read_only=True) as conn:
        doc = conn.execute("SELECT url, parent, doc_type FROM sitemap_documents").fetchone()
    assert doc == (server.url("/sitemap.xml"), None, "text")
