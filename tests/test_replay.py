"""Replay of rejected inputs and reprocessing of loaded ones, from the raw archive only."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from newsetl.pipeline.engine import run_source
from newsetl.settings import Settings
from newsetl.sources.archive.source import (
    REPLAY_FLOW,
    REPROCESS_FLOW,
    ArchiveSource,
    select_outdated,
    select_rejects,
)
from newsetl.sources.files import ingest_files

from .conftest import corpus_path
from .helpers import store, table_rows


def _pages(dest: Path, n: int) -> Path:
    dest.mkdir(parents=True)
    for p in sorted(corpus_path("fundus", "de").glob("*.html.gz"))[:n]:
        shutil.copy2(p, dest / p.name)
    return dest


def test_replay_rejects_from_the_archive_after_a_limit_is_fixed(tmp_path: Path, db_path: Path) -> None:
    pages = _pages(tmp_path / "pages", 8)
    strict = Settings.make(db=db_path, workers=2, min_words=100_000)  # everything is "too little text"
    first = ingest_files([pages], strict)
    assert first.report.counts["rejected"] == 8
    shutil.rmtree(pages)  # replay must not need the original files

    settings = strict.with_(min_words=8)
    with store(db_path).session() as conn:
        items, unreplayable = select_rejects(conn, stage="extract", reason="too little text")
    assert len(items) == 8 and unreplayable == 0
    summary = run_source(ArchiveSource(items, REPLAY_FLOW), settings)
    assert summary.report.counts["loaded"] == 8
    assert table_rows(db_path, "SELECT count(*) FROM articles") == [(8,)]
    # The latest outcome of each input is now 'loaded': nothing left to replay.
    with store(db_path).session() as conn:
        assert select_rejects(conn)[0] == []


def test_unreadable_inputs_are_reported_as_not_replayable(tmp_path: Path, inline_settings: Settings) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "blob.bin").write_bytes(b"\x00\x01")  # rejected at discovery: no bytes were read
    ingest_files([inbox], inline_settings)
    with store(Path(inline_settings.db)).session() as conn:
        items, unreplayable = select_rejects(conn)
    assert items == [] and unreplayable == 1


def test_reprocess_records_changed_text_as_a_new_version(tmp_path: Path, db_path: Path) -> None:
    pages = _pages(tmp_path / "pages", 6)
    settings = Settings.make(db=db_path, workers=2)
    ingest_files([pages], settings)
    with duckdb.connect(str(db_path)) as conn:
        # Pretend two articles came from an older extractor that produced other text, and two
        # from an older extractor that produced the same text.
        ids = [r[0] for r in conn.execute("SELECT article_id FROM articles ORDER BY article_id").fetchall()]
        conn.execute(
            """UPDATE articles SET extractor_version = 'trafilatura-1.0+newsetl-0',
                   text = 'Old text. ' || text, content_hash = 'old-' || article_id
               WHERE article_id IN (SELECT unnest($ids))""",
            {"ids": ids[:2]},
        )
        conn.execute(
            """UPDATE articles SET extractor_version = 'trafilatura-1.0+newsetl-0'
               WHERE article_id IN (SELECT unnest($ids))""",
            {"ids": ids[2:4]},
        )
    with store(db_path).session() as conn:
        items = select_outdated(conn)
    assert sorted(i.article_id for i in items if i.article_id) == sorted(ids[:4])
    job = ArchiveSource(items, REPROCESS_FLOW)
    summary = run_source(job, settings)
    assert summary.report.counts["updated"] == 2 and summary.report.counts["unchanged"] == 2
    assert {c.article_id for c in job.changes} == set(ids[:2])
    versions = table_rows(
        db_path, "SELECT article_id, version, left(text, 10) FROM article_versions ORDER BY 1"
    )
    assert [(v[0], v[1], v[2]) for v in versions] == [(ids[0], 1, "Old text. "), (ids[1], 1, "Old text. ")]
    assert table_rows(
        db_path, "SELECT count(*) FROM articles WHERE extractor_version LIKE 'trafilatura-1.0%'"
    ) == [(0,)]
    with store(db_path).session() as conn:
        assert select_outdated(conn) == []
