"""Flow ``ingest-urls``: a list of URLs (one a line, CSV or JSON Lines) -> pages -> articles."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._common import prefect_fetch_limit, run_flow
from newsetl.settings import Settings
from newsetl.sources.urls import URLS_FLOW, UrlListSource


@flow(name=URLS_FLOW, log_prints=True)
def ingest_urls(
    url_list: str,
    db: str | None = None,
    refresh: bool = False,
    batch_size: int = 500,
    workers: int | None = None,
    allow_private_hosts: bool | None = None,
    respect_robots: bool | None = None,
    host_delay: float | None = None,
) -> dict[str, Any]:
    """Fetch every URL of a list politely and load the pages as articles.

    Args:
        url_list: A file (one URL a line, CSV or JSON Lines with a ``url`` column); ``-``: stdin.
        db: Warehouse (DuckDB file or ducklake:...); default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        refresh: Fetch URLs already ingested again (unchanged bytes are not extracted again).
        batch_size: Pages per load transaction.
        workers: Extraction processes; default the number of CPU cores.
        allow_private_hosts: Let the URLs reach private/loopback addresses.
        respect_robots: Obey robots.txt (default: yes).
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
    source = UrlListSource(
        url_list, refresh=refresh, global_slot=prefect_fetch_limit(settings.web.fetch_limit)
    )
    return run_flow(source, settings, f"fetching the URLs of {url_list}", stats_key="urls")


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(ingest_urls(url_list=sys.argv[1] if len(sys.argv) > 1 else "-"))
