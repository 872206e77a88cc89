"""The fetcher against hostile peers: every fetch ends within its total timeout (redirects
and retries included) whatever the peer does, and ``abort()`` ends all of them at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from newsetl.settings import Settings
from newsetl.web.client import INTERRUPTED, Fetcher, FetchResult, make_client
from newsetl.web.politeness import Politeness
from newsetl.web.ssrf import SsrfGuard

from .conftest import fast_feed_settings
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
from .server import FeedServer, Response

TOTAL = 2.0  # seconds one fetch may take, retries and redirects included
SLACK = 0.6  # scheduling on a busy 2-core machine
MB = 1024 * 1024


def _settings(**kw: Any) -> Settings:
    return fast_feed_settings(
        **{"total_timeout_s": TOTAL, "read_timeout_s": 1.0, "connect_timeout_s": 1.5, **kw}
    )


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    settings = _settings()
    guard = SsrfGuard()
    with make_client(settings.web, guard) as client:
        yield Fetcher(client, settings.web, guard, Politeness(2, 0))


def _timed(fetcher: Fetcher, url: str, max_bytes: int = MB, **kw: Any) -> tuple[FetchResult, float]:
    started = time.monotonic()
    res = fetcher.fetch(url, kind="feed", max_bytes=max_bytes, trusted=url, **kw)
    return res, time.monotonic() - started


def test_a_header_that_never_ends_hits_the_total_deadline(fetcher: Fetcher) -> None:
    """One header byte every 0.2 s keeps every read under the 1 s read timeout; the
    deadline is computed per read from what the fetch has left, so it still ends."""
    with RawServer(header_drip(0.2)) as srv:
        res, took = _timed(fetcher, srv.url())
    assert res.error == f"total timeout: no complete response within {TOTAL:g} s" and res.transient
    assert res.attempts == 1 and srv.connections == 1  # no time left to retry
    assert TOTAL - 0.1 <= took < TOTAL + SLACK
    (row,) = fetcher.take_rows()
    assert row["error"] == res.error and row["status"] is None


def test_a_body_that_drips_past_the_deadline(fetcher: Fetcher) -> None:
    with RawServer(body_drip(total=100_000, piece=100, interval_s=0.05)) as srv:
        res, took = _timed(fetcher, srv.url("/page"))
    assert res.error == f"total timeout: no complete response within {TOTAL:g} s"
    assert res.status == 200 and res.body is None and took < TOTAL + SLACK


def test_a_server_that_accepts_and_never_answers(fetcher: Fetcher) -> None:
    """Read timeouts are retried, but only within the same total deadline."""
    with RawServer(silent) as srv:
        res, took = _timed(fetcher, srv.url())
    assert res.transient and res.error is not None
    assert res.error in ("read timeout after 1 s", f"total timeout: no complete response within {TOTAL:g} s")
    assert srv.connections == 2 and res.attempts == 2  # 1 s + back-off + what was left
    assert took < TOTAL + SLACK


def test_a_tls_handshake_that_never_completes(fetcher: Fetcher) -> None:
    with RawServer(silent) as srv:
        res, took = _timed(fetcher, srv.url(scheme="https"))
    assert res.error is not None and res.transient and took < TOTAL + SLACK
    assert "timeout" in res.error


def test_a_connect_that_never_completes() -> None:
    """A listening socket whose accept queue is full drops SYNs: connect() just waits."""
    settings = _settings(connect_timeout_s=5.0)  # longer than the total: the deadline decides
    guard = SsrfGuard()
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    port = blackhole.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    try:
        with make_client(settings.web, guard) as client:
            fetcher = Fetcher(client, settings.web, guard, Politeness(2, 0))
            res, took = _timed(fetcher, f"http://127.0.0.1:{port}/feed")
    finally:
        filler.close()
        blackhole.close()
    assert res.error is not None and "timeout" in res.error and took < TOTAL + SLACK


def test_slow_redirect_hops_share_one_deadline(server: FeedServer, fetcher: Fetcher) -> None:
    for i in range(5):
        server.add(f"/hop{i}", status=302, headers={"Location": f"/hop{i + 1}"}, delay_s=0.6)
    server.add("/hop5", b"<rss/>")
    res, took = _timed(fetcher, server.url("/hop0"))
    assert res.error is not None and res.error.startswith("total timeout") and took < TOTAL + SLACK
    assert server.hits("/hop5") == 0


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        # 10,000 headers of ~24 bytes: over h11's 100 KiB limit for a response head.
        (lambda i: b"X-Hostile-%05d: %s" % (i, b"v" * 8), "malformed response: header block over 100 KiB"),
        # 10,000 tiny headers (60 KB): parsed and the response is used.
        (lambda i: b"a: b", None),
    ],
    ids=["250KB-head", "60KB-head"],
)
def test_ten_thousand_response_headers(fetcher: Fetcher, line: Any, expect: str | None) -> None:
    with RawServer(many_headers(10_000, line)) as srv:
        res, took = _timed(fetcher, srv.url())
    assert res.error == expect and took < 2.0
    if expect is None:
        assert res.ok and res.body == b"<rss/>"
    else:
        assert not res.transient and res.attempts == 1  # the same server would say it again


def test_a_chunked_body_that_never_ends(fetcher: Fetcher) -> None:
    with RawServer(endless_chunks(b"x" * 4096)) as fast:
        res, took = _timed(fetcher, fast.url(), max_bytes=MB)
    assert res.error == f"body exceeds the cap of {MB} bytes" and not res.transient and took < 2.0
    with RawServer(endless_chunks(b"x" * 16, interval_s=0.01)) as slow:
        res, took = _timed(fetcher, slow.url(), max_bytes=MB)
    assert res.error == f"total timeout: no complete response within {TOTAL:g} s" and took < TOTAL + SLACK


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_a_200_mb_feed_stops_at_the_cap(declared: bool) -> None:
    settings = _settings()
    guard = SsrfGuard()
    cap = settings.feeds.max_feed_bytes  # 5 MB
    with make_client(settings.web, guard) as client, RawServer(big_body(200 * MB, declared=declared)) as srv:
        fetcher = Fetcher(client, settings.web, guard, Politeness(2, 0))
        res, took = _timed(fetcher, srv.url(), max_bytes=cap)
        time.sleep(0.2)
        sent = srv.sent
    if declared:
        assert res.error == f"body of {200 * MB} bytes (Content-Length) exceeds the cap of {cap} bytes"
    else:
        assert res.error == f"body exceeds the cap of {cap} bytes"
    assert not res.transient and took < 2.0
    assert sent < cap + 8 * MB  # the rest was never sent: the connection was dropped


def test_a_gzip_bomb_in_content_encoding(server: FeedServer, fetcher: Fetcher) -> None:
    bomb = gzip_bomb(200)  # 200 MiB of zeros in ~200 KB
    server.add("/bomb.xml", bomb, content_type="application/rss+xml", headers={"Content-Encoding": "gzip"})
    res, took = _timed(fetcher, server.url("/bomb.xml"), max_bytes=5 * MB)
    assert res.error == f"decompressed body exceeds the cap of {5 * MB} bytes" and not res.transient
    assert took < 2.0


def test_abort_ends_every_fetch_in_flight_and_refuses_new_ones(server: FeedServer) -> None:
    """Requests blocked on a header drip, a silent peer, a full connect queue, a politeness
    slot and a back-off pause all return 'interrupted' moments after abort()."""
    settings = _settings(
        total_timeout_s=60.0, read_timeout_s=30.0, connect_timeout_s=30.0, backoff_base_s=30, backoff_max_s=30
    )
    guard = SsrfGuard()
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    filler = socket.create_connection(blackhole.getsockname())
    server.add("/flaky", status=503)  # retried after a 15-30 s back-off
    with (
        make_client(settings.web, guard) as client,
        RawServer(header_drip(0.2)) as drip,
        RawServer(silent) as quiet,
        ThreadPoolExecutor(6) as pool,
    ):
        # Everything is on 127.0.0.1: 4 slots for 6 requests, so one of them waits for a slot.
        fetcher = Fetcher(client, settings.web, guard, Politeness(per_host=4, min_delay_s=0))
        try:
            urls = [
                drip.url(),
                quiet.url(),
                f"http://127.0.0.1:{blackhole.getsockname()[1]}/",
                server.url("/flaky"),
                drip.url("/second"),
                quiet.url("/second"),
            ]
            futures = [pool.submit(_timed, fetcher, u) for u in urls]
            until = time.monotonic() + 10
            while time.monotonic() < until and not (
                drip.connections and quiet.connections and server.hits("/flaky")
            ):
                time.sleep(0.02)
            time.sleep(0.5)
            assert not any(f.done() for f in futures)
            assert drip.connections + quiet.connections == 3  # the fourth one waits for a slot
            aborted_at = time.monotonic()
            threading.Thread(target=fetcher.abort).start()
            results = [f.result(timeout=5) for f in futures]
            ended = time.monotonic() - aborted_at
        finally:
            fetcher.abort()  # a failed assertion must not leave the pool waiting a minute
    filler.close()
    blackhole.close()
    assert [r.error for r, _ in results] == [INTERRUPTED] * len(urls), [r.error for r, _ in results]
    assert all(r.transient for r, _ in results) and ended < 1.0
    assert fetcher.aborted
    before = server.hits("/flaky")
    res, took = _timed(fetcher, server.url("/flaky"))
    assert (res.error, res.attempts) == (INTERRUPTED, 0) and took < 0.05 and server.hits("/flaky") == before


def test_an_aborted_politeness_wait_and_a_retry_after(server: FeedServer) -> None:
    """A Retry-After inside the fetch's budget defers the host; abort cuts the wait short."""
    settings = _settings(total_timeout_s=60.0, retry_after_cap_s=30.0)
    guard = SsrfGuard()
    server.sequence("/busy", [Response(429, headers={"Retry-After": "20"}), Response(200, b"<rss/>")])
    with make_client(settings.web, guard) as client, ThreadPoolExecutor(1) as pool:
        fetcher = Fetcher(client, settings.web, guard, Politeness(2, 0))
        try:
            future = pool.submit(_timed, fetcher, server.url("/busy"))
            deadline = time.monotonic() + 5
            while server.hits("/busy") == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.3)
        finally:
            fetcher.abort()
        res, took = future.result(timeout=5)
    assert res.error == INTERRUPTED and server.hits("/busy") == 1 and took < 2.0
