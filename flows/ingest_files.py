"""Flow ``ingest-files``: files and directories -> articles in DuckDB.

Tasks work on whole batches (hundreds of documents), never one article: the Prefect API
records a few dozen task runs per second, far fewer than articles we extract.
"""

from __future__ import annotations

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
from newsetl.models import BatchReport, Processed
from newsetl.pipeline.engine import FILES_FLOW, Batch, FileIngest
from newsetl.settings import Settings


@task(name="extract-batch", cache_policy=NO_CACHE)
def extract_batch(job: FileIngest, batch: Batch) -> list[Processed]:
    """Skip unchanged files and extract the rest on all cores (CPU-bound: no retries)."""
    return job.extract(batch)


@task(name="load-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=retry_if_transient)  # fmt: skip
def load_batch(job: FileIngest, processed: list[Processed]) -> BatchReport:
    """One transaction per batch; retried only when the warehouse stayed locked."""
    report = job.load(processed)
    get_run_logger().info("batch loaded: %s", ", ".join(f"{k}={v}" for k, v in report.counts.items() if v))
    return report


@flow(name=FILES_FLOW, log_prints=True)
def ingest_files(
    paths: list[str],
    db: str | None = None,
    batch_size: int = 500,
    workers: int | None = None,
) -> dict[str, Any]:
    """Ingest HTML (any charset, gzipped or not) and plain-text articles.

    Args:
        paths: Files or directories (searched recursively).
        db: DuckDB file; default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        batch_size: Documents per extract/load batch (one transaction per batch).
        workers: Extraction processes; default the number of CPU cores.
    """
    logger = get_run_logger()
    settings = Settings.from_env(db_path=db, batch_size=batch_size, workers=workers)
    with FileIngest(paths, settings, run_id=current_run_id()) as job:
        logger.info("ingesting %s into %s with %d workers", paths, settings.db_path, settings.workers)
        pending = None
        for batch in job.batches():
            future = extract_batch.submit(job, batch)
            if pending is not None:
                load_batch(job, pending.result())
            pending = future
        if pending is not None:
            load_batch(job, pending.result())
        summary = job.finish()
    search_note = refresh_search(settings)
    audit = audit_after_run(settings, summary.run_id)
    publish_summary(summary, audit, f"\n{search_note}\n")
    logger.info("run %s: %s", summary.status, summary.report.counts)
    return summary_dict(summary, audit)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(ingest_files(paths=sys.argv[1:] or ["examples"]))
