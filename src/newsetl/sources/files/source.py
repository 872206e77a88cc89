"""Files as a source: discovered lazily, skipped when unchanged, read by the workers.

``file_state`` remembers each path's size, mtime and hash with its last outcome. A file
with the same size and mtime is settled from it without being read; the same size with a
new mtime is read and hashed by the worker, and settled from the state when the bytes did
not change (no extraction). Everything else is extracted.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from newsetl.models import Outcome, Processed, RunSummary
from newsetl.pipeline.outcomes import Written
from newsetl.pipeline.process import Doc, Known
from newsetl.pipeline.shards import WHOLE, Shard
from newsetl.pipeline.source import Batch, Item, Run, Source
from newsetl.pipeline.versions import EXTRACTOR_VERSION
from newsetl.settings import Settings
from newsetl.sources.files.discover import KIND, FileRef, check_paths, discover, read_file
from newsetl.storage import writes
from newsetl.storage.sqllists import text_list

FILES_FLOW = "ingest-files"
_LOOKUP_CHUNK = 2000
# Unchanged files ride along in a batch without counting towards batch_size, up to this
# many, so a no-op re-run is a handful of batches.
_MAX_SETTLED = 10_000

FILE_STATE_SCHEMA: writes.Schema = {
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


@dataclass(frozen=True, slots=True)
class FilePayload:
    """A file's bytes, read (with the size cap) inside the worker."""

    path: str

    def read(self, max_bytes: int) -> tuple[bytes, int | None]:
        data, st = read_file(self.path, max_bytes)
        return data, st.st_mtime_ns


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

    def known(self) -> Known | None:
        if not self.sha256:
            return None
        return Known(
            self.sha256, self.outcome, self.article_id, self.stage, self.reason, self.extractor_version
        )


def lookup_file_state(conn: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> dict[str, FileState]:
    """What the warehouse remembers about these files (for skipping unchanged ones)."""
    if not paths:
        return {}
    rows = conn.execute(
        """SELECT path, size_bytes, mtime_ns, sha256, outcome, article_id, stage, reason, extractor_version
           FROM file_state WHERE path IN (SELECT unnest($paths::JSON::VARCHAR[]))""",
        {"paths": text_list(paths)},
    ).fetchall()
    return {r[0]: FileState(*r[1:]) for r in rows}


def _settled(ref: FileRef, state: FileState) -> Processed | None:
    """The stored result for a file whose size and mtime did not change, or None."""
    p = Processed(source_kind=KIND, source_ref=ref.path, sha256=state.sha256, size_bytes=ref.size,
                  settled_from_state=True)  # fmt: skip
    if state.outcome == Outcome.REJECTED:
        if state.extractor_version != EXTRACTOR_VERSION:
            return None  # a newer extractor deserves another try
        p.stage, p.reason = state.stage, state.reason
        return p
    if not state.article_id:
        return None
    p.outcome_hint, p.known_article_id = Outcome.UNCHANGED, state.article_id
    return p


class FileSource(Source):
    """Files and directories, searched recursively in sorted order; with ``shard``, only the
    files of that shard (by path relative to their input root)."""

    flow = FILES_FLOW
    kind = KIND
    splittable = True

    def __init__(self, paths: Sequence[str | os.PathLike[str]], shard: Shard = WHOLE) -> None:
        self.paths = [os.fspath(p) for p in paths]
        self.shard = shard
        self.roots: list[str] = []

    def check(self) -> None:
        self.roots = check_paths(self.paths)

    def parameters(self) -> dict[str, Any]:
        return {"paths": self.roots} | ({} if self.shard.whole else {"shard": str(self.shard)})

    def batches(self, run: Run) -> Iterator[Batch]:
        """Discovery is lazy; the warehouse is asked about files a chunk at a time. Only
        files that need reading count towards ``batch_size``."""
        size = run.settings.batch_size
        batch, work = Batch(), 0
        discovered = iter(discover(self.roots, self.shard))
        while chunk := list(itertools.islice(discovered, _LOOKUP_CHUNK)):
            paths = [c.path for c in chunk if isinstance(c, FileRef)]
            known: dict[str, FileState] = {}
            if paths:
                with run.store.session(read_only=True) as conn:
                    known = lookup_file_state(conn, paths)
            for item in chunk:
                if isinstance(item, Processed):
                    batch.items.append(Item(done=item))
                else:
                    it = self._item(item, known.get(item.path))
                    batch.items.append(it)
                    work += it.done is None
                if work >= size or len(batch) >= _MAX_SETTLED:
                    yield batch
                    batch, work = Batch(), 0
        if batch.items:
            yield batch

    def _item(self, ref: FileRef, state: FileState | None) -> Item:
        if state is not None and state.size_bytes == ref.size and state.mtime_ns == ref.mtime_ns:
            settled = _settled(ref, state)
            if settled is not None:
                return Item(done=settled, state=ref)
        # Same size, new mtime: the worker confirms by hash before paying for extraction.
        known = state.known() if state is not None and state.size_bytes == ref.size else None
        doc = Doc(KIND, ref.path, payload=FilePayload(ref.path), kind=ref.kind, known=known)
        return Item(doc=doc, state=ref)

    def write(self, conn: duckdb.DuckDBPyConnection, batch: Batch, written: Written) -> None:
        """``file_state`` for every file that was read (settled ones did not change)."""
        rows: dict[str, dict[str, Any]] = {}
        for it, p, (outcome, article_id) in zip(batch.items, written.items, written.decisions, strict=True):
            ref = it.state
            if it.doc is None or not isinstance(ref, FileRef):
                continue  # a discovery rejection, or a file settled from its unchanged state
            rejected = outcome == Outcome.REJECTED
            rows[ref.path] = {  # the same path twice in one batch (given twice): the last wins
                "path": ref.path,
                "size_bytes": p.size_bytes if p.size_bytes is not None else ref.size,
                "mtime_ns": p.read_mtime_ns if p.read_mtime_ns is not None else ref.mtime_ns,
                "sha256": p.sha256,
                "outcome": outcome,
                "article_id": article_id,
                "stage": p.stage if rejected else None,
                "reason": p.reason if rejected else None,
                "extractor_version": EXTRACTOR_VERSION,
                "run_id": written.run_id,
                "checked_at": written.now,
            }
        writes.upsert(conn, "file_state", list(rows.values()), FILE_STATE_SCHEMA, ["path"])


def ingest_files(
    paths: Sequence[str | Path],
    settings: Settings | None = None,
    *,
    run_id: str | None = None,
    shard: Shard = WHOLE,
) -> RunSummary:
    """Ingest files and directories into the warehouse, without Prefect."""
    from newsetl.pipeline.engine import run_source

    return run_source(FileSource(paths, shard), settings, run_id=run_id)
