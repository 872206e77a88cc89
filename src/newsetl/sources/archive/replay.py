"""Re-run inputs from the raw archive: rejected ones (replay) and loaded ones with a newer
extractor (reprocess), without touching the original files or refetching pages.

Both go through the same extract -> enrich -> load path as a normal run and are runs of
their own in the ledger ('replay-rejects', 'reprocess'), so their outcomes are queryable
like any other: an improved extractor shows up as 'updated' articles with the earlier text
kept in ``article_versions``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from newsetl.models import BatchReport, DocKind, Outcome, Processed, RunSummary, SourceKind, Stage
from newsetl.pipeline.engine import new_run_id
from newsetl.pipeline.extract import EXTRACTOR_VERSION
from newsetl.pipeline.process import article_from_bytes, rejection_of
from newsetl.pipeline.workers import WorkerPool
from newsetl.settings import Settings
from newsetl.sources.files.discover import classify
from newsetl.storage import runs
from newsetl.storage.duckdb_file import ensure_schema, session, transaction
from newsetl.storage.raw_archive import ArchiveError, RawArchive
from newsetl.storage.writes import write_batch

REPLAY_FLOW = "replay-rejects"
REPROCESS_FLOW = "reprocess"


@dataclass(frozen=True, slots=True)
class ArchivedInput:
    """An input to re-run: where it came from and the hash of its archived bytes."""

    source_kind: str
    source_ref: str
    parent_ref: str | None
    sha256: str
    article_id: str | None = None  # the article it produced (reprocess)


def _kind_of(item: ArchivedInput) -> DocKind:
    if item.source_kind == SourceKind.FILE:
        return classify(Path(item.source_ref).name) or DocKind.HTML
    return DocKind.HTML


def _run_archived(item: ArchivedInput, settings: Settings) -> Processed:
    started = time.perf_counter()
    p = Processed(
        source_kind=item.source_kind,
        source_ref=item.source_ref,
        parent_ref=item.parent_ref,
        sha256=item.sha256,
        raw_archived=True,
    )
    try:
        data = RawArchive(settings.archive_dir).get(item.sha256, max_bytes=settings.max_file_bytes + 1)
        p.size_bytes = len(data)
        url = item.source_ref if item.source_kind != SourceKind.FILE else None
        p.article = article_from_bytes(
            data,
            _kind_of(item),
            max_bytes=settings.max_file_bytes,
            focus=settings.extract_focus,
            url=url,
            min_words=settings.min_words,
        )
    except ArchiveError as exc:
        p.stage, p.reason, p.raw_archived = Stage.READ, str(exc), False
    except Exception as exc:  # one broken document must never take its batch down
        p.stage, p.reason = rejection_of(exc)
    p.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return p


def _failed(item: ArchivedInput, reason: str) -> Processed:
    return Processed(
        source_kind=item.source_kind,
        source_ref=item.source_ref,
        parent_ref=item.parent_ref,
        sha256=item.sha256,
        stage=Stage.WORKER,
        reason=reason,
    )


def select_rejects(
    conn: Any, *, stage: str | None = None, reason: str | None = None, limit: int | None = None
) -> tuple[list[ArchivedInput], int]:
    """Inputs whose latest outcome is 'rejected' and whose bytes are archived; and how many
    matching rejections cannot be replayed (no bytes were ever read, e.g. unreadable files)."""
    where = ["outcome = 'rejected'"]
    params: dict[str, Any] = {}
    if stage:
        where.append("stage = $stage")
        params["stage"] = stage
    if reason:
        where.append("reason ILIKE $reason")
        params["reason"] = f"%{reason}%"
    latest = """SELECT * FROM inputs QUALIFY row_number() OVER (
                    PARTITION BY source_kind, source_ref, coalesce(parent_ref, '')
                    ORDER BY seen_at DESC) = 1"""
    base = f"SELECT * FROM ({latest}) WHERE {' AND '.join(where)}"
    rows = conn.execute(
        f"""SELECT l.source_kind, l.source_ref, l.parent_ref, l.sha256 FROM ({base}) l
            JOIN raw_blobs b ON b.sha256 = l.sha256 AND b.pruned_at IS NULL
            ORDER BY l.source_kind, l.source_ref {f"LIMIT {int(limit)}" if limit else ""}""",
        params,
    ).fetchall()
    unreplayable = conn.execute(
        f"""SELECT count(*) FROM ({base}) l
            WHERE l.sha256 IS NULL OR NOT EXISTS (
                SELECT 1 FROM raw_blobs b WHERE b.sha256 = l.sha256 AND b.pruned_at IS NULL)""",
        params,
    ).fetchone()
    return [ArchivedInput(*r) for r in rows], int(unreplayable[0]) if unreplayable else 0


def select_outdated(conn: Any, *, everything: bool = False, limit: int | None = None) -> list[ArchivedInput]:
    """Articles extracted by another extractor version (or all), with archived bytes."""
    cond = "" if everything else "AND a.extractor_version <> $version"
    params = {} if everything else {"version": EXTRACTOR_VERSION}
    rows = conn.execute(
        f"""SELECT a.source_kind, a.source_ref, NULL, a.raw_sha256, a.article_id FROM articles a
            JOIN raw_blobs b ON b.sha256 = a.raw_sha256 AND b.pruned_at IS NULL
            WHERE a.text_source <> 'feed' {cond}
            ORDER BY a.article_id {f"LIMIT {int(limit)}" if limit else ""}""",
        params,
    ).fetchall()
    return [ArchivedInput(*r) for r in rows]


@dataclass(slots=True)
class Change:
    article_id: str
    title: str | None
    words_before: int
    words_after: int


@dataclass
class ArchiveRun:
    """One replay or reprocess run over archived inputs, batch by batch."""

    items: Sequence[ArchivedInput]
    settings: Settings
    flow: str
    run_id: str = field(default_factory=new_run_id)
    parameters: dict[str, Any] = field(default_factory=dict)
    report: BatchReport = field(default_factory=BatchReport)
    changes: list[Change] = field(default_factory=list)
    id_changes: int = 0
    _pool: WorkerPool[ArchivedInput, Processed] | None = None
    _finished: RunSummary | None = None

    def __enter__(self) -> ArchiveRun:
        ensure_schema(self.settings.db_path, timeout_s=self.settings.lock_timeout_s)
        with session(self.settings.db_path, timeout_s=self.settings.lock_timeout_s) as conn:
            runs.start_run(conn, self.run_id, self.flow, {"inputs": len(self.items), **self.parameters})
        self._pool = WorkerPool(
            partial(_run_archived, settings=self.settings),
            _failed,
            workers=self.settings.workers,
            item_timeout_s=self.settings.item_timeout_s,
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.close()
        if exc is not None and self._finished is None:
            runs.record_failure(self.finish, self.run_id, exc)

    def batches(self) -> Iterator[list[ArchivedInput]]:
        size = self.settings.batch_size
        for i in range(0, len(self.items), size):
            yield list(self.items[i : i + size])

    def extract(self, batch: list[ArchivedInput]) -> list[Processed]:
        assert self._pool is not None, "use ArchiveRun as a context manager"
        return self._pool.map(batch)

    def load(self, batch: list[ArchivedInput], processed: list[Processed]) -> BatchReport:
        now = datetime.now(UTC)
        with (
            session(self.settings.db_path, timeout_s=self.settings.lock_timeout_s) as conn,
            transaction(conn),
        ):
            before = {
                r[0]: (r[1], r[2])
                for r in conn.execute(
                    """SELECT article_id, title, word_count FROM articles
                       WHERE article_id IN (SELECT unnest($ids))""",
                    {"ids": [i.article_id for i in batch if i.article_id]},
                ).fetchall()
            }
            result = write_batch(conn, self.run_id, processed, now=now)
            refreshed: list[str] = []
            for item, p, (outcome, article_id) in zip(batch, processed, result.decisions, strict=True):
                if item.article_id and article_id and article_id != item.article_id:
                    self.id_changes += 1
                if outcome == Outcome.UNCHANGED and article_id:
                    refreshed.append(article_id)
                if outcome == Outcome.UPDATED and article_id and p.article is not None:
                    title, words = before.get(article_id, (None, 0))
                    self.changes.append(
                        Change(article_id, p.article.title or title, words, p.article.word_count)
                    )
            if refreshed:
                # Same text from the current extractor: record that it was checked.
                conn.execute(
                    "UPDATE articles SET extractor_version = $v WHERE article_id IN (SELECT unnest($ids))",
                    {"v": EXTRACTOR_VERSION, "ids": refreshed},
                )
        self.report.merge(result.report)
        return result.report

    def finish(self, status: str = "completed", error: str | None = None) -> RunSummary:
        with session(self.settings.db_path, timeout_s=self.settings.lock_timeout_s) as conn:
            self._finished = runs.finish_run(conn, self.run_id, status, error)
        return self._finished


def run_all(job: ArchiveRun) -> RunSummary:
    for batch in job.batches():
        job.load(batch, job.extract(batch))
    return job.finish()
