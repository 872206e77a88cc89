"""Helpers shared by the flow modules: run ids, retry policy and run-summary artifacts."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import Task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import FlowRunContext

from newsetl.errors import TransientError
from newsetl.models import RunSummary


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


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    return {
        "run_id": summary.run_id,
        "flow": summary.flow,
        "status": summary.status,
        "db": summary.db_path,
        "seconds": round(summary.seconds, 3),
        "counts": dict(summary.report.counts),
        "inputs": summary.report.total,
        "top_reasons": [{"stage": s, "reason": r, "count": n} for s, r, n in summary.top_reasons],
    }


def publish_summary(summary: RunSummary, extra_markdown: str = "") -> None:
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
            f"{reasons}\n{extra_markdown}"
        ),
        description=f"{summary.flow} run summary",
    )
