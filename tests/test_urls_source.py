"""URL lists: plain, CSV, JSON Lines, standard input, --refresh, bad lines (loopback server)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from newsetl.settings import Settings
from newsetl.sources.urls import ingest_urls
from newsetl.sources.urls.listfile import read_url_list

from .feeds.conftest import benchmark_pages, fast_feed_settings
from .feeds.server import FeedServer


@pytest.fixture
def server() -> Any:
    srv = FeedServer()
    yield srv
    srv.close()


def _settings(db: Path) -> Settings:
    return fast_feed_settings(allow_private_hosts=True).with_(
        db=db, workers=0, batch_size=4, lock_timeout_s=20
    )


def _site(server: FeedServer, n: int) -> list[str]:
    pages = benchmark_pages()
    urls = []
    for i in range(n):
        _, html, _ = pages[i]
        urls.append(server.add(f"/article/{i}", html))
    return urls


def _inputs(db: Path, run_id: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(
            """SELECT source_ref, parent_ref, outcome, stage, reason FROM inputs
               WHERE run_id = ? ORDER BY source_ref""",
            [run_id],
        ).fetchall()


def test_plain_list_then_nothing_again_and_refresh(server: FeedServer, tmp_path: Path) -> None:
    urls = _site(server, 5)
    listing = tmp_path / "urls.txt"
    listing.write_text(
        "# my list\n\n" + "\n".join(urls) + "\nftp://example.org/x\nnot a url\n" + urls[0] + "\n"
    )
    db = tmp_path / "news.duckdb"
    s1 = ingest_urls(listing, _settings(db))
    assert s1.status == "completed"
    c = s1.report.counts
    assert (c["loaded"], c["rejected"], c["duplicate"]) == (5, 2, 1), c
    rows = _inputs(db, s1.run_id)
    bad = [r for r in rows if r[2] == "rejected"]
    assert {r[0] for r in bad} == {f"{listing.resolve()}#line=8", f"{listing.resolve()}#line=9"}
    assert any("scheme 'ftp' not allowed" in r[4] for r in bad)
    assert any("line 9: not a URL" in r[4] for r in bad)
    assert all(r[1] == str(listing.resolve()) for r in rows)
    assert server.hits("/article/0") == 1  # the repeat was not fetched again
    assert s1.extra["repeated"] == 1

    server.clear_log()
    s2 = ingest_urls(listing, _settings(db))
    assert s2.report.counts["unchanged"] == 5 and s2.report.counts["loaded"] == 0
    assert [r.path for r in server.requests() if r.path.startswith("/article")] == []
    assert s2.extra["already_ingested"] == 5

    s3 = ingest_urls(listing, _settings(db), refresh=True)
    assert s3.report.counts["unchanged"] == 5
    assert sum(server.hits(f"/article/{i}") for i in range(5)) == 5  # fetched once each, not extracted


def test_csv_jsonl_and_stdin(server: FeedServer, tmp_path: Path) -> None:
    urls = _site(server, 3)
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("id,url,title\n1," + urls[0] + ",First\n2,,empty\n")
    jl = tmp_path / "list.jsonl"
    jl.write_text(
        json.dumps({"url": urls[1], "keywords": ["a", "b"]}) + "\n{broken\n" + json.dumps({"x": 1}) + "\n"
    )
    db = tmp_path / "news.duckdb"
    s1 = ingest_urls(csv_file, _settings(db))
    assert (s1.report.counts["loaded"], s1.report.counts["rejected"]) == (1, 1)
    assert [r[4] for r in _inputs(db, s1.run_id) if r[4]] == ["line 3: empty URL"]
    s2 = ingest_urls(jl, _settings(db))
    reasons = sorted(r[4] for r in _inputs(db, s2.run_id) if r[4])
    assert s2.report.counts["loaded"] == 1 and len(reasons) == 2
    assert any("not valid JSON" in r for r in reasons) and any("no 'url' field" in r for r in reasons)
    s3 = ingest_urls("-", _settings(db), stream=io.StringIO(urls[2] + "\n" + urls[1] + "\n"))
    rows = _inputs(db, s3.run_id)
    assert {r[1] for r in rows} == {"stdin"}
    assert s3.report.counts["loaded"] == 1 and s3.report.counts["unchanged"] == 1


def test_list_formats() -> None:
    plain = list(read_url_list(io.StringIO("https://a.example/x\n  # c\nmailto:me@x\n")))
    assert [ln.url for ln in plain] == ["https://a.example/x", None]
    assert "scheme 'mailto'" in (plain[1].reason or "")
    tsv = list(read_url_list(io.StringIO("url\ttitle\nhttps://a.example/y\tHi\n")))
    assert tsv[0].url == "https://a.example/y" and dict(tsv[0].fields)["title"] == "Hi"
    assert list(read_url_list(io.StringIO("\n# only comments\n"))) == []
