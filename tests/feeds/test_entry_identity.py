"""Feeds whose entries repeat links or guids: every entry is accounted for, the ledger stays
green (issue: two entries with one normalised link broke "one outcome per input"; a guid
reused for another story silently dropped it)."""

from __future__ import annotations

from pathlib import Path

from newsetl.analysis.audit import run_audit
from newsetl.settings import Settings
from newsetl.sources.feeds.parse import parse_feed

from ..helpers import store, table_rows
from .conftest import run
from .server import FeedServer
from .test_ingest import STORY, rss

PAGE = f"<html><head><title>Live</title></head><body><article><h1>Live</h1>{STORY}</article></body></html>"


def _green(db: Path) -> None:
    report = run_audit(store(db))
    assert report.ok, [(f.check, f.detail, f.examples) for f in report.findings if not f.ok]


def test_entries_sharing_a_normalised_link_are_one_input_each(
    server: FeedServer, db_path: Path, fsettings: Settings
) -> None:
    server.add("/art/live", PAGE.encode())
    live = server.url("/art/live?id=1")
    tracked = server.url("/art/live?id=3")
    feed = rss(
        [
            {"guid": "g-a", "title": "Live A", "link": live, "description": STORY},
            {"guid": "g-b", "title": "Live B", "link": live, "description": STORY},
            {"guid": "g-c", "title": "Live C", "link": tracked + "&utm_source=x", "description": STORY},
            {
                "guid": "g-d",
                "title": "Live D",
                "link": tracked + "&utm_source=y&fbclid=z",
                "description": STORY,
            },
        ]
    )
    server.add("/feed.xml", feed, content_type="application/rss+xml")
    summary, stats = run([server.url("/feed.xml")], db_path, fsettings)
    assert summary.status == "completed" and stats.new_entries == 4
    rows = table_rows(
        db_path,
        """SELECT source_ref, outcome, article_id IS NOT NULL FROM inputs
           WHERE parent_ref IS NOT NULL ORDER BY 1""",
    )
    assert len(rows) == 4 and len({r[0] for r in rows}) == 4  # one input each, distinct names
    outcomes = sorted(r[1] for r in rows)
    assert outcomes.count("duplicate") >= 2  # the second of each pair repeats the first
    assert all(r[2] for r in rows)
    assert any("#entry=g-b" in str(r[0]) for r in rows)
    assert table_rows(db_path, "SELECT count(*) FROM feed_entries") == [(4,)]
    _green(db_path)
    # Polled again (the body changed: one more entry): nothing is fetched or recorded twice.
    server.add(
        "/feed.xml",
        rss([{"guid": "g-e", "title": "New", "link": server.url("/art/new"), "description": STORY}]) + b"",
        content_type="application/rss+xml",
        etag="v2",
    )
    _, again = run([server.url("/feed.xml")], db_path, fsettings)
    _green(db_path)
    assert again.new_entries == 1


def test_one_guid_for_two_stories_keeps_both(server: FeedServer, db_path: Path, fsettings: Settings) -> None:
    server.add("/art/a", PAGE.replace("Live", "Story A").encode())
    server.add("/art/b", PAGE.replace("Live", "Story B").replace("ferry", "tram").encode())
    items = [
        {"guid": "same-guid", "title": "Story A", "link": server.url("/art/a?id=1"), "description": STORY},
        {"guid": "same-guid", "title": "Story B", "link": server.url("/art/b?id=2"), "description": STORY},
        # The same item listed twice: one entry, counted as a repeat.
        {"guid": "g-x", "title": "X", "link": server.url("/art/a?id=9"), "description": STORY},
        {"guid": "g-x", "title": "X", "link": server.url("/art/a?id=9"), "description": STORY},
    ]
    parsed = parse_feed(rss(items), url="http://example.com/feed")
    assert [e.title for e in parsed.entries] == ["Story A", "Story B", "X"] and parsed.repeated == 1
    assert len({e.key for e in parsed.entries}) == 3
    server.add("/feed.xml", rss(items), content_type="application/rss+xml")
    summary, stats = run([server.url("/feed.xml")], db_path, fsettings)
    assert summary.status == "completed"
    assert stats.entries_seen == 4 and stats.repeated_entries == 1 and stats.new_entries == 3
    titles = {r[0] for r in table_rows(db_path, "SELECT title FROM feed_entries")}
    assert titles == {"Story A", "Story B", "X"}
    assert table_rows(db_path, "SELECT count(*) FROM inputs WHERE parent_ref IS NOT NULL") == [(3,)]
    _green(db_path)
    # Next poll of the same body: every entry is known, none is fetched again.
    server.add("/feed.xml", rss(items), content_type="application/rss+xml", etag="v2")
    _, again = run([server.url("/feed.xml")], db_path, fsettings)
    assert again.new_entries == 0
