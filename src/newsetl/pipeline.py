"""Compose the stages without Prefect: sources -> extract/enrich (worker processes) -> load.

:class:`FileIngest` exposes the stages one batch at a time, so the Prefect flow can wrap
each as a task while :func:`ingest_files` runs the same steps as a plain function. Both
overlap the extraction of batch n+1 with the load of batch n.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from newsetl import faults, progress, runs
from newsetl.config import Settings
from newsetl.errors import Rejection
from newsetl.extract import EXTRACTOR_VERSION
from newsetl.load import FileState, load_batch, lookup_file_state
from newsetl.models import BatchReport, FileRef, Outcome, Processed, RunSummary, SourceKind, Stage
from newsetl.process import archive_raw, process_file
from newsetl.sources.files import check_paths, discover, read_bytes
from newsetl.warehouse import ensure_schema, session
from newsetl.workers import WorkerPool

FILES_FLOW = "ingest-files"


@dataclass(frozen=True, slots=True)
class FileTask:
    """A file to process, with what the warehouse last saw at its path."""

    ref: FileRef
    known: FileState | None = None


def _run_file_task(task: FileTask, settings: Settings) -> Processed:
    known = task.known
    if known is not None and known.sha256 and known.size_bytes == task.ref.size:
        # Same size, new mtime: confirm by hash before paying for extraction.
        try:
            data = read_bytes(task.ref.path, settings.max_file_bytes)
        except Rejection:
            data = None
        if data is not None and hashlib.sha256(data).hexdigest() == known.sha256:
            reused = _reuse(task.ref, known)
            if reused is not None:
                reused.raw_archived = archive_raw(data, known.sha256, settings)
                return reused
    return process_file(task.ref, settings)


def _reuse(ref: FileRef, known: FileState) -> Processed | None:
    """The stored result for a file whose bytes did not change, or None to re-process."""
    p = Processed(
        source_kind=SourceKind.FILE,
        source_ref=ref.path,
        sha256=known.sha256,
        size_bytes=ref.size,
        mtime_ns=ref.mtime_ns,
    )
    if known.outcome == Outcome.REJECTED:
        if known.extractor_version != EXTRACTOR_VERSION:
            return None  # a newer extractor deserves another try
        p.stage, p.reason = known.stage, known.reason
        return p
    if not known.article_id:
        return None
    p.outcome_hint, p.known_article_id = Outcome.UNCHANGED, known.article_id
    return p


def _worker_failure(task: FileTask, reason: str) -> Processed:
    return Processed(
        source_kind=SourceKind.FILE,
        source_ref=task.ref.path,
        size_bytes=task.ref.size,
        mtime_ns=task.ref.mtime_ns,
        stage=Stage.WORKER,
        reason=reason,
    )


_LOOKUP_CHUNK = 2000
_MAX_SETTLED = 10_000


@dataclass
class Batch:
    """Inputs in discovery order: settled results (skipped or rejected early) and files
    still to process (``tasks``, in the same relative order)."""

    items: list[Processed | FileTask] = field(default_factory=list)
    tasks: list[FileTask] = field(default_factory=list)

    def add(self, item: FileRef | Processed, known: FileState | None) -> None:
        if isinstance(item, Processed):
            self.items.append(item)
            return
        if known is not None and known.size_bytes == item.size and known.mtime_ns == item.mtime_ns:
            reused = _reuse(item, known)
            if reused is not None:
                reused.state_current = True
                self.items.append(reused)
                return
        task = FileTask(item, known)
        self.items.append(task)
        self.tasks.append(task)

    def __len__(self) -> int:
        return len(self.items)


def new_run_id() -> str:
    return str(uuid.uuid4())


@dataclass
class FileIngest:
    """One ``ingest-files`` run, driven batch by batch."""

    paths: Sequence[str | Path]
    settings: Settings
    run_id: str = field(default_factory=new_run_id)
    flow: str = FILES_FLOW
    parameters: dict[str, Any] = field(default_factory=dict)
    report: BatchReport = field(default_factory=BatchReport)
    started_at: datetime | None = None
    _roots: list[str] = field(default_factory=list)
    _pool: WorkerPool[FileTask, Processed] | None = None
    _finished: RunSummary | None = None

    def __enter__(self) -> FileIngest:
        self._roots = check_paths(self.paths)
        ensure_schema(self.settings.db_path, timeout_s=self.settings.lock_timeout_s)
        params = {"paths": self._roots, "batch_size": self.settings.batch_size, **self.parameters}
        with self._session() as conn:
            self.started_at = runs.start_run(conn, self.run_id, self.flow, params)
        faults.hit("run.started")
        self._pool = WorkerPool(
            partial(_run_file_task, settings=self.settings),
            _worker_failure,
            workers=self.settings.workers,
            item_timeout_s=self.settings.item_timeout_s,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.abort()  # a stopping run must not wait for the batch being extracted
        if self._pool is not None:
            self._pool.close()
        if exc is not None and self._finished is None:
            runs.record_failure(self.finish, self.run_id, exc)

    def abort(self) -> None:
        """Stop now: kill the extraction workers (a ``map`` in flight raises)."""
        if self._pool is not None:
            self._pool.terminate()

    def _session(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return session(self.settings.db_path, timeout_s=self.settings.lock_timeout_s)

    def batches(self) -> Iterator[Batch]:
        """Discovered inputs in bounded batches, with unchanged files already settled.

        Discovery is lazy; the warehouse is asked about files a chunk at a time. Only files
        that need extraction count towards ``batch_size``: unchanged files ride along (up
        to ``_MAX_SETTLED`` per batch), so a no-op re-run is a handful of batches.
        """
        batch = Batch()
        discovered = iter(discover(self._roots))
        while chunk := list(itertools.islice(discovered, _LOOKUP_CHUNK)):
            refs = [c.path for c in chunk if isinstance(c, FileRef)]
            known: dict[str, FileState] = {}
            if refs:
                with self._session() as conn:
                    known = lookup_file_state(conn, refs)
            for item in chunk:
                batch.add(item, known.get(item.path) if isinstance(item, FileRef) else None)
                if len(batch.tasks) >= self.settings.batch_size or len(batch.items) >= _MAX_SETTLED:
                    yield batch
                    batch = Batch()
        if batch.items:
            yield batch

    def extract(self, batch: Batch) -> list[Processed]:
        """Process the batch's remaining files in worker processes; keeps input order."""
        assert self._pool is not None, "use FileIngest as a context manager"
        done = iter(self._pool.map(batch.tasks))
        return [item if isinstance(item, Processed) else next(done) for item in batch.items]

    def load(self, processed: Iterable[Processed]) -> BatchReport:
        with self._session() as conn:
            batch_report = load_batch(conn, self.run_id, processed)
        faults.hit("load.after_commit")
        self.report.merge(batch_report)
        hook = progress.current()
        if hook is not None:
            hook(batch_report)
        return batch_report

    def finish(self, status: str = "completed", error: str | None = None) -> RunSummary:
        with self._session() as conn:
            self._finished = runs.finish_run(conn, self.run_id, status, error)
        return self._finished


def run_batches(job: FileIngest) -> None:
    """Extract batch n+1 in a helper thread while batch n is loaded."""
    # aborting(): on any exception, kill the workers before ``ahead`` waits for their batch.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsetl-extract") as ahead,
        runs.aborting(job.abort),
    ):
        pending = None
        for batch in job.batches():
            future = ahead.submit(job.extract, batch)
            if pending is not None:
                job.load(pending.result())
            pending = future
        if pending is not None:
            job.load(pending.result())


def ingest_files(
    paths: Sequence[str | Path], settings: Settings | None = None, *, run_id: str | None = None
) -> RunSummary:
    """Ingest files and directories into the warehouse, without Prefect."""
    settings = settings or Settings.from_env()
    with FileIngest(paths, settings, run_id=run_id or new_run_id()) as job:
        run_batches(job)
        return job.finish()
