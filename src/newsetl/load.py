"""Load stage: decide each input's outcome and write a batch to DuckDB in one transaction.

Outcomes, in order of precedence for an extracted article:
- same ``article_id`` already stored with the same ``content_hash``: 'unchanged' when it
  came from the same source before, else 'duplicate';
- same ``article_id`` with a different ``content_hash``, or the same text under an edited
  headline: 'updated' (the old version moves to ``article_versions``);
- a different article already has this ``content_hash``: 'duplicate' of that article;
- otherwise 'loaded'.
Decisions are taken inside the write transaction, so two concurrent runs cannot both
load the same article.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl

from newsetl import faults, neardup
from newsetl.extract import EXTRACTOR_VERSION
from newsetl.models import Article, BatchReport, Outcome, Processed, SourceKind
from newsetl.warehouse import transaction

ARTICLE_SCHEMA: dict[str, Any] = {
    "article_id": pl.Utf8,
    "url": pl.Utf8,
    "title": pl.Utf8,
    "authors": pl.List(pl.Utf8),
    "published_at": pl.Datetime("us", "UTC"),
    "published_at_source": pl.Utf8,
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
    "agencies": pl.List(pl.Utf8),
    "published_at_tz_stated": pl.Boolean,
    "published_at_offset_min": pl.Int16,
    "source_kind": pl.Utf8,
    "source_ref": pl.Utf8,
    "raw_sha256": pl.Utf8,
    "version": pl.Int32,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "first_run_id": pl.Utf8,
    "run_id": pl.Utf8,
    "ingested_at": pl.Datetime("us", "UTC"),
}
_ARTICLE_FIELDS = [f for f in Article.__dataclass_fields__ if f in ARTICLE_SCHEMA]

INPUT_SCHEMA: dict[str, Any] = {
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

FILE_STATE_SCHEMA: dict[str, Any] = {
    "path": pl.Utf8,
    "size_bytes": pl.Int64,
    "mtime_ns": pl.Int64,
    "sha256": pl.Utf8,
    "outcome": pl.Utf8,
    "article_id": pl.Utf8,
    "stage": pl.Utf8,
    "reason": pl.Utf8,
    "extractor_version": pl.Utf8,
    "run_id": pl.Utf8,
    "checked_at": pl.Datetime("us", "UTC"),
}


@dataclass(slots=True, frozen=True)
class FileState:
    size_bytes: int | None
    mtime_ns: int | None
    sha256: str | None
    outcome: str
    article_id: str | None
    stage: str | None
    reason: str | None
    extractor_version: str | None


def lookup_file_state(conn: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> dict[str, FileState]:
    """What the warehouse remembers about these files (for skipping unchanged ones)."""
    if not paths:
        return {}
    rows = conn.execute(
        """SELECT path, size_bytes, mtime_ns, sha256, outcome, article_id, stage, reason, extractor_version
           FROM file_state WHERE path IN (SELECT unnest($paths))""",
        {"paths": list(paths)},
    ).fetchall()
    return {r[0]: FileState(*r[1:]) for r in rows}


@dataclass(slots=True)
class _Existing:
    content_hash: str
    source_ref: str
    version: int
    first_seen_at: datetime
    first_run_id: str
    title: str | None = None


def _existing_articles(
    conn: duckdb.DuckDBPyConnection, ids: set[str], hashes: set[str]
) -> tuple[dict[str, _Existing], dict[str, str]]:
    if not ids and not hashes:
        return {}, {}
    rows = conn.execute(
        """SELECT article_id, content_hash, source_ref, version, first_seen_at, first_run_id, title
           FROM articles
           WHERE article_id IN (SELECT unnest($ids)) OR content_hash IN (SELECT unnest($hashes))""",
        {"ids": sorted(ids), "hashes": sorted(hashes)},
    ).fetchall()
    by_id = {r[0]: _Existing(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}
    by_hash: dict[str, str] = {}
    for aid, ex in sorted(by_id.items()):
        by_hash.setdefault(ex.content_hash, aid)
    return by_id, by_hash


def _article_row(
    a: Article,
    p: Processed,
    run_id: str,
    now: datetime,
    version: int,
    first_seen: datetime,
    first_run: str,
) -> dict[str, Any]:
    row = {f: getattr(a, f) for f in _ARTICLE_FIELDS}
    row["sketch"] = a.sketch  # for neardup.link_articles; not an articles column
    row.update(
        source_kind=p.source_kind,
        source_ref=p.source_ref,
        raw_sha256=p.sha256,
        version=version,
        first_seen_at=first_seen,
        first_run_id=first_run,
        run_id=run_id,
        ingested_at=now,
    )
    return row


def reason_key(stage: str | None, reason: str | None) -> str | None:
    if reason is None:
        return None
    return f"{stage or '?'}: {reason}"


@dataclass(slots=True)
class BatchResult:
    """What a batch write decided: counts, plus each item's (outcome, article_id) in order."""

    report: BatchReport
    decisions: list[tuple[str, str | None]]


