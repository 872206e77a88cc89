"""The sitemap registry (``sitemaps`` table): sites and sitemaps to check, with their health.

A URL whose path is ``/`` is a **site**: its sitemaps are found through robots.txt
``Sitemap:`` lines, then ``/sitemap.xml``. Any other URL is a **sitemap** (an index, a
urlset, gzipped or not, or a text list). Health follows the feeds: a failing site is
checked later and later (the feeds' back-off) and never dropped; a healthy one every
``NEWSETL_SITEMAP_INTERVAL_MIN`` (60 by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import duckdb
import polars as pl

from newsetl.errors import TerminalError
from newsetl.settings import Settings
from newsetl.sources.feeds.registry import next_check_error, next_check_ok
from newsetl.storage import writes
from newsetl.storage.frames import temp_table
from newsetl.storage.sqllists import text_list
from newsetl.web.urls import normalize_url

SITE, SITEMAP = "site", "sitemap"


class SitemapUrlError(TerminalError):
    """A URL that cannot be a site or a sitemap (not http/https, no host)."""


@dataclass(slots=True)
class SitemapRow:
    """One ``sitemaps`` row: the columns a check reads and writes."""

    url: str
    name: str | None = None
    kind: str = SITEMAP
    last_outcome: str | None = None
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    last_documents: int | None = None
    last_new_urls: int | None = None
    next_check_at: datetime | None = None
    error_streak: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_run_id: str | None = None


COLUMNS = [f.name for f in fields(SitemapRow)]
CHECK_COLUMNS = [c for c in COLUMNS if c not in ("url", "name", "kind")]
ROW_SCHEMA: writes.Schema = {
    "url": pl.Utf8,
    "last_outcome": pl.Utf8,
    "last_checked_at": pl.Datetime("us", "UTC"),
    "last_success_at": pl.Datetime("us", "UTC"),
    "last_documents": pl.Int32,
    "last_new_urls": pl.Int32,
    "next_check_at": pl.Datetime("us", "UTC"),
    "error_streak": pl.Int32,
    "last_error": pl.Utf8,
    "last_error_at": pl.Datetime("us", "UTC"),
    "last_run_id": pl.Utf8,
}


def sitemap_url(url: str) -> tuple[str, str]:
    """(normalised URL, 'site' or 'sitemap'); :class:`SitemapUrlError` if unusable."""
    norm = normalize_url(url.strip()) if url else None
    if norm is None:
        raise SitemapUrlError(f"not an http(s) URL: {url!r}")
    parts = urlsplit(norm)
    return norm, SITE if parts.path in ("", "/") and not parts.query else SITEMAP


def add_sitemaps(
    conn: duckdb.DuckDBPyConnection,
    urls: Sequence[str],
    *,
    name: str | None = None,
    now: datetime | None = None,
) -> list[tuple[str, bool]]:
    """Register sites/sitemaps (idempotent): (normalised url, newly added) per distinct URL."""
    now = now or datetime.now(UTC)
    unique = dict(sitemap_url(u) for u in urls)
    if not unique:
        return []
    existing = {
        r[0]
        for r in conn.execute(
            "SELECT url FROM sitemaps WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))",
            {"u": text_list(unique)},
        ).fetchall()
    }
    new = [
        {"url": u, "name": name, "kind": k, "error_streak": 0, "added_at": now}
        for u, k in unique.items()
        if u not in existing
    ]
    schema: writes.Schema = {
        "url": pl.Utf8, "name": pl.Utf8, "kind": pl.Utf8, "error_streak": pl.Int32,
        "added_at": pl.Datetime("us", "UTC"),
    }  # fmt: skip
    writes.insert(conn, "sitemaps", new, schema)
    if name:
        conn.execute(
            "UPDATE sitemaps SET name = $n WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))",
            {"n": name, "u": text_list(sorted(existing))},
        )
    return [(u, u not in existing) for u in unique]


def remove_sitemaps(conn: duckdb.DuckDBPyConnection, urls: Sequence[str]) -> list[str]:
    """Unregister; their documents' validators go too (URLs and articles stay)."""
    wanted = sorted({sitemap_url(u)[0] for u in urls})
    found = [
        r[0]
        for r in conn.execute(
            "SELECT url FROM sitemaps WHERE url IN (SELECT unnest($u::JSON::VARCHAR[])) ORDER BY url",
            {"u": text_list(wanted)},
        ).fetchall()
    ]
    if found:
        conn.execute(
            "DELETE FROM sitemaps WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))", {"u": text_list(found)}
        )
        conn.execute(
            "DELETE FROM sitemap_documents WHERE root IN (SELECT unnest($u::JSON::VARCHAR[]))",
            {"u": text_list(found)},
        )
    return found


