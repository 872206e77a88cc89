"""Flow ``maintenance``: nightly warehouse upkeep (see ``newsetl.analysis.maintenance``)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows._common import retry_if_transient
from flows._health import check_source_health
from newsetl.analysis.maintenance import MaintenanceReport, default_steps, run_maintenance
from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse


@task(name="maintain-warehouse", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[30, 120],
      retry_condition_fn=retry_if_transient)  # fmt: skip
def maintain(settings: Settings, fetch_log_retention_days: int) -> MaintenanceReport:
    """One task for all steps: each takes the warehouse only for its own duration."""
    store = open_warehouse(settings)
    return run_maintenance(store, default_steps(fetch_log_retention_days, settings, store))


@flow(name="maintenance")
def maintenance(db: str | None = None, fetch_log_retention_days: int = 30) -> dict[str, Any]:
    """Close abandoned runs, prune the fetch log and raw archive, refresh search and
    statistics, checkpoint or compact; then check source health (drift alerts, events).

    Args:
        db: Warehouse; default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        fetch_log_retention_days: Keep HTTP attempt rows (``fetches``) this many days.
    """
    settings = Settings.from_env(db=db)
    report = maintain(settings, fetch_log_retention_days)
    health_note = check_source_health(open_warehouse(settings))
    lines = "\n".join(f"| {s.name} | {s.seconds:.2f} | {s.detail} |" for s in report.steps)
    create_markdown_artifact(
        key="maintenance-summary",
        markdown=(
            f"## maintenance of `{report.db_path}`\n\n| step | seconds | result |\n|---|---|---|\n{lines}\n\n"
            f"Size: {report.size_before / 1e6:.1f} MB before, {report.size_after / 1e6:.1f} MB after.\n"
            f"{health_note}"
        ),
        description="maintenance steps and their results",
    )
    for s in report.steps:
        get_run_logger().info("%s (%.2f s): %s", s.name, s.seconds, s.detail)
    return {
        "db": report.db_path,
        "steps": [{"name": s.name, "seconds": s.seconds, "detail": s.detail} for s in report.steps],
        "size_before": report.size_before,
        "size_after": report.size_after,
    }
