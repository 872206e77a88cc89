"""What a drift check tells the world: the Prefect event of an alert (plain arguments of
``prefect.events.emit_event``, so this module needs no Prefect) and the markdown a run's
summary artifact shows. Pure functions; ``flows/_health.py`` emits and publishes them.

Event ``newsetl.source.drift``, resource ``newsetl.source.<source_key>`` labelled with the
source, its type and the metric; payload: baseline, now, since, rule. Resolved alerts emit
``newsetl.source.recovered`` on the same resource, so an automation can close what it opened.
"""

from __future__ import annotations

from typing import Any

from newsetl.analysis.health import Alert, HealthCheck

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
