"""Source health at the end of every flow run (and of maintenance): the drift check, one
Prefect event per new alert, and a markdown artifact that summarises the report.

Event ``newsetl.source.drift``, resource ``newsetl.source.<source_key>`` labelled with the
source, its type and the metric; payload: baseline, now, since, rule. A Prefect automation
can act on it (README, "Source health and drift alerts"). Resolved alerts emit
``newsetl.source.recovered`` on the same resource, so an automation can close what it opened.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from newsetl.analysis.health import check_sources
from newsetl.analysis.health_notes import RECOVERED_EVENT, drift_event, health_markdown
from newsetl.errors import NewsetlError
from newsetl.storage.base import Warehouse


@task(name="check-source-health", cache_policy=NO_CACHE)
def check_source_health(store: Warehouse, run_id: str | None = None) -> str:
    """Drift check against each source's baseline; events for new and recovered alerts.

    A check that cannot run (the warehouse stayed locked) is logged, not a failed flow run:
    the next run checks the same data again."""
    try:
        store.ensure_schema()  # cheap when current; maintenance may be the first to see 008
        check = check_sources(store, run_id=run_id)
    except NewsetlError as exc:
        get_run_logger().warning("source health not checked: %s", exc)
        return f"\n### Source health\n\nnot checked: {exc}\n"
    for alert in check.opened:
        emit_event(**drift_event(alert))
        get_run_logger().warning(
            "source drift: %s %s %.3g -> %.3g since %s", alert.source_key, alert.metric,
            alert.baseline, alert.now, alert.since,
        )  # fmt: skip
    for alert in check.resolved:
        emit_event(**drift_event(alert, RECOVERED_EVENT))
    return health_markdown(check, check.open_total)
