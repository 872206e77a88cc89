"""The feed registry (``feeds`` table) and feed health: add, list, remove, import, export,
which feeds are due, and when a feed is checked next.

Health follows what users of feed readers ask for: a failing feed is retried later and
later (exponential back-off with jitter, capped at 24 h by default) but never dropped; a
healthy feed is checked every poll interval, or less often when it asks (RSS ``<ttl>``,
``Cache-Control: max-age``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import duckdb
import listparser
import polars as pl

from newsetl.errors import TerminalError
from newsetl.settings import FeedSettings
from newsetl.storage.frames import temp_table
from newsetl.storage.sqllists import text_list
from newsetl.web.urls import normalize_url


class FeedUrlError(TerminalError):
    """A URL that cannot be a feed (not http/https, no host)."""


@dataclass(slots=True)
class FeedRow:
    """One ``feeds`` row: the columns a poll reads and writes."""

    url: str
    name: str | None = None
    category: str | None = None
    title: str | None = None
    site_url: str | None = None
    description: str | None = None
    language: str | None = None
    feed_format: str | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    ttl_s: int | None = None
    bozo: bool | None = None
    bozo_reason: str | None = None
    last_status: int | None = None
    last_outcome: str | None = None
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    last_new_entries: int | None = None
    next_check_at: datetime | None = None
    error_streak: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_run_id: str | None = None


FEED_COLUMNS = [f.name for f in fields(FeedRow)]
# Columns a poll updates (the user's name/category are left alone).
POLL_COLUMNS = [c for c in FEED_COLUMNS if c not in ("url", "name", "category")]


def feed_url(url: str) -> str:
    """The registry identity of a feed URL: normalised; :class:`FeedUrlError` if unusable."""
    norm = normalize_url(url.strip()) if url else None
    if norm is None:
        raise FeedUrlError(f"not an http(s) URL: {url!r}")
    return norm


# --- registry --------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Subscription:
    url: str
    name: str | None = None
    category: str | None = None


def add_feeds(
    conn: duckdb.DuckDBPyConnection,
    subs: Iterable[Subscription],
    *,
    now: datetime | None = None,
) -> list[tuple[str, bool]]:
    """Register feeds (idempotent): (normalised url, newly added) per distinct URL.

    A name or category given for a feed that already exists replaces the old one. Runs in
    the caller's write transaction.
    """
    now = now or datetime.now(UTC)
    unique: dict[str, Subscription] = {}
    for s in subs:
        url = feed_url(s.url)
        prev = unique.get(url)
        unique[url] = Subscription(
            url, s.name or (prev.name if prev else None), s.category or (prev.category if prev else None)
        )
    if not unique:
        return []
    frame = pl.DataFrame(
        {
            "url": list(unique),
            "name": [s.name for s in unique.values()],
            "category": [s.category for s in unique.values()],
        },
        schema={"url": pl.Utf8, "name": pl.Utf8, "category": pl.Utf8},
    )
    with temp_table(conn, frame, "_subs"):
        existing = {r[0] for r in conn.execute("SELECT url FROM feeds JOIN _subs USING (url)").fetchall()}
        # Set-based (one statement each), so registering thousands of feeds stays cheap.
        conn.execute(
            """INSERT INTO feeds (url, name, category, added_at)
               SELECT url, name, category, $now FROM _subs WHERE url NOT IN (SELECT url FROM feeds)""",
            {"now": now},
        )
        conn.execute(
            """UPDATE feeds SET name = coalesce(s.name, feeds.name),
                   category = coalesce(s.category, feeds.category)
               FROM _subs s
               WHERE feeds.url = s.url AND s.url IN (SELECT unnest($old::JSON::VARCHAR[]))
                 AND (s.name IS NOT NULL OR s.category IS NOT NULL)""",
            {"old": text_list(sorted(existing))},
        )
    return [(url, url not in existing) for url in unique]


def remove_feeds(conn: duckdb.DuckDBPyConnection, urls: Sequence[str]) -> list[str]:
    """Unregister feeds; returns those that existed. Their ``feed_entries`` stay (lineage,
    and dedup if the feed is added again)."""
    wanted = {feed_url(u) for u in urls}
    found = [
        r[0]
        for r in conn.execute(
            "SELECT url FROM feeds WHERE url IN (SELECT unnest($u::JSON::VARCHAR[])) ORDER BY url",
            {"u": text_list(sorted(wanted))},
        ).fetchall()
    ]
    if found:
        conn.execute(
            "DELETE FROM feeds WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))", {"u": text_list(found)}
        )
    return found


def _row(values: Sequence[Any]) -> FeedRow:
    return FeedRow(*values)


def read_feeds(conn: duckdb.DuckDBPyConnection, urls: Sequence[str]) -> list[FeedRow]:
    rows = conn.execute(
        f"SELECT {', '.join(FEED_COLUMNS)} FROM feeds WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))",
        {"u": text_list(urls)},
    ).fetchall()
    by_url = {r[0]: _row(r) for r in rows}
    return [by_url[u] for u in urls if u in by_url]


def due_feeds(conn: duckdb.DuckDBPyConnection, now: datetime, *, everything: bool = False) -> list[FeedRow]:
    """Registered feeds whose next check is due (all of them with ``everything``), oldest first."""
    where = "" if everything else "WHERE next_check_at IS NULL OR next_check_at <= $now"
    rows = conn.execute(
        f"""SELECT {", ".join(FEED_COLUMNS)} FROM feeds {where}
            ORDER BY next_check_at NULLS FIRST, added_at, url""",
        {"now": now} if not everything else {},
    ).fetchall()
    return [_row(r) for r in rows]


@dataclass(frozen=True, slots=True)
class NextDue:
    """How many feeds are registered and due, and which one is due next."""

    registered: int
    due: int
    url: str | None = None
    name: str | None = None
    at: datetime | None = None


def next_due(conn: duckdb.DuckDBPyConnection, now: datetime) -> NextDue:
    """For "nothing to do" answers: the count of due feeds and the next check after ``now``."""
    tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "feeds" not in tables:
        return NextDue(0, 0)
    registered, due = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE next_check_at IS NULL OR next_check_at <= $now)
           FROM feeds""",
        {"now": now},
    ).fetchone() or (0, 0)
    row = conn.execute(
        """SELECT url, coalesce(name, title), next_check_at FROM feeds WHERE next_check_at > $now
           ORDER BY next_check_at, url LIMIT 1""",
        {"now": now},
    ).fetchone()
    return NextDue(int(registered), int(due), *(row or (None, None, None)))


