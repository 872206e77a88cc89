"""Everything newsetl does, on a DuckLake: a SQLite catalog on local disk, and a PostgreSQL
catalog with its data files and raw archive on S3."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from newsetl.analysis import export, history, maintenance, query, search, search_index, status
from newsetl.analysis.audit import run_audit
from newsetl.pipeline.engine import run_source
from newsetl.settings import Settings
from newsetl.sources.archive.source import REPROCESS_FLOW, ArchiveSource, select_outdated
from newsetl.sources.feeds import ingest_feeds
from newsetl.sources.files import ingest_files
from newsetl.storage.backends import open_warehouse
from newsetl.storage.raw_archive import RawArchive, archive_root

from ..conftest import corpus_path
from ..feeds.conftest import fast_feed_settings, serve_news_feed
from ..feeds.server import FeedServer
from .conftest import rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _pages(dest: Path, n: int, start: int = 0) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for p in sorted(corpus_path("fundus", "de").glob("*.html.gz"))[start : start + n]:
        shutil.copy2(p, dest / p.name)
    return dest


def _green(settings: Settings) -> None:
    report = run_audit(open_warehouse(settings), archive_root(settings))
    assert report.ok, [(f.check, f.detail, f.examples) for f in report.findings if not f.ok]


def test_the_whole_pipeline_on_a_lake(lake: Settings, tmp_path: Path) -> None:
    pages = _pages(tmp_path / "pages", 20)
    shutil.copy2(EXAMPLES / "harbour-ferry.html", pages / "harbour-ferry.html")
    first = ingest_files([pages], lake)
    assert first.status == "completed" and first.report.counts["loaded"] == 21, first.report.counts
    store = open_warehouse(lake)
    assert store.describe().startswith("ducklake:")
    snapshot = int(rows(store, "SELECT max(snapshot_id) FROM ducklake_snapshots('lake')")[0][0])  # type: ignore[arg-type]

    # A revision of one page (same canonical URL) and an unchanged rest.
    page = pages / "harbour-ferry.html"
    page.write_text(
        page.read_text(encoding="utf-8").replace(
            "twice the original estimate", "three times the original estimate"
        )
    )
    second = ingest_files([pages], lake)
    assert second.report.counts["unchanged"] == 20 and second.report.counts["updated"] == 1
    assert rows(store, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(21, 21)]
    assert rows(store, "SELECT count(*) FROM article_versions") == [(1,)]
    _green(lake)

    # Time travel and the change feed.
    assert query.run_query(store, "SELECT count(*) FROM article_versions", at=str(snapshot))[1] == [(0,)]
    cols, changed = query.changes(store, since=snapshot, table="articles")
    kinds = {r[cols.index("change_type")] for r in changed}
    assert {"insert", "delete"} <= kinds or {"update_preimage", "update_postimage"} <= kinds

    # Feeds write into the same lake.
    server = FeedServer()
    try:
        url, _ = serve_news_feed(server, "rss-parser/guardian.rss", "/g.rss", page_offset=40, limit=4)
        feed_settings = fast_feed_settings().with_(db=lake.db, data_path=lake.storage.data_path, workers=0)
        summary, stats = ingest_feeds([url], feed_settings)
        assert summary.status == "completed" and stats["new_entries"] > 0
        again, stats2 = ingest_feeds([url], feed_settings)
        assert again.report.total == 0 and stats2["not_modified"] == 1
    finally:
        server.close()
    _green(lake)

    # Search from the local side file, history, export, status.
    report = search_index.refresh(store)
    assert report.changes and search_index.refresh(store).changes == []
    with store.search_session() as conn:
        hits = search.search(conn, "harbour ferry estimate", limit=3)
        assert hits and "ferry" in (hits[0].title or "").lower()
        assert search.freshness(conn).pending == 0
    with store.session(read_only=True) as conn:
        aid = history.resolve_article(conn, hits[0].article_id)
        assert aid is not None and len(history.article_history(conn, aid).versions) == 2
    out = export.export(store, tmp_path / "export", tables=["articles", "inputs"])
    assert {t.name: t.rows for t in out.tables}["articles"] == rows(store, "SELECT count(*) FROM articles")[
        0
    ][0]
    st = status.warehouse_status(store)
    assert any(s.title == "storage" for s in st.sections)

    # Reprocess reads the raw archive (on S3 for the S3 lake).
    if lake.storage.data_path:
        assert archive_root(lake).startswith("s3://")
    with store.session(read_only=True) as conn:
        items = select_outdated(conn, everything=True, limit=5)
    assert len(items) == 5
    redo = run_source(ArchiveSource(items, REPROCESS_FLOW), lake)
    assert redo.report.counts["unchanged"] == 5

    # Maintenance: inlined rows flushed, small files merged, the lake still whole.
    with store.session(read_only=True) as conn:
        before = store.storage_stats(conn)
    done = maintenance.run_maintenance(store, maintenance.default_steps(settings=lake, store=store))
    names = [s.name for s in done.steps]
    assert "merge-small-files" in names and "expire-snapshots" in names
    with store.session(read_only=True) as conn:
        after = store.storage_stats(conn)
    assert after["data_files"] <= before["data_files"] + 20  # inlined data became files, then merged
    _green(lake)
    assert rows(store, "SELECT count(*) FROM articles")[0][0] == out.tables[0].rows


def test_raw_archive_on_s3_round_trips(s3_env: dict[str, str], s3: object) -> None:
    archive = RawArchive("s3://news/archive-test")
    sha = archive.put(b"<html>hello</html>")
    assert archive.exists(sha) and archive.get(sha) == b"<html>hello</html>"
    assert archive.delete(sha) and not archive.exists(sha)


def test_a_file_warehouse_refuses_history(tmp_path: Path) -> None:
    store = open_warehouse(Settings.make(db=tmp_path / "news.duckdb"))
    ingest_files([EXAMPLES], Settings.make(db=tmp_path / "news.duckdb", workers=0))
    with pytest.raises(query.HistoryError, match="DuckLake"):
        query.run_query(store, "SELECT 1", at="1")
    with pytest.raises(query.HistoryError, match="DuckLake"):
        query.changes(store, since=0)


def test_a_postgres_lake_needs_a_data_path(pg: object) -> None:
    from newsetl.errors import WarehouseError

    with pytest.raises(WarehouseError, match="data path"):
        open_warehouse(Settings.make(db="ducklake:postgres:dbname=x host=127.0.0.1"))
    with pytest.raises(WarehouseError, match="not a DuckLake target"):
        open_warehouse(Settings.make(db="ducklake:mysql:x"))


def test_a_file_warehouse_moves_into_a_lake(tmp_path: Path) -> None:
    from newsetl.storage.copy import copy_warehouse

    from .conftest import sqlite_lake

    file_settings = Settings.make(db=tmp_path / "news.duckdb", workers=0)
    ingest_files([_pages(tmp_path / "pages", 6), EXAMPLES], file_settings)
    lake = sqlite_lake(tmp_path).with_(workers=0)
    src, dst = open_warehouse(file_settings), open_warehouse(lake)
    report = copy_warehouse(src, dst, archive_root(file_settings), archive_root(lake))  # type: ignore[arg-type]
    assert report.tables["articles"] == 9 and report.tables["inputs"] == 9 and report.blobs == 9
    assert rows(dst, "SELECT count(*) FROM articles") == [(9,)]
    _green(lake)
    again = ingest_files([tmp_path / "pages", EXAMPLES], lake)  # file_state came along: nothing to do
    assert again.report.counts["unchanged"] == 9
    with pytest.raises(Exception, match="already holds articles"):
        copy_warehouse(src, dst, archive_root(file_settings), archive_root(lake))  # type: ignore[arg-type]