def load_batch(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    items: Iterable[Processed],
    *,
    now: datetime | None = None,
) -> BatchReport:
    """Record every item in ``inputs`` and write new/changed articles, atomically."""
    with transaction(conn):
        report = write_batch(conn, run_id, items, now=now).report
        faults.hit("load.before_commit")
    return report


def write_batch(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    items: Iterable[Processed],
    *,
    now: datetime | None = None,
) -> BatchResult:
    """The body of :func:`load_batch` for callers that add their own rows to the same
    transaction (e.g. feed entries); the caller owns BEGIN/COMMIT."""
    items = list(items)
    now = now or datetime.now(UTC)
    report = BatchReport()
    decisions: list[tuple[str, str | None]] = []
    docs = [p.article for p in items if p.article is not None]
    by_id, by_hash = _existing_articles(conn, {a.article_id for a in docs}, {a.content_hash for a in docs})
    new_rows: dict[str, dict[str, Any]] = {}  # article_id -> row (last write in batch wins)
    superseded = _Superseded()
    input_rows: list[dict[str, Any]] = []
    state_rows: list[dict[str, Any]] = []
    for p in items:
        outcome, article_id = _decide(p, run_id, now, by_id, by_hash, new_rows, superseded)
        decisions.append((outcome, article_id))
        report.add(outcome, reason_key(p.stage, p.reason) if outcome == Outcome.REJECTED else None)
        input_rows.append(
            {
                "run_id": run_id,
                "source_kind": p.source_kind,
                "source_ref": p.source_ref,
                "parent_ref": p.parent_ref,
                "sha256": p.sha256,
                "size_bytes": p.size_bytes,
                "outcome": outcome,
                "article_id": article_id,
                "stage": p.stage if outcome == Outcome.REJECTED else None,
                "reason": p.reason if outcome == Outcome.REJECTED else None,
                "duration_ms": p.duration_ms,
                "seen_at": now,
            }
        )
        if p.source_kind == SourceKind.FILE and p.stage != "discover" and not p.state_current:
            state_rows.append(
                {
                    "path": p.source_ref,
                    "size_bytes": p.size_bytes,
                    "mtime_ns": p.mtime_ns,
                    "sha256": p.sha256,
                    "outcome": outcome,
                    "article_id": article_id,
                    "stage": p.stage if outcome == Outcome.REJECTED else None,
                    "reason": p.reason if outcome == Outcome.REJECTED else None,
                    "extractor_version": EXTRACTOR_VERSION,
                    "run_id": run_id,
                    "checked_at": now,
                }
            )
    stored, seen_again = _blobs(items, now)
    _write(conn, run_id, now, new_rows, superseded, input_rows, state_rows, stored, seen_again)
    neardup.link_articles(conn, run_id, now, new_rows.values())
    return BatchResult(report, decisions)


def _headline_changed(old: str | None, new: str | None) -> bool:
    """An edited headline is a revision too (text unchanged); a missing one is not."""
    if not old or not new:
        return False
    return " ".join(old.split()).casefold() != " ".join(new.split()).casefold()


def _decide(
    p: Processed,
    run_id: str,
    now: datetime,
    by_id: dict[str, _Existing],
    by_hash: dict[str, str],
    new_rows: dict[str, dict[str, Any]],
    superseded: _Superseded,
) -> tuple[str, str | None]:
    if p.outcome_hint is not None:
        return p.outcome_hint, p.known_article_id
    a = p.article
    if a is None:
        return Outcome.REJECTED, None
    existing = by_id.get(a.article_id)
    if existing is not None:
        if existing.content_hash == a.content_hash and not _headline_changed(existing.title, a.title):
            same_source = existing.source_ref == p.source_ref
            return (Outcome.UNCHANGED if same_source else Outcome.DUPLICATE), a.article_id
        replaced = new_rows.get(a.article_id)
        if replaced is None:
            superseded.stored[a.article_id] = existing.version
        else:  # a second version in the same batch: keep the first one too
            superseded.interim.append(_version_row(replaced, now, run_id))
        version = existing.version + 1
        new_rows[a.article_id] = _article_row(
            a, p, run_id, now, version, existing.first_seen_at, existing.first_run_id
        )
        by_id[a.article_id] = _Existing(
            a.content_hash, p.source_ref, version, existing.first_seen_at, existing.first_run_id, a.title
        )
        by_hash.setdefault(a.content_hash, a.article_id)
        return Outcome.UPDATED, a.article_id
    other = by_hash.get(a.content_hash)
    if other is not None:
        return Outcome.DUPLICATE, other
    new_rows[a.article_id] = _article_row(a, p, run_id, now, 1, now, run_id)
    by_id[a.article_id] = _Existing(a.content_hash, p.source_ref, 1, now, run_id, a.title)
    by_hash[a.content_hash] = a.article_id
    return Outcome.LOADED, a.article_id


