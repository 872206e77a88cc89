"""Whole feed runs against hostile hosts: each run ends within a stated bound, every feed and
entry has its ledger row with a reason, and the audit is green."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from newsetl.analysis.audit import run_audit

from ..helpers import store, table_rows
from .conftest import fast_feed_settings, run
from .hostile import (
    RawServer,
    big_body,
    body_drip,
    endless_chunks,
    gzip_bomb,
    header_drip,
    many_headers,
    silent,
)
from .server import FeedServer
from .test_ingest import STORY, rss

MB = 1024 * 1024
TOTAL = 2.0


def _audit_green(db: Path) -> None:
    report = run_audit(store(db))
    assert report.ok, [(f.check, f.detail) for f in report.findings if not f.ok]


def test_one_run_against_every_hostile_feed_and_page(server: FeedServer, tmp_path: Path) -> None:
    """Ten hostile feeds polled together plus a good feed whose pages and robots.txt are
    hostile. Bound: every request ends within TOTAL (2 s) of its first byte, so the run
    takes the slowest feed's deadline, then robots.txt + page deadlines: < 15 s here."""
    settings = fast_feed_settings(
        total_timeout_s=TOTAL,
        read_timeout_s=1.0,
        connect_timeout_s=1.5,
        per_host_concurrency=16,  # every server is 127.0.0.1: let them run side by side
        concurrency=16,
        allow_private_hosts=True,  # entry C links to another port on 127.0.0.1
    )
    behaviours: dict[str, Any] = {
        "header-drip": header_drip(0.2),
        "body-drip": body_drip(total=100_000, piece=100, interval_s=0.05),
        "silent": silent,
        "10k-headers": many_headers(10_000, lambda i: b"X-Hostile-%05d: vvvvvvvv" % i),
        "endless-fast": endless_chunks(b"<item>" * 700),
        "endless-slow": endless_chunks(b"<item>", interval_s=0.01),
        "200mb-declared": big_body(200 * MB, declared=True),
        "200mb-until-close": big_body(200 * MB, declared=False),
    }
    servers = {name: RawServer(b) for name, b in behaviours.items()}
    tls = RawServer(silent)
    robots_drip = RawServer(header_drip(0.2))
    try:
        feeds = {name: srv.url("/feed") for name, srv in servers.items()}
        feeds["tls-silent"] = tls.url("/feed", scheme="https")
        bomb = gzip_bomb(200)
        server.add(
            "/bomb.xml", bomb, content_type="application/rss+xml", headers={"Content-Encoding": "gzip"}
        )
        feeds["gzip-bomb"] = server.url("/bomb.xml")
        # The good feed: its pages are a gzip bomb, a body dripping past the deadline, and a
        # page whose host answers robots.txt with a header that never ends.
        server.add("/p/bomb", bomb, headers={"Content-Encoding": "gzip"})
        server.add("/p/drip", b"<p>" + b"x" * 100_000 + b"</p>", drip_s=0.05)
        entries = {
            "bomb": server.url("/p/bomb"),
            "drip": server.url("/p/drip"),
            "robots": robots_drip.url("/p"),
        }
        items = [
            {"title": k, "link": v, "guid": k, "description": f"{STORY}<p>({k})</p>"}
            for k, v in entries.items()
        ]
        good = server.add("/good.xml", rss(items), content_type="application/rss+xml")
        db = tmp_path / "news.duckdb"
        started = time.monotonic()
        summary, stats = run([*feeds.values(), good], db, settings)
        took = time.monotonic() - started
    finally:
        for srv in [*servers.values(), tls, robots_drip]:
            srv.close()
    assert summary.status == "completed" and took < 15.0, took
    reasons = dict(
        table_rows(db, "SELECT source_ref, stage || ': ' || reason FROM inputs WHERE parent_ref IS NULL")
    )
    timeout = f"fetch: feed: total timeout: no complete response within {TOTAL:g} s"
    expect = {
        "header-drip": timeout,
        "body-drip": timeout,
        "10k-headers": "fetch: feed: malformed response: header block over 100 KiB",
        "endless-fast": f"fetch: feed: body exceeds the cap of {5 * MB} bytes",
        "endless-slow": timeout,
        "200mb-declared": f"fetch: feed: body of {200 * MB} bytes (Content-Length) exceeds the cap",
        "200mb-until-close": f"fetch: feed: body exceeds the cap of {5 * MB} bytes",
        "gzip-bomb": f"fetch: feed: decompressed body exceeds the cap of {5 * MB} bytes",
    }
    assert set(reasons) == set(feeds.values())  # one rejected input per hostile feed
    for name, reason in expect.items():
        assert reasons[feeds[name]].startswith(reason), (name, reasons[feeds[name]])
    for name in ("silent", "tls-silent"):
        assert reasons[feeds[name]].startswith("fetch: feed: ") and "timeout" in reasons[feeds[name]], name
    assert stats.failed == len(feeds) and stats.parsed == 1
    errors = dict(table_rows(db, "SELECT guid, page_error FROM feed_entries"))
    assert errors["bomb"] == f"fetch: decompressed body exceeds the cap of {10 * MB} bytes"
    assert errors["drip"] == f"fetch: total timeout: no complete response within {TOTAL:g} s"
    assert errors["robots"].startswith("policy: robots.txt unreachable (total timeout")
    outcomes = table_rows(db, "SELECT outcome, count(*) FROM inputs WHERE parent_ref IS NOT NULL GROUP BY 1")
    assert outcomes == [("loaded", 3)]  # from the entries' own content
    # Health: every hostile feed is failing and will be tried again later, never dropped.
    failing = table_rows(
        db, "SELECT count(*) FROM feeds WHERE error_streak = 1 AND next_check_at > last_checked_at"
    )
    assert failing == [(len(feeds),)]
    _audit_green(db)


