"""``ingest-feeds`` end to end in the library, against real feeds and pages on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from newsetl.settings import Settings
from newsetl.sources.files import ingest_files

from ..helpers import table_rows
from .conftest import benchmark_pages, run, serve_news_feed
from .server import FeedServer, Response

STORY = (
    "<p>The harbour authority confirmed on Tuesday that the new ferry line will start in spring, "
    "connecting the old town with the island twice an hour.</p><p>Residents had asked for the "
    "connection for years, the mayor said at a press conference.</p>"
)


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    out = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>']
    out.append("<link>http://example.com/</link><description>test</description>")
    for it in items:
        fields = "".join(
            f'<guid isPermaLink="false">{escape(v)}</guid>' if k == "guid" else f"<{k}>{escape(v)}</{k}>"
            for k, v in it.items()
        )
        out.append(f"<item>{fields}</item>")
    out.append("</channel></rss>")
    return "".join(out).encode()


def count(db: Path, sql: str) -> int:
    return int(table_rows(db, sql)[0][0])  # type: ignore[arg-type]


def test_first_poll_loads_entries_second_poll_is_a_304_with_no_work(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    url, pages = serve_news_feed(
        server, "rss-parser/heise.atom", "/heise.atom", content_type="application/atom+xml"
    )
    first, stats = run([url], db_path, fsettings)
    assert first.status == "completed"
    assert first.report.counts["loaded"] == 15 and first.report.total == 15
    assert stats.pages_fetched == 15 and stats.new_entries == 15 and stats.from_feed == 0
    assert count(db_path, "SELECT count(*) FROM articles WHERE text_source = 'html'") == 15
    assert table_rows(db_path, "SELECT DISTINCT source_kind, parent_ref FROM inputs") == [("feed", url)]
    assert count(db_path, "SELECT count(*) FROM feed_entries WHERE article_id IS NOT NULL") == 15
    health = "SELECT f.etag, f.last_status, f.error_streak, h.health, h.entries_seen FROM feeds f"
    assert table_rows(db_path, health + " JOIN v_feed_health h USING (url)") == [
        ("v1", 200, 0, "ok", 15)
    ]  # fmt: skip
    # Every HTTP request is a row: the feed, robots.txt, 15 pages.
    assert table_rows(db_path, "SELECT kind, count(*) FROM fetches GROUP BY kind ORDER BY kind") == [
        ("feed", 1), ("page", 15), ("robots", 1),
    ]  # fmt: skip
    before = table_rows(db_path, "SELECT article_id, content_hash, ingested_at FROM articles ORDER BY 1")
    page_hits = sum(server.hits(p.split(str(server.port))[1]) for p in pages)

    second, stats2 = run([url], db_path, fsettings)
    assert server.requests("/heise.atom")[-1].headers["if-none-match"] == "v1"
    assert second.report.total == 0 and stats2.not_modified == 1 and stats2.parsed == 0
    assert sum(server.hits(p.split(str(server.port))[1]) for p in pages) == page_hits  # no page fetched
    assert (
        table_rows(db_path, "SELECT article_id, content_hash, ingested_at FROM articles ORDER BY 1") == before
    )
    assert count(db_path, f"SELECT count(*) FROM inputs WHERE run_id = '{second.run_id}'") == 0
    assert table_rows(
        db_path, f"SELECT status, not_modified FROM fetches WHERE run_id = '{second.run_id}'"
    ) == [(304, True)]
    assert table_rows(db_path, "SELECT last_status, last_outcome, error_streak FROM feeds") == [
        (304, "not_modified", 0)
    ]


def test_changed_feed_loads_only_the_new_entry(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    pages = benchmark_pages()
    items = []
    for i in range(4):
        server.add(f"/story/{i}", pages[i][1])
        items.append({"title": f"Story {i}", "link": server.url(f"/story/{i}"), "guid": f"tag:test,{i}"})
    lm = "Wed, 01 Jan 2025 00:00:00 GMT"
    url = server.add("/feed.xml", rss(items[1:]), content_type="application/rss+xml", last_modified=lm)
    first, _ = run([url], db_path, fsettings)
    assert first.report.counts["loaded"] == 3
    _, st = run([url], db_path, fsettings)
    assert server.requests("/feed.xml")[-1].headers["if-modified-since"] == lm and st.not_modified == 1
    server.add("/feed.xml", rss(items), content_type="application/rss+xml", etag='"v2"')
    changed, stats = run([url], db_path, fsettings)
    assert changed.report.counts["loaded"] == 1 and changed.report.total == 1
    assert stats.new_entries == 1 and stats.known_entries == 3
    assert [server.hits(f"/story/{i}") for i in range(4)] == [1, 1, 1, 1]
    assert table_rows(db_path, "SELECT etag, last_modified FROM feeds") == [('"v2"', None)]
    # Same bytes again without validators being honoured: recognised by hash, not re-parsed.
    server.add("/feed.xml", rss(items), content_type="application/rss+xml")
    same, stats = run([url], db_path, fsettings)
    assert same.report.total == 0 and stats.unchanged_body == 1 and stats.parsed == 0


def test_failing_pages_fall_back_to_the_entrys_own_content(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    html = benchmark_pages()[5][1]
    server.add("/p/ok", html)
    other = benchmark_pages()[6][1]
    server.sequence(
        "/p/429",
        [Response(429, headers={"Retry-After": "1"}), Response(200, other, {"Content-Type": "text/html"})],
    )
    server.add("/p/500", b"oops", status=500)
    server.add("/p/slow", html, delay_s=2.5)
    server.add("/p/huge", b"<p>" + b"x" * (2 * 1024 * 1024) + b"</p>")
    server.add("/p/loop", status=302, headers={"Location": "/p/loop2"})
    server.add("/p/loop2", status=302, headers={"Location": "/p/loop"})
    server.add("/p/pdf", b"%PDF-1.4 ...", content_type="application/pdf")
    server.add("/p/menu", b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
    server.add("/p/private", html)
    server.add("/robots.txt", b"User-agent: *\nDisallow: /p/private\n", content_type="text/plain")
    names = ["ok", "429", "404", "500", "slow", "huge", "loop", "pdf", "menu", "private"]
    items = [
        {
            "title": f"Entry {n}",
            "link": server.url(f"/p/{n}"),
            "guid": f"g-{n}",
            "description": f"{STORY}<p>({n})</p>",
        }
        for n in names
    ]
    items.append({"title": "No content", "link": server.url("/p/404-bare"), "guid": "g-bare"})
    url = server.add("/f.xml", rss(items), content_type="application/rss+xml")
    summary, stats = run([url], db_path, _with(fsettings, max_page_bytes=1024 * 1024, read_timeout_s=1.0))
    assert summary.status == "completed"
    rows = {
        r[0]: r[1:]
        for r in table_rows(
            db_path,
            """SELECT e.guid, e.outcome, a.text_source, e.page_status, e.page_error, e.retryable
               FROM feed_entries e LEFT JOIN articles a USING (article_id)""",
        )
    }
    assert rows["g-ok"][:3] == ("loaded", "html", 200)
    assert rows["g-429"][:3] == ("loaded", "html", 200)  # waited for Retry-After, then fetched
    expected_errors = {
        "g-404": "fetch: HTTP 404 Not Found",
        "g-500": "fetch: HTTP 500 Internal Server Error",
        "g-slow": "fetch: read timeout after 1 s",
        "g-huge": "fetch: body of 2097159 bytes (Content-Length) exceeds the cap of 1048576 bytes",
        "g-loop": "fetch: redirect loop",
        "g-pdf": "fetch: not an article page (Content-Type application/pdf)",
        "g-menu": "extract:",
        "g-private": "policy: disallowed by robots.txt for user-agent 'newsetl'",
    }
    for guid, error in expected_errors.items():
        outcome, text_source, _, page_error, _ = rows[guid]
        assert (outcome, text_source) == ("loaded", "feed"), guid
        assert page_error is not None and page_error.startswith(error), (guid, page_error)
    bare = table_rows(db_path, "SELECT outcome, stage, reason FROM inputs WHERE source_ref LIKE '%404-bare'")
    assert bare == [
        ("rejected", "fetch", "HTTP 404 Not Found; feed content: the entry has no content of its own")
    ]
    assert stats.from_feed == 8 and summary.report.counts["loaded"] == 10
    assert server.hits("/p/private") == 0 and server.hits("/robots.txt") == 1
    # Transient failures were retried (3 attempts each), terminal ones were not.
    attempts = dict(
        table_rows(
            db_path,
            "SELECT regexp_extract(url, '/p/(.*)', 1), max(attempt) FROM fetches WHERE kind = 'page' GROUP BY 1",  # noqa: E501
        )
    )
    assert attempts["500"] == 3 and attempts["slow"] == 3 and attempts["404"] == 1 and attempts["429"] == 2
    assert count(db_path, "SELECT count(*) FROM fetches WHERE url LIKE '%/p/loop%'") == 2


def _with(fs: Settings, **kw: object) -> Settings:
    return fs.with_(**kw)


def test_feed_metadata_fills_what_the_page_lacks(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    bare_page = f"<html><body><article>{STORY}{STORY}</article></body></html>".encode()
    server.add("/bare", bare_page)
    server.add("/rich", benchmark_pages()[7][1])
    items = [
        {"title": "Ferry line to start in spring", "link": server.url("/bare"), "guid": "bare",
         "pubDate": "Tue, 04 Mar 2025 09:30:00 GMT", "author": "jane@example.com (Jane Doe)",
         "category": "Transport"},
        {"title": "Feed title of the rich page", "link": server.url("/rich"), "guid": "rich",
         "pubDate": "Tue, 04 Mar 2025 09:30:00 GMT"},
    ]  # fmt: skip
    url = server.add("/meta.xml", rss(items), content_type="application/rss+xml")
    run([url], db_path, fsettings)
    bare = table_rows(
        db_path,
        """SELECT a.title, a.published_at, a.published_at_source, a.authors, a.tags, a.filled_from_feed,
                  a.text_source
           FROM articles a JOIN feed_entries e USING (article_id) WHERE e.guid = 'bare'""",
    )[0]
    assert bare[0] == "Ferry line to start in spring"
    assert bare[1] == datetime(2025, 3, 4, 9, 30, tzinfo=UTC) and bare[2] == "feed"
    assert bare[3] == ["Jane Doe"] and bare[4] == ["Transport"] and bare[6] == "html"
    assert bare[5] == ["title", "published_at", "authors", "tags"]
    rich = table_rows(
        db_path,
        """SELECT a.title, a.filled_from_feed FROM articles a JOIN feed_entries e USING (article_id)
           WHERE e.guid = 'rich'""",
    )[0]
    assert rich[0] != "Feed title of the rich page" and "title" not in rich[1]  # the page's own title wins


def test_links_to_internal_addresses_are_refused_without_a_request(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    """A feed on a public-looking name whose entries point at loopback, 10.x and the cloud
    metadata address: refused with a reason, nothing requested, the rest of the run goes on."""
    names = {
        "news.example.com": ["127.0.0.1"],
        "intranet.example.com": ["127.0.0.1"],
        "db.example.com": ["10.0.0.5"],
    }

    def resolver(host: str, port: int) -> list[str]:
        if host not in names:
            raise OSError("unknown host")
        return names[host]

    server.add("/ok", benchmark_pages()[9][1])
    server.add(
        "/secret", b"<html><body><p>internal admin page with secrets in it, not for feeds</p></body></html>"
    )
    links = {
        "same-host": server.url("/ok", "news.example.com"),
        "intranet": server.url("/secret", "intranet.example.com"),
        "ten": "http://db.example.com/admin",
        "ten-literal": "http://10.0.0.5/admin",
        "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "loopback-v6": f"http://[::1]:{server.port}/secret",
        "decimal-ip": f"http://2130706433:{server.port}/secret",
        "file": "file:///etc/passwd",
    }
    items = [
        {"title": k, "link": v, "guid": k, "description": f"{STORY}<p>About {k}.</p>"}
        for k, v in links.items()
    ]
    feed = server.add("/feed.xml", rss(items), content_type="application/rss+xml")
    feed_url = feed.replace("127.0.0.1", "news.example.com")
    summary, stats = run([feed_url], db_path, fsettings, resolver=resolver)
    assert summary.status == "completed" and stats.refused == 6
    errors = dict(table_rows(db_path, "SELECT guid, page_error FROM feed_entries"))
    assert errors["same-host"] is None
    assert "intranet.example.com (127.0.0.1) is a loopback address" in errors["intranet"]
    assert "db.example.com (10.0.0.5) is a private address" in errors["ten"]
    assert "10.0.0.5 is a private address" in errors["ten-literal"]
    assert "169.254.169.254 is a link-local address" in errors["metadata"]
    assert "::1 is a loopback address" in errors["loopback-v6"]
    # The fake resolver does not know it (the system resolver maps it to 127.0.0.1: test_ssrf).
    assert errors["decimal-ip"].startswith("fetch: cannot resolve host 2130706433")
    assert "is not an http(s) URL" in errors["file"]
    assert all(e.startswith("policy: ") for k, e in errors.items() if k not in ("same-host", "decimal-ip"))
    assert server.hits("/secret") == 0 and server.hits("/ok") == 1
    # Refused entries still become articles from the feed's own text; every entry has a row.
    assert count(db_path, "SELECT count(*) FROM inputs WHERE outcome = 'loaded'") == 8
    # The user may opt in.
    other = db_path.parent / "optin.duckdb"
    run([feed_url], other, _with(fsettings, allow_private_hosts=True), resolver=resolver)
    assert server.hits("/secret") >= 1


def test_the_same_story_in_two_feeds_is_one_article(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    pages = benchmark_pages()
    for i in range(4):
        server.add(f"/s/{i}", pages[20 + i][1])
    a = [
        {"title": f"A{i}", "link": server.url(f"/s/{i}") + "?utm_source=feed-a", "guid": f"a{i}"}
        for i in range(3)
    ]
    b = [
        {
            "title": "B0",
            "link": server.url("/s/2") + "?utm_source=feed-b&utm_medium=rss#comments",
            "guid": "b0",
        },
        {"title": "B1", "link": server.url("/s/3"), "guid": "b1"},
    ]
    fa = server.add("/a.xml", rss(a, "A"), content_type="application/rss+xml")
    fb = server.add("/b.xml", rss(b, "B"), content_type="application/rss+xml")
    summary, _ = run([fa, fb], db_path, fsettings)
    assert summary.report.counts["loaded"] == 4 and summary.report.counts["duplicate"] == 1
    assert server.hits("/s/2?utm_source=feed-a") + server.hits("/s/2") == 1  # fetched once
    assert count(db_path, "SELECT count(*) FROM articles") == 4
    shared = table_rows(
        db_path, "SELECT feed, outcome FROM feed_entries WHERE guid IN ('a2', 'b0') ORDER BY feed"
    )
    assert shared == [(fa, "loaded"), (fb, "duplicate")]
    assert (
        count(db_path, "SELECT count(DISTINCT article_id) FROM feed_entries WHERE guid IN ('a2', 'b0')") == 1
    )
    # A third feed, later, with the same story: a duplicate without fetching it again.
    fc = server.add("/c.xml", rss([{"title": "C", "link": server.url("/s/1"), "guid": "c"}], "C"),
                    content_type="application/rss+xml")  # fmt: skip
    hits = server.hits("/s/1")
    later, _ = run([fc], db_path, fsettings)
    assert later.report.counts["duplicate"] == 1 and server.hits("/s/1") == hits
    assert count(db_path, "SELECT count(*) FROM feed_entries") == 6


def test_bad_feeds_are_recorded_and_the_run_goes_on(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    good, _ = serve_news_feed(
        server, "prof18-rss-parser/androidauthority_feed-test-malformed.xml", "/malformed.xml"
    )
    bad = {
        "/html": server.add(
            "/html", b"<!doctype html><html><head><title>Home</title></head><body>hi</body></html>"
        ),
        "/json": server.add("/json", b'{"error": "no"}', content_type="application/json"),
        "/empty": server.add("/empty", b"", content_type="application/rss+xml"),
        "/gone": server.add("/gone", b"gone", status=410),
        "/down": server.add("/down", b"down", status=503),
        "/busy": server.add("/busy", b"later", status=429, headers={"Retry-After": "7200"}),
        "/slow": server.add("/slow", b"<rss/>", delay_s=2.5),
        "/huge": server.add(
            "/huge", b"<rss>" + b" " * (3 * 1024 * 1024) + b"</rss>", content_type="application/rss+xml"
        ),
        "/loop": server.add("/loop", status=301, headers={"Location": "/loop"}),
        "/illformed": server.add(
            "/illformed",
            b"<rss><channel><title>x</title><item><title>broken",
            content_type="application/rss+xml",
        ),
    }
    fs = _with(fsettings, max_feed_bytes=2 * 1024 * 1024, read_timeout_s=0.5, max_attempts=2)
    summary, stats = run([good, *bad.values()], db_path, fs)
    assert summary.status == "completed"
    assert stats.failed == len(bad) - 1 and stats.ill_formed == 2  # /illformed recovered into an item
    reasons = dict(
        table_rows(db_path, "SELECT source_ref, stage || ': ' || reason FROM inputs WHERE parent_ref IS NULL")
    )
    expect = {
        "/html": "parse: feed: not a feed: an HTML page",
        "/json": "parse: feed: not a feed: a JSON document that is not a JSON Feed",
        "/empty": "parse: feed: not a feed: empty response body",
        "/gone": "fetch: feed: HTTP 410 Gone",
        "/down": "fetch: feed: HTTP 503 Service Unavailable",
        "/busy": "fetch: feed: HTTP 429 Too Many Requests",
        "/slow": "fetch: feed: read timeout after 0.5 s",
        "/huge": "fetch: feed: body of 3145739 bytes (Content-Length) exceeds the cap",
        "/loop": "fetch: feed: redirect loop",
    }
    for path, reason in expect.items():
        assert reasons[bad[path]].startswith(reason), (path, reasons[bad[path]])
    health = dict(table_rows(db_path, "SELECT url, bozo FROM feeds WHERE bozo"))
    assert good in health and bad["/illformed"] in health
    entries = (
        "SELECT e.outcome, a.text_source FROM feed_entries e JOIN articles a USING (article_id) WHERE feed ="
    )
    assert table_rows(db_path, f"{entries} '{good}'") == [("loaded", "html")]
    # Health: one error each; a second failing poll doubles the back-off; nothing is dropped.
    gap1 = dict(
        table_rows(
            db_path, "SELECT url, epoch(next_check_at - last_checked_at) FROM feeds WHERE error_streak = 1"
        )
    )
    assert set(gap1) == set(bad.values()) - {bad["/illformed"]}
    assert gap1.pop(bad["/busy"]) == pytest.approx(7200, abs=5)  # Retry-After: not before then
    assert server.hits("/busy") == 1  # longer than the in-run cap: not retried in this run
    assert all(600 <= g <= 1100 for g in gap1.values())
    run([bad["/gone"]], db_path, fs)
    ((streak, gap2, error),) = table_rows(
        db_path,
        "SELECT error_streak, epoch(next_check_at - last_checked_at), last_error FROM feeds "
        f"WHERE url = '{bad['/gone']}'",
    )
    assert streak == 2 and 1400 <= gap2 <= 2200 and error == "HTTP 410 Gone"
    assert count(db_path, "SELECT count(*) FROM feeds") == len(bad) + 1


def test_only_due_feeds_are_polled(server: FeedServer, db_path: Path, fsettings: Settings) -> None:
    urls = [server.add(f"/due{i}.xml", rss([]), content_type="application/rss+xml") for i in range(3)]
    run(urls, db_path, fsettings)
    with __import__("duckdb").connect(str(db_path)) as conn:
        conn.execute(f"UPDATE feeds SET next_check_at = now() - INTERVAL 1 MINUTE WHERE url = '{urls[1]}'")
    _, stats = run([], db_path, fsettings)
    assert stats.feeds == 1 and server.hits("/due1.xml") == 2 and server.hits("/due0.xml") == 1
    _, stats = run([], db_path, fsettings, all_feeds=True)
    assert stats.feeds == 3


def test_entries_whose_page_failed_transiently_are_retried_later(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    server.add("/later", b"busy", status=503)
    items = [{"title": "Soon", "link": server.url("/later"), "guid": "soon"}]
    url = server.add("/r.xml", rss(items), content_type="application/rss+xml", etag="v1")
    first, _ = run([url], db_path, fsettings)
    assert first.report.counts["rejected"] == 1
    assert table_rows(db_path, "SELECT attempts, retryable FROM feed_entries") == [(1, True)]
    server.add("/later", benchmark_pages()[30][1])
    items.append({"title": "Other", "link": server.url("/later2"), "guid": "other", "description": STORY})
    server.add("/r.xml", rss(items), content_type="application/rss+xml", etag="v2")
    second, stats = run([url], db_path, fsettings)
    assert stats.retried_entries == 1 and second.report.counts["loaded"] == 2
    assert table_rows(
        db_path, "SELECT attempts, retryable, outcome FROM feed_entries WHERE guid = 'soon'"
    ) == [(2, False, "loaded")]


def test_pages_from_feeds_are_extracted_exactly_like_files(
    server: FeedServer, db_path: Path, fsettings: Settings, tmp_path: Path
) -> None:
    pages = benchmark_pages()[40:44]
    items = []
    for i, (pid, html, _) in enumerate(pages):
        server.add(f"/q/{i}", html)
        items.append({"title": "t", "link": server.url(f"/q/{i}"), "guid": pid})
        (tmp_path / "files").mkdir(exist_ok=True)
        (tmp_path / "files" / f"{pid}.html").write_bytes(html)
    url = server.add("/q.xml", rss(items), content_type="application/rss+xml")
    run([url], db_path, fsettings)
    files_db = tmp_path / "files.duckdb"
    ingest_files([tmp_path / "files"], Settings.make(db=files_db, workers=0))
    cols = "article_id, url, title, text, content_hash, language, published_at, authors"
    via_feed = table_rows(db_path, f"SELECT {cols} FROM articles ORDER BY article_id")
    via_files = table_rows(files_db, f"SELECT {cols} FROM articles ORDER BY article_id")
    assert len(via_feed) == 4 and via_feed == via_files


def test_batches_across_worker_processes(server: FeedServer, db_path: Path, fsettings: Settings) -> None:
    """A 40-entry ISO-8859-1 feed, pages for six entries (the rest 404 -> feed content),
    extracted by two worker processes in chunks of seven entries."""
    url, _ = serve_news_feed(server, "miniflux/golem.de_encoding_ISO-8859-1.xml", "/golem.xml", limit=6)
    summary, stats = run([url], db_path, fsettings, workers=2, batch_size=7)
    assert summary.report.counts["loaded"] + summary.report.counts["duplicate"] == 40
    assert stats.pages_fetched == 6 and stats.from_feed == 34
    assert count(db_path, "SELECT count(*) FROM feed_entries") == 40
    umlauts = table_rows(
        db_path, "SELECT count(*) FROM articles WHERE text_source = 'feed' AND regexp_matches(text, '[äöüß]')"
    )
    assert umlauts[0][0] > 10  # ISO-8859-1 decoded, not mojibake
    assert count(db_path, "SELECT count(*) FROM articles WHERE text LIKE '%Ã%'") == 0
    assert table_rows(db_path, "SELECT last_status, error_streak, last_new_entries FROM feeds") == [
        (200, 0, 40)
    ]


@pytest.mark.parametrize("n_feeds", [120])
def test_many_unchanged_feeds_cost_one_request_each(
    server: FeedServer, db_path: Path, fsettings: Settings, n_feeds: int
) -> None:
    urls = [
        server.add(f"/m{i}.xml", rss([]), content_type="application/rss+xml", etag=f"e{i}")
        for i in range(n_feeds)
    ]
    run(urls, db_path, fsettings)
    server.clear_log()
    summary, stats = run([], db_path, fsettings, all_feeds=True)
    assert stats.not_modified == n_feeds and summary.report.total == 0
    assert len(server.requests()) == n_feeds
    assert (
        count(db_path, f"SELECT count(*) FROM fetches WHERE run_id = '{summary.run_id}' AND not_modified")
        == n_feeds
    )


def test_a_runaway_feed_is_taken_in_portions_without_losing_entries(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    items = [
        {
            "title": f"Item {i}",
            "link": server.url(f"/none/{i}"),
            "guid": f"i{i}",
            "description": f"{STORY}<p>{i}</p>",
        }
        for i in range(5)
    ]
    url = server.add("/big.xml", rss(items), content_type="application/rss+xml", etag="v1")
    fs = _with(fsettings, max_new_entries_per_feed=2, fetch_pages=False)
    loaded = []
    for _ in range(3):
        summary, _ = run([], db_path, fs) if loaded else run([url], db_path, fs)
        loaded.append(summary.report.counts["loaded"])
    assert loaded == [2, 2, 1]
    assert table_rows(db_path, "SELECT etag, last_outcome FROM feeds") == [("v1", "new_entries")]
    _, stats = run([], db_path, fs, all_feeds=True)
    assert stats.not_modified == 1 and count(db_path, "SELECT count(*) FROM feed_entries") == 5
