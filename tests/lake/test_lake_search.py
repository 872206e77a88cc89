"""The lake's search side file follows the lake through its change feed: a session reads only
what changed since the last one, and rebuilds its copy when that snapshot has expired."""

from __future__ import annotations

import shutil
from pathlib import Path

from newsetl.analysis import search, search_index
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
from newsetl.storage.backends import open_warehouse
from newsetl.storage.ducklake import sync_article_keys

from ..conftest import corpus_path
from .conftest import sqlite_lake

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy(dest: Path, n: int, start: int) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for p in sorted(corpus_path("fundus", "de").glob("*.html.gz"))[start : start + n]:
        shutil.copy2(p, dest / p.name)


def test_side_file_syncs_changes_and_rebuilds_after_expiry(tmp_path: Path) -> None:
    lake: Settings = sqlite_lake(tmp_path).with_(workers=0, batch_size=25)
    pages = tmp_path / "pages"
    _copy(pages, 6, 0)
    assert ingest_files([pages], lake).report.counts["loaded"] == 6
    store = open_warehouse(lake)
    search_index.refresh(store)
    with store.search_session() as conn:
        assert sync_article_keys(conn) == 0  # the session already synced
        assert conn.execute("SELECT count(*) FROM article_keys").fetchone() == (6,)

    # Five more articles: the next session reads those five from the change feed.
    with store.session(read_only=True) as conn:
        before = conn.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()
    assert before is not None
    _copy(pages, 4, 6)
    shutil.copy2(EXAMPLES / "harbour-ferry.html", pages / "harbour-ferry.html")
    ingest_files([pages], lake)
    with store.search_session() as conn:
        conn.execute("DELETE FROM search_sync")  # as if this session had not synced yet:
        conn.execute("INSERT INTO search_sync VALUES (?)", [before[0]])
        assert sync_article_keys(conn) == 5  # only the second run's articles are read
        conn.execute("DELETE FROM search_sync")
        conn.execute("INSERT INTO search_sync VALUES (-5)")  # expired: before the oldest snapshot
        assert sync_article_keys(conn) == 11  # rebuilt whole
        assert search.freshness(conn).articles == 11
    search_index.refresh(store)
    with store.search_session() as conn:
        hits = search.search(conn, "harbour ferry estimate", limit=3)
        assert hits and "ferry" in (hits[0].title or "").lower()
        assert search.freshness(conn).pending == 0
