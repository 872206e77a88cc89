"""Several writers and a reader on one lake, as real processes: overlapping inputs end with
no duplicate article and exactly one ledger row per input per run; the reader neither
blocks nor is blocked; a writer killed mid-commit leaves the lake consistent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsetl.analysis.audit import run_audit
from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
from newsetl.storage.raw_archive import archive_root

from ..conftest import corpus_path
from ..services import Postgres
from .conftest import postgres_lake, rows, sqlite_lake

INGEST = """
import json, sys
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
if __name__ == "__main__":
    db, data_path, folder = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    settings = Settings.make(db=db, data_path=data_path, workers=1, batch_size=6)
    s = ingest_files([folder], settings)
    out = {"run_id": s.run_id, "status": s.status, "counts": s.report.counts, "total": s.report.total}
    print(json.dumps(out))
"""

READER = """
import json, pathlib, sys, time
import newsetl
if __name__ == "__main__":
    conn = newsetl.connect(sys.argv[1], data_path=sys.argv[2] or None)  # held for the whole run
    waits, counts, started = [], [], time.monotonic()
    stop = pathlib.Path(sys.argv[3])  # the test creates it when both writers have finished
    while not stop.exists() and time.monotonic() - started < 600:
        t0 = time.monotonic()
        counts.append(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
        waits.append(time.monotonic() - t0)
        time.sleep(0.05)
    conn.close()
    print(json.dumps({"queries": len(waits), "max_wait": max(waits), "counts": counts}))
"""


def _pages(dest: Path, start: int, n: int) -> Path:
    dest.mkdir(parents=True)
    for p in sorted(corpus_path("article-extraction-benchmark", "html").glob("*.html.gz"))[start : start + n]:
        shutil.copy2(p, dest / p.name)
    return dest


def _lake(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if kind == "sqlite":
        return sqlite_lake(tmp_path)
    pg: Postgres = request.getfixturevalue("pg")
    return postgres_lake(pg, str(tmp_path / "data"))


def _spawn(script: Path, settings: Settings, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, str(script), settings.db, settings.storage.data_path or "", *args]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_writers_and_a_reader(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    lake = _lake(kind, tmp_path, request)
    open_warehouse(lake).ensure_schema()
    a = _pages(tmp_path / "a", 0, 24)
    b = _pages(tmp_path / "b", 12, 24)  # half of it is a's second half: the same pages
    (tmp_path / "ingest.py").write_text(INGEST)
    (tmp_path / "read.py").write_text(READER)
    stop = tmp_path / "writers-done"
    reader = _spawn(tmp_path / "read.py", lake, str(stop))
    time.sleep(2)  # the reader holds its connection before the writers start
    writers = [_spawn(tmp_path / "ingest.py", lake, str(a)), _spawn(tmp_path / "ingest.py", lake, str(b))]
    results = []
    for proc in writers:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    stop.touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-3000:]
    read = json.loads(out.strip().splitlines()[-1])

    assert all(r["status"] == "completed" and r["total"] == 24 for r in results)
    # 36 distinct pages: each is one article; the 12 shared ones are loaded by one run
    # and a duplicate (or unchanged) for the other, never loaded twice.
    assert rows(lake, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(36, 36)]
    loaded = sum(r["counts"]["loaded"] for r in results)
    assert loaded == 36
    per_input = rows(
        lake,
        """SELECT max(n) FROM (SELECT run_id, source_ref, count(*) AS n FROM inputs GROUP BY ALL)""",
    )
    assert per_input == [(1,)]
    assert rows(lake, "SELECT count(*) FROM inputs") == [(48,)]
    report = run_audit(open_warehouse(lake), archive_root(lake))
    assert report.ok, [(f.check, f.detail) for f in report.findings if not f.ok]
    # The reader was never blocked (each query well under a second) and saw progress.
    assert read["queries"] > 50 and read["max_wait"] < 2.0, read["max_wait"]
    assert read["counts"] == sorted(read["counts"]) and read["counts"][-1] > 0


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_writer_killed_mid_commit_leaves_the_lake_consistent(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    lake = _lake(kind, tmp_path, request)
    pages = _pages(tmp_path / "pages", 0, 30)
    (tmp_path / "ingest.py").write_text(INGEST)
    env = {**os.environ, "NEWSETL_FAULTS": "load.before_commit:3"}
    argv = [sys.executable, str(tmp_path / "ingest.py"), lake.db, lake.storage.data_path or "", str(pages)]
    with (tmp_path / "killed.log").open("w") as log:  # a file, not a pipe: orphaned workers hold it open
        killed = subprocess.run(argv, check=False, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    assert killed.returncode == -9  # SIGKILL inside the third batch's transaction
    assert rows(lake, "SELECT count(*) FROM articles") == [(12,)]  # two batches of 6, nothing of the third
    assert rows(lake, "SELECT status FROM runs") == [("running",)]
    with (tmp_path / "rerun.log").open("w") as log:
        rerun = subprocess.run(argv, check=False, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    assert rerun.returncode == 0, (tmp_path / "rerun.log").read_text()[-3000:]
    assert rows(lake, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(30, 30)]
    assert rows(lake, "SELECT status FROM runs ORDER BY started_at") == [("crashed",), ("completed",)]
    report = run_audit(open_warehouse(lake), archive_root(lake))
    assert report.ok, [(f.check, f.detail) for f in report.findings if not f.ok]


CREATE = """
import sys
from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
if __name__ == "__main__":
    store = open_warehouse(Settings.make(db=sys.argv[1], data_path=sys.argv[2] or None, lock_timeout_s=60))
    store.ensure_schema()
    with store.session(read_only=True) as conn:
        print(conn.execute("SELECT count(DISTINCT version) FROM schema_migrations").fetchone()[0])
"""


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_processes_creating_one_lake_at_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The first runs on a new machine may start together (two deployments): whoever creates
    the catalog, the others wait for it instead of failing ('database is locked', 'duplicate
    key value', '… already exists')."""
    lake = _lake(kind, tmp_path, request)
    (tmp_path / "create.py").write_text(CREATE)
    procs = [
        subprocess.Popen(
            [sys.executable, str(tmp_path / "create.py"), lake.db, lake.storage.data_path or ""],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-2000:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1
    assert rows(lake, "SELECT count(DISTINCT version) FROM schema_migrations") == [(int(outs[0][0].strip()),)]