RUN_BIG = """
import json, resource, sys, time
from pathlib import Path
from newsetl.settings import Settings
from newsetl.sources.feeds import FeedStats, ingest_feeds
if __name__ == "__main__":
    settings = Settings.make(db=sys.argv[1], workers=0, lock_timeout_s=20, min_host_delay_s=0.0,
                             fetch_pages=False)
    started = time.monotonic()
    summary, raw = ingest_feeds([sys.argv[2]], settings)
    stats = FeedStats(**raw)
    print(json.dumps({
        "seconds": time.monotonic() - started,
        "status": summary.status,
        "counts": summary.report.counts,
        "seen": stats.entries_seen,
        "new": stats.new_entries,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
"""


def test_a_feed_of_100000_entries(server: FeedServer, tmp_path: Path) -> None:
    """100,000 entries in 3.2 MB (under the default 5 MB cap, so it is parsed): the run
    takes 1,000 of them (the per-feed cap), keeps the old validators so the next run takes
    the next 1,000, and stays bounded (measured in a fresh process: ~15 s, ~330 MB peak on
    the 2-core machine; the 5 MB feed cap bounds both)."""
    n = 100_000
    items = "".join(f"<item><link>/a/{i}</link></item>" for i in range(n))
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>big</title><link>/</link>'
    body = f"{head}{items}</channel></rss>"
    url = server.add("/big.xml", body.encode(), content_type="application/rss+xml")
    db = tmp_path / "news.duckdb"
    script = tmp_path / "run_big.py"
    script.write_text(RUN_BIG)
    proc = subprocess.run(
        [sys.executable, str(script), str(db), url], capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "completed" and out["seen"] == n and out["new"] == 1000
    print(f"100,000 entries: {out['seconds']:.1f} s, peak RSS {out['max_rss_mb']:.0f} MB")
    assert out["seconds"] < 60 and out["max_rss_mb"] < 800, out
    assert sum(out["counts"].values()) == 1000
    reasons = table_rows(db, "SELECT stage, reason, count(*) FROM inputs GROUP BY ALL")
    assert reasons == [
        ("extract", "no page to fetch; feed content: the entry has no content of its own", 1000)
    ]
    ((outcome, due_now),) = table_rows(
        db, f"SELECT last_outcome, next_check_at = last_checked_at FROM feeds WHERE url = '{url}'"
    )
    assert (outcome, due_now) == ("new_entries_capped", True)
    _audit_green(db)
