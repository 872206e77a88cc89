"""The feed registry (add, remove, OPML/plain import, export) and the polling schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import listparser
import pytest

from newsetl.settings import FeedSettings
from newsetl.sources.feeds.registry import (
    FeedUrlError,
    Subscription,
    add_feeds,
    due_feeds,
    export_opml,
    feed_health,
    next_check_error,
    next_check_ok,
    read_subscription_list,
    remove_feeds,
)

from ..helpers import store

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="News" title="News">
      <outline type="rss" text="heise online" title="heise online" xmlUrl="https://www.heise.de/rss/heise-atom.xml"
               htmlUrl="https://www.heise.de/"/>
      <outline type="rss" text="ORF" xmlUrl="HTTPS://RSS.ORF.AT:443/news.xml?utm_source=reader#top"/>
    </outline>
    <outline type="rss" text="Guardian" xmlUrl="https://www.theguardian.com/world/rss"/>
    <outline type="rss" text="broken" xmlUrl="javascript:alert(1)"/>
  </body>
</opml>
"""


def test_opml_and_plain_lists() -> None:
    subs = read_subscription_list(OPML)
    assert subs == [
        Subscription("https://www.heise.de/rss/heise-atom.xml", "heise online", "News"),
        Subscription("https://rss.orf.at/news.xml", "ORF", "News"),  # normalised identity
        Subscription("https://www.theguardian.com/world/rss", "Guardian", None),
    ]
    plain = b"# my feeds\nhttps://a.example/feed.xml\n\n  http://b.example/rss  # the b feed\n"
    assert [s.url for s in read_subscription_list(plain)] == [
        "https://a.example/feed.xml",
        "http://b.example/rss",
    ]
    with pytest.raises(FeedUrlError, match=r"line 2: not an http\(s\) URL: 'ftp://x/'"):
        read_subscription_list(b"https://a.example/feed\nftp://x/\n")


def test_add_list_remove(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    store(db).ensure_schema()
    with store(db).session() as conn:
        first = add_feeds(conn, read_subscription_list(OPML))
        assert [new for _, new in first] == [True, True, True]
        again = add_feeds(conn, [Subscription("https://rss.orf.at/news.xml", name="ORF News")])
        assert again == [("https://rss.orf.at/news.xml", False)]
        columns, rows = feed_health(conn)
        by_url = {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
        assert by_url["https://rss.orf.at/news.xml"]["name"] == "ORF News"
        assert {r["health"] for r in by_url.values()} == {"new"} and all(
            r["entries_seen"] == 0 for r in by_url.values()
        )
        assert len(due_feeds(conn, datetime.now(UTC))) == 3  # never checked: due now
        with pytest.raises(FeedUrlError):
            add_feeds(conn, [Subscription("file:///etc/passwd")])
        assert remove_feeds(conn, ["https://rss.orf.at/news.xml", "https://nope.example/"]) == [
            "https://rss.orf.at/news.xml"
        ]
        rows2 = conn.execute("SELECT url, name, category, site_url FROM feeds ORDER BY url").fetchall()
    exported = export_opml(rows2)
    parsed = listparser.parse(exported)
    assert sorted(f.url for f in parsed.feeds) == [r[0] for r in rows2]
    assert read_subscription_list(exported)[0].category in (None, "News")


def test_schedule_backs_off_exponentially_with_jitter_and_a_cap() -> None:
    s = FeedSettings(poll_interval_s=1800, error_backoff_base_s=900, max_backoff_s=86400)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for streak, low, high in [(1, 720, 1080), (2, 1440, 2160), (3, 2880, 4320), (8, 92160, 86400)]:
        lo = (next_check_error(now, s, streak, rng=lambda: 0.0) - now).total_seconds()
        hi = (next_check_error(now, s, streak, rng=lambda: 1.0) - now).total_seconds()
        assert lo == min(low, 86400) and hi == min(high, 86400)
    assert next_check_error(now, s, 50) - now == timedelta(hours=24)  # never beyond the cap
    # Retry-After is a floor, within the cap.
    assert (next_check_error(now, s, 1, retry_after_s=7200, rng=lambda: 0.5) - now).total_seconds() == 7200
    # Healthy: the interval, or the feed's longer <ttl>, ±10 %.
    assert (next_check_ok(now, s, None, rng=lambda: 0.5) - now).total_seconds() == 1800
    assert (next_check_ok(now, s, 7200, rng=lambda: 0.0) - now).total_seconds() == pytest.approx(6480)
    assert (next_check_ok(now, s, 10**7, rng=lambda: 0.5) - now).total_seconds() == 86400
