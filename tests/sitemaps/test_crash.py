"""Killed with SIGKILL between two batches of a sitemap ingest, then run again: the warehouse ends
as after one clean run (a document's validators are committed with its last URLs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..feeds.server import FeedServer
from ..helpers import table_rows
from .conftest import build_site, run

RUN = """
import sys
from pathlib import Path
from newsetl.settings import Settings
from newsetl.sources.sitemaps import ingest_sitemaps
if __name__ == "__main__":
    db, url = sys.argv[1:]
    settings = Settings.make(db=Path(db), workers=0, batch_size=3, lock_timeout_s=20, min_host_delay_s=0,
                             backoff_base_s=0.01, read_timeout_s=5)
    summary, _ = ingest_sitemaps([url], settings)
    print(summary.status, flush=True)
"""


def snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    q = {
        "articles": "SELECT article_id, version, content_hash, url FROM articles ORDER BY 1",
        "urls": "SELECT sitemap, url, article_id, outcome, lastmod FROM sitemap_urls ORDER BY 1, 2",
        "documents": "SELECT url, etag, body_sha256, doc_type, entries FROM sitemap_documents ORDER BY 1",
        "ledger": "SELECT source_ref, parent_ref, outcome, article_id FROM inputs ORDER BY 1, 2",
        "site": "SELECT url, error_streak, last_outcome FROM sitemaps",
    }
    return {k: table_rows(db, sql) for k, sql in q.items()}


@pytest.mark.e2e
@pytest.mark.parametrize("point", ["load.after_commit:1", "load.before_commit:2"])
def test_sigkill_between_batches_then_rerun_equals_a_clean_run(
    server: FeedServer, tmp_path: Path, point: str
) -> None:
    site = build_site(server)
    clean = tmp_path / "clean.duckdb"
    run([site.root], clean, batch_size=3)
    expected = snapshot(clean)
    assert len(expected["articles"]) == 7

    db = tmp_path / "crashed.duckdb"
    script = tmp_path / "run.py"
    script.write_text(RUN)
    env = {**os.environ, "NEWSETL_FAULTS": point}
    killed = subprocess.run([sys.executable, str(script), str(db), site.root], env=env, capture_output=True,
                            text=True, timeout=120, check=False)  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert table_rows(db, "SELECT count(*) FROM sitemap_documents WHERE etag IS NOT NULL")[0][0] < 3

    env.pop("NEWSETL_FAULTS")
    rerun = subprocess.run([sys.executable, str(script), str(db), site.root], env=env, capture_output=True,
                           text=True, timeout=120, check=False)  # fmt: skip
    assert rerun.returncode == 0 and rerun.stdout.strip() == "completed", rerun.stderr[-2000:]
    got = snapshot(db)
    assert got["articles"] == expected["articles"]
    assert got["urls"] == expected["urls"]
    assert [d[1:] for d in got["documents"]] == [d[1:] for d in expected["documents"]]
    assert got["ledger"] == expected["ledger"]
    assert got["site"][0][1:] == expected["site"][0][1:]
    assert sorted(r[0] for r in table_rows(db, "SELECT status FROM runs")) == ["completed", "crashed"]
