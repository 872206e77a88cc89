"""Shards: every input in exactly one shard, for files (by path relative to the input root)
and feeds (by URL); runs of all shards into one warehouse equal one whole run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsetl.cli import app
from newsetl.pipeline.shards import Shard, shard_of
from newsetl.settings import Settings
from newsetl.sources.feeds import ingest_feeds
from newsetl.sources.feeds.source import feed_shard_key
from newsetl.sources.files import ingest_files
from newsetl.sources.files.discover import FileRef, discover

from .feeds.conftest import fast_feed_settings
from .feeds.server import FeedServer
from .helpers import table_rows

WORDS = (
    "The harbour authority confirmed on Tuesday that the new ferry line will start in spring, "
    "connecting the old town with the island twice an hour, the mayor said."
)


def test_every_key_is_in_exactly_one_shard() -> None:
    keys = [f"dir{i % 7}/page-{i}.html" for i in range(2000)] + ["ümlaut/ä.html", "a b.txt"]
    for n in (1, 2, 3, 7):
        owners = [[i for i in range(n) if Shard(i, n).owns(k)] for k in keys]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(1 for o in owners if o == [i]) for i in range(n)]
        assert min(sizes) > len(keys) / n * 0.8  # a hash, not a lump
    # Pinned: the same on every machine and in every process (SHA-256, not the salted hash()),
    # so workers started anywhere agree; changing it would re-split running deployments.
    assert shard_of("a.html", 4) == 3 and shard_of("https://example.org/feed", 5) == 4


@pytest.mark.parametrize("bad", ["2/2", "-1/2", "0/0", "1", "a/b", "0/2/3"])
def test_bad_shards_are_refused_with_the_form(bad: str) -> None:
    with pytest.raises(ValueError, match="I/N"):
        Shard.parse(bad)
    assert Shard.parse(" 1/3 ") == Shard(1, 3)


def _tree(root: Path) -> None:
    for i in range(30):
        sub = root / f"d{i % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"story-{i}.txt").write_text(f"Story {i}\n\n{WORDS} Number {i} of thirty.\n", "utf-8")
    (root / "d1" / "image.bin").write_bytes(b"\x00\x01")  # a rejection belongs to a shard too
    (root / "empty.txt").write_text("", "utf-8")


def test_files_shard_by_path_relative_to_the_input_root(tmp_path: Path) -> None:
    a, b = tmp_path / "machine-a" / "inbox", tmp_path / "elsewhere" / "mnt" / "inbox"
    _tree(a)
    shutil.copytree(a, b)

    def rel(root: Path, shard: Shard) -> set[str]:
        out = set()
        for item in discover([str(root)], shard):
            path = item.path if isinstance(item, FileRef) else item.source_ref
            out.add(str(Path(path).relative_to(root)))
        return out

    everything = rel(a, Shard())
    assert len(everything) == 32
    parts = [rel(a, Shard(i, 3)) for i in range(3)]
    assert set().union(*parts) == everything and sum(map(len, parts)) == len(everything)
    # The same tree mounted elsewhere splits the same way: the key is the relative path.
    assert [rel(b, Shard(i, 3)) for i in range(3)] == parts


def test_shard_runs_together_ingest_every_file_once(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _tree(inbox)
    whole_db, sharded_db = tmp_path / "whole.duckdb", tmp_path / "sharded.duckdb"
    ingest_files([inbox], Settings.make(db=whole_db, workers=0))
    summaries = [
        ingest_files([inbox], Settings.make(db=sharded_db, workers=0), shard=Shard(i, 3)) for i in range(3)
    ]
    assert all(s.status == "completed" for s in summaries)
    assert sum(s.report.total for s in summaries) == 32
    once = "SELECT source_ref, outcome, count(*) FROM inputs GROUP BY ALL ORDER BY 1"
    assert table_rows(sharded_db, once) == table_rows(whole_db, once)
    assert all(n == 1 for _, _, n in table_rows(sharded_db, once))
    assert table_rows(sharded_db, "SELECT count(*), count(DISTINCT content_hash) FROM articles") == [(30, 30)]
    shards = table_rows(sharded_db, "SELECT parameters->>'shard' FROM runs ORDER BY started_at")
    assert shards == [("0/3",), ("1/3",), ("2/3",)]
    # A second round: every file unchanged, still once per run.
    again = [
        ingest_files([inbox], Settings.make(db=sharded_db, workers=0), shard=Shard(i, 3)) for i in range(3)
    ]
    assert sum(s.report.counts["unchanged"] for s in again) == 30


def _rss(server: FeedServer, name: str, host: str) -> str:
    items = []
    for j in range(2):
        page = f"/pages/{name}-{j}"
        html = f"<html><body><article><p>{WORDS} Feed {name}, story {j}.</p></article></body></html>"
        server.add(page, html.encode())
        link = server.url(page, host)
        items.append(f"<item><title>{name} {j}</title><link>{link}</link><guid>{name}-{j}</guid></item>")
    channel = f"<channel><title>{name}</title>{''.join(items)}</channel>"
    body = f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'
    server.add(f"/{name}.xml", body.encode(), content_type="application/rss+xml")
    return server.url(f"/{name}.xml", host)


def test_feeds_shard_by_host_so_politeness_holds_across_shards() -> None:
    urls = [
        f"https://{h}/feeds/{i}.xml" for h in ("a.example", "B.example:8443", "c.example") for i in range(5)
    ]
    for n in (2, 3):
        owner = {u: [i for i in range(n) if Shard(i, n).owns(feed_shard_key(u))] for u in urls}
        assert all(len(o) == 1 for o in owner.values())  # each feed in exactly one shard
        for host in ("a.example", "b.example:8443", "c.example"):
            assert (
                len({owner[u][0] for u in urls if feed_shard_key(u) == host}) == 1
            )  # a host's feeds together


def test_feed_shard_runs_poll_every_feed_once(tmp_path: Path) -> None:
    server = FeedServer()
    try:
        hosts = ("127.0.0.1", "localhost")
        urls = [_rss(server, f"feed{i}", hosts[i % 2]) for i in range(8)]
        db = tmp_path / "news.duckdb"
        settings = fast_feed_settings(db=db, workers=0, respect_robots=False)
        for i in range(2):
            summary, stats = ingest_feeds(urls, settings, shard=Shard(i, 2))
            assert summary.status == "completed"
            mine = [u for u in urls if Shard(i, 2).owns(feed_shard_key(u))]
            assert stats["feeds"] == len(mine)
            ran = table_rows(db, f"SELECT DISTINCT parent_ref FROM inputs WHERE run_id = '{summary.run_id}'")
            assert sorted(r[0] for r in ran) == sorted(mine)
        assert all(server.hits(f"/feed{i}.xml") == 1 for i in range(8))  # each polled once, in all
        per_feed = table_rows(
            db, "SELECT parent_ref, count(*), count(DISTINCT run_id) FROM inputs GROUP BY 1"
        )
        assert len(per_feed) == 8 and all(n == 2 and runs == 1 for _, n, runs in per_feed)
        assert table_rows(db, "SELECT count(*) FROM articles") == [(16,)]
    finally:
        server.close()


def test_cli_shard_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path), "--shard", "3/2"])
    assert result.exit_code == 1
    assert "--shard" in result.output and "I/N" in result.output
