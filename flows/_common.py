"""The one shape of every newsetl flow: a source driven by the engine, batch-level tasks.

``run_flow(source, settings)`` opens the run, hands the engine Prefect tasks for the two
batch stages (``extract-batch``: the source's I/O plus extraction on the worker pool;
``load-batch``: one transaction, retried only when the warehouse stayed busy), then
refreshes search, audits the run and publishes its summary as artifacts.
"""

from __future__ import annotations

from typing import Any

from prefect import Task, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import FlowRunContext
from prefect.utilities.annotations import quote

from flows._health import check_source_health
from newsetl.analysis.audit import AuditReport, run_audit
from newsetl.analysis.run_summary import extra_markdown, summary_dict, summary_markdown
from newsetl.analysis.search_index import refresh_after_run
from newsetl.errors import TransientError
from newsetl.models import BatchReport, Processed, RunSummary
from newsetl.pipeline.engine import Run, drive, new_run_id
from newsetl.pipeline.source import Batch, Source
from newsetl.settings import Settings
from newsetl.storage.base import Warehouse
from newsetl.storage.raw_archive import archive_root
from newsetl.web.politeness import GlobalSlot


def current_run_id() -> str:
    """The Prefect flow-run id, so ``runs.run_id`` links straight to the Prefect UI."""
    ctx = FlowRunContext.get()
    if ctx is not None and ctx.flow_run is not None:
        return str(ctx.flow_run.id)
    return new_run_id()


def retry_if_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry only errors that can go away by themselves (a lock, a conflicting commit)."""
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


@task(name="extract-batch", cache_policy=NO_CACHE)
def extract_batch(run: Run, batch: Batch) -> list[Processed]:
    """The batch's I/O (pages to fetch) and extraction on all cores (no retries: CPU)."""
    return run.extract(batch)


@task(name="load-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=retry_if_transient)  # fmt: skip
def load_batch(run: Run, batch: Batch, processed: list[Processed]) -> BatchReport:
    """One transaction per batch; retried only when the warehouse stayed busy."""
    report = run.load(batch, processed)
    get_run_logger().info("batch loaded: %s", ", ".join(f"{k}={v}" for k, v in report.counts.items() if v))
    return report


@task(name="refresh-search", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=[30],
      retry_condition_fn=retry_if_transient)  # fmt: skip
def refresh_search(store: Warehouse, settings: Settings) -> str:
    """Keep full-text search current after a run when the change is small (see search.py)."""
    limit = settings.search.search_refresh_max
    report, pending = refresh_after_run(store, max_pending=limit)
    if report is not None:
        message = f"search index refreshed: {pending} article(s) in {report.seconds:.1f} s"
    elif pending:
        message = (
            f"search index {pending} article(s) behind (more than {limit}): "
            "indexed by the nightly maintenance, `newsetl reindex` or the next `newsetl search`"
        )
    else:
        message = "search index current"
    get_run_logger().info(message)
    return message


@task(name="audit-warehouse", cache_policy=NO_CACHE)
def audit_after_run(store: Warehouse, settings: Settings, run_id: str) -> AuditReport:
    """The ledger invariants, with the raw-archive check limited to this run's inputs."""
    report = run_audit(
        store, archive_root(settings), run_id=run_id, expect_archive=settings.archive.archive_raw
    )
    if not report.ok:
        failed = ", ".join(f.check for f in report.findings if not f.ok)
        get_run_logger().error("warehouse audit FAILED: %s", failed)
    return report


def prefect_fetch_limit(name: str | None) -> GlobalSlot | None:
    """A slot of the Prefect global concurrency limit ``name`` (``NEWSETL_FETCH_LIMIT``).

    Deployments set it (``make deploy`` creates the limit); ``strict``: a missing limit fails
    the request loudly instead of silently fetching without the shared ceiling.
    """
    if not name:
        return None
    from prefect.concurrency.sync import concurrency

    return lambda: concurrency(name, occupy=1, strict=True)


def run_flow(
    source: Source, settings: Settings, describe: str = "", stats_key: str = "stats"
) -> dict[str, Any]:
    """Run ``source`` in the current flow run; the summary dict the CLI prints (the source's
    own counts under ``stats_key``)."""
    logger = get_run_logger()
    with Run(source, settings, run_id=current_run_id()) as run:
        logger.info(
            "%s into %s with %d workers", describe or source.flow, run.store.describe(), settings.workers
        )
        summary = drive(
            run,
            # quote(): Prefect would otherwise walk every item of a batch (and every field of
            # every result) looking for futures, for each task run.
            submit=lambda batch: extract_batch.submit(quote(run), quote(batch), return_state=False),
            load=lambda batch, processed: load_batch(
                quote(run), quote(batch), quote(processed), return_state=False
            ),
        )
    search_note = refresh_search(run.store, settings)
    audit = audit_after_run(run.store, settings, summary.run_id)
    health_note = check_source_health(run.store, summary.run_id)
    extra = extra_markdown(summary.extra, stats_key) + f"\n{search_note}\n{health_note}"
    publish_summary(summary, audit, extra)
    logger.info("run %s: %s %s", summary.status, summary.report.counts, summary.extra or "")
    result = summary_dict(summary, audit)
    result[stats_key] = result.pop("stats")
    return result


def publish_summary(summary: RunSummary, audit: AuditReport | None = None, extra_markdown: str = "") -> None:
    """A table and a markdown artifact on the flow run: counts and top rejection reasons."""
    key = summary.flow.replace("_", "-")
    rows = [{"outcome": k, "count": v} for k, v in summary.report.counts.items()]
    rows.append({"outcome": "inputs", "count": summary.report.total})
    create_table_artifact(table=rows, key=f"{key}-counts", description=f"{summary.flow}: inputs by outcome")
    create_markdown_artifact(
        key=f"{key}-summary",
        markdown=summary_markdown(summary, audit, extra_markdown),
        description=f"{summary.flow} run summary",
    )
