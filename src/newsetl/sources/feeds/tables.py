"""The feed source's own tables: ``feed_entries`` (one row per entry ever seen per feed) and
the poll columns of ``feeds``; written in the batch transaction with the articles."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from newsetl.sources.feeds.registry import POLL_COLUMNS, FeedRow
from newsetl.storage import writes
from newsetl.storage.frames import temp_table

ENTRY_SCHEMA: writes.Schema = {
    "feed": pl.Utf8,
    "entry_key": pl.Utf8,
    "guid": pl.Utf8,
    "link": pl.Utf8,
    "title": pl.Utf8,
    "published": pl.Datetime("us", "UTC"),
    "article_id": pl.Utf8,
    "outcome": pl.Utf8,
    "text_source": pl.Utf8,
    "page_status": pl.Int32,
    "page_error": pl.Utf8,
    "attempts": pl.Int32,
    "retryable": pl.Boolean,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "first_run_id": pl.Utf8,
    "run_id": pl.Utf8,
}
FEED_SCHEMA: writes.Schema = {
    "url": pl.Utf8,
    "title": pl.Utf8,
    "site_url": pl.Utf8,
    "description": pl.Utf8,
    "language": pl.Utf8,
    "feed_format": pl.Utf8,
    "final_url": pl.Utf8,
    "etag": pl.Utf8,
    "last_modified": pl.Utf8,
    "body_sha256": pl.Utf8,
    "ttl_s": pl.Int32,
    "bozo": pl.Boolean,
    "bozo_reason": pl.Utf8,
    "last_status": pl.Int32,
    "last_outcome": pl.Utf8,
    "last_checked_at": pl.Datetime("us", "UTC"),
    "last_success_at": pl.Datetime("us", "UTC"),
    "last_new_entries": pl.Int32,
    "next_check_at": pl.Datetime("us", "UTC"),
    "error_streak": pl.Int32,
    "last_error": pl.Utf8,
    "last_error_at": pl.Datetime("us", "UTC"),
    "last_run_id": pl.Utf8,
}
assert set(FEED_SCHEMA) == {"url", *POLL_COLUMNS}


def write_entries(conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    writes.upsert(conn, "feed_entries", rows, ENTRY_SCHEMA, ["feed", "entry_key"])


def update_feeds(conn: duckdb.DuckDBPyConnection, rows: list[FeedRow]) -> None:
    """The poll columns of the polled feeds (the user's name and category stay)."""
    if not rows:
        return
    frame = pl.DataFrame([{c: getattr(r, c) for c in FEED_SCHEMA} for r in rows], schema=FEED_SCHEMA)
    with temp_table(conn, frame, prefix="_feed_state") as view:
        sets = ", ".join(f"{c} = s.{c}" for c in POLL_COLUMNS)
        conn.execute(f"UPDATE feeds SET {sets} FROM {view} s WHERE feeds.url = s.url")
