"""The run engine: one lifecycle for every source, written once.

A run is recorded in ``runs`` when it starts and closed with its counts when it ends
(completed, or failed with the reason — an interrupted run too). In between, the source's
batches go through three stages that overlap: the source's I/O (``prepare``: fetching
pages), extraction in the worker pool (CPU), and the load transaction (main thread). At
most ``LOOKAHEAD`` batches are in flight beyond the one being loaded, so memory is bounded
by the batch size, not by the input.

:func:`drive` runs the stages with plain threads; the Prefect flows pass their own
``submit``/``load`` (batch-level tasks) to the same function, so the order of work, the
look-ahead and the failure handling are the same with and without Prefect.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Any, Protocol, TypeVar

import duckdb

from newsetl.analysis import neardup
from newsetl.errors import TransientError
from newsetl.models import BatchReport, Processed, RunSummary
from newsetl.pipeline import faults, outcomes, progress
from newsetl.pipeline.process import Doc, process_document, worker_failure
from newsetl.pipeline.source import Batch, Source, taper_last
from newsetl.pipeline.versions import EXTRACTOR_VERSION
from newsetl.pipeline.workers import PoolTerminated, WorkerPool
from newsetl.settings import MB, Settings, default_workers
from newsetl.storage import runs
from newsetl.storage.backends import open_warehouse
from newsetl.storage.base import Warehouse

log = logging.getLogger("newsetl.run")

LOOKAHEAD = 2  # batches prepared/extracted ahead of the one being loaded
T_co = TypeVar("T_co", covariant=True)


class Result(Protocol[T_co]):
    """A future: concurrent.futures.Future and PrefectFuture both fit."""

    def result(self) -> T_co: ...


def new_run_id() -> str:
    return str(uuid.uuid4())


class Run:
    """One run of one source: use as a context manager, then :func:`drive` it."""

    def __init__(
        self,
        source: Source,
        settings: Settings,
        *,
        run_id: str | None = None,
        store: Warehouse | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.settings = settings
        self.run_id = run_id or new_run_id()
        self.store = store or open_warehouse(settings.storage)
        self.clock = clock
        self.report = BatchReport()
        self.started_at: datetime | None = None
        self.summary: RunSummary | None = None
        self._pool: WorkerPool[Doc, Processed] | None = None
        self._turns = _Turns()
        self._loader_threads = loader_threads(settings)
        bounded = self.store.capabilities.bounded_load_memory
        self._memory = LoadMemory(settings.storage.load_memory_mb if bounded else 0)

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Run:
        self.source.check()
        params = {"batch_size": self.settings.batch_size, **self.source.parameters()}

        def start(conn: duckdb.DuckDBPyConnection) -> datetime:
            runs.record_unstarted(conn, unstarted)
            return runs.start_run(conn, self.run_id, self.source.flow, params, EXTRACTOR_VERSION)

        unstarted: list[dict[str, Any]] = []
        try:
            self.store.ensure_schema()
            unstarted = self.store.take_unstarted()
            self.started_at = self.store.write(start)
        except TransientError as exc:  # e.g. a DuckDB file held by another process
            for note in [*unstarted, runs.unstarted_note(self.run_id, self.source.flow, params, exc)]:
                self.store.note_unstarted(note)
            raise
        faults.hit("run.started")
        try:
            self.source.open(self)
            self._pool = WorkerPool(
                partial(process_document, settings=self.settings),
                worker_failure,
                workers=self.settings.workers,
                item_timeout_s=self.settings.run.item_timeout_s,
            )
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._pool is not None:
                if exc is not None:
                    self._pool.terminate()
                self._pool.close()
        finally:
            try:
                if exc is not None:
                    self.source.abort()
                self.source.close()
            finally:
                if exc is not None and self.summary is None:
                    runs.record_failure(self.finish, self.run_id, exc)

    def abort(self) -> None:
        """Stop promptly (a signal): no new extraction or fetches; the run then fails."""
        self._turns.stop()
        if self._pool is not None:
            self._pool.terminate()
        self.source.abort()

    # -- the stages -----------------------------------------------------------------------

    def batches(self) -> Iterator[Batch]:
        planned = self.source.batches(self)
        if self.source.splittable:
            planned = taper_last(planned)
        for seq, batch in enumerate(planned):
            batch.seq = seq
            yield batch

    def extract(self, batch: Batch) -> list[Processed]:
        """The source's I/O for the batch, then extraction on the worker pool, in batch
        order (see :class:`_Turns`); results in input order."""
        pool = self._pool
        assert pool is not None, "use Run as a context manager"
        try:
            if batch.needs_work:
                self.source.prepare(self, batch)
            todo = [it.doc for it in batch.items if it.done is None and it.doc is not None]
            self._turns.wait(batch.seq)
            done = iter(pool.map(todo))
        finally:
            self._turns.end(batch.seq)
        out: list[Processed] = []
        for it in batch.items:
            if it.done is not None:
                out.append(it.done)
            elif it.doc is not None:
                out.append(next(done))
            else:
                raise AssertionError("a batch item has neither a document nor a result")
        return out

    def load(self, batch: Batch, processed: list[Processed]) -> BatchReport:
        """Ledger rows, articles, near-duplicate links and the source's rows: one transaction."""
        processed = self.source.settle(batch, processed)

        def transaction(conn: duckdb.DuckDBPyConnection) -> outcomes.Written:
            if self._loader_threads is not None:
                conn.execute(f"SET threads = {self._loader_threads}")
            self._memory.limit(conn)
            now = self.clock()
            written = outcomes.load_batch(conn, self.run_id, processed, now=now)
            neardup.link_articles(conn, self.run_id, now, written.new_rows)
            self.source.write(conn, batch, written)
            self._memory.lift(conn)
            faults.hit("load.before_commit")
            return written

        while True:
            try:
                written = self.store.write(transaction)
                break
            except duckdb.OutOfMemoryException as exc:
                if not self._memory.grow(exc):
                    raise
                # rolled back: redone from the start with more memory
        faults.hit("load.after_commit")
        self.source.committed(batch, written)
        self.report.merge(written.report)
        hook = progress.current()
        if hook is not None:
            hook(written.report)
        return written.report

    def finish(self, status: str = "completed", error: str | None = None) -> RunSummary:
        summary = self.store.write(lambda conn: runs.finish_run(conn, self.run_id, status, error))
        summary.db_path = self.store.describe()
        summary.extra = self.source.stats()
        self.summary = summary
        return summary


