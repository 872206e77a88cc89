"""Flow ``ingest-feeds``: poll RSS/Atom/JSON feeds -> fetch new entries' pages -> articles in DuckDB.

Tasks work on batches (up to a few hundred feeds per poll, up to ``batch_size`` entries per
load), never on one feed or one entry. Network retries happen inside the fetcher, per
request, for transient errors only; the load task is retried only when the warehouse
stayed locked.
"""

from __future__ import annotations

import os
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows._common import (
    audit_after_run,
    current_run_id,
    publish_summary,
    refresh_search,
    retry_if_transient,
    summary_dict,
)
from newsetl.models import BatchReport
from newsetl.settings import Settings
from newsetl.sources.feeds.ingest import FEEDS_FLOW, Chunk, EntryResult, FeedIngest, PageTask
from newsetl.sources.feeds.registry import FeedRow
from newsetl.web.politeness import GlobalSlot
from newsetl.web.settings import FeedSettings


@task(name="poll-feeds", cache_policy=NO_CACHE)
def poll_feeds(job: FeedIngest, batch: list[FeedRow]) -> list[Chunk]:
    """Conditional GETs for a batch of feeds (I/O); new entries cut into load chunks."""
    return job.poll(batch)


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_page_batch(job: FeedIngest, chunk: Chunk) -> list[PageTask]:
    """The new entries' pages, politely (I/O; per-request retries are inside)."""
    return job.fetch_pages(chunk)


@task(name="extract-pages", cache_policy=NO_CACHE)
def extract_pages(job: FeedIngest, tasks: list[PageTask]) -> list[EntryResult]:
    """Same extraction as files, on all cores (CPU-bound: no retries)."""
    return job.extract(tasks)


@task(name="load-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=retry_if_transient)  # fmt: skip
def load_batch(job: FeedIngest, chunk: Chunk, results: list[EntryResult]) -> BatchReport:
    """Entries + articles + feed state in one transaction; retried only on a held lock."""
    report = job.load(chunk, results)
    get_run_logger().info("batch loaded: %s", ", ".join(f"{k}={v}" for k, v in report.counts.items() if v))
    return report


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
) -> dict[str, Any]:
    """Poll feeds and load their new entries as articles.

    Args:
        urls: Feeds to poll now (registered when new); none: every registered feed that is due.
        db: DuckDB file; default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        all_feeds: Poll every registered feed, due or not.
        batch_size: Entries per load transaction.
        workers: Extraction processes; default the number of CPU cores.
        allow_private_hosts: Let links in feeds reach private/loopback addresses.
        fetch_pages: False: use the entries' own content, fetch no pages.
        respect_robots: Obey robots.txt for article pages (default: yes).
        host_delay: Minimum seconds between two requests to one host (default 1).
    """
    logger = get_run_logger()
    settings = Settings.from_env(db_path=db, batch_size=batch_size, workers=workers)
    feed_settings = FeedSettings.from_env(
        allow_private_hosts=allow_private_hosts,
        fetch_pages=fetch_pages,
        respect_robots=respect_robots,
        min_host_delay_s=host_delay,
    )
    with FeedIngest(
        urls or [],
        settings,
        feed_settings,
        run_id=current_run_id(),
        all_feeds=all_feeds,
        global_slot=prefect_fetch_limit(),
    ) as job:
        logger.info("polling %d feeds into %s", len(job.feeds), settings.db_path)
        for batch in job.feed_batches():
            chunks = poll_feeds(job, batch)
            # Fetch the next chunk's pages (I/O) while this one is extracted (CPU) and loaded.
            pending = fetch_page_batch.submit(job, chunks[0]) if chunks[0].needs_pages else None
            for i, chunk in enumerate(chunks):
                tasks = pending.result() if pending is not None else []
                nxt = chunks[i + 1] if i + 1 < len(chunks) else None
                pending = fetch_page_batch.submit(job, nxt) if nxt is not None and nxt.needs_pages else None
                results = extract_pages(job, tasks) if tasks else []
                load_batch(job, chunk, results)
        summary = job.finish()
        stats = job.stats.as_dict()
    search_note = refresh_search(settings)
    audit = audit_after_run(settings, summary.run_id)
    publish_summary(summary, audit, _stats_markdown(stats) + f"\n{search_note}\n")
    logger.info("run %s: %s; feeds %s", summary.status, summary.report.counts, stats)
    return {**summary_dict(summary, audit), "feeds": stats}


def prefect_fetch_limit() -> GlobalSlot | None:
    """A slot of the Prefect global concurrency limit named by ``NEWSETL_FETCH_LIMIT``.

    Deployments set it (``make deploy`` creates the limit); ``strict``: a missing limit fails
    the request loudly instead of silently fetching without the shared ceiling.
    """
    name = os.environ.get("NEWSETL_FETCH_LIMIT")
    if not name:
        return None
    from prefect.concurrency.sync import concurrency

    return lambda: concurrency(name, occupy=1, strict=True)


def _stats_markdown(stats: dict[str, int]) -> str:
    rows = "\n".join(f"| {k.replace('_', ' ')} | {v} |" for k, v in stats.items())
    return f"\n### Feeds\n\n| | count |\n|---|---|\n{rows}\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(ingest_feeds(urls=sys.argv[1:]))
