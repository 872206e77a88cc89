"""Feeds at scale: an unchanged poll costs the same per feed whatever the number of feeds.

Counted, not timed: warehouse connections and write transactions of the poll (each has a
fixed cost that grows with the warehouse, so a count that grows with the feed list makes
the poll quadratic), rows written, and TCP connections the server accepted.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import duckdb

from newsetl.pipeline.engine import Run, drive
from newsetl.settings import Settings
from newsetl.sources.feeds import FeedSource
from newsetl.storage.duckdb_file import DuckDBFile

from .conftest import fast_feed_settings
from .server import FeedServer

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<link>http://example.org/</link><description>d</description></channel></rss>"
)


class CountingFile(DuckDBFile):
    """The real DuckDB-file backend, counting what a run asks of it."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.sessions = 0
        self.writes = 0

    def session(self, *, read_only: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        # Sessions, not file openings: sessions of two threads that overlap share one opening.
        self.sessions += 1
        return super().session(read_only=read_only)

    def write(self, fn: Any) -> Any:
        self.writes += 1
        return super().write(fn)


def _poll(urls: list[str], settings: Settings) -> tuple[CountingFile, dict[str, int]]:
    store = CountingFile(settings.storage)
    with Run(FeedSource(urls), settings, store=store) as run:
        drive(run)
        return store, run.source.stats()


def _unchanged_poll(server: FeedServer, tmp_path: Path, n: int) -> tuple[CountingFile, int, int]:
    urls = [server.add(f"/n{n}/feed/{i}.xml", RSS, etag=f'"e{i}"') for i in range(n)]
    settings = fast_feed_settings(db=tmp_path / f"w{n}.duckdb", workers=0, feeds_per_batch=20)
    _poll(urls, settings)  # registers the feeds and learns their ETags
    before = server.connections
    store, stats = _poll(urls, settings)
    assert stats["feeds"] == n and stats["not_modified"] == n
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM fetches WHERE not_modified").fetchone()
    assert row is not None
    return store, server.connections - before, row[0]


def test_an_unchanged_poll_does_not_grow_per_feed(server: FeedServer, tmp_path: Path) -> None:
    """60 and 240 feeds (3 and 12 chunks of 20): the same number of warehouse connections
    and transactions, one fetch row per feed, and connections kept alive across 304s."""
    small, small_tcp, small_rows = _unchanged_poll(server, tmp_path, 60)
    large, large_tcp, large_rows = _unchanged_poll(server, tmp_path, 240)
    assert (small_rows, large_rows) == (60, 240)  # one request per feed, nothing more
    assert large.writes == small.writes <= 4, (small.writes, large.writes)  # start, states, finish
    assert large.sessions == small.sessions, (small.sessions, large.sessions)
    per_host = fast_feed_settings().web.per_host_concurrency
    # A 304 leaves the connection reusable: at most one per slot, not one per feed.
    assert small_tcp <= per_host and large_tcp <= per_host, (small_tcp, large_tcp)


def test_failed_polls_are_recorded_with_the_idle_feeds(server: FeedServer, tmp_path: Path) -> None:
    """Failing feeds ride in the shared state transaction: one rejected input each, and
    their error streak is stored."""
    ok = [server.add(f"/ok/{i}.xml", RSS, etag=f'"o{i}"') for i in range(30)]
    bad = [server.add(f"/bad/{i}.xml", b"gone", status=410) for i in range(5)]
    settings = fast_feed_settings(db=tmp_path / "w.duckdb", workers=0, feeds_per_batch=7)
    store, stats = _poll(ok + bad, settings)
    assert stats["failed"] == 5 and store.writes <= 4
    with duckdb.connect(str(settings.db), read_only=True) as conn:
        rejected = conn.execute("SELECT count(*) FROM inputs WHERE outcome = 'rejected'").fetchone()
        streaks = conn.execute("SELECT url, error_streak FROM feeds WHERE error_streak > 0").fetchall()
    assert rejected == (5,)
    assert sorted(u for u, _ in streaks) == sorted(bad)
