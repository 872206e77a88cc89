"""``warc_archives`` (how far each archive was read) and ``warc_records`` (each record read,
with its last outcome): schemas, look-ups and the rows a batch writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from newsetl.models import Outcome, Processed
from newsetl.pipeline.process import Known
from newsetl.storage import writes
from newsetl.storage.sqllists import text_list

UTC_TS = pl.Datetime("us", "UTC")

ARCHIVE_SCHEMA: writes.Schema = {
    "archive": pl.Utf8,
    "size_bytes": pl.Int64,
    "mtime_ns": pl.Int64,
    "etag": pl.Utf8,
    "last_modified": pl.Utf8,
    "next_offset": pl.Int64,
    "next_pos": pl.Int64,
    "records": pl.Int64,
    "complete": pl.Boolean,
    "extractor_version": pl.Utf8,
    "read_started_at": UTC_TS,
    "first_run_id": pl.Utf8,
    "run_id": pl.Utf8,
    "updated_at": UTC_TS,
}

RECORD_SCHEMA: writes.Schema = {
    "source_ref": pl.Utf8,
    "archive": pl.Utf8,
    "record_offset": pl.Int64,
    "record_length": pl.Int64,
    "record_type": pl.Utf8,
    "record_id": pl.Utf8,
    "target_uri": pl.Utf8,
    "warc_date": UTC_TS,
    "http_status": pl.Int32,
    "content_type": pl.Utf8,
    "sha256": pl.Utf8,
    "outcome": pl.Utf8,
    "article_id": pl.Utf8,
    "stage": pl.Utf8,
    "reason": pl.Utf8,
    "extractor_version": pl.Utf8,
    "run_id": pl.Utf8,
    "seen_at": UTC_TS,
}


@dataclass(frozen=True, slots=True)
class ArchiveState:
    size_bytes: int | None
    mtime_ns: int | None
    etag: str | None
    last_modified: str | None
    next_offset: int
    next_pos: int
    records: int
    complete: bool
    extractor_version: str | None
    read_started_at: datetime
    first_run_id: str


def archive_state(conn: duckdb.DuckDBPyConnection, archive: str) -> ArchiveState | None:
    row = conn.execute(
        """SELECT size_bytes, mtime_ns, etag, last_modified, next_offset, next_pos, records, complete,
                  extractor_version, read_started_at, first_run_id
           FROM warc_archives WHERE archive = ?""",
        [archive],
    ).fetchone()
    return ArchiveState(*row) if row else None


def stale_rejections(conn: duckdb.DuckDBPyConnection, archive: str, version: str) -> int:
    """Records of ``archive`` rejected by another extractor version (worth another try)."""
    row = conn.execute(
        """SELECT count(*) FROM warc_records WHERE archive = ? AND outcome = 'rejected'
           AND stage <> 'parse' AND extractor_version IS DISTINCT FROM ?""",
        [archive, version],
    ).fetchone()
    return int(row[0]) if row else 0


def known_records(conn: duckdb.DuckDBPyConnection, refs: Sequence[str]) -> dict[str, Known]:
    """What is stored about these records' payloads (unchanged bytes skip extraction)."""
    if not refs:
        return {}
    rows = conn.execute(
        """SELECT source_ref, sha256, outcome, article_id, stage, reason, extractor_version
           FROM warc_records
           WHERE source_ref IN (SELECT unnest($refs::JSON::VARCHAR[])) AND sha256 IS NOT NULL""",
        {"refs": text_list(refs)},
    ).fetchall()
    return {r[0]: Known(*r[1:]) for r in rows}


def settled_records(
    conn: duckdb.DuckDBPyConnection, archive: str, after: tuple[int, str] | None, limit: int
) -> list[tuple[Any, ...]]:
    """The next ``limit`` records of ``archive`` in archive order, after ``after``."""
    where, params = "archive = $a", {"a": archive, "n": limit}
    if after is not None:
        where += " AND (record_offset, source_ref) > ($o, $r)"
        params.update(o=after[0], r=after[1])
    return conn.execute(
        f"""SELECT record_offset, source_ref, sha256, outcome, article_id, stage, reason, record_length
            FROM warc_records WHERE {where} ORDER BY record_offset, source_ref LIMIT $n""",
        params,
    ).fetchall()


def settled_input(kind: str, archive: str, row: tuple[Any, ...]) -> Processed:
    """A record of an unchanged archive, settled from its row without reading the archive."""
    _, ref, sha, outcome, article_id, stage, reason, length = row
    p = Processed(kind, ref, parent_ref=archive, sha256=sha, size_bytes=length, settled_from_state=True)
    if outcome in (Outcome.REJECTED, Outcome.SKIPPED):
        p.stage, p.reason = stage, reason
        if outcome == Outcome.SKIPPED:
            p.outcome_hint = Outcome.SKIPPED
    else:
        p.outcome_hint, p.known_article_id = Outcome.UNCHANGED, article_id
    return p


def forget_stale(conn: duckdb.DuckDBPyConnection, archive: str, since: datetime) -> None:
    """Rows of an earlier version of ``archive`` not seen again in the reading that ended."""
    conn.execute("DELETE FROM warc_records WHERE archive = ? AND seen_at < ?", [archive, since])
