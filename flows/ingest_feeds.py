"""Flow ``ingest-feeds``: poll RSS/Atom/JSON feeds -> fetch new entries' pages -> articles."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._common import prefect_fetch_limit, run_flow
from newsetl.pipeline.shards import Shard
from newsetl.settings import Settings
from newsetl.sources.feeds import FEEDS_FLOW, FeedSource


@flow(name=FEEDS_FLOW, log_prints=True)
def ingest_feeds(
    urls: list[str] | None = None,
    db: str | None = None,
    all_feeds: bool = False,
    batch_size: int = 500,
    workers: int | None = None,
    allow_private_hosts: bool | None = None,
    fetch_pages: bool | None = None,
    respect_robots: bool | None = None,
    host_delay: float | None = None,
    shard: int = 0,
    shards: int = 1,
) -> dict[str, Any]:
    """Poll feeds and load their new entries as articles.

    Args:
        urls: Feeds to poll now (registered when new); none: every registered feed that is due.
        db: Warehouse (DuckDB file or ducklake:...); default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        all_feeds: Poll every registered feed, due or not.
        batch_size: Entries per load transaction.
        workers: Extraction processes; default the number of CPU cores.
        allow_private_hosts: Let links in feeds reach private/loopback addresses.
        fetch_pages: False: use the entries' own content, fetch no pages.
        respect_robots: Obey robots.txt for article pages (default: yes).
        host_delay: Minimum seconds between two requests to one host (default 1).
        shard: With ``shards`` > 1: poll only the feeds of this shard (0 … shards-1), chosen
            by a hash of the feed URL (docs/scale-out.md).
        shards: How many shards the feeds are split into (1: all of them).
    """
    part = Shard(shard, shards)
    settings = Settings.from_env(
        db=db,
        batch_size=batch_size,
        workers=workers,
        allow_private_hosts=allow_private_hosts,
        fetch_pages=fetch_pages,
        respect_robots=respect_robots,
        min_host_delay_s=host_delay,
    )
    source = FeedSource(
        urls or [],
        all_feeds=all_feeds,
        global_slot=prefect_fetch_limit(settings.web.fetch_limit),
        shard=part,
    )
    what = "polling feeds" + ("" if part.whole else f" (shard {part})")
    return run_flow(source, settings, what, stats_key="feeds")


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(ingest_feeds(urls=sys.argv[1:]))
