"""Source health at the end of every flow run (and of maintenance): the drift check, one
Prefect event per new alert, and a markdown artifact that summarises the report.

Event ``newsetl.source.drift``, resource ``newsetl.source.<source_key>`` labelled with the
source, its type and the metric; payload: baseline, now, since, rule. A Prefect automation
can act on it (README, "Source health and drift alerts"). Resolved alerts emit
``newsetl.source.recovered`` on the same resource, so an automation can close what it opened.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from newsetl.analysis.health import Alert, HealthCheck, check_sources
from newsetl.errors import NewsetlError
from newsetl.storage.base import Warehouse

DRIFT_EVENT = "newsetl.source.drift"
RECOVERED_EVENT = "newsetl.source.recovered"


def drift_event(alert: Alert, event: str = DRIFT_EVENT) -> dict[str, Any]:
    """The arguments of :func:`prefect.events.emit_event` for ``alert``."""
    return {
        "event": event,
        "resource": {
            "prefect.resource.id": f"newsetl.source.{alert.source_key}",
            "prefect.resource.name": alert.source,
            "newsetl.source": alert.source,
            "newsetl.source.type": alert.source_type,
            "newsetl.metric": alert.metric,
        },
        "payload": {
            "alert_id": alert.alert_id,
            "metric": alert.metric,
            "rule": alert.rule,
            "baseline": alert.baseline,
            "now": alert.now,
            "since": alert.since.isoformat(),
        },
    }


def health_markdown(check: HealthCheck, open_total: int) -> str:
    """The run's health in a few lines: what opened, what cleared, how many stay open."""
    lines = [f"\n### Source health: {open_total} open drift alert(s)\n"]
    if check.opened or check.resolved:
        lines += ["| | source | metric | baseline | now | since |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {what} | `{a.source_key}` | {a.metric} | {a.baseline:.3g} | {a.now:.3g} | {a.since} |"
            for what, alerts in (("new", check.opened), ("recovered", check.resolved))
            for a in alerts
        ]
    else:
        lines.append("No alert opened or cleared by this run.")
    if check.today:
        lines += [f"\n#### Sources today ({check.checked_at:%Y-%m-%d}, UTC)\n",
                  "| domain | articles | rejected | median words | dated | bylines | feed text |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {r['source']} | {r['articles']} | {r['rejected']} | {_num(r['median_words'])} "
            f"| {_pct(r['date_share'])} | {_pct(r['authors_share'])} | {_pct(r['feed_text_share'])} |"
            for r in check.today
        ]
    lines.append("\n`newsetl health` lists them; `newsetl report --out report.html` charts every source.\n")
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.0f}"


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.0f}%"


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
