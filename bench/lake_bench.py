"""The same documents into a DuckDB file, a SQLite-catalog lake and a PostgreSQL-catalog
lake with its data on S3 (moto), in one run.

Usage:
    python bench/lake_bench.py [-n 600] [--batch-size 100] [--corpus ../shared/corpus] [--json out.json]

For each warehouse: ingest throughput (library, no Prefect, 2 extraction workers), the
commit time per batch (the load transaction: outcomes, ledger, articles, near-duplicate
links), a reader's query latency while the ingest runs (it holds its connection), then the
same N documents split over two writers at once (lakes only: a DuckDB file takes one
writer), and the data files before and after maintenance's compaction. Starts its own
PostgreSQL cluster and S3 server (tests/services.py) and removes them. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.services import S3, Postgres, postgres_bin  # noqa: E402

from ingest_bench import build_documents  # noqa: E402
from newsetl.analysis import maintenance  # noqa: E402
from newsetl.pipeline.engine import Run, drive  # noqa: E402
from newsetl.settings import Settings  # noqa: E402
from newsetl.sources.files import FileSource, ingest_files  # noqa: E402
from newsetl.storage.backends import open_warehouse  # noqa: E402

WRITER = """
import sys, json, time
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
if __name__ == "__main__":
    s = Settings.make(db=sys.argv[1], data_path=sys.argv[2] or None, workers=1, batch_size=int(sys.argv[4]))
    t0 = time.monotonic(); r = ingest_files([sys.argv[3]], s)
    print(json.dumps({"seconds": time.monotonic() - t0, "status": r.status, "counts": r.report.counts}))
"""


def _reader(settings: Settings, stop: threading.Event, waits: list[float]) -> None:
    import newsetl

    conn = newsetl.connect(settings.db, data_path=settings.storage.data_path)
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            conn.execute("SELECT count(*), max(ingested_at) FROM articles").fetchone()
            waits.append(time.perf_counter() - t0)
            time.sleep(0.1)
    except Exception as exc:  # a file being written cannot be read: that is the finding
        waits.append(float("nan"))
        print(f"  reader: {type(exc).__name__}: {str(exc)[:120]}")
    finally:
        conn.close()


def one(
    name: str, settings: Settings, docs: Path, halves: tuple[Path, Path], batch: int, second: Settings | None
) -> dict[str, Any]:
    print(f"== {name}")
    store = open_warehouse(settings)
    store.ensure_schema()
    commits: list[float] = []
    stop, waits = threading.Event(), []  # type: ignore[var-annotated]
    reader = threading.Thread(target=_reader, args=(settings, stop, waits), daemon=True)
    if not store.capabilities.single_writer:
        reader.start()
    t0 = time.perf_counter()
    with Run(FileSource([docs]), settings.with_(workers=2, batch_size=batch)) as run:

        def timed_load(b: Any, processed: Any) -> Any:
            t = time.perf_counter()
            report = run.load(b, processed)
            commits.append(time.perf_counter() - t)
            return report

        summary = drive(run, load=timed_load)
    seconds = time.perf_counter() - t0
    stop.set()
    if reader.is_alive():
        reader.join(timeout=10)
    docs_n = summary.report.total
    with store.session(read_only=True) as conn:
        before = store.storage_stats(conn)
    out: dict[str, Any] = {
        "docs": docs_n,
        "seconds": round(seconds, 2),
        "docs_per_s": round(docs_n / seconds, 1),
        "load_ms_per_batch_median": round(statistics.median(commits) * 1000) if commits else None,
        "reader_queries": len(waits),
        "reader_ms_p50": round(statistics.median(waits) * 1000, 1) if waits else None,
        "reader_ms_max": round(max(waits) * 1000, 1) if waits else None,
        "files_before": before.get("data_files"),
    }
    # Commit cost alone: a batch of already-known inputs (all unchanged) writes only the ledger.
    t1 = time.perf_counter()
    rerun = ingest_files([docs], settings.with_(workers=2, batch_size=batch))
    out["noop_rerun_s"] = round(time.perf_counter() - t1, 2)
    assert rerun.report.counts["unchanged"] == docs_n, rerun.report.counts
    if not store.capabilities.single_writer:
        maintenance.run_maintenance(store, store.maintenance_steps())
        with store.session(read_only=True) as conn:
            out["files_after_compaction"] = store.storage_stats(conn).get("data_files")
        if second is not None:
            out["two_writers_s"] = two_writers(second, halves, batch)
    print("  " + json.dumps(out))
    return out


def two_writers(fresh: Settings, halves: tuple[Path, Path], batch: int) -> float:
    """The same documents into a fresh lake, split over two writer processes at once."""
    open_warehouse(fresh).ensure_schema()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "writer.py"
        script.write_text(WRITER)
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), fresh.db, fresh.storage.data_path or "", str(h), str(batch)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for h in halves
        ]
        for p in procs:
            p.communicate(timeout=3600)
        return round(time.perf_counter() - t0, 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("NEWSETL_CORPUS", ROOT.parent / "shared" / "corpus")),
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lake-bench-"))
    results: dict[str, Any] = {}
    bindir = postgres_bin()
    pg = Postgres(bindir).start() if bindir is not None else None
    s3 = S3().start() if pg is not None else None
    if s3 is not None:
        os.environ.update(s3.env)  # before any worker process starts: they write the raw archive
    try:
        docs = work / "docs"
        build_documents(args.corpus, args.n, docs)
        files = sorted(p for p in docs.rglob("*") if p.is_file())
        halves = (work / "h1", work / "h2")
        for i, h in enumerate(halves):
            h.mkdir()
            for f in files[i::2]:
                shutil.copy2(f, h / f.name)
        print(f"{len(files)} documents")
        b = args.batch_size
        results["file"] = one(
            "DuckDB file", Settings.make(db=str(work / "news.duckdb")), docs, halves, b, None
        )
        results["sqlite"] = one(
            "DuckLake, SQLite catalog, local data",
            Settings.make(db=f"ducklake:sqlite:{work / 'lake.sqlite'}"),
            docs,
            halves,
            b,
            Settings.make(db=f"ducklake:sqlite:{work / 'lake2.sqlite'}"),
        )
        if pg is not None:
            results["postgres_s3"] = one(
                "DuckLake, PostgreSQL catalog, data on S3 (moto)",
                Settings.make(db=f"ducklake:postgres:{pg.database('bench')}", data_path="s3://news/bench/"),
                docs,
                halves,
                b,
                Settings.make(db=f"ducklake:postgres:{pg.database('bench2')}", data_path="s3://news/bench2/"),
            )
    finally:
        if s3 is not None:
            s3.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    base = results["file"]["docs_per_s"]
    for k, r in results.items():
        print(f"{k:12s} {r['docs_per_s']:7.1f} docs/s  = {r['docs_per_s'] / base:.2f} x the file")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
