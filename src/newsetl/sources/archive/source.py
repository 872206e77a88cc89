"""Inputs re-run from the raw archive: rejected ones (replay) and loaded ones with a newer
extractor (reprocess), without touching the original files or refetching pages.

Both go through the same extract -> enrich -> load path as a normal run and are runs of
their own in the ledger ('replay-rejects', 'reprocess'), so their outcomes are queryable
like any other: an improved extractor shows up as 'updated' articles with the earlier text
kept in ``article_versions``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from newsetl.models import DocKind, Outcome
from newsetl.pipeline.outcomes import Written
from newsetl.pipeline.process import Archived, Doc
from newsetl.pipeline.source import Batch, Item, Run, Source
from newsetl.pipeline.versions import EXTRACTOR_VERSION
from newsetl.sources.files.discover import KIND as FILE_KIND
from newsetl.sources.files.discover import classify
from newsetl.storage.raw_archive import archive_root
from newsetl.storage.sqllists import text_list

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
    if item.source_kind == FILE_KIND:
        return classify(Path(item.source_ref).name) or DocKind.HTML
    return DocKind.HTML


def select_rejects(
    conn: duckdb.DuckDBPyConnection,
    *,
    stage: str | None = None,
    reason: str | None = None,
    limit: int | None = None,
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


def select_outdated(
    conn: duckdb.DuckDBPyConnection, *, everything: bool = False, limit: int | None = None
) -> list[ArchivedInput]:
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


@dataclass(slots=True)
class _Before:
    """Title and length of the articles a batch may change, read in its transaction."""

    rows: dict[str, tuple[str | None, int]] = field(default_factory=dict)


class ArchiveSource(Source):
    """A replay or a reprocess run over archived inputs (selected before the run starts)."""

    kind = "archive"

    def __init__(self, items: Sequence[ArchivedInput], flow: str, parameters: dict[str, Any] | None = None):
        self.items = list(items)
        self.flow = flow
        self._parameters = parameters or {}
        self.changes: list[Change] = []
        self.id_changes = 0
        self.root = ""

    def parameters(self) -> dict[str, Any]:
        return {"inputs": len(self.items), **self._parameters}

    def open(self, run: Run) -> None:
        self.root = archive_root(run.settings)

    def batches(self, run: Run) -> Iterator[Batch]:
        size = run.settings.batch_size
        for i in range(0, len(self.items), size):
            chunk = self.items[i : i + size]
            yield Batch([Item(doc=self._doc(a), state=a) for a in chunk], extra=_Before())

    def _doc(self, a: ArchivedInput) -> Doc:
        return Doc(
            a.source_kind,
            a.source_ref,
            a.parent_ref,
            payload=Archived(self.root, a.sha256),
            kind=_kind_of(a),
            url=a.source_ref if a.source_kind != FILE_KIND else None,
        )

    def write(self, conn: duckdb.DuckDBPyConnection, batch: Batch, written: Written) -> None:
        ids = [it.state.article_id for it in batch.items if it.state.article_id]
        before: _Before = batch.extra
        before.rows.clear()
        # Read before this batch's rows are visible? The articles table already holds the
        # new versions here, so the earlier title and length come from article_versions.
        if ids:
            for aid, title, words in conn.execute(
                """SELECT article_id, title, word_count FROM article_versions
                   WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[])) AND superseded_by_run = $run""",
                {"ids": text_list(ids), "run": written.run_id},
            ).fetchall():
                before.rows[aid] = (title, words)
        refreshed = [
            aid
            for it, (outcome, aid) in zip(batch.items, written.decisions, strict=True)
            if outcome == Outcome.UNCHANGED and aid and it.state.article_id
        ]
        if refreshed:
            # Same text from the current extractor: record that it was checked.
            conn.execute(
                "UPDATE articles SET extractor_version = $v "
                "WHERE article_id IN (SELECT unnest($ids::JSON::VARCHAR[]))",
                {"v": EXTRACTOR_VERSION, "ids": text_list(refreshed)},
            )

    def committed(self, batch: Batch, written: Written) -> None:
        before: _Before = batch.extra
        for it, p, (outcome, aid) in zip(batch.items, written.items, written.decisions, strict=True):
            item: ArchivedInput = it.state
            if item.article_id and aid and aid != item.article_id:
                self.id_changes += 1
            if outcome == Outcome.UPDATED and aid and p.article is not None:
                title, words = before.rows.get(aid, (None, 0))
                self.changes.append(Change(aid, p.article.title or title, words, p.article.word_count))

    def stats(self) -> dict[str, int]:
        return {"changed": len(self.changes), "article_id_changes": self.id_changes}
