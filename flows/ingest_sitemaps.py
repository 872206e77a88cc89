"""Flow ``ingest-sitemaps``: sites and sitemaps (Google News too) -> new or changed URLs -> articles."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._common import prefect_fetch_limit, run_flow
from newsetl.settings import Settings
from newsetl.sources.sitemaps import SITEMAPS_FLOW, SitemapSource


@flow(name=SITEMAPS_FLOW, log_prints=True)
def ingest_sitemaps(
    urls: list[str] | None = None,
    db: str | None = None,
    all_sitemaps: bool = False,
    batch_size: int = 500,
    workers: int | None = None,
    allow_private_hosts: bool | None = None,
    respect_robots: bool | None = None,
    host_delay: float | None = None,
) -> dict[str, Any]:
    """Check sites and sitemaps and load the pages of new or changed URLs as articles.

    Args:
        urls: Sites (``https://host/``: found through robots.txt) or sitemap URLs to check now
            (registered when new); none: every registered one that is due.
        db: Warehouse (DuckDB file or ducklake:...); default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        all_sitemaps: Check every registered site and sitemap, due or not.
        batch_size: Pages per load transaction.
        workers: Extraction processes; default the number of CPU cores.
        allow_private_hosts: Let listed URLs on other hosts reach private/loopback addresses.
        respect_robots: Obey robots.txt for article pages (default: yes).
        host_delay: Minimum seconds between two requests to one host (default 1).
    """
    settings = Settings.from_env(
        db=db,
        batch_size=batch_size,
        workers=workers,
        allow_private_hosts=allow_private_hosts,
        respect_robots=respect_robots,
        min_host_delay_s=host_delay,
    )
    source = SitemapSource(
        urls or [], all_sitemaps=all_sitemaps, global_slot=prefect_fetch_limit(settings.web.fetch_limit)
    )
    return run_flow(source, settings, "checking sitemaps", stats_key="sitemaps")


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(ingest_sitemaps(urls=sys.argv[1:]))
