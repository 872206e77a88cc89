"""Helpers shared by the flow modules: run ids, retry policy and run-summary artifacts."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import FlowRunContext

from newsetl.analysis.audit import AuditReport, run_audit
from newsetl.analysis.search import refresh_after_run
from newsetl.errors import TransientError
from newsetl.models import RunSummary
from newsetl.settings import Settings


def current_run_id() -> str:
    """The Prefect flow-run id, so ``runs.run_id`` links straight to the Prefect UI."""
    ctx = FlowRunContext.get()
    if ctx is not None and ctx.flow_run is not None:
        return str(ctx.flow_run.id)
    return str(uuid.uuid4())


def retry_if_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry only errors that can go away by themselves (a lock, a timeout)."""
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


@task(name="audit-warehouse", cache_policy=NO_CACHE)
def audit_after_run(settings: Settings, run_id: str) -> AuditReport:
    """The ledger invariants, with the raw-archive check limited to this run's inputs."""
    report = run_audit(
        settings.db_path,
        settings.archive_dir,
        run_id=run_id,
        expect_archive=settings.archive_raw,
        timeout_s=settings.lock_timeout_s,
    )
    if not report.ok:
        failed = ", ".join(f.check for f in report.findings if not f.ok)
        get_run_logger().error("warehouse audit FAILED: %s", failed)
    return report


@task(name="refresh-search", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=[30],
      retry_condition_fn=retry_if_transient)  # fmt: skip
def refresh_search(settings: Settings) -> str:
    """Keep full-text search current after a run when the change is small (see search.py)."""
    report, pending = refresh_after_run(
        settings.db_path, max_pending=settings.search_refresh_max, timeout_s=settings.lock_timeout_s
    )
    if report is not None:
        message = f"search index refreshed: {pending} article(s) in {report.seconds:.1f} s"
    elif pending:
        message = (
            f"search index {pending} article(s) behind (more than {settings.search_refresh_max}): "
            "indexed by the nightly maintenance, `newsetl reindex` or the next `newsetl search`"
        )
    else:
        message = "search index current"
    get_run_logger().info(message)
    return message


def summary_dict(summary: RunSummary, audit: AuditReport | None = None) -> dict[str, Any]:
    return {
        "run_id": summary.run_id,
        "flow": summary.flow,
        "status": summary.status,
        "db": summary.db_path,
        "seconds": round(summary.seconds, 3),
        "counts": dict(summary.report.counts),
        "inputs": summary.report.total,
        "top_reasons": [{"stage": s, "reason": r, "count": n} for s, r, n in summary.top_reasons],
        "audit": [{"check": f.check, "ok": f.ok, "detail": f.detail} for f in audit.findings]
        if audit
        else [],
    }


def publish_summary(summary: RunSummary, audit: AuditReport | None = None, extra_markdown: str = "") -> None:
    """A table and a markdown artifact on the flow run: counts and top rejection reasons."""
    key = summary.flow.replace("_", "-")
    rows = [{"outcome": k, "count": v} for k, v in summary.report.counts.items()]
    rows.append({"outcome": "inputs", "count": summary.report.total})
    create_table_artifact(table=rows, key=f"{key}-counts", description=f"{summary.flow}: inputs by outcome")
    reasons = "\n".join(f"| {s} | {r} | {n} |" for s, r, n in summary.top_reasons) or "| - | none | 0 |"
    counts = " · ".join(f"{k} **{v}**" for k, v in summary.report.counts.items())
    create_markdown_artifact(
        key=f"{key}-summary",
        markdown=(
            f"## {summary.flow} run `{summary.run_id}`\n\n"
            f"Status **{summary.status}** in {summary.seconds:.1f} s, "
            f"{summary.report.total} inputs: {counts}\n\n"
            f"Warehouse: `{summary.db_path}`\n\n"
            "### Top rejection reasons\n\n| stage | reason | count |\n|---|---|---|\n"
            f"{reasons}\n"
            + (
                f"\n### Warehouse audit: {'ok' if audit.ok else 'FAILED'}\n\n{audit.markdown()}\n"
                if audit
                else ""
            )
            + extra_markdown
        ),
        description=f"{summary.flow} run summary",
    )
