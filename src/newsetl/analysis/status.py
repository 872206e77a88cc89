"""What an operator wants to know at a glance: recent runs, failing or due feeds, why
inputs were rejected (or skipped as not articles) lately, and how big the warehouse is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from newsetl.storage.base import Warehouse

Rows = list[tuple[Any, ...]]


@dataclass(slots=True)
class Section:
    title: str
    columns: list[str]
    rows: Rows


@dataclass(slots=True)
class Status:
    db_path: str
    size_bytes: int
    sections: list[Section] = field(default_factory=list)


def _tables(conn: Any) -> set[str]:
    return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _section(conn: Any, title: str, sql: str, params: list[Any] | None = None) -> Section:
    cur = conn.execute(sql, params or [])
    return Section(title, [d[0] for d in cur.description], cur.fetchall())


def warehouse_status(store: Warehouse, *, runs: int = 10, days: int = 7) -> Status:
    """Read-only snapshot; safe to call while ingests run (waits briefly for the lock)."""
    status = Status(db_path=store.describe(), size_bytes=store.size_bytes())
    with store.session(read_only=True) as conn:
        tables = _tables(conn)
        if "runs" not in tables:
            return status
        status.sections.append(
            _section(
                conn,
                "totals",
                """SELECT (SELECT count(*) FROM articles) AS articles,
                          (SELECT count(*) FROM article_versions) AS earlier_versions,
                          (SELECT count(*) FROM inputs) AS inputs_recorded,
                          (SELECT count(*) FROM runs) AS runs,
                          (SELECT count(*) FROM runs WHERE status = 'running') AS running_now""",
            )
        )
        stats = store.storage_stats(conn)
        if stats:  # a lake: its files and snapshots (maintenance compacts and expires them)
            status.sections.append(Section("storage", list(stats), [tuple(stats.values())]))
        status.sections.append(
            _section(
                conn,
                f"last {runs} runs",
                """SELECT flow, status, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started,
                          round(epoch(coalesce(finished_at, now())) - epoch(started_at), 1) AS seconds,
                          n_inputs AS inputs, n_loaded AS loaded, n_updated AS updated,
                          n_unchanged AS unchanged, n_duplicate AS duplicate, n_rejected AS rejected,
                          coalesce(n_skipped, 0) AS skipped, left(run_id, 8) AS run
                   FROM runs ORDER BY started_at DESC LIMIT ?""",
                [runs],
            )
        )
        status.sections.append(
            _section(
                conn,
                f"rejections in the last {days} days",
                """SELECT stage, reason, count(*) AS inputs,
                          strftime(max(seen_at), '%Y-%m-%d %H:%M:%S') AS last_seen
                   FROM inputs WHERE outcome = 'rejected' AND seen_at >= now() - to_days(?)
                   GROUP BY ALL ORDER BY inputs DESC, stage, reason LIMIT 15""",
                [days],
            )
        )
        status.sections.append(
            _section(
                conn,
                f"skipped (not articles) in the last {days} days",
                """SELECT stage, reason, count(*) AS inputs,
                          strftime(max(seen_at), '%Y-%m-%d %H:%M:%S') AS last_seen
                   FROM inputs WHERE outcome = 'skipped' AND seen_at >= now() - to_days(?)
                   GROUP BY ALL ORDER BY inputs DESC, stage, reason LIMIT 10""",
                [days],
            )
        )
        if "feeds" in tables:
            status.sections.append(
                _section(
                    conn,
                    "feeds",
                    """SELECT count(*) AS registered,
                              count(*) FILTER (WHERE next_check_at IS NULL OR next_check_at <= now()) AS due,
                              count(*) FILTER (WHERE error_streak > 0) AS failing
                       FROM feeds""",
                )
            )
            status.sections.append(
                _section(
                    conn,
                    "failing feeds",
                    """SELECT url, error_streak, last_status, last_error,
                              strftime(next_check_at, '%Y-%m-%d %H:%M') AS next_check
                       FROM feeds WHERE error_streak > 0 ORDER BY error_streak DESC, url LIMIT 10""",
                )
            )
        if "sitemaps" in tables:
            status.sections.append(
                _section(
                    conn,
                    "sitemaps",
                    """SELECT count(*) AS registered,
                              count(*) FILTER (WHERE next_check_at IS NULL OR next_check_at <= now()) AS due,
                              count(*) FILTER (WHERE health = 'failing') AS failing,
                              coalesce(sum(failing_documents), 0) AS failing_documents,
                              coalesce(sum(urls), 0) AS urls
                       FROM v_sitemap_health""",
                )
            )
            status.sections.append(
                _section(
                    conn,
                    "failing sitemaps",
                    """SELECT url, error_streak, last_error,
                              strftime(next_check_at, '%Y-%m-%d %H:%M') AS next_check
                       FROM sitemaps WHERE error_streak > 0 ORDER BY error_streak DESC, url LIMIT 10""",
                )
            )
    return status
