"""WARC archives (files or http(s) URLs) as a source: streamed, resumable, skipped when unchanged.

Each archive is read forward once (:mod:`.reader`), its records turned into inputs
(:mod:`.records`) and grouped into the engine's batches; the HTTP body of each page record
travels to the extraction workers as bytes (the main thread has to decompress every gzip
member anyway to find the next one, so a worker re-reading an offset range would
decompress it twice, and an archive streamed over HTTP has no offsets to go back to).

Progress: every batch's transaction also records, in ``warc_archives``, where the first
record after the batch starts. A run killed halfway restarts there (the records before
it are in the ledger of the run that read them); the file must still have the size and
mtime (a URL: the ETag/Last-Modified and length) it had, else it is read from the start,
records whose payload did not change being settled without extraction. An archive read to
the end and unchanged since is not read again: its records are settled from
``warc_records`` (unchanged, or skipped/rejected as before).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import duckdb

from newsetl.errors import InputPathError
from newsetl.models import Processed, RunSummary
from newsetl.pipeline.outcomes import Written
from newsetl.pipeline.process import Doc
from newsetl.pipeline.source import Batch, Item, Run, Source
from newsetl.pipeline.versions import EXTRACTOR_VERSION
from newsetl.settings import Settings
from newsetl.sources.warc.names import is_url, is_warc_name
from newsetl.sources.warc.progress import Opened, Progress
from newsetl.sources.warc.reader import RawRecord, read_records
from newsetl.sources.warc.records import KIND, PARSE, RecordInfo, interpret
from newsetl.sources.warc.remote import open_url
from newsetl.sources.warc.tables import (
    ARCHIVE_SCHEMA,
    RECORD_SCHEMA,
    ArchiveState,
    archive_state,
    forget_stale,
    known_records,
    settled_input,
    settled_records,
    stale_rejections,
)
from newsetl.storage import writes
from newsetl.web.stream import StreamError

WARC_FLOW = "ingest-warc"
_MAX_SETTLED = 10_000  # inputs per batch when most need no extraction
_MAX_BATCH_BYTES = 64 << 20  # record blocks held by one batch


@dataclass(slots=True)
class WarcStats:
    archives: int = 0
    unchanged: int = 0
    resumed: int = 0
    records: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        out = {"archives": self.archives, "archives_unchanged": self.unchanged,
               "archives_resumed": self.resumed}  # fmt: skip
        out.update({f"records_{k}": v for k, v in sorted(self.records.items())})
        return out


class WarcSource(Source):
    """WARC / WARC.gz archives, from files or streamed from http(s) URLs."""

    flow = WARC_FLOW
    kind = KIND

    def __init__(self, targets: Sequence[str | os.PathLike[str]]) -> None:
        self.targets = [os.fspath(t) for t in targets]
        self.archives: list[str] = []
        self.stats_ = WarcStats()
        self._fetcher: Any = None
        self._run: Run | None = None

    def check(self) -> None:
        out = []
        for t in self.targets:
            if is_url(t):
                out.append(t)
                continue
            path = os.path.abspath(t)
            if not os.path.isfile(path):
                raise InputPathError(f"no such WARC file: {t}")
            out.append(path)
        if not out:
            raise InputPathError("no WARC archives given")
        self.archives = out

    def parameters(self) -> dict[str, Any]:
        return {"archives": self.archives}

    def open(self, run: Run) -> None:
        self._run = run
        if any(is_url(a) for a in self.archives):
            from newsetl.web.pages import PageFetcher

            self._fetcher = PageFetcher(run.settings.web)

    def abort(self) -> None:
        if self._fetcher is not None:
            self._fetcher.abort()

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()

    def stats(self) -> dict[str, int]:
        return self.stats_.as_dict()

    # -- planning -------------------------------------------------------------------------

    def batches(self, run: Run) -> Iterator[Batch]:
        for archive in self.archives:
            self.stats_.archives += 1
            with run.store.session(read_only=True) as conn:
                state = archive_state(conn, archive)
                stale = stale_rejections(conn, archive, EXTRACTOR_VERSION) if state else 0
            yield from self._archive(run, archive, state, stale)

    def _archive(self, run: Run, archive: str, state: ArchiveState | None, stale: int) -> Iterator[Batch]:
        now = datetime.now(UTC)
        if is_url(archive):
            what, opened_url = open_url(self._fetcher, archive, state, stale, run.run_id, now)
            if isinstance(opened_url, Processed):  # the archive could not be fetched at all
                progress = Progress(archive, None, None, None, None, now, run.run_id, settled=True)
                progress.fetch_log = self._fetcher.take_log()
                yield Batch([Item(done=opened_url)], progress)
                return
            if opened_url is None:  # not modified since it was read to the end
                yield from self._settled(run, archive)
                return
            opened, progress = opened_url
            if what == "resumed" and state is not None:
                self._resumed(progress, state)
        else:
            st = os.stat(archive)
            same = state is not None and (state.size_bytes, state.mtime_ns) == (st.st_size, st.st_mtime_ns)
            if same and state is not None and state.complete and not stale:
                yield from self._settled(run, archive)
                return
            progress = Progress(archive, st.st_size, st.st_mtime_ns, None, None, now, run.run_id)
            fh = open(archive, "rb")  # noqa: SIM115 - closed by Opened.close
            opened = Opened(fh.read, fh.close)
            if same and state is not None and not state.complete:
                fh.seek(state.next_offset)
                opened.start, opened.skip_pos = state.next_offset, state.next_pos
                self._resumed(progress, state)
        try:
            yield from self._read(run, archive, opened, progress)
        finally:
            opened.close()

    def _resumed(self, progress: Progress, state: ArchiveState) -> None:
        self.stats_.resumed += 1
        progress.records = state.records
        progress.read_started_at, progress.first_run_id = state.read_started_at, state.first_run_id

    def _settled(self, run: Run, archive: str) -> Iterator[Batch]:
        """An archive read to the end and unchanged since: its records from ``warc_records``."""
        self.stats_.unchanged += 1
        after: tuple[int, str] | None = None
        while True:
            with run.store.session(read_only=True) as conn:
                rows = settled_records(conn, archive, after, _MAX_SETTLED)
            if not rows:
                return
            after = (rows[-1][0], rows[-1][1])
            items = [Item(done=settled_input(KIND, archive, r)) for r in rows]
            progress = Progress(archive, None, None, None, None, datetime.now(UTC), "", settled=True)
            if self._fetcher is not None:  # the conditional request's fetches row
                progress.fetch_log = self._fetcher.take_log()
            yield Batch(items, progress)

    def _read(self, run: Run, archive: str, opened: Opened, progress: Progress) -> Iterator[Batch]:
        max_block = run.settings.extract.max_file_bytes + (64 << 10)  # the page plus its HTTP head
        records = read_records(opened.read, start=opened.start, skip_pos=opened.skip_pos, max_block=max_block)
        pending: list[RawRecord] = []
        work = size = 0
        broken: Processed | None = None

        def following() -> RawRecord | None:
            nonlocal broken
            try:
                return next(records, None)
            except StreamError as exc:  # the download broke: what was read counts, the rest waits
                broken = Processed(KIND, archive, stage="fetch", reason=exc.reason, retryable=exc.transient)
                return None

        nxt = following()
        while nxt is not None:
            rec, nxt = nxt, following()
            pending.append(rec)
            work += rec.block is not None and (rec.headers.get("warc-type") or "") in ("response", "resource")
            size += len(rec.block or b"")
            last = nxt is None
            if (
                last
                or work >= run.settings.batch_size
                or len(pending) >= _MAX_SETTLED
                or size >= _MAX_BATCH_BYTES
            ):
                progress.next_offset, progress.next_pos = rec.next_offset, rec.next_pos
                progress.records += len(pending)
                progress.complete = last and broken is None
                if last:
                    opened.close()  # the download's fetches row goes with this batch
                yield self._batch(run, archive, pending, progress)
                pending, work, size = [], 0, 0
        if broken is not None:
            opened.close()
            yield Batch([Item(done=broken)], self._copy(progress))
        elif not progress.complete:  # an empty archive, or nothing after the resumed position
            opened.close()
            progress.complete = True
            yield Batch([], self._copy(progress))

    def _copy(self, progress: Progress) -> Progress:
        p = replace(progress)
        if self._fetcher is not None:
            p.fetch_log = self._fetcher.take_log()
        return p

    def _batch(self, run: Run, archive: str, recs: list[RawRecord], progress: Progress) -> Batch:
        refs = [f"{archive}#{r.ref}" for r in recs if r.block is not None]
        with run.store.session(read_only=True) as conn:
            known = known_records(conn, refs)
        items: list[Item] = []
        for rec in recs:
            info, what = interpret(rec, archive, known.get(f"{archive}#{rec.ref}"))
            key = info.record_type or ("broken" if rec.problem else "untyped")
            self.stats_.records[key] = self.stats_.records.get(key, 0) + 1
            if isinstance(what, Doc):
                items.append(Item(doc=what, state=info))
            else:
                items.append(Item(done=what, state=info))
        return Batch(items, self._copy(progress))

    # -- writing ----------------------------------------------------------------------------

    def write(self, conn: duckdb.DuckDBPyConnection, batch: Batch, written: Written) -> None:
        progress = batch.extra
        assert isinstance(progress, Progress)
        if progress.fetch_log is not None:
            from newsetl.web.pages import write_log

            write_log(conn, written.run_id, progress.fetch_log)
        if progress.settled:
            return
        rows = []
        for it, p, (outcome, article_id) in zip(batch.items, written.items, written.decisions, strict=True):
            info = it.state
            if isinstance(info, RecordInfo):
                rows.append(_record_row(info, p, outcome, article_id, written))
        writes.upsert(conn, "warc_records", rows, RECORD_SCHEMA, ["source_ref"])
        row = {
            **{f: getattr(progress, f) for f in ARCHIVE_SCHEMA if hasattr(progress, f)},
            "extractor_version": EXTRACTOR_VERSION,
            "run_id": written.run_id,
            "updated_at": written.now,
        }
        writes.upsert(conn, "warc_archives", [row], ARCHIVE_SCHEMA, ["archive"])
        if progress.complete:
            forget_stale(conn, progress.archive, progress.read_started_at)


def _record_row(
    info: RecordInfo, p: Processed, outcome: str, article_id: str | None, w: Written
) -> dict[str, Any]:
    with_reason = p.reason is not None and article_id is None
    return {
        "source_ref": info.ref,
        "archive": info.archive,
        "record_offset": info.offset,
        "record_length": info.length,
        "record_type": info.record_type,
        "record_id": info.record_id,
        "target_uri": info.target_uri,
        "warc_date": info.warc_date,
        "http_status": info.http_status,
        "content_type": info.content_type,
        "sha256": p.sha256,
        "outcome": outcome,
        "article_id": article_id,
        "stage": p.stage if with_reason else None,
        "reason": p.reason if with_reason else None,
        "extractor_version": EXTRACTOR_VERSION,
        "run_id": w.run_id,
        "seen_at": w.now,
    }


def ingest_warc(
    targets: Sequence[str | os.PathLike[str]], settings: Settings | None = None, *, run_id: str | None = None
) -> RunSummary:
    """Ingest WARC archives into the warehouse, without Prefect."""
    from newsetl.pipeline.engine import run_source

    return run_source(WarcSource(targets), settings, run_id=run_id)


__all__ = ["PARSE", "WARC_FLOW", "WarcSource", "ingest_warc", "is_url", "is_warc_name"]
