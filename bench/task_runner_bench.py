"""Where should the parallelism live: a process pool inside batch tasks, or Prefect's
ProcessPoolTaskRunner with one task per chunk of documents?

Usage:  python bench/task_runner_bench.py [-n 600] [--chunks 10,50,150] [--workers 2]

Both variants run the same extraction (``newsetl.pipeline.process.process_document``) over the same
documents inside a Prefect flow on a temporary server, without loading (so only the
orchestration differs):

- ``pool-in-task``: the ingest-files design — one task per batch, the task fans the batch
  out to newsetl's WorkerPool (forkserver workers that imported trafilatura once);
- ``process-runner/<chunk>``: ``ProcessPoolTaskRunner(max_workers=W)``, one task per chunk of
  <chunk> documents, each task extracting its chunk in a runner process.

It prints pages/s and, for the process runner, the overhead per task run compared with the
pool-in-task rate. Not a test: it reports numbers (docs/performance.md records them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner

from newsetl.models import DocKind
from newsetl.pipeline.process import Doc, process_document
from newsetl.settings import Settings
from newsetl.sources.files.discover import FileRef
from newsetl.sources.files.source import FilePayload

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import build_documents

ROOT = Path(__file__).resolve().parents[1]


def _refs(docs: Path) -> list[FileRef]:
    refs = []
    for p in sorted(docs.iterdir()):
        st = p.stat()
        refs.append(FileRef(str(p), st.st_size, st.st_mtime_ns, DocKind.HTML))
    return refs


@task(cache_policy=NO_CACHE)
def _doc(ref: FileRef) -> Doc:
    return Doc("file", ref.path, payload=FilePayload(ref.path), kind=ref.kind)


def extract_chunk(refs: list[FileRef]) -> int:
    settings = Settings.make(db=Path("unused.duckdb"), workers=0, archive_raw=False)
    return sum(1 for r in refs if process_document(_doc(r), settings).article is not None)


@task(cache_policy=NO_CACHE)
def extract_with_pool(refs: list[FileRef], workers: int) -> int:
    from functools import partial

    from newsetl.pipeline.process import worker_failure
    from newsetl.pipeline.workers import WorkerPool

    settings = Settings.make(db=Path("unused.duckdb"), workers=workers, archive_raw=False)
    with WorkerPool(partial(process_document, settings=settings), worker_failure, workers=workers) as pool:
        return sum(1 for p in pool.map([_doc(r) for r in refs]) if p.article is not None)


@flow
def pool_in_task(refs: list[FileRef], batch: int, workers: int) -> float:
    t0 = time.perf_counter()
    futures = [extract_with_pool.submit(refs[i : i + batch], workers) for i in range(0, len(refs), batch)]
    for f in futures:
        f.result()
    return time.perf_counter() - t0


def process_runner(refs: list[FileRef], chunk: int, workers: int) -> float:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=workers))
    def runner_flow() -> float:
        t0 = time.perf_counter()
        futures = [extract_chunk.submit(refs[i : i + chunk]) for i in range(0, len(refs), chunk)]
        for f in futures:
            f.result()
        return time.perf_counter() - t0

    return runner_flow()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=600)
    ap.add_argument("--chunks", default="10,50,150")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsetl-runner-bench-") as tmp:
        docs = Path(tmp) / "docs"
        build_documents(args.corpus.resolve(), args.n, docs)
        refs = _refs(docs)
        # One batch per worker pool call, as ingest-files does (its default batch is 500).
        base = pool_in_task(refs, batch=500, workers=args.workers)
        print(f"pool-in-task (batch 500)          {args.n / base:6.1f} pages/s  ({base:.1f} s)", flush=True)
        for chunk in (int(c) for c in args.chunks.split(",")):
            wall = process_runner(refs, chunk, args.workers)
            tasks = -(-args.n // chunk)
            overhead = max(0.0, wall - base) * args.workers / tasks
            print(
                f"process-runner, {chunk:4d} docs/task    {args.n / wall:6.1f} pages/s  ({wall:.1f} s, "
                f"{tasks} tasks, ~{overhead * 1000:.0f} ms extra per task run)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