class _Turns:
    """Extraction in batch order. The pool serves one batch at a time, and the threads that
    extract batches race for it: when the next batch's thread won (measured: in two of three
    2,000-document runs), the one before waited behind it, and so did its load, which is
    next. At the end of a run two loads then ran back to back with the workers idle. A
    batch's I/O (``prepare``) still overlaps; only its turn on the pool waits for the
    batches before it to be done with theirs (or to have failed)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._next = 0
        self._ended: set[int] = set()
        self._stopped = False

    def wait(self, seq: int | None) -> None:
        if seq is None:  # a batch the engine did not number: no order to keep
            return
        with self._cv:
            self._cv.wait_for(lambda: self._stopped or self._next >= seq)
            if self._stopped:
                raise PoolTerminated("the run is stopping: no more extraction")

    def end(self, seq: int | None) -> None:
        if seq is None:
            return
        with self._cv:
            self._ended.add(seq)
            while self._next in self._ended:
                self._ended.discard(self._next)
                self._next += 1
            self._cv.notify_all()

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()


class LoadMemory:
    """DuckDB's memory limit for the load transactions of one run.

    Without one, every table block a transaction reads stays cached until the file closes,
    and the transactions read more of the tables as the warehouse grows (DuckDB joins by
    hash, and the ids and hashes a batch looks up are random, so most blocks are read): the
    loader's peak grew with the warehouse. With a limit the blocks are evicted instead. A
    primary-key index cannot be evicted, so the limit is the budget plus twice the index
    memory the previous transaction held. A transaction that still runs out is rolled back
    and redone with the budget doubled (past ``ceiling_mb``: without a limit, for the rest
    of the run). The limit is lifted before ``COMMIT``, so the commit and the checkpoint
    when the file closes are never refused memory. After a failed transaction the limit
    goes with the file when it closes (the DuckDB-file backend closes it after the last
    session), and the next transaction sets its own.
    """

    def __init__(self, budget_mb: int, *, ceiling_mb: int = 1024) -> None:
        self.budget = budget_mb * MB
        self.ceiling = ceiling_mb * MB
        self.indexes = 0
        self.off = budget_mb <= 0
        self.given_up = False  # a limit set before may still be in force: reset it

    @property
    def limit_bytes(self) -> int:
        return self.budget + 2 * self.indexes

    def limit(self, conn: duckdb.DuckDBPyConnection) -> None:
        if not self.off:
            conn.execute(f"SET memory_limit = '{self.limit_bytes // 1024}KiB'")
        elif self.given_up:
            conn.execute("RESET memory_limit")

    def lift(self, conn: duckdb.DuckDBPyConnection) -> None:
        if self.off:
            return
        row = conn.execute(
            "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'ART_INDEX'"
        ).fetchone()
        self.indexes = max(self.indexes, int(row[0]) if row else 0)
        conn.execute("RESET memory_limit")

    def grow(self, exc: BaseException) -> bool:
        """After a transaction ran out of its limit: True when it is worth redoing (with the
        budget doubled, or past the ceiling without a limit)."""
        if self.off:
            return False
        before = self.limit_bytes // MB
        self.budget *= 2
        if self.budget > self.ceiling:
            self.off = self.given_up = True
            after = "without a limit for the rest of the run"
        else:
            after = f"with {self.limit_bytes // MB} MB"
        log.warning(
            "a load transaction needed more than its %d MB of DuckDB memory (%s); redoing it %s "
            "(NEWSETL_LOAD_MEMORY_MB sets the budget)",
            before,
            " ".join(str(exc).split())[:160],
            after,
        )
        return True


def loader_threads(settings: Settings) -> int | None:
    """DuckDB threads for the load transaction: the cores the extraction workers leave
    (at least one). DuckDB would otherwise start one thread per core, each with its own
    buffers, competing with the workers for the same cores; measured on 2 cores: the same
    speed, ~60 MB less at the loader's peak. None: in-process extraction, DuckDB's default."""
    if settings.workers == 0:
        return None
    return max(1, default_workers() - settings.workers)


def drive(
    run: Run,
    *,
    submit: Callable[[Batch], Result[list[Processed]]] | None = None,
    load: Callable[[Batch, list[Processed]], BatchReport] | None = None,
) -> RunSummary:
    """Every batch of the run through prepare -> extract -> load, then the run's summary.

    ``submit`` starts a batch's prepare+extract and returns a future (default: a thread,
    two at a time, so one batch's I/O overlaps the previous one's extraction); ``load``
    commits a batch in the calling thread. Loads happen in batch order.
    """
    ahead = ThreadPoolExecutor(max_workers=LOOKAHEAD, thread_name_prefix="newsetl-extract")
    start = submit or (lambda b: ahead.submit(run.extract, b))
    commit = load or run.load
    pending: deque[tuple[Batch, Result[list[Processed]]]] = deque()
    try:
        for batch in run.batches():
            pending.append((batch, start(batch)))
            while len(pending) > LOOKAHEAD:
                b, fut = pending.popleft()
                commit(b, fut.result())
        while pending:
            b, fut = pending.popleft()
            commit(b, fut.result())
    except BaseException:
        run.abort()  # extraction and fetching still in flight end now, not after their batch
        raise
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)
    return run.finish()


def run_source(source: Source, settings: Settings | None = None, *, run_id: str | None = None) -> RunSummary:
    """Run a source to completion without Prefect."""
    settings = settings or Settings.from_env()
    with Run(source, settings, run_id=run_id) as run:
        return drive(run)