def read_sitemaps(conn: duckdb.DuckDBPyConnection, urls: Sequence[str]) -> list[SitemapRow]:
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM sitemaps WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))",
        {"u": text_list(urls)},
    ).fetchall()
    by_url = {r[0]: SitemapRow(*r) for r in rows}
    return [by_url[u] for u in dict.fromkeys(urls) if u in by_url]


def due_sitemaps(
    conn: duckdb.DuckDBPyConnection, now: datetime, *, everything: bool = False
) -> list[SitemapRow]:
    where = "" if everything else "WHERE next_check_at IS NULL OR next_check_at <= $now"
    rows = conn.execute(
        f"""SELECT {", ".join(COLUMNS)} FROM sitemaps {where}
            ORDER BY next_check_at NULLS FIRST, added_at, url""",
        {} if everything else {"now": now},
    ).fetchall()
    return [SitemapRow(*r) for r in rows]


def update_sitemaps(conn: duckdb.DuckDBPyConnection, rows: Sequence[SitemapRow]) -> None:
    """The check columns of checked sitemaps (the user's name stays)."""
    if not rows:
        return
    frame = pl.DataFrame([{c: getattr(r, c) for c in ROW_SCHEMA} for r in rows], schema=ROW_SCHEMA)
    with temp_table(conn, frame, prefix="_sitemap_state") as view:
        sets = ", ".join(f"{c} = s.{c}" for c in CHECK_COLUMNS)
        conn.execute(f"UPDATE sitemaps SET {sets} FROM {view} s WHERE sitemaps.url = s.url")


def checked(row: SitemapRow, settings: Settings, now: datetime, run_id: str, error: str | None) -> SitemapRow:
    """The row after a check: health, error streak and when it is due again."""
    new = replace(row, last_checked_at=now, last_run_id=run_id)
    schedule = replace(settings.feeds, poll_interval_s=settings.sitemaps.sitemap_interval_s)
    if schedule.max_backoff_s < schedule.poll_interval_s:
        schedule = replace(schedule, max_backoff_s=schedule.poll_interval_s)
    if error is None:
        new.last_success_at, new.error_streak, new.last_error = now, 0, None
        new.next_check_at = next_check_ok(now, schedule, None)
    else:
        new.error_streak += 1
        new.last_outcome, new.last_error, new.last_error_at = "error", error[:1000], now
        new.next_check_at = next_check_error(now, schedule, new.error_streak)
    return new


HEALTH_COLUMNS = (
    "url", "name", "kind", "health", "last_outcome", "last_checked_at", "last_success_at", "error_streak",
    "next_check_at", "documents", "failing_documents", "urls", "articles", "last_error",
)  # fmt: skip


def sitemap_health(conn: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple[Any, ...]]]:
    cur = conn.execute(
        f"""SELECT {", ".join(HEALTH_COLUMNS)} FROM v_sitemap_health
            ORDER BY health = 'failing' DESC, error_streak DESC, url"""
    )
    return list(HEALTH_COLUMNS), cur.fetchall()