HEALTH_COLUMNS = (
    "url", "name", "health", "last_status", "last_outcome", "last_checked_at", "last_success_at",
    "error_streak", "next_check_at", "entries_seen", "articles", "last_error",
)  # fmt: skip


def feed_health(conn: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every feed with its health (the ``v_feed_health`` view), failing feeds first."""
    cur = conn.execute(
        f"""SELECT {", ".join(HEALTH_COLUMNS)} FROM v_feed_health
            ORDER BY health = 'failing' DESC, error_streak DESC, url"""
    )
    return list(HEALTH_COLUMNS), cur.fetchall()


# --- subscription lists (OPML, plain text) ----------------------------------------------------

_COMMENT = re.compile(r"\s+#.*$")


def read_subscription_list(data: bytes) -> list[Subscription]:
    """Feeds from an OPML file (what every feed reader exports) or a plain list of URLs.

    Plain lists: one URL per line; blank lines and ``#`` comments are ignored. Lines that
    are not http(s) URLs raise :class:`FeedUrlError` naming the line, so a typo is not
    silently skipped.
    """
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return _read_opml(data)
    subs: list[Subscription] = []
    text = data.decode("utf-8", errors="replace")
    for n, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw).strip()
        if not line or line.startswith("#"):
            continue
        try:
            subs.append(Subscription(feed_url(line)))
        except FeedUrlError:
            raise FeedUrlError(f"line {n}: not an http(s) URL: {line[:200]!r}") from None
    return subs


def _read_opml(data: bytes) -> list[Subscription]:
    parsed = listparser.parse(data)  # bytes: parsed as a document, never fetched
    subs: list[Subscription] = []
    for f in parsed.get("feeds", []):
        url = normalize_url(f.get("url"))
        if url is None:
            continue
        cats = f.get("categories") or []
        category = "/".join(cats[0]) if cats and cats[0] else None
        subs.append(Subscription(url, (f.get("title") or "").strip() or None, category))
    if not subs and parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        raise FeedUrlError(f"not a readable OPML file: {exc}")
    return subs


def export_opml(
    rows: Sequence[tuple[str, str | None, str | None, str | None]], title: str = "newsetl feeds"
) -> bytes:
    """OPML 2.0 for (url, name, category, site_url) rows, folders by category."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(opml, "body")
    folders: dict[str, ET.Element] = {}
    for url, name, category, site_url in rows:
        parent = body
        if category:
            parent = folders.get(category) or ET.SubElement(body, "outline", text=category, title=category)
            folders[category] = parent
        attrs = {"type": "rss", "text": name or url, "title": name or url, "xmlUrl": url}
        if site_url:
            attrs["htmlUrl"] = site_url
        ET.SubElement(parent, "outline", attrs)
    ET.indent(opml)
    xml: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml + b"\n"


# --- schedule ---------------------------------------------------------------------------------

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*(\d+)", re.IGNORECASE)


def max_age_s(cache_control: str | None) -> int | None:
    if not cache_control:
        return None
    m = _MAX_AGE.search(cache_control)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def next_check_ok(
    now: datetime, settings: FeedSettings, ttl_s: int | None, rng: Callable[[], float] = random.random
) -> datetime:
    """A healthy feed: the poll interval, or the feed's own longer one, ±10 % jitter."""
    interval = max(settings.poll_interval_s, float(ttl_s or 0))
    interval = min(interval * (0.9 + 0.2 * rng()), settings.max_backoff_s)
    return now + timedelta(seconds=interval)


def next_check_error(
    now: datetime,
    settings: FeedSettings,
    streak: int,
    retry_after_s: float | None = None,
    rng: Callable[[], float] = random.random,
) -> datetime:
    """A failing feed: base × 2^(streak-1) with jitter (0.8–1.2), capped; never dropped.

    A server's ``Retry-After`` is a floor (also capped): it asked us to wait.
    """
    exponent = min(max(streak, 1) - 1, 32)
    delay = settings.error_backoff_base_s * 2**exponent * (0.8 + 0.4 * rng())
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return now + timedelta(seconds=min(delay, settings.max_backoff_s))
