"""``newsetl feeds ...`` and ``newsetl ingest-feeds`` as a user runs them (subprocesses, real Prefect)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..helpers import table_rows
from ..test_cli import run_cli
from .conftest import serve_news_feed
from .server import FeedServer


@pytest.fixture
def cli_env(shared_prefect_home: Path) -> dict[str, str]:
    return {
        "PREFECT_HOME": str(shared_prefect_home),
        "NEWSETL_PREFECT_IDLE_MIN": "10",
        "NEWSETL_LOCK_TIMEOUT": "2",
        "COLUMNS": "200",
    }


@pytest.mark.e2e
def test_add_ingest_then_second_poll_is_304(
    server: FeedServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    db = tmp_path / "news.duckdb"
    url, _ = serve_news_feed(server, "prof18-rss-parser/nytimes-health_feed-char-escape.xml", "/nyt.xml")
    added = run_cli(["feeds", "add", url, "--name", "NYT Health", "--db", str(db)], cli_env, timeout=60)
    assert added.returncode == 0, added.stderr[-2000:]
    assert added.stdout.strip() == f"added: {url}"

    first = run_cli(["ingest-feeds", "--db", str(db), "--host-delay", "0", "--json"], cli_env)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert summary["flow"] == "ingest-feeds" and summary["status"] == "completed"
    assert summary["counts"]["loaded"] == 1 and summary["feeds"]["pages_fetched"] == 1
    assert table_rows(db, "SELECT text_source, count(*) FROM articles GROUP BY 1") == [("html", 1)]

    # Not due yet (next check in ~30 min); --all polls anyway: a 304, nothing changes.
    again = run_cli(["ingest-feeds", "--all", "--db", str(db)], cli_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 polled · 1 not modified" in again.stdout and "completed" in again.stdout
    assert server.requests("/nyt.xml")[-1].headers.get("if-none-match") == "v1"
    assert table_rows(db, "SELECT count(*) FROM articles") == [(1,)]

    listed = run_cli(["feeds", "list", "--db", str(db), "--format", "json"], cli_env, timeout=60)
    rows = {r["url"]: r for r in json.loads(listed.stdout)}
    assert rows[url]["name"] == "NYT Health" and rows[url]["health"] == "ok"
    assert rows[url]["last_status"] == 304 and rows[url]["entries_seen"] == 1


@pytest.mark.e2e
def test_registry_commands(server: FeedServer, tmp_path: Path, cli_env: dict[str, str]) -> None:
    db = tmp_path / "news.duckdb"
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        '<outline text="Tech"><outline type="rss" text="Heise" xmlUrl="https://www.heise.de/rss/heise-atom.xml"/>'
        "</outline>"
        '<outline type="rss" text="ORF" xmlUrl="https://rss.orf.at/news.xml"/></body></opml>'
    )
    plain = tmp_path / "feeds.txt"
    plain.write_text("# more\nhttps://rss.orf.at/news.xml\nhttps://example.com/feed.xml\n")
    res = run_cli(["feeds", "import", str(opml), "--db", str(db)], cli_env, timeout=60)
    assert res.returncode == 0 and "2 feeds added, 0 already registered" in res.stdout
    res = run_cli(["feeds", "import", str(plain), "--db", str(db)], cli_env, timeout=60)
    assert "1 feeds added, 1 already registered" in res.stdout
    exported = tmp_path / "out.opml"
    assert run_cli(["feeds", "export", str(exported), "--db", str(db)], cli_env, timeout=60).returncode == 0
    assert exported.read_text().count("xmlUrl=") == 3 and 'text="Tech"' in exported.read_text()
    res = run_cli(["feeds", "remove", "https://example.com/feed.xml", "--db", str(db)], cli_env, timeout=60)
    assert res.returncode == 0 and "removed: https://example.com/feed.xml" in res.stdout
    res = run_cli(["feeds", "remove", "https://example.com/feed.xml", "--db", str(db)], cli_env, timeout=60)
    assert res.returncode == 1 and "not registered" in res.stderr
    bad = run_cli(["feeds", "add", "file:///etc/passwd", "--db", str(db)], cli_env, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("error: not an http(s) URL")
    bad = run_cli(["ingest-feeds", "ftp://example.com/feed", "--db", str(db)], cli_env, timeout=60)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    [["feeds"], ["feeds", "add"], ["feeds", "list"], ["feeds", "remove"], ["feeds", "import"],
     ["feeds", "export"], ["ingest-feeds"]],
)  # fmt: skip
def test_help_shows_a_runnable_example(command: list[str], cli_env: dict[str, str]) -> None:
    res = run_cli([*command, "--help"], cli_env, timeout=60)
    assert res.returncode == 0
    assert "Example:" in res.stdout and "newsetl " in res.stdout
