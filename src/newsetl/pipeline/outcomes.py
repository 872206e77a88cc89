"""Each input's outcome, decided inside the batch transaction, and the rows that record it.

Outcomes, in order of precedence for an extracted article:
- same ``article_id`` already stored with the same ``content_hash``: 'unchanged' when it
  came from the same source before, else 'duplicate';
- same ``article_id`` with a different ``content_hash``, or the same text under an edited
  headline: 'updated' (the old version moves to ``article_versions``);
- a different article already has this ``content_hash``: 'duplicate' of that article;
- otherwise 'loaded'.
An input that is not an article by its type (:func:`skipped`) is 'skipped' with its reason;
'rejected' is for inputs that should have become articles and could not.
An input that repeats an earlier input of the same batch (``Processed.same_as``) shares
that input's article as a 'duplicate', or its rejection. Decisions read the warehouse in
the write transaction, and the transaction is redone if a concurrent writer commits
first (see storage.base), so two runs never both load one article, with or without
uniqueness constraints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from newsetl.models import Article, BatchReport, Outcome, Processed
from newsetl.storage import writes
from newsetl.storage.writes import Existing, Superseded

_ARTICLE_FIELDS = [f for f in Article.__dataclass_fields__ if f in writes.ARTICLE_SCHEMA]


@dataclass(slots=True)
class Written:
    """What a batch wrote: its items and each one's (outcome, article_id) in order, the
    counts, and the new or changed article rows (for near-duplicate linking)."""

    run_id: str
    now: datetime
    items: list[Processed]
    decisions: list[tuple[str, str | None]]
    report: BatchReport
    new_rows: list[dict[str, Any]] = field(default_factory=list)


def skipped(
    source_kind: str,
    source_ref: str,
    stage: str,
    reason: str,
    *,
    parent_ref: str | None = None,
    size_bytes: int | None = None,
    sha256: str | None = None,
) -> Processed:
    """An input that is not an article by its type (a data file, an image, a WARC request
    record): settled as 'skipped' with the reason, counted apart from rejections."""
    return Processed(
        source_kind=source_kind,
        source_ref=source_ref,
        parent_ref=parent_ref,
        sha256=sha256,
        size_bytes=size_bytes,
        stage=stage,
        reason=reason[:1000],
        outcome_hint=Outcome.SKIPPED,
    )


def reason_key(stage: str | None, reason: str | None) -> str | None:
    if reason is None:
        return None
    return f"{stage or '?'}: {reason}"


def _article_row(
    a: Article, p: Processed, run_id: str, now: datetime, version: int, first_seen: datetime, first_run: str
) -> dict[str, Any]:
    row = {f: getattr(a, f) for f in _ARTICLE_FIELDS}
    row["filled_from_feed"] = a.filled_from
    row["sketch"] = a.sketch  # for near-duplicate linking; not an articles column
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


def _headline_changed(old: str | None, new: str | None) -> bool:
    """An edited headline is a revision too (text unchanged); a missing one is not."""
    if not old or not new:
        return False
    return " ".join(old.split()).casefold() != " ".join(new.split()).casefold()


@dataclass(slots=True)
class _Plan:
    run_id: str
    now: datetime
    by_id: dict[str, Existing]
    by_hash: dict[str, str]
    new_rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # last write in batch wins
    superseded: Superseded = field(default_factory=Superseded)

    def decide(self, p: Processed) -> tuple[str, str | None]:
        if p.outcome_hint is not None:
            return p.outcome_hint, p.known_article_id
        a = p.article
        if a is None:
            return Outcome.REJECTED, None
        existing = self.by_id.get(a.article_id)
        if existing is not None:
            if existing.content_hash == a.content_hash and not _headline_changed(existing.title, a.title):
                same_source = existing.source_ref == p.source_ref
                return (Outcome.UNCHANGED if same_source else Outcome.DUPLICATE), a.article_id
            replaced = self.new_rows.get(a.article_id)
            if replaced is None:
                self.superseded.stored[a.article_id] = existing.version
            else:  # a second version in the same batch: keep the first one too
                self.superseded.interim.append(writes.version_row(replaced, self.now, self.run_id))
            version = existing.version + 1
            self.new_rows[a.article_id] = _article_row(
                a, p, self.run_id, self.now, version, existing.first_seen_at, existing.first_run_id
            )
            self.by_id[a.article_id] = Existing(
                a.content_hash, p.source_ref, version, existing.first_seen_at, existing.first_run_id, a.title
            )
            self.by_hash.setdefault(a.content_hash, a.article_id)
            return Outcome.UPDATED, a.article_id
        other = self.by_hash.get(a.content_hash)
        if other is not None:
            return Outcome.DUPLICATE, other
        self.new_rows[a.article_id] = _article_row(a, p, self.run_id, self.now, 1, self.now, self.run_id)
        self.by_id[a.article_id] = Existing(a.content_hash, p.source_ref, 1, self.now, self.run_id, a.title)
        self.by_hash[a.content_hash] = a.article_id
        return Outcome.LOADED, a.article_id


def _repeat(p: Processed, first: Processed, decision: tuple[str, str | None]) -> tuple[str, str | None]:
    """An input repeating an earlier one of the batch gets its article, or its rejection."""
    _, article_id = decision
    if article_id is not None:
        return Outcome.DUPLICATE, article_id
    p.stage = first.stage
    p.reason = f"same URL as an earlier input of this run, which was rejected: {first.reason}"[:1000]
    return Outcome.REJECTED, None


def load_batch(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    items: Iterable[Processed],
    *,
    now: datetime | None = None,
) -> Written:
    """Record every item in ``inputs`` and write new and changed articles (caller's transaction)."""
    items = list(items)
    now = now or datetime.now(UTC)
    docs = [p.article for p in items if p.article is not None]
    by_id, by_hash = writes.existing_articles(
        conn, {a.article_id for a in docs}, {a.content_hash for a in docs}
    )
    plan = _Plan(run_id, now, by_id, by_hash)
    report = BatchReport()
    decisions: list[tuple[str, str | None]] = []
    input_rows: list[dict[str, Any]] = []
    for p in items:
        if p.same_as is not None:
            outcome, article_id = _repeat(p, items[p.same_as], decisions[p.same_as])
        else:
            outcome, article_id = plan.decide(p)
        decisions.append((outcome, article_id))
        rejected = outcome == Outcome.REJECTED
        report.add(outcome, reason_key(p.stage, p.reason) if rejected else None)
        input_rows.append(writes.input_row(p, run_id, outcome, article_id, now))
    writes.write_articles(conn, run_id, now, plan.new_rows, plan.superseded)
    writes.write_raw_blobs(conn, items, now)
    writes.insert(conn, "inputs", input_rows, writes.INPUT_SCHEMA)
    return Written(run_id, now, items, decisions, report, list(plan.new_rows.values()))
