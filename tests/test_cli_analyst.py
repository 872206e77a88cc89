"""The analyst commands as a user calls them (in-process through typer, on real warehouses)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsetl.cli.app import app

from .conftest import ROOT
from .helpers import table_rows

runner = CliRunner()
COMMANDS = ["search", "reindex", "clusters", "relink", "history", "export"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", "NEWSETL_LOCK_TIMEOUT": "5"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_db_and_an_example(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0
    assert "--db" in out and "Example:" in out


def test_search_prints_ranked_hits_and_freshness(corpus_warehouse: Path) -> None:
    # The revised article: words of its new paragraph find it.
    ((article_id, domain),) = table_rows(
        corpus_warehouse, "SELECT article_id, domain FROM articles WHERE version = 2"
    )
    db = str(corpus_warehouse)
    code, out, err = invoke("search", "Redaktion missverständlich Beteiligten", "--lang", "de", "--db", db)
    assert code == 0, err
    assert str(article_id) in out and str(domain) in out and "missverständlich" in out
    assert "index covers all" in err
    code, out, _ = invoke("search", "president government", "--json", "--since", "2015-01-01", "--db", db)
    hits = json.loads(out)
    assert code == 0 and hits and [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert all(h["dated_at"] >= "2015-01-01" for h in hits)
    assert all(h["score"] > 0 and h["snippet"] for h in hits)


def test_search_catches_up_a_stale_or_missing_index(tmp_path: Path, corpus_warehouse: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(corpus_warehouse, db)
    import duckdb

    with duckdb.connect(str(db)) as conn:
        conn.execute(
            "INSERT INTO articles SELECT * REPLACE ('zz' || article_id AS article_id, content_hash || 'z' AS "
            "content_hash) FROM articles ORDER BY article_id LIMIT 2"
        )
    code, out, err = invoke("search", "Regierung", "--db", str(db), "--json")
    assert code == 0 and "index covers all" in err  # the two new articles were indexed first
    assert table_rows(db, "SELECT pending FROM search_freshness") == [(0,)]
    code, out, _ = invoke("reindex", "--db", str(db))
    assert code == 0

    from newsetl.settings import Settings
    from newsetl.sources.files import ingest_files

    fresh = tmp_path / "fresh.duckdb"  # a warehouse that never had an index
    ingest_files([ROOT / "examples"], Settings.make(db=fresh, workers=0))
    code, out, err = invoke("search", "Solarpark", "--db", str(fresh), "--json")
    assert code == 0 and json.loads(out)[0]["title"].startswith("Stadtwerke")


def test_clusters_history_relink_export(corpus_warehouse: Path, tmp_path: Path) -> None:
    db = str(corpus_warehouse)
    # The wire copy the fixture ingested is in one story with its original.
    ((copy_id, cluster_id),) = table_rows(
        corpus_warehouse,
        """SELECT c.article_id, c.cluster_id FROM article_clusters c JOIN articles a USING (article_id)
           WHERE a.source_ref LIKE '%wire-copy.txt'""",
    )
    assert copy_id != cluster_id
    code, out, _ = invoke("clusters", "--format", "json", "--db", db)
    stories = json.loads(out)
    assert code == 0 and cluster_id in {s["cluster_id"] for s in stories}
    code, out, _ = invoke("clusters", str(copy_id), "--format", "csv", "--db", db)
    assert code == 0 and str(copy_id) in out and str(cluster_id) in out
    code, _, err = invoke("clusters", "nope", "--db", db)
    assert code == 1 and "not in a cluster" in err

    (revised,) = table_rows(corpus_warehouse, "SELECT article_id FROM articles WHERE version = 2")[0]
    code, out, _ = invoke("history", str(revised), "--db", db)
    assert code == 0 and "v1 → v2" in out and "+Aktualisierung" in out and "updated" in out
    # times to the second and runs by their first 8 characters (as `status` shows them), so
    # the tables fit a terminal instead of folding "12:47:16.930510+00:00" into each row
    assert re.search(r"v1 → v2 \(\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?\)", out), out
    assert not re.search(r"\d\d:\d\d:\d\d\.\d|\+00:00", out), out
    (run_id,) = table_rows(corpus_warehouse, f"SELECT run_id FROM articles WHERE article_id = '{revised}'")[0]
    assert run_id[:8] in out and run_id not in out
    code, _, err = invoke("history", "https://example.com/nothing", "--db", db)
    assert code == 1 and "no article matches" in err

    copy = tmp_path / "copy.duckdb"
    shutil.copy(corpus_warehouse, copy)
    before = table_rows(copy, "SELECT article_id, cluster_id FROM article_clusters ORDER BY 1")
    code, out, _ = invoke("relink", "--db", str(copy))
    assert code == 0 and "near-duplicate links" in out
    assert table_rows(copy, "SELECT article_id, cluster_id FROM article_clusters ORDER BY 1") == before
    assert table_rows(copy, "SELECT flow, status FROM runs WHERE flow = 'relink'") == [
        ("relink", "completed")
    ]

    x = str(tmp_path / "x")
    code, out, _ = invoke("export", "--out", x, "--table", "articles", "--since", "2024-01-01", "--db", db)
    assert code == 0 and "manifest" in out
    assert (tmp_path / "x" / "manifest.json").exists()
    code, _, err = invoke("export", "--out", str(tmp_path / "x"), "--db", db)
    assert code == 1 and "not empty" in err
