"""Flows ``replay-rejects`` and ``reprocess``: re-run archived inputs (newsetl.sources.archive)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows._common import run_flow
from newsetl.settings import Settings
from newsetl.sources.archive.source import (
    REPLAY_FLOW,
    REPROCESS_FLOW,
    ArchiveSource,
    select_outdated,
    select_rejects,
)
from newsetl.storage.backends import open_warehouse


def _run(source: ArchiveSource, settings: Settings) -> dict[str, Any]:
    result = run_flow(source, settings)
    changes = sorted(source.changes, key=lambda c: abs(c.words_after - c.words_before), reverse=True)
    result["changed"] = [
        {"article_id": c.article_id, "title": c.title, "words_before": c.words_before,
         "words_after": c.words_after}
        for c in changes
    ]  # fmt: skip
    result["article_id_changes"] = source.id_changes
    return result


@flow(name=REPLAY_FLOW)
def replay_rejects(
    db: str | None = None, stage: str | None = None, reason: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Re-run rejected inputs from the raw archive (e.g. after fixing a bug or a limit).

    Args:
        db: Warehouse; default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        stage: Only rejections at this stage (decode, extract, ...).
        reason: Only rejections whose reason contains this text (case-insensitive).
        limit: At most this many inputs.
    """
    settings = Settings.from_env(db=db)
    store = open_warehouse(settings)
    store.ensure_schema()
    with store.session(read_only=True) as conn:
        items, unreplayable = select_rejects(conn, stage=stage, reason=reason, limit=limit)
    get_run_logger().info(
        "%d rejected input(s) to replay, %d without archived bytes", len(items), unreplayable
    )
    source = ArchiveSource(items, REPLAY_FLOW, {"stage": stage, "reason": reason})
    return {**_run(source, settings), "unreplayable": unreplayable}


@flow(name=REPROCESS_FLOW)
def reprocess(db: str | None = None, everything: bool = False, limit: int | None = None) -> dict[str, Any]:
    """Re-extract archived inputs with the current extractor; changes become new versions.

    Args:
        db: Warehouse; default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        everything: Re-extract every archived article, not only those from another extractor version.
        limit: At most this many articles.
    """
    settings = Settings.from_env(db=db)
    store = open_warehouse(settings)
    store.ensure_schema()
    with store.session(read_only=True) as conn:
        items = select_outdated(conn, everything=everything, limit=limit)
    get_run_logger().info("%d article(s) to re-extract", len(items))
    return _run(ArchiveSource(items, REPROCESS_FLOW, {"everything": everything}), settings)
