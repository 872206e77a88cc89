"""The raw archive and the audit: a clean warehouse passes, each broken invariant is caught."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from newsetl.analysis.audit import run_audit
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
from newsetl.storage.raw_archive import ArchiveError, RawArchive, archive_root

from .conftest import ROOT, corpus_path
from .helpers import BIN, store, table_rows


def test_archive_round_trip_and_corruption(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path / "raw")
    data = corpus_path("seed", "000_308f56fdb2bc4e5a.txt").read_bytes()
    sha = archive.put(data)
    assert archive.put(data) == sha  # idempotent
    assert archive.get(sha) == data
    assert archive.path_for(sha).stat().st_size < len(data)
    other = RawArchive(tmp_path / "other")
    other_sha = other.put(b"different bytes")
    archive.path_for(sha).write_bytes(other.path_for(other_sha).read_bytes())  # valid zstd, wrong content
    with pytest.raises(ArchiveError, match="corrupt"):
        archive.get(sha)
    with pytest.raises(ArchiveError, match="not in the archive"):
        archive.get("0" * 64)


@pytest.fixture
def ingested(tmp_path: Path) -> Settings:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for p in (ROOT / "examples").iterdir():
        (inbox / p.name).write_bytes(p.read_bytes())
    (inbox / "empty.html").write_bytes(b"")
    settings = Settings.make(db=tmp_path / "wh" / "news.duckdb", workers=0)
    ingest_files([inbox], settings)
    ingest_files([inbox], settings)  # a second run: all unchanged
    return settings


def _failed(settings: Settings) -> set[str]:
    report = run_audit(store(Path(settings.db)), archive_root(settings))
    return {f.check for f in report.findings if not f.ok}


def test_every_input_is_archived_and_the_audit_passes(ingested: Settings) -> None:
    shas = table_rows(Path(ingested.db), "SELECT DISTINCT sha256 FROM inputs WHERE sha256 IS NOT NULL")
    assert len(shas) == 4  # three examples and the empty file (its zero bytes are archived too)
    archive = RawArchive(archive_root(ingested))
    for (sha,) in shas:
        assert archive.exists(sha)
    assert _failed(ingested) == set()


def _break(settings: Settings, sql: str) -> None:
    with duckdb.connect(str(Path(settings.db))) as conn:
        conn.execute(sql)


@pytest.mark.parametrize(
    ("sql", "check"),
    [
        (
            "DELETE FROM inputs WHERE outcome = 'loaded' AND source_ref LIKE '%harbour%'",
            "articles have inputs",
        ),
        ("UPDATE runs SET n_loaded = n_loaded + 1", "run counts match the ledger"),
        (
            "INSERT INTO inputs SELECT * FROM inputs WHERE outcome = 'rejected' LIMIT 1",
            "one outcome per input",
        ),
        ("DELETE FROM articles WHERE source_ref LIKE '%stadtwerke%'", "inputs point at articles"),
        (
            "INSERT INTO runs (run_id, flow, status, started_at, hostname, pid) "
            "SELECT 'ghost', 'ingest-files', 'running', now(), hostname, 2147483646 FROM runs LIMIT 1",
            "no abandoned runs",
        ),
        ("UPDATE articles SET version = 3 WHERE source_ref LIKE '%harbour%'", "versions are contiguous"),
        (
            "INSERT INTO near_duplicates SELECT article_id, article_id || '-copy', 0.9, 'm', 'r', now() "
            "FROM (SELECT article_id FROM articles LIMIT 1), range(2)",
            "near-duplicate links are unique",
        ),
    ],
)
def test_audit_catches_broken_invariants(ingested: Settings, sql: str, check: str) -> None:
    _break(ingested, sql)
    assert check in _failed(ingested)


def test_audit_catches_a_missing_blob_and_the_cli_exits_1(ingested: Settings) -> None:
    (sha,) = table_rows(Path(ingested.db), "SELECT raw_sha256 FROM articles LIMIT 1")[0]
    RawArchive(archive_root(ingested)).delete(str(sha))
    assert "raw archive complete" in _failed(ingested)
    res = subprocess.run([str(BIN / "newsetl"), "audit", "--db", str(Path(ingested.db))],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert res.returncode == 1 and "FAILED" in res.stdout
