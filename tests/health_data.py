"""Generated ingestion history for the source-health tests: days of feed entries from a few
publishers, written straight into the ledger (inputs) and articles with chosen dates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
from newsetl.storage.base import Warehouse
from newsetl.storage.writes import ARTICLE_SCHEMA, INPUT_SCHEMA, insert


@dataclass(frozen=True, slots=True)
class Day:
    """How one source behaved on one day."""

    articles: int = 10
    words: int = 600
    dated: bool = True
    authors: bool = True
    rejected: int = 0
    duplicates: int = 0
    feed_text: int = 0  # of the articles, how many fell back to the feed's text


def warehouse(db: Any) -> Warehouse:
    store = open_warehouse(Settings.make(db=db, workers=0).storage)
    store.ensure_schema()
    return store


def write_day(store: Warehouse, domain: str, day: date, spec: Day, *, serial: int = 0) -> None:
    """One day of one feed (``https://<domain>/feed.xml``) as inputs and articles."""
    feed = f"https://{domain}/feed.xml"
    run_id = f"run-{day.isoformat()}-{domain}-{serial}"
    at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    inputs: list[dict[str, Any]] = []
    articles: list[dict[str, Any]] = []
    for n in range(spec.articles):
        url = f"https://{domain}/{day.isoformat()}/story-{serial}-{n}"
        aid = hashlib.sha256(f"url:{url}".encode()).hexdigest()[:24]
        articles.append({
            "article_id": aid, "url": url, "title": f"Story {n} of {day}",
            "authors": ["Ana Writer"] if spec.authors else [],
            "published_at": at - timedelta(hours=1) if spec.dated else None,
            "language": "en", "text": "word " * spec.words, "domain": domain,
            "word_count": spec.words, "reading_time_s": spec.words // 4,
            "content_hash": hashlib.sha256(url.encode()).hexdigest(),
            "text_source": "feed" if n < spec.feed_text else "html",
            "extractor_version": "test", "source_kind": "feed", "source_ref": url,
            "version": 1, "first_seen_at": at, "first_run_id": run_id, "run_id": run_id, "ingested_at": at,
        })  # fmt: skip
        inputs.append({"run_id": run_id, "source_kind": "feed", "source_ref": url, "parent_ref": feed,
                       "outcome": "loaded", "article_id": aid, "seen_at": at})  # fmt: skip
    for n in range(spec.rejected):
        reason = f"too little text for an article ({n % 5} words, minimum 8)"
        inputs.append({"run_id": run_id, "source_kind": "feed", "source_ref": f"https://{domain}/r/{day}/{n}",
                       "parent_ref": feed, "outcome": "rejected", "stage": "extract", "reason": reason,
                       "seen_at": at})  # fmt: skip
    for n in range(spec.duplicates):
        inputs.append({"run_id": run_id, "source_kind": "feed", "source_ref": f"https://{domain}/d/{day}/{n}",
                       "parent_ref": feed, "outcome": "duplicate", "article_id": articles[0]["article_id"],
                       "seen_at": at})  # fmt: skip

    def fn(conn: Any) -> None:
        insert(conn, "articles", articles, ARTICLE_SCHEMA)
        insert(conn, "inputs", inputs, INPUT_SCHEMA)
        conn.execute(
            """INSERT INTO runs (run_id, flow, status, started_at, finished_at, n_inputs, n_loaded,
                                 n_duplicate, n_rejected)
               VALUES (?, 'ingest-feeds', 'completed', ?, ?, ?, ?, ?, ?)""",
            [
                run_id,
                at,
                at + timedelta(seconds=30),
                len(inputs),
                spec.articles,
                spec.duplicates,
                spec.rejected,
            ],
        )

    store.write(fn)


def write_history(store: Warehouse, domain: str, start: date, days: list[Day]) -> date:
    """Consecutive days from ``start``; returns the last day written."""
    for i, spec in enumerate(days):
        write_day(store, domain, start + timedelta(days=i), spec)
    return start + timedelta(days=len(days) - 1)


def clock(day: date, hour: int = 18) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
