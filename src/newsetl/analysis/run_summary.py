"""A finished run in words: the summary dict the CLI prints (``--json``) and the markdown of
the run's Prefect artifact. Pure functions over :class:`RunSummary` and the audit report;
``flows/_common.py`` publishes them."""

from __future__ import annotations

from typing import Any

from newsetl.analysis.audit import AuditReport
from newsetl.models import RunSummary


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
        "top_skipped": [{"stage": s, "reason": r, "count": n} for s, r, n in summary.top_skipped],
        "audit": [{"check": f.check, "ok": f.ok, "detail": f.detail} for f in audit.findings]
        if audit
        else [],
        "stats": dict(summary.extra),
    }


def extra_markdown(stats: dict[str, int], title: str) -> str:
    if not stats:
        return ""
    rows = "\n".join(f"| {k.replace('_', ' ')} | {v} |" for k, v in stats.items())
    return f"\n### {title.capitalize()}\n\n| | count |\n|---|---|\n{rows}\n"


def summary_markdown(summary: RunSummary, audit: AuditReport | None = None, extra_markdown: str = "") -> str:
    """The artifact: status, counts, top rejection reasons, what was skipped, the audit."""
    reasons = "\n".join(f"| {s} | {r} | {n} |" for s, r, n in summary.top_reasons) or "| - | none | 0 |"
    counts = " · ".join(f"{k} **{v}**" for k, v in summary.report.counts.items())
    skipped = (
        "\n### Skipped (not articles)\n\n| stage | reason | count |\n|---|---|---|\n"
        + "\n".join(f"| {s} | {r} | {n} |" for s, r, n in summary.top_skipped)
        + "\n"
        if summary.top_skipped
        else ""
    )
    audited = (
        f"\n### Warehouse audit: {'ok' if audit.ok else 'FAILED'}\n\n{audit.markdown()}\n" if audit else ""
    )
    return (
        f"## {summary.flow} run `{summary.run_id}`\n\n"
        f"Status **{summary.status}** in {summary.seconds:.1f} s, "
        f"{summary.report.total} inputs: {counts}\n\n"
        f"Warehouse: `{summary.db_path}`\n\n"
        "### Top rejection reasons\n\n| stage | reason | count |\n|---|---|---|\n"
        f"{reasons}\n" + skipped + audited + extra_markdown
    )
