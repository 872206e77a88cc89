"""Hostile inboxes: a FIFO, symlinks out of the inbox, a file replaced or rewritten while it
is read. Each run ends within seconds with every input in the ledger and the audit green."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from newsetl.analysis.audit import run_audit
from newsetl.errors import Rejection
from newsetl.models import DocKind, Processed
from newsetl.pipeline.engine import Run
from newsetl.pipeline.process import article_from_bytes
from newsetl.settings import Settings
from newsetl.sources.files import FileSource, ingest_files
from newsetl.sources.files.discover import discover, read_file
from newsetl.storage.raw_archive import RawArchive, archive_root

from .helpers import store, table_rows

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BOUND_S = 20.0  # one run over a handful of files, workers=0, on the shared 2-core machine


def _settings(db: Path) -> Settings:
    return Settings.make(db=db, workers=0, batch_size=50, lock_timeout_s=20)


def _audit_green(db: Path) -> None:
    report = run_audit(store(db))
    assert report.ok, [(f.check, f.detail) for f in report.findings if not f.ok]


def _ledger(db: Path) -> dict[str, tuple[object, ...]]:
    rows = table_rows(db, "SELECT source_ref, outcome, stage, reason, sha256 FROM inputs")
    return {Path(str(r[0])).name: r[1:] for r in rows}


def _timed_run(paths: list[Path], db: Path) -> float:
    started = time.monotonic()
    summary = ingest_files(paths, _settings(db))
    took = time.monotonic() - started
    assert summary.status == "completed" and took < BOUND_S, took
    return took


@pytest.mark.timeout(60)
def test_a_fifo_in_the_inbox_is_recorded_and_never_opened(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(EXAMPLES / "harbour-ferry.html", inbox)
    os.mkfifo(inbox / "pipe.html")  # nobody ever writes: opening it for reading would block
    db = tmp_path / "news.duckdb"
    _timed_run([inbox], db)
    ledger = _ledger(db)
    assert ledger["harbour-ferry.html"][0] == "loaded"
    assert ledger["pipe.html"][:3] == (
        "rejected",
        "discover",
        "not a regular file (a FIFO, socket or device)",
    )
    _audit_green(db)


@pytest.mark.timeout(30)
def test_a_fifo_that_appears_after_discovery_does_not_block_the_read(tmp_path: Path) -> None:
    """A regular file replaced by a FIFO between discovery and reading (a race): the read
    opens non-blocking and refuses it at once."""
    fifo = tmp_path / "late.html"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(Rejection, match="not a regular file"):
        read_file(str(fifo), 1 << 20)
    assert time.monotonic() - started < 1.0


@pytest.mark.timeout(60)
def test_symlinks_out_of_the_inbox_are_refused_links_inside_are_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(EXAMPLES / "stadtwerke-solar.txt", outside / "private.txt")
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "harbour-ferry.html", inbox / "sub")
    os.symlink(outside, inbox / "to-elsewhere")  # a directory outside
    os.symlink(outside / "private.txt", inbox / "private-link.txt")  # a file outside
    os.symlink("/", inbox / "to-root")  # would walk the whole file system, /proc included
    os.symlink(inbox / "sub", inbox / "sub-again")  # inside the inbox: followed
    os.symlink(inbox, inbox / "sub" / "up")  # back to the inbox itself: a loop
    db = tmp_path / "news.duckdb"
    _timed_run([inbox], db)
    ledger = _ledger(db)
    for name, what in [("to-elsewhere", "directory"), ("private-link.txt", "file"), ("to-root", "directory")]:
        outcome, stage, reason, _ = ledger[name]
        assert (outcome, stage) == ("rejected", "discover"), name
        assert str(reason).startswith(f"symlink to a {what} outside the input directory"), reason
    assert "private.txt" not in ledger  # nothing behind the outside links was read
    assert table_rows(db, "SELECT count(*) FROM articles") == [(1,)]
    refs = {str(r[0]) for r in table_rows(db, "SELECT source_ref FROM inputs")}
    assert str(inbox / "sub-again" / "harbour-ferry.html") in refs  # followed: a duplicate
    assert ledger["up"][:2] == ("rejected", "discover") and "symlink loop" in str(ledger["up"][2])
    _audit_green(db)
    # Named explicitly, a link is followed wherever it points: the user chose it.
    other = tmp_path / "explicit.duckdb"
    _timed_run([inbox / "to-elsewhere"], other)
    assert _ledger(other)["private.txt"][0] == "loaded"


def test_a_file_replaced_between_discovery_and_reading(tmp_path: Path) -> None:
    """The recorded sha256, size and mtime are those of the bytes that were extracted
    (the new file), and the next run sees the file as unchanged."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    target = inbox / "story.html"
    shutil.copy(EXAMPLES / "harbour-ferry.html", target)
    db = tmp_path / "news.duckdb"
    settings = _settings(db)
    new_bytes = (EXAMPLES / "stadtwerke-solar.txt").read_text().encode()
    replacement = tmp_path / "replacement.html"
    replacement.write_bytes(
        b"<html><body><p>" + new_bytes.replace(b"\n\n", b"</p><p>") + b"</p></body></html>"
    )
    with Run(FileSource([inbox]), settings) as run:
        (batch,) = list(run.batches())  # discovery saw the old file
        os.replace(replacement, target)  # replaced atomically, as editors and rsync do
        processed = run.extract(batch)
        run.load(batch, processed)
        run.finish()
    (p,) = [x for x in processed if isinstance(x, Processed)]
    data = target.read_bytes()
    assert p.sha256 == hashlib.sha256(data).hexdigest() and p.size_bytes == len(data)
    assert p.read_mtime_ns == target.stat().st_mtime_ns
    assert table_rows(db, "SELECT mtime_ns FROM file_state") == [(target.stat().st_mtime_ns,)]
    assert p.article is not None and "Stadtwerke" in (p.article.text or "")
    _audit_green(db)
    ingest_files([inbox], settings)
    assert table_rows(db, "SELECT outcome FROM inputs ORDER BY seen_at DESC LIMIT 1") == [("unchanged",)]