@dataclass(slots=True)
class _Superseded:
    """Versions an update replaces: stored ones (by article id) and ones from this batch."""

    stored: dict[str, int] = field(default_factory=dict)
    interim: list[dict[str, Any]] = field(default_factory=list)


VERSION_SCHEMA: dict[str, Any] = {
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


def _version_row(row: dict[str, Any], now: datetime, run_id: str) -> dict[str, Any]:
    out = {k: row[k] for k in VERSION_SCHEMA if k in row}
    out.update(seen_at=row["ingested_at"], superseded_at=now, superseded_by_run=run_id)
    return out


def _write(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    now: datetime,
    new_rows: dict[str, dict[str, Any]],
    superseded: _Superseded,
    input_rows: list[dict[str, Any]],
    state_rows: list[dict[str, Any]],
    blob_rows: dict[str, dict[str, Any]],
    seen_again: set[str],
) -> None:
    if superseded.stored:
        ids = sorted(superseded.stored)
        conn.execute(
            """INSERT INTO article_versions
               SELECT article_id, version, content_hash, title, text, url, word_count, source_ref,
                      extractor_version, run_id, ingested_at, $now, $run
               FROM articles WHERE article_id IN (SELECT unnest($ids))""",
            {"ids": ids, "now": now, "run": run_id},
        )
        conn.execute("DELETE FROM articles WHERE article_id IN (SELECT unnest($ids))", {"ids": ids})
    _insert(conn, "article_versions", superseded.interim, VERSION_SCHEMA)
    _insert(conn, "articles", list(new_rows.values()), ARTICLE_SCHEMA)
    _record_raw_blobs(conn, blob_rows, seen_again, now)
    _insert(conn, "inputs", input_rows, INPUT_SCHEMA)
    # The same path can appear twice in one batch only if given twice; keep the last.
    _insert(
        conn, "file_state", list({r["path"]: r for r in state_rows}.values()), FILE_STATE_SCHEMA, replace=True
    )


BLOB_SCHEMA: dict[str, Any] = {
    "sha256": pl.Utf8,
    "size_bytes": pl.Int64,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "last_seen_at": pl.Datetime("us", "UTC"),
    "pruned_at": pl.Datetime("us", "UTC"),
}


def _blobs(items: list[Processed], now: datetime) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Raw-archive index rows: blobs stored in this batch, and blobs merely seen again."""
    stored: dict[str, dict[str, Any]] = {}
    seen_again: set[str] = set()
    for p in items:
        if not p.sha256:
            continue
        if p.raw_archived:
            stored[p.sha256] = {
                "sha256": p.sha256,
                "size_bytes": p.size_bytes or 0,
                "first_seen_at": now,
                "last_seen_at": now,
                "pruned_at": None,
            }
        elif p.state_current:
            seen_again.add(p.sha256)
    return stored, seen_again - set(stored)


def _record_raw_blobs(
    conn: duckdb.DuckDBPyConnection, stored: dict[str, dict[str, Any]], seen_again: set[str], now: datetime
) -> None:
    if stored:
        frame = pl.DataFrame(list(stored.values()), schema=BLOB_SCHEMA)
        conn.register("_batch_blobs", frame)
        try:
            conn.execute(
                """INSERT INTO raw_blobs SELECT * FROM _batch_blobs ON CONFLICT (sha256)
                   DO UPDATE SET last_seen_at = excluded.last_seen_at, pruned_at = NULL"""
            )
        finally:
            conn.unregister("_batch_blobs")
    if seen_again:
        conn.execute(
            "UPDATE raw_blobs SET last_seen_at = $now WHERE sha256 IN (SELECT unnest($shas))",
            {"now": now, "shas": sorted(seen_again)},
        )


def _insert(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    rows: list[dict[str, Any]],
    schema: dict[str, Any],
    *,
    replace: bool = False,
) -> None:
    """Bulk insert through an Arrow-backed polars frame (no per-row statements)."""
    if not rows:
        return
    frame = pl.DataFrame(rows, schema=schema)
    view = f"_batch_{table}"
    conn.register(view, frame)
    try:
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        conn.execute(f"{verb} INTO {table} ({', '.join(schema)}) SELECT * FROM {view}")
    finally:
        conn.unregister(view)
