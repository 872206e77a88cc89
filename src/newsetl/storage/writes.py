"""Bulk writes of typed tables, in SQL that every backend runs.

Rows go in through an Arrow-backed polars frame (one statement per table and batch, never
one per row). Upserts are ``MERGE INTO`` (DuckLake has no ``INSERT OR REPLACE`` or
``ON CONFLICT``, and no uniqueness constraints to trigger them); keys stay unique because
the loader decides inside the batch transaction, which is redone when a concurrent writer
commits first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from newsetl.models import Outcome, Processed
from newsetl.storage.frames import temp_table
from newsetl.storage.sqllists import text_list

Schema = dict[str, Any]

ARTICLE_SCHEMA: Schema = {
    "article_id": pl.Utf8,
    "url": pl.Utf8,
    "title": pl.Utf8,
    "authors": pl.List(pl.Utf8),
    "published_at": pl.Datetime("us", "UTC"),
    "published_at_source": pl.Utf8,
    "agencies": pl.List(pl.Utf8),
    "published_at_tz_stated": pl.Boolean,
    "published_at_offset_min": pl.Int16,
    "language": pl.Utf8,
    "language_score": pl.Float64,
    "declared_language": pl.Utf8,
    "text": pl.Utf8,
    "description": pl.Utf8,
    "sitename": pl.Utf8,
    "domain": pl.Utf8,
    "categories": pl.List(pl.Utf8),
    "tags": pl.List(pl.Utf8),
    "image": pl.Utf8,
    "page_type": pl.Utf8,
    "license": pl.Utf8,
    "word_count": pl.Int32,
    "reading_time_s": pl.Int32,
    "content_hash": pl.Utf8,
    "simhash": pl.UInt64,
    "text_source": pl.Utf8,
    "encoding": pl.Utf8,
    "extractor_version": pl.Utf8,
    "filled_from_feed": pl.List(pl.Utf8),
    "source_kind": pl.Utf8,
    "source_ref": pl.Utf8,
    "raw_sha256": pl.Utf8,
    "version": pl.Int32,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "first_run_id": pl.Utf8,
    "run_id": pl.Utf8,
    "ingested_at": pl.Datetime("us", "UTC"),
}

INPUT_SCHEMA: Schema = {
    "run_id": pl.Utf8,
    "source_kind": pl.Utf8,
    "source_ref": pl.Utf8,
    "parent_ref": pl.Utf8,
    "sha256": pl.Utf8,
    "size_bytes": pl.Int64,
    "outcome": pl.Utf8,
    "article_id": pl.Utf8,
    "stage": pl.Utf8,
    "reason": pl.Utf8,
    "duration_ms": pl.Float64,
    "seen_at": pl.Datetime("us", "UTC"),
}

VERSION_SCHEMA: Schema = {
    "article_id": pl.Utf8,
    "version": pl.Int32,
    "content_hash": pl.Utf8,
    "title": pl.Utf8,
    "text": pl.Utf8,
    "url": pl.Utf8,
    "word_count": pl.Int32,
    "source_ref": pl.Utf8,
    "extractor_version": pl.Utf8,
    "run_id": pl.Utf8,
    "seen_at": pl.Datetime("us", "UTC"),
    "superseded_at": pl.Datetime("us", "UTC"),
    "superseded_by_run": pl.Utf8,
}

BLOB_SCHEMA: Schema = {
    "sha256": pl.Utf8,
    "size_bytes": pl.Int64,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "last_seen_at": pl.Datetime("us", "UTC"),
    "pruned_at": pl.Datetime("us", "UTC"),
}


def frame(rows: Sequence[dict[str, Any]], schema: Schema) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)


def insert(
    conn: duckdb.DuckDBPyConnection, table: str, rows: Sequence[dict[str, Any]], schema: Schema
) -> None:
    """Append rows (columns by name; missing keys are NULL)."""
    if not rows:
        return
    with temp_table(conn, frame(rows, schema)) as view:
        conn.execute(f"INSERT INTO {table} ({', '.join(schema)}) SELECT {', '.join(schema)} FROM {view}")


def upsert(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[dict[str, Any]],
    schema: Schema,
    key: Sequence[str],
    *,
    update: Sequence[str] | None = None,
) -> None:
    """Insert rows, or update the columns ``update`` (default: all but the key) where the key
    exists. The last row per key wins."""
    if not rows:
        return
    unique = list({tuple(r.get(k) for k in key): r for r in rows}.values())
    cols = list(schema)
    sets = [c for c in (update if update is not None else cols) if c not in key]
    on = " AND ".join(f"t.{k} = s.{k}" for k in key)
    matched = f"WHEN MATCHED THEN UPDATE SET {', '.join(f'{c} = s.{c}' for c in sets)} " if sets else ""
    with temp_table(conn, frame(unique, schema)) as view:
        conn.execute(
            f"""MERGE INTO {table} AS t USING (SELECT {", ".join(cols)} FROM {view}) AS s ON {on}
                {matched}WHEN NOT MATCHED THEN INSERT ({", ".join(cols)})
                VALUES ({", ".join(f"s.{c}" for c in cols)})"""
        )


def delete_keys(conn: duckdb.DuckDBPyConnection, table: str, column: str, keys: Iterable[str]) -> None:
    keys = sorted(set(keys))
    if keys:
        conn.execute(
            f"DELETE FROM {table} WHERE {column} IN (SELECT unnest($k::JSON::VARCHAR[]))",
            {"k": text_list(keys)},
        )


# --- articles and their versions ----------------------------------------------------------


@dataclass(slots=True)
class Existing:
    """What is stored for an article id (for deciding outcomes)."""

    content_hash: str
    source_ref: str
    version: int
    first_seen_at: datetime
    first_run_id: str
    title: str | None = None


@dataclass(slots=True)
class Superseded:
    """Versions an update replaces: stored ones (by article id) and ones from this batch."""

    stored: dict[str, int] = field(default_factory=dict)
    interim: list[dict[str, Any]] = field(default_factory=list)


def existing_articles(
    conn: duckdb.DuckDBPyConnection, ids: set[str], hashes: set[str]
) -> tuple[dict[str, Existing], dict[str, str]]:
    """Stored articles with these ids, or these texts: (by id, first id by content hash)."""
    if not ids and not hashes:
        return {}, {}
    rows = conn.execute(
        """SELECT article_id, content_hash, source_ref, version, first_seen_at, first_run_id, title
           FROM articles
           WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))
              OR content_hash IN (SELECT unnest($hashes::JSON::VARCHAR[]))""",
        {"ids": text_list(sorted(ids)), "hashes": text_list(sorted(hashes))},
    ).fetchall()
    by_id = {r[0]: Existing(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}
    by_hash: dict[str, str] = {}
    for aid, ex in sorted(by_id.items()):
        by_hash.setdefault(ex.content_hash, aid)
    return by_id, by_hash


def version_row(row: dict[str, Any], now: datetime, run_id: str) -> dict[str, Any]:
    out = {k: row[k] for k in VERSION_SCHEMA if k in row}
    out.update(seen_at=row["ingested_at"], superseded_at=now, superseded_by_run=run_id)
    return out


def write_articles(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    now: datetime,
    new_rows: dict[str, dict[str, Any]],
    superseded: Superseded,
) -> None:
    """New and changed articles; the versions they replace move to ``article_versions``."""
    if superseded.stored:
        ids = sorted(superseded.stored)
        conn.execute(
            """INSERT INTO article_versions
               SELECT article_id, version, content_hash, title, text, url, word_count, source_ref,
                      extractor_version, run_id, ingested_at, $now, $run
               FROM articles WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))""",
            {"ids": text_list(ids), "now": now, "run": run_id},
        )
        delete_keys(conn, "articles", "article_id", ids)
    insert(conn, "article_versions", superseded.interim, VERSION_SCHEMA)
    insert(conn, "articles", list(new_rows.values()), ARTICLE_SCHEMA)


def input_row(
    p: Processed, run_id: str, outcome: str, article_id: str | None, now: datetime
) -> dict[str, Any]:
    rejected = outcome in (Outcome.REJECTED, Outcome.SKIPPED)  # both carry their reason
    return {
        "run_id": run_id,
        "source_kind": p.source_kind,
        "source_ref": p.source_ref,
        "parent_ref": p.parent_ref,
        "sha256": p.sha256,
        "size_bytes": p.size_bytes,
        "outcome": outcome,
        "article_id": article_id,
        "stage": p.stage if rejected else None,
        "reason": p.reason if rejected else None,
        "duration_ms": p.duration_ms,
        "seen_at": now,
    }


# --- the raw archive's index ----------------------------------------------------------------


def write_raw_blobs(conn: duckdb.DuckDBPyConnection, items: Sequence[Processed], now: datetime) -> None:
    """Blobs stored in this batch (listed, or listed again after pruning), and blobs merely
    seen again (their retention clock restarts)."""
    stored: dict[str, dict[str, Any]] = {}
    seen_again: set[str] = set()
    for p in items:
        if not p.sha256:
            continue
        if p.raw_archived:
            stored[p.sha256] = {"sha256": p.sha256, "size_bytes": p.size_bytes or 0, "first_seen_at": now,
                                "last_seen_at": now, "pruned_at": None}  # fmt: skip
        elif p.settled_from_state:
            seen_again.add(p.sha256)
    upsert(
        conn,
        "raw_blobs",
        list(stored.values()),
        BLOB_SCHEMA,
        ["sha256"],
        update=["last_seen_at", "pruned_at"],
    )
    seen_again -= set(stored)
    if seen_again:
        conn.execute(
            "UPDATE raw_blobs SET last_seen_at = $now "
            "WHERE sha256 IN (SELECT unnest($shas::JSON::VARCHAR[]))",
            {"now": now, "shas": text_list(sorted(seen_again))},
        )
