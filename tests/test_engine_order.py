"""Extraction follows batch order, whatever order the batches' threads reach the pool in."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from newsetl.models import Processed
from newsetl.pipeline.engine import Run, _Turns, drive
from newsetl.pipeline.source import Batch
from newsetl.pipeline.workers import PoolTerminated
from newsetl.settings import Settings
from newsetl.sources.files import FileSource

from .conftest import write_story_pages


def _late_first(run: Run, ended: list[int]):  # type: ignore[no-untyped-def]
    """A submit whose threads start out of order: every third batch's thread starts late,
    so the batches after it reach the pool first."""

    def submit(batch: Batch) -> Future[list[Processed]]:
        fut: Future[list[Processed]] = Future()

        def extract() -> None:
            if batch.seq is not None and batch.seq % 3 == 0:
                time.sleep(0.3)
            try:
                result = run.extract(batch)
                ended.append(batch.seq if batch.seq is not None else -1)
                fut.set_result(result)
            except BaseException as exc:
                fut.set_exception(exc)

        threading.Thread(target=extract, daemon=True).start()
        return fut

    return submit


@pytest.mark.parametrize("workers", [0, 2])
def test_batches_are_extracted_in_order_when_later_ones_reach_the_pool_first(
    tmp_path: Path, workers: int
) -> None:
    folder = write_story_pages(tmp_path / "pages", 24)
    settings = Settings.make(db=tmp_path / "w.duckdb", workers=workers, batch_size=4, lock_timeout_s=20)
    ended: list[int] = []
    with Run(FileSource([folder]), settings) as run:
        summary = drive(run, submit=_late_first(run, ended))
    assert summary.report.counts["loaded"] == 24
    assert ended == list(range(6))


def test_turns_release_waiters_in_order_skip_failures_and_stop() -> None:
    turns, passed = _Turns(), []

    def take(seq: int) -> None:
        try:
            turns.wait(seq)
            passed.append(seq)
        except PoolTerminated:
            passed.append(-seq)
            return
        turns.end(seq)

    threads = [threading.Thread(target=take, args=(s,)) for s in (3, 2, 1)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert passed == []  # all wait for batch 0
    turns.end(0)  # batch 0 failed before its turn (its I/O raised): the rest go on
    for t in threads:
        t.join(5)
    assert passed == [1, 2, 3]

    turns.wait(None)  # a batch the engine did not number waits for nobody
    waiting = threading.Thread(target=take, args=(6,))
    waiting.start()
    time.sleep(0.1)
    turns.stop()  # batches 4 and 5 never come: the stopping run releases the waiter
    waiting.join(5)
    assert passed[-1] == -6
