"""Flows ``replay-rejects`` and ``reprocess``: re-run archived inputs (see newsetl.sources.archive.replay)."""

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
from newsetl.settings import Settings
from newsetl.sources.archive.replay import (
    REPLAY_FLOW,
    REPROCESS_FLOW,
    ArchivedInput,
    ArchiveRun,
    select_outdated,
    select_rejects,
)
from newsetl.storage.duckdb_file import ensure_schema, session


@task(name="extract-archived-batch", cache_policy=NO_CACHE)
def extract_batch(job: ArchiveRun, batch: list[ArchivedInput]) -> list[Processed]:
    return job.extract(batch)


@task(name="load-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=retry_if_transient)  # fmt: skip
def load_batch(job: ArchiveRun, batch: list[ArchivedInput], processed: list[Processed]) -> BatchReport:
    return job.load(batch, processed)


def _run(job: ArchiveRun, extra: str = "") -> dict[str, Any]:
    with job:
        for batch in job.batches():
            load_batch(job, batch, extract_batch(job, batch))
        summary = job.finish()
    search_note = refresh_search(job.settings)
    audit = audit_after_run(job.settings, summary.run_id)
    changes = sorted(job.changes, key=lambda c: abs(c.words_after - c.words_before), reverse=True)
    table = "\n".join(
        f"| `{c.article_id}` | {c.title or ''} | {c.words_before} | {c.words_after} |" for c in changes[:20]
    )
    changed_md = (
        f"\n### Changed articles ({len(changes)}; {job.id_changes} got a new article id)\n\n"
        f"| article | title | words before | words after |\n|---|---|---|---|\n{table}\n"
        if changes or job.id_changes
        else "\n### No article changed\n"
    )
    publish_summary(summary, audit, extra + changed_md + f"\n{search_note}\n")
    result = summary_dict(summary, audit)
    result["changed"] = [
        {
            "article_id": c.article_id,
            "title": c.title,
            "words_before": c.words_before,
            "words_after": c.words_after,
        }
        for c in changes
    ]
    result["article_id_changes"] = job.id_changes
    return result


@flow(name=REPLAY_FLOW)
def replay_rejects(
    db: str | None = None, stage: str | None = None, reason: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Re-run rejected inputs from the raw archive (e.g. after fixing a bug or a limit).

    Args:
        db: DuckDB file; default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        stage: Only rejections at this stage (decode, extract, ...).
        reason: Only rejections whose reason contains this text (case-insensitive).
        limit: At most this many inputs.
    """
    settings = Settings.from_env(db_path=db)
    ensure_schema(settings.db_path, timeout_s=settings.lock_timeout_s)
    with session(settings.db_path, timeout_s=settings.lock_timeout_s) as conn:
        items, unreplayable = select_rejects(conn, stage=stage, reason=reason, limit=limit)
    get_run_logger().info(
        "%d rejected input(s) to replay, %d without archived bytes", len(items), unreplayable
    )
    job = ArchiveRun(items, settings, REPLAY_FLOW, run_id=current_run_id(),
                     parameters={"stage": stage, "reason": reason})  # fmt: skip
    result = _run(job, f"\n{unreplayable} matching rejection(s) have no archived bytes (never read).\n")
    result["unreplayable"] = unreplayable
    return result


@flow(name=REPROCESS_FLOW)
def reprocess(db: str | None = None, everything: bool = False, limit: int | None = None) -> dict[str, Any]:
    """Re-extract archived inputs with the current extractor; changes become new versions.

    Args:
        db: DuckDB file; default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        everything: Re-extract every archived article, not only those from another extractor version.
        limit: At most this many articles.
    """
    settings = Settings.from_env(db_path=db)
    ensure_schema(settings.db_path, timeout_s=settings.lock_timeout_s)
    with session(settings.db_path, timeout_s=settings.lock_timeout_s) as conn:
        items = select_outdated(conn, everything=everything, limit=limit)
    get_run_logger().info("%d article(s) to re-extract", len(items))
    job = ArchiveRun(
        items, settings, REPROCESS_FLOW, run_id=current_run_id(), parameters={"everything": everything}
    )
    return _run(job)
