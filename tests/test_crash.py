"""kill -9 at any point of an ingest, then run it again: the warehouse ends exactly as after
one clean run (same articles, same content, no half batches, no duplicate rows)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsetl.analysis.audit import run_audit
from newsetl.settings import Settings
from newsetl.storage.raw_archive import archive_root

from .conftest import corpus_path
from .helpers import store, table_rows

INGEST = """
import sys
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
from newsetl.storage.raw_archive import archive_root
if __name__ == "__main__":
    ingest_files([sys.argv[2]], Settings.make(db=sys.argv[1], workers=2, batch_size=7))
"""

ARTICLES = """SELECT article_id, url, title, text, content_hash, version, language, published_at,
                     source_ref, raw_sha256, word_count FROM articles ORDER BY article_id"""


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash-inbox")
    for p in sorted(corpus_path("article-extraction-benchmark", "html").glob("*.html.gz"))[:20]:
        shutil.copy2(p, root / p.name)
    for p in sorted(corpus_path("fundus", "de").glob("*.html.gz"))[:8]:
        shutil.copy2(p, root / p.name)
    shutil.copy2(corpus_path("seed", "000_308f56fdb2bc4e5a.txt"), root / "seed.txt")
    (root / "empty.html").write_bytes(b"")
    (root / "broken.html.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    return root


def _ingest(script: Path, db: Path, inbox: Path, faults: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "NEWSETL_FAULTS"}
    if faults:
        env["NEWSETL_FAULTS"] = faults
    log = db.with_suffix(".log")
    with log.open("w") as fh:  # a file, not a pipe: a pipe would wait for orphans to close it
        proc = subprocess.run([sys.executable, str(script), str(db), str(inbox)], env=env, stdout=fh,
                              stderr=subprocess.STDOUT, timeout=600, check=False)  # fmt: skip
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(log.read_text()[-3000:])
    return proc.returncode


def _no_orphans_left(tmp_path: Path, timeout_s: float = 15.0) -> None:
    """Worker processes of the killed run leave by themselves (they watch their owner)."""
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = []
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if str(tmp_path) in " ".join(proc.info["cmdline"] or []):
                    left.append(proc.pid)
        if not left:
            return
        time.sleep(0.5)
    raise AssertionError(f"processes of the killed run still alive: {left}")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, inbox: Path) -> list[tuple[object, ...]]:
    work = tmp_path_factory.mktemp("crash-clean")
    script = work / "ingest.py"
    script.write_text(INGEST)
    db = work / "clean.duckdb"
    assert _ingest(script, db, inbox) == 0
    return table_rows(db, ARTICLES)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "fault",
    [
        "run.started:1",  # before any work
        "extract.item:11",  # while workers are extracting the second batch
        "load.before_commit:2",  # inside the second batch's transaction, everything written
        "load.after_commit:3",  # between batches
    ],
)
def test_kill_9_then_rerun_equals_a_clean_run(
    tmp_path: Path, inbox: Path, clean: list[tuple[object, ...]], fault: str
) -> None:
    script = tmp_path / "ingest.py"
    script.write_text(INGEST)
    db = tmp_path / "news.duckdb"
    assert _ingest(script, db, inbox, fault) == -signal.SIGKILL
    assert table_rows(db, "SELECT status FROM runs") == [("running",)]
    _no_orphans_left(tmp_path)
    assert _ingest(script, db, inbox) == 0

    assert table_rows(db, ARTICLES) == clean
    assert table_rows(db, "SELECT count(*) FROM article_versions") == [(0,)]
    statuses = [r[0] for r in table_rows(db, "SELECT status FROM runs ORDER BY started_at")]
    assert statuses == ["crashed", "completed"]
    # Every input is accounted for in the final run, exactly once.
    last = table_rows(db, "SELECT run_id FROM runs WHERE status = 'completed'")[0][0]
    n_files = len(list(inbox.iterdir()))
    assert table_rows(
        db, f"SELECT count(*), count(DISTINCT source_ref) FROM inputs WHERE run_id = '{last}'"
    ) == [(n_files, n_files)]
    # No half batch from the killed run: its ledger rows are whole batches of 7 inputs.
    (killed,) = table_rows(
        db, "SELECT count(*) FROM inputs i JOIN runs r USING (run_id) WHERE r.status = 'crashed'"
    )[0]
    assert killed % 7 == 0
    report = run_audit(store(db), archive_root(Settings.make(db=db)))
    assert report.ok, [f for f in report.findings if not f.ok]
