"""``newsetl report``: what the warehouse says about its sources, gathered in one read-only
session and written as one self-contained HTML file (:mod:`newsetl.analysis.report_html`).

Every number comes from the documented views (``source_daily``, ``source_inputs``,
``v_feed_health``, ``source_alerts``, ``story_clusters``), so the report shows what SQL
users see. Days are UTC days of ingestion. Rendering and writing: ``report_html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from newsetl.analysis.health import day_bounds, load_window, window_metrics

TOP_SOURCES = 8  # series in the per-source charts; the rest is "other"
TOP_REASONS = 6


@dataclass(slots=True)
class ReportData:
    db: str
    generated_at: datetime
    since: date
    until: date
    days: list[date]
    totals: dict[str, int]
    # per-day series: name -> values aligned with ``days``
    articles_by_source: dict[str, list[int]] = field(default_factory=dict)
    rejections_by_reason: dict[str, list[int]] = field(default_factory=dict)
    feed_counts: dict[str, int] = field(default_factory=dict)
    feeds: list[dict[str, Any]] = field(default_factory=list)
    sitemaps: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    completeness: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)


def _dicts(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params or [])
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _series(rows: list[tuple[str, date, int]], days: list[date], top: int) -> dict[str, list[int]]:
    """(name, day, n) rows as the ``top`` largest series plus 'other', aligned with ``days``."""
    totals: dict[str, int] = {}
    for name, _, n in rows:
        totals[name] = totals.get(name, 0) + n
    keep = [k for k, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    index = {d: i for i, d in enumerate(days)}
    out = {k: [0] * len(days) for k in keep}
    for name, day, n in rows:
        key = name if name in out else "other"
        out.setdefault(key, [0] * len(days))[index[day]] += n
    return out


def gather(conn: duckdb.DuckDBPyConnection, *, since: date, until: date, db: str = "") -> ReportData:
    """Everything the report shows, for ingestion days ``since``..``until``."""
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    tables = _tables(conn)
    lo, hi = day_bounds(since, until)
    window = [lo, hi]  # seen_at range: see health.day_bounds
    totals_row = conn.execute(
        """SELECT (SELECT count(*) FROM articles),
                  (SELECT count(*) FROM inputs WHERE seen_at >= ? AND seen_at < ?),
                  (SELECT count(*) FROM inputs WHERE outcome = 'rejected' AND seen_at >= ? AND seen_at < ?),
                  (SELECT count(*) FROM runs WHERE started_at >= ? AND started_at < ?)""",
        window * 3,
    ).fetchone() or (0, 0, 0, 0)
    data = ReportData(
        db=db, generated_at=datetime.now(UTC), since=since, until=until, days=days,
        totals=dict(zip(("articles", "inputs", "rejected", "runs"), map(int, totals_row), strict=True)),
    )  # fmt: skip
    rows = conn.execute(
        """SELECT source, day, count(*) FROM source_inputs
           WHERE source_type = 'domain' AND is_article AND seen_at >= ? AND seen_at < ? GROUP BY ALL""",
        window,
    ).fetchall()
    data.articles_by_source = _series([(str(s), d, int(n)) for s, d, n in rows], days, TOP_SOURCES)
    rows = conn.execute(
        """SELECT stage || ': ' || left(regexp_replace(reason, '[0-9]+', 'N', 'g'), 80),
                  CAST(seen_at AT TIME ZONE 'UTC' AS DATE) AS day, count(*)
           FROM inputs WHERE outcome = 'rejected' AND seen_at >= ? AND seen_at < ? GROUP BY ALL""",
        window,
    ).fetchall()
    data.rejections_by_reason = _series([(str(r), d, int(n)) for r, d, n in rows], days, TOP_REASONS)
    if "feeds" in tables:
        data.feeds = _dicts(
            conn,
            """SELECT name, url, health, last_status, last_outcome, error_streak, last_success_at,
                      next_check_at, entries_seen, articles, last_error
               FROM v_feed_health ORDER BY health = 'failing' DESC, error_streak DESC, url LIMIT 40""",
        )
        for h, n in conn.execute("SELECT health, count(*) FROM v_feed_health GROUP BY ALL").fetchall():
            data.feed_counts[str(h)] = int(n)
    if "sitemaps" in tables:
        data.sitemaps = _dicts(
            conn,
            """SELECT name, url, health, error_streak, failing_documents, last_success_at, next_check_at,
                      urls, articles, last_error
               FROM v_sitemap_health ORDER BY health = 'failing' DESC, error_streak DESC, url LIMIT 40""",
        )
    data.alerts = _dicts(
        conn,
        """SELECT alert_id, source_key, source_type, source, metric, rule, baseline, now, since, opened_at
           FROM source_alerts WHERE resolved_at IS NULL ORDER BY opened_at DESC, source_key, metric""",
    )
    if data.alerts:  # each alert's metric per day, for a sparkline
        keys = sorted({a["source_key"] for a in data.alerts})
        daily = window_metrics(load_window(conn, since, until, keys), by=("source_key", "day")).sort("day")
        for a in data.alerts:
            trend = daily.filter(pl.col("source_key") == a["source_key"]).select("day", a["metric"])
            a["trend"] = trend.rows()
    data.completeness = _dicts(
        conn,
        """SELECT source, count(*) AS articles, median(word_count) AS median_words,
                  avg(CAST(has_title AS INTEGER)) AS title, avg(CAST(has_date AS INTEGER)) AS date,
                  avg(CAST(has_authors AS INTEGER)) AS authors,
                  avg(CAST(has_language AS INTEGER)) AS language,
                  avg(CAST(feed_text AS INTEGER)) AS feed_text
           FROM source_inputs WHERE source_type = 'domain' AND is_article AND seen_at >= ? AND seen_at < ?
           GROUP BY source ORDER BY articles DESC, source LIMIT 25""",
        window,
    )
    data.clusters = _dicts(
        conn,
        """SELECT cluster_id, title, articles, outlets, array_to_string(domains, ', ') AS domains,
                  first_seen_at, last_seen_at
           FROM story_clusters
           WHERE CAST(last_seen_at AT TIME ZONE 'UTC' AS DATE) >= ?
           ORDER BY articles DESC, first_seen_at LIMIT 12""",
        [since],
    )
    return data
