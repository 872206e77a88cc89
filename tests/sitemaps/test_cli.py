"""``newsetl sitemaps ...``, ``newsetl ingest-sitemaps`` and ``newsetl ingest-urls -`` as a user
runs them (subprocesses, real Prefect)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ..feeds.server import FeedServer
from ..helpers import table_rows
from ..test_cli import NEWSETL, run_cli
from .conftest import build_site


@pytest.fixture
def cli_env(shared_prefect_home: Path) -> dict[str, str]:
    return {"PREFECT_HOME": str(shared_prefect_home), "NEWSETL_LOCK_TIMEOUT": "2", "COLUMNS": "200"}


@pytest.mark.e2e
def test_sitemap_registry_ingest_and_url_list_from_stdin(
    server: FeedServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    db = tmp_path / "news.duckdb"
    site = build_site(server)
    added = run_cli(
        ["sitemaps", "add", site.root, "--name", "Loopback", "--db", str(db)], cli_env, timeout=60
    )
    assert added.returncode == 0, added.stderr[-2000:]
    assert added.stdout.strip() == f"added: {site.root}"

    first = run_cli(["ingest-sitemaps", "--db", str(db), "--host-delay", "0", "--json"], cli_env)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert summary["flow"] == "ingest-sitemaps" and summary["status"] == "completed"
    assert summary["counts"]["loaded"] == 7 and summary["sitemaps"]["documents"] == 3

    again = run_cli(["ingest-sitemaps", "--all", "--db", str(db)], cli_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "3 documents (3 not modified" in again.stdout

    listed = run_cli(["sitemaps", "list", "--db", str(db), "--format", "json"], cli_env, timeout=60)
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["kind"], r["health"], r["articles"]) for r in rows] == [
        ("Loopback", "site", "ok", 7)
    ]

    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **cli_env}
    env.pop("PREFECT_API_URL", None)
    urls = "\n".join([site.news_urls[0], "not a url", server.url("/missing")]) + "\n"
    piped = subprocess.run(
        [NEWSETL, "ingest-urls", "-", "--db", str(db), "--host-delay", "0", "--allow-private-hosts",
         "--json"],
        input=urls, capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr[-3000:]
    result = json.loads(piped.stdout)
    assert result["flow"] == "ingest-urls" and result["inputs"] == 3
    assert result["counts"]["duplicate"] == 1 and result["counts"]["rejected"] == 2  # known, bad line, 404
    assert table_rows(db, "SELECT DISTINCT parent_ref FROM inputs WHERE source_kind = 'url'") == [("stdin",)]

    removed = run_cli(["sitemaps", "remove", site.root, "--db", str(db)], cli_env, timeout=60)
    assert removed.returncode == 0 and f"removed: {site.root}" in removed.stdout
