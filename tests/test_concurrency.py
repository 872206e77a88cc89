"""DuckDB allows one writing process: concurrent runs and readers must take turns, never
fail for it (within the documented waits) and never corrupt or lose a batch."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsetl.analysis.query import run_query

from .conftest import corpus_path
from .helpers import store, table_rows

INGEST = """
import json, sys
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
if __name__ == "__main__":
    settings = Settings.make(db=sys.argv[1], workers=1, batch_size=4, lock_timeout_s=120)
    s = ingest_files([sys.argv[2]], settings)
    out = {"run_id": s.run_id, "status": s.status, "counts": s.report.counts, "total": s.report.total}
    print(json.dumps(out))
"""


def _pages(dest: Path, start: int, n: int) -> Path:
    dest.mkdir(parents=True)
    for p in sorted(corpus_path("article-extraction-benchmark", "html").glob("*.html.gz"))[start : start + n]:
        shutil.copy2(p, dest / p.name)
    return dest


def _spawn(script: Path, db: Path, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(script), str(db), str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.e2e
def test_two_concurrent_ingests_both_complete_with_correct_accounting(tmp_path: Path) -> None:
    import json

    script = tmp_path / "ingest.py"
    script.write_text(INGEST)
    db = tmp_path / "news.duckdb"
    a = _pages(tmp_path / "a", 0, 16)
    b = _pages(tmp_path / "b", 8, 16)  # overlaps a: 8 pages are the same files' contents
    procs = [_spawn(script, db, a), _spawn(script, db, b)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["status"] == "completed" and r["total"] == 16 for r in results)
    for r in results:
        ledger = dict(
            table_rows(db, f"SELECT outcome, count(*) FROM inputs WHERE run_id = '{r['run_id']}' GROUP BY 1")
        )
        assert sum(ledger.values()) == 16
        assert {k: v for k, v in r["counts"].items() if v} == ledger
    # 24 distinct pages: each stored once, whichever run got there first.
    assert table_rows(
        db, "SELECT count(*), count(DISTINCT article_id), count(DISTINCT content_hash) FROM articles"
    ) == [(24, 24, 24)]
    loaded = sum(r["counts"]["loaded"] for r in results)
    duplicates = sum(r["counts"]["duplicate"] for r in results)
    assert (loaded, duplicates) == (24, 8)


@pytest.mark.e2e
def test_reader_keeps_answering_during_an_ingest(tmp_path: Path) -> None:
    script = tmp_path / "ingest.py"
    script.write_text(INGEST)
    db = tmp_path / "news.duckdb"
    folder = _pages(tmp_path / "pages", 0, 24)
    proc = _spawn(script, db, folder)
    waits: list[float] = []
    counts: list[int] = []
    try:
        while proc.poll() is None:
            if not db.exists():
                time.sleep(0.05)
                continue
            t0 = time.monotonic()
            _, rows = run_query(store(db, lock_timeout_s=15), "SELECT count(*) FROM articles")
            waits.append(time.monotonic() - t0)
            counts.append(int(rows[0][0]))
    finally:
        _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert len(waits) >= 5, "the reader should have had several turns during the ingest"
    assert max(waits) < 15  # the documented wait of `newsetl sql`
    assert counts == sorted(counts)  # readers see whole batches appear, never disappear
    assert table_rows(db, "SELECT count(*) FROM articles") == [(24,)]