def test_a_file_rewritten_in_place_while_runs_read_it(tmp_path: Path) -> None:
    """A writer rewrites the file (truncate + write, two versions) as fast as it can while
    runs read it. Whatever each read caught, the recorded sha256 is the hash of the bytes
    that were archived and extracted: the archived blob hashes to it and re-extracts to a
    text the warehouse holds for that article. Reads that see the file change (size or
    mtime differ afterwards) are retried, then refused as 'kept changing while it was read'."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    target = inbox / "story.html"
    page = (EXAMPLES / "harbour-ferry.html").read_bytes()
    versions = [page * 20, page.replace(b"ferry", b"FERRY") * 25]
    target.write_bytes(versions[0])
    stop = threading.Event()

    def rewrite() -> None:
        i = 0
        while not stop.is_set():
            with open(target, "r+b") as fh:
                fh.truncate(0)
                fh.write(versions[i % 2])
            i += 1

    writer = threading.Thread(target=rewrite, daemon=True)
    writer.start()
    db = tmp_path / "news.duckdb"
    settings = _settings(db)
    try:
        started = time.monotonic()
        for _ in range(6):
            ingest_files([inbox], settings)
        took = time.monotonic() - started
    finally:
        stop.set()
        writer.join()
    assert took < 6 * BOUND_S
    archive = RawArchive(archive_root(settings))
    rows = table_rows(db, "SELECT outcome, stage, reason, sha256, article_id FROM inputs")
    hashes = """SELECT article_id, content_hash FROM articles
                UNION SELECT article_id, content_hash FROM article_versions"""
    known = {(str(aid), str(h)) for aid, h in table_rows(db, hashes)}
    assert len(rows) == 6
    for outcome, stage, reason, sha, aid in rows:
        if outcome == "rejected" and sha is None:
            assert (stage, reason) == ("read", "file kept changing while it was read"), reason
            continue
        blob = archive.get(str(sha))
        assert hashlib.sha256(blob).hexdigest() == sha
        if outcome != "rejected":
            article = article_from_bytes(blob, DocKind.HTML, max_bytes=settings.extract.max_file_bytes)
            assert (str(aid), article.content_hash) in known
    _audit_green(db)


def test_discovery_of_a_deep_symlinked_tree_terminates(tmp_path: Path) -> None:
    """Links that point back up at every level: discovery ends, each loop is one rejection."""
    root = tmp_path / "inbox"
    level = root
    for i in range(5):
        level = level / f"d{i}"
        level.mkdir(parents=True)
        os.symlink(root, level / "back-to-root")
        os.symlink(level, level / "self")
    started = time.monotonic()
    found = list(discover([str(root)]))
    assert time.monotonic() - started < 2.0
    assert len(found) == 10 and all(isinstance(f, Processed) and "loop" in (f.reason or "") for f in found)
