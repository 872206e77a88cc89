"""A process pool for CPU-bound extraction that survives crashing and hanging inputs.

At most ``workers + 1`` items are in flight at any time, so when a worker dies (a
segfault in a C parser, the OOM killer) or an input hangs, the suspects are known: they
are retried alone in a fresh pool, and only the input that fails again is rejected. The
rest of the batch is never lost.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from multiprocessing import spawn
from typing import Any, Generic, TypeVar

from newsetl.errors import TerminalError
from newsetl.pipeline import faults

T = TypeVar("T")
R = TypeVar("R")

_PRELOAD = ["newsetl.pipeline.worker_init"]

# A worker runs only importable newsetl functions, so it needs nothing from the parent's
# __main__; multiprocessing re-runs that module in every child regardless (as __mp_main__,
# before the child takes any work). Under `python -m prefect.engine` (a deployment's flow
# run) that imports Prefect in each worker: ~1 s of CPU and +53 MB apiece, measured; under
# the `newsetl` console script, the whole CLI (+35 MB). The forkserver's own remedy, a
# "__main__" preload, has been dead code since 3.4 (python/cpython#98552, #126631). So the
# pool's process starts leave the main module out of what the child prepares from; other
# process starts in the program are untouched (the flag is per thread and context).
_SKIP_MAIN: ContextVar[bool] = ContextVar("newsetl_workers_skip_main", default=False)
_stdlib_preparation_data = spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _stdlib_preparation_data(name)
    if _SKIP_MAIN.get():
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


if getattr(spawn.get_preparation_data, "__module__", None) != __name__:
    spawn.get_preparation_data = _preparation_data


class WorkerStartError(TerminalError):
    """Worker processes cannot be started at all: a run-level failure, not an input's."""


class PoolTerminated(TerminalError):
    """The pool was terminated (its run is being stopped): no more work is taken."""


def _context() -> multiprocessing.context.ForkServerContext:
    # forkserver, not fork: the parent runs threads (Prefect, DuckDB) that a fork would copy
    # mid-flight; the forkserver is a clean process that imported the extractors once.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def prestart() -> None:
    """Start the forkserver (and its ~2 s of imports) now, e.g. while Prefect starts up."""
    _context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _watch_parent(pid: int) -> None:
    # A worker blocks on its task queue forever if the pool's owner is killed (kill -9):
    # it holds the queue's write end itself, so it never sees EOF. Leave with the owner.
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(70)
        except PermissionError:
            pass


def _init_worker(memory_limit_mb: int, owner_pid: int) -> None:
    # Ctrl-C is for the parent to handle; workers are torn down by it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(owner_pid,), name="watch-owner", daemon=True).start()
    if memory_limit_mb > 0:
        import resource

        limit = memory_limit_mb * 1024 * 1024
        # A platform that refuses the cap runs without one.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from newsetl.pipeline import worker_init

    worker_init.warm_up()


def _ping() -> int:
    return os.getpid()


def _submit(executor: ProcessPoolExecutor, fn: Callable[..., R], *args: Any) -> Future[R]:
    """``executor.submit``, which starts a worker process when one is missing (in this
    thread): that start leaves out the parent's ``__main__`` (see ``_SKIP_MAIN``)."""
    token = _SKIP_MAIN.set(True)
    try:
        return executor.submit(fn, *args)
    finally:
        _SKIP_MAIN.reset(token)


