"""The report as one HTML file: inline CSS and hand-written inline SVG charts, no script, no
font, no image, no link to anything outside the file (it opens offline, from a mail
attachment or an artifact store, and cannot break when a CDN changes).

Why no chart library: the charts are stacked bars, horizontal bars and sparklines, about
150 lines of SVG here; a JavaScript library inlined into every report would weigh 200 kB to
1 MB, need pinning and updating, and bring a script (and its console errors) to a page
that needs none. Tooltips are SVG ``<title>`` elements, which browsers show natively.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from newsetl.analysis.report import ReportData, gather
from newsetl.storage.base import Warehouse

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f")  # fmt: skip
OTHER = "#bab0ac"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;
background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#5b6470}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px}.card.bad b{color:#c0392b}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 16px;margin-bottom:16px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff2;vertical-align:top}
th{color:#5b6470;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.url{max-width:360px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ok{color:#2e7d32}.failing{color:#c0392b;font-weight:600}.new{color:#5b6470}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:4px 0 0}
.legend i{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
.empty{color:#5b6470;font-style:italic}svg{display:block;max-width:100%;height:auto}
"""


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _colors(names: Sequence[str]) -> dict[str, str]:
    return {n: OTHER if n == "other" else PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _legend(colors: dict[str, str]) -> str:
    items = "".join(f'<span><i style="background:{c}"></i>{escape(n)}</span>' for n, c in colors.items())
    return f'<div class="legend">{items}</div>'


def _nice_max(v: int) -> int:
    if v <= 5:
        return 5
    step = 10 ** (len(str(v)) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * step:
            return int(m * step)
    return v


def stacked_bars(days: list[date], series: dict[str, list[int]], label: str, height: int = 220) -> str:
    """Bars per day, one colour per series, stacked; an empty note when there is nothing."""
    if not series or not any(sum(v) for v in series.values()):
        return f'<p class="empty">no {escape(label)} in this period</p>'
    width, left, bottom, top = 1040, 44, 22, 8
    totals = [sum(s[i] for s in series.values()) for i in range(len(days))]
    ymax = _nice_max(max(totals))
    plot_w, plot_h = width - left - 8, height - bottom - top
    bw = plot_w / max(len(days), 1)
    colors = _colors(list(series))
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
             'xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceff2"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#5b6470">{ymax * k / 4:g}</text>')  # fmt: skip
    step = max(1, len(days) // 10)
    for i, d in enumerate(days):
        x = left + i * bw
        y = top + plot_h
        for name, values in series.items():
            v = values[i]
            if not v:
                continue
            h = plot_h * v / ymax
            y -= h
            parts.append(
                f'<rect x="{x + bw * 0.1:.1f}" y="{y:.1f}" width="{bw * 0.8:.1f}" height="{h:.1f}" '
                f'fill="{colors[name]}"><title>{d.isoformat()} · {escape(name)}: {v}</title></rect>'
            )
        if i % step == 0:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle" '
                         f'fill="#5b6470">{d.strftime("%m-%d")}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts) + _legend(colors)


def hbars(
    items: list[tuple[str, float, str]],
    height_per: int = 22,
    value_fmt: str = "{:.0f}",
    colors: dict[str, str] | None = None,
) -> str:
    """Horizontal bars: (label, value, tooltip); ``colors`` by label (default: blue)."""
    if not items:
        return '<p class="empty">nothing to show</p>'
    width, label_w = 1040, 420
    vmax = max(v for _, v, _ in items) or 1
    height = height_per * len(items) + 4
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value, tip) in enumerate(items):
        y = 2 + i * height_per
        w = (width - label_w - 60) * value / vmax
        short = label if len(label) <= 60 else label[:59] + "…"
        parts.append(
            f"<g><title>{escape(tip)}</title>"
            f'<text x="{label_w - 8}" y="{y + 15}" font-size="12" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{height_per - 6}" '
            f'fill="{(colors or {}).get(label, PALETTE[0])}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{value_fmt.format(value)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(points: list[tuple[date, Any]], baseline: float | None = None) -> str:
    values = [float(v) for _, v in points if v is not None]
    if len(values) < 2:
        return ""
    w, h = 160, 32
    lo, hi = min([*values, baseline or values[0]]), max([*values, baseline or values[0]])
    span = (hi - lo) or 1.0
    xs = [w * i / (len(values) - 1) for i in range(len(values))]
    ys = [h - 3 - (h - 6) * (v - lo) / span for v in values]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    base = ""
    if baseline is not None:
        by = h - 3 - (h - 6) * (baseline - lo) / span
        base = f'<line x1="0" x2="{w}" y1="{by:.1f}" y2="{by:.1f}" stroke="#9aa3ad" stroke-dasharray="3 3"/>'
    return (
        f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">{base}'
        f'<polyline points="{path}" fill="none" stroke="{PALETTE[3]}" stroke-width="1.5"/></svg>'
    )


def _share_cell(v: Any) -> str:
    if v is None:
        return "<td></td>"
    f = float(v)
    hue = int(120 * f)  # red (0) .. green (1)
    return f'<td class="n" style="background:hsl({hue},60%,88%)">{f * 100:.0f}%</td>'


def _table(headers: Sequence[str], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _alerts(data: ReportData) -> str:
    if not data.alerts:
        return '<p class="ok">No open drift alerts: every source looks like its own recent past.</p>'
    rows = [
        f"<tr><td>{escape(a['source_key'])}</td><td>{escape(a['metric'])}</td><td>{escape(a['rule'])}</td>"
        f'<td class="n">{_fmt(a["baseline"])}</td><td class="n">{_fmt(a["now"])}</td>'
        f"<td>{_fmt(a['since'])}</td><td>{sparkline(a['trend'], a['baseline'])}</td></tr>"
        for a in data.alerts
    ]
    return _table(
        ["source", "metric", "what", "baseline", "now", "since", "per day (dashed: baseline)"], rows
    )


def _feeds(data: ReportData) -> str:
    if not data.feeds:
        return '<p class="empty">no feeds registered</p>'
    counts = " · ".join(f"{escape(k)} <b>{v}</b>" for k, v in sorted(data.feed_counts.items()))
    rows = [
        f"<tr><td>{escape(f['name'] or '')}</td>"
        f'<td class="url" title="{escape(f["url"])}">{escape(f["url"])}</td>'
        f'<td class="{escape(f["health"])}">{escape(f["health"])}</td>'
        f'<td class="n">{_fmt(f["last_status"])}</td>'
        f'<td class="n">{f["error_streak"]}</td><td>{_fmt(f["last_success_at"])}</td>'
        f'<td>{_fmt(f["next_check_at"])}</td><td class="n">{f["articles"]}</td>'
        f"<td>{escape((f['last_error'] or '')[:120])}</td></tr>"
        for f in data.feeds
    ]
    health_colors = {"ok": PALETTE[2], "failing": PALETTE[3], "new": OTHER}
    bars = hbars(
        [(k, float(v), f"{k}: {v} feed(s)") for k, v in sorted(data.feed_counts.items())],
        colors=health_colors,
    )
    return f"<p>{counts}</p>{bars}" + _table(
        ["name", "url", "health", "status", "errors", "last success", "next check", "articles", "last error"],
        rows,
    )


def _sitemaps(data: ReportData) -> str:
    if not data.sitemaps:
        return ""
    rows = [
        f"<tr><td>{escape(m['name'] or '')}</td>"
        f'<td class="url" title="{escape(m["url"])}">{escape(m["url"])}</td>'
        f'<td class="{escape(m["health"])}">{escape(m["health"])}</td><td class="n">{m["error_streak"]}</td>'
        f'<td class="n">{m["failing_documents"]}</td><td>{_fmt(m["last_success_at"])}</td>'
        f'<td>{_fmt(m["next_check_at"])}</td><td class="n">{m["urls"]}</td><td class="n">{m["articles"]}</td>'
        f"<td>{escape((m['last_error'] or '')[:120])}</td></tr>"
        for m in data.sitemaps
    ]
    head = ["name", "site or sitemap", "health", "errors", "failing docs", "last success", "next check",
            "URLs", "articles", "last error"]  # fmt: skip
    return "<h3>Sitemaps</h3>" + _table(head, rows)


def _completeness(data: ReportData) -> str:
    if not data.completeness:
        return '<p class="empty">no articles in this period</p>'
    rows = [
        f'<tr><td>{escape(c["source"])}</td><td class="n">{c["articles"]}</td>'
        f'<td class="n">{_fmt(c["median_words"], 0)}</td>'
        + "".join(_share_cell(c[k]) for k in ("title", "date", "authors", "language"))
        + f'<td class="n">{float(c["feed_text"] or 0) * 100:.0f}%</td></tr>'
        for c in data.completeness
    ]
    return _table(
        ["domain", "articles", "median words", "title", "date", "authors", "language", "feed text"], rows
    )


def _clusters(data: ReportData) -> str:
    items = [
        (c["title"] or c["cluster_id"], float(c["articles"]),
         f"{c['articles']} articles from {c['outlets']} outlet(s): {c['domains']}")
        for c in data.clusters
    ]  # fmt: skip
    return hbars(items)


def render_html(data: ReportData) -> str:
    t = data.totals
    open_alerts = len(data.alerts)
    failing = data.feed_counts.get("failing", 0)
    cards = [
        ("articles (all time)", t["articles"], False),
        ("inputs in period", t["inputs"], False),
        ("rejected in period", t["rejected"], False),
        ("runs in period", t["runs"], False),
        ("open drift alerts", open_alerts, open_alerts > 0),
        ("failing feeds", failing, failing > 0),
    ]
    card_html = "".join(
        f'<div class="card{" bad" if bad else ""}">{escape(k)}<b>{v}</b></div>' for k, v, bad in cards
    )
    period = f"{data.since.isoformat()} – {data.until.isoformat()}"
    sections = [
        ("Open drift alerts", _alerts(data)),
        ("Articles per day per source", stacked_bars(data.days, data.articles_by_source, "articles")),
        ("Rejections by reason", stacked_bars(data.days, data.rejections_by_reason, "rejections")),
        ("Feed and sitemap health", _feeds(data) + _sitemaps(data)),
        ("Metadata completeness per source", _completeness(data)),
        ("Largest story clusters", _clusters(data)),
    ]
    body = "".join(f"<section><h2>{escape(h)}</h2>{content}</section>" for h, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>newsetl report {escape(period)}</title><style>{CSS}</style></head><body><main>"
        f'<h1>newsetl report</h1><p class="meta">{escape(data.db)} · ingestion days {escape(period)} (UTC) · '
        f"generated {data.generated_at.strftime('%Y-%m-%d %H:%M')} UTC</p>"
        f'<div class="cards">{card_html}</div>{body}</main></body></html>\n'
    )


@dataclass(slots=True)
class Written:
    path: Path
    bytes: int
    days: int


def build_report(
    store: Warehouse, *, since: date | None = None, today: date | None = None
) -> tuple[ReportData, str]:
    """The report's data and its HTML (``since`` default: 30 days before ``today``)."""
    today = today or datetime.now(UTC).date()
    since = since or today - timedelta(days=29)
    since = min(since, today)
    store.ensure_schema()
    with store.session(read_only=True) as conn:
        data = gather(conn, since=since, until=today, db=store.describe())
    return data, render_html(data)


def write_report(
    store: Warehouse, path: Path, *, since: date | None = None, today: date | None = None
) -> Written:
    data, html = build_report(store, since=since, today=today)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return Written(path.resolve(), len(html.encode()), len(data.days))