class WorkerPool(Generic[T, R]):
    """Map ``fn`` over items in worker processes, turning crashes and hangs into results.

    ``on_failure(item, reason)`` builds the result for an item whose worker crashed or
    timed out. With ``workers=0`` everything runs in the calling process (no isolation).
    """

    def __init__(
        self,
        fn: Callable[[T], R],
        on_failure: Callable[[T, str], R],
        *,
        workers: int,
        item_timeout_s: float = 120.0,
        memory_limit_mb: int = 4096,
    ) -> None:
        self._fn = fn
        self._on_failure = on_failure
        self.workers = workers
        self.item_timeout_s = item_timeout_s
        self.memory_limit_mb = memory_limit_mb
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._terminated = False
        self.restarts = 0

    def __enter__(self) -> WorkerPool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pool(self) -> ProcessPoolExecutor:
        if self._terminated:
            raise PoolTerminated("the worker pool was terminated: the run is stopping")
        if self._executor is None:
            ctx = _context()
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self.memory_limit_mb, os.getpid()),
            )
            try:
                # A pool that cannot start (an interpreter or preload that fails) would
                # otherwise look like every input crashing its worker.
                _submit(self._executor, _ping).result(timeout=300)
            except Exception as exc:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
                raise WorkerStartError(
                    f"worker processes failed to start ({type(exc).__name__}: {exc})"
                ) from exc
        return self._executor

    def _kill(self) -> None:
        """Tear the pool down hard (a hung worker never returns on its own)."""
        ex, self._executor = self._executor, None
        if ex is None:
            return
        procs = list(getattr(ex, "_processes", {}).values())  # no public API to kill workers
        for p in procs:
            with contextlib.suppress(OSError, AttributeError):
                p.kill()
        ex.shutdown(wait=True, cancel_futures=True)
        self.restarts += 1

    def close(self) -> None:
        ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)

    def terminate(self) -> None:
        """Kill the workers now, mid-item, and take no more work (a run being stopped).

        A ``map`` running in another thread sees its workers die and raises
        :class:`PoolTerminated` instead of retrying the items in a fresh pool.
        """
        self._terminated = True
        self._kill()

    def map(self, items: Sequence[T]) -> list[R]:
        """Results in input order; never raises because of one item.

        Calls from several threads are served one after the other: crash recovery tears
        the whole pool down, which must not happen under another caller's feet.
        """
        if not items:
            return []
        if self._terminated:
            raise PoolTerminated("the worker pool was terminated: the run is stopping")
        if self.workers == 0:
            return [self._fn(it) for it in items]
        with self._lock:
            results: dict[int, R] = {}
            self._run(list(range(len(items))), items, results, window=self.workers + 1)
        return [results[i] for i in range(len(items))]

    def _run(self, todo: list[int], items: Sequence[T], results: dict[int, R], window: int) -> None:
        queue = list(reversed(todo))
        inflight: dict[Future[R], tuple[int, float]] = {}
        suspects: list[int] = []
        while queue or inflight:
            while queue and len(inflight) < window:
                idx = queue.pop()
                try:
                    fut = _submit(self._pool(), self._fn, items[idx])
                except BrokenProcessPool:
                    queue.append(idx)
                    self._kill()
                    continue
                inflight[fut] = (idx, time.monotonic())
            done, _ = wait(list(inflight), timeout=min(1.0, self.item_timeout_s), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                faults.hit("extract.item")
                idx, _started = inflight.pop(fut)
                try:
                    results[idx] = fut.result()
                except BrokenProcessPool:
                    broken = True
                    suspects.append(idx)
                except Exception as exc:  # the function itself raised: a bug, not the input's fault
                    results[idx] = self._on_failure(items[idx], f"worker error: {type(exc).__name__}: {exc}")
            if broken:
                suspects.extend(idx for idx, _ in inflight.values())
                inflight.clear()
                self._kill()
                continue
            now = time.monotonic()
            overdue = [f for f, (_, t0) in inflight.items() if now - t0 > self.item_timeout_s]
            if overdue:
                for f in overdue:
                    idx, _ = inflight.pop(f)
                    results[idx] = self._on_failure(
                        items[idx], f"processing timed out after {self.item_timeout_s:g} s"
                    )
                # Innocent bystanders in the same pool go back to the queue.
                queue.extend(idx for idx, _ in inflight.values())
                inflight.clear()
                self._kill()
        if suspects:
            if window == 1:
                for idx in suspects:
                    results[idx] = self._on_failure(items[idx], "worker process crashed on this input")
                return
            for idx in sorted(set(suspects)):
                self._run([idx], items, results, window=1)
