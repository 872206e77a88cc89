"""Per-host concurrency and delay, robots.txt (RFC 9309) with Crawl-delay."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from newsetl.web.client import Fetcher, make_client
from newsetl.web.politeness import Politeness
from newsetl.web.robots import RobotsCache, RobotsFile
from newsetl.web.ssrf import SsrfGuard

from .conftest import fast_feed_settings
from .server import FeedServer


def _fetcher(per_host: int, delay: float) -> Fetcher:
    settings = fast_feed_settings(per_host_concurrency=per_host, min_host_delay_s=delay, concurrency=16)
    guard = SsrfGuard()
    return Fetcher(make_client(settings.web, guard), settings.web, guard, Politeness(per_host, delay))


def test_at_most_two_requests_per_host_at_once(server: FeedServer) -> None:
    for i in range(8):
        server.add(f"/p{i}", b"x", delay_s=0.15)
    fetcher = _fetcher(per_host=2, delay=0)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: fetcher.fetch(server.url(f"/p{i}"), kind="page", max_bytes=100,
                                                        trusted=server.url("/")), range(8)))  # fmt: skip
    assert all(r.ok for r in results)
    assert server.max_active == 2


def test_minimum_delay_between_requests_to_one_host(server: FeedServer) -> None:
    for i in range(4):
        server.add(f"/d{i}", b"x")
    fetcher = _fetcher(per_host=2, delay=0.25)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: fetcher.fetch(server.url(f"/d{i}"), kind="page", max_bytes=100,
                                              trusted=server.url("/")), range(4)))  # fmt: skip
    starts = sorted(r.at for r in server.requests())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3 and min(gaps) >= 0.23


def test_hosts_are_throttled_independently() -> None:
    gate = Politeness(per_host=1, min_delay_s=0.3)
    started = time.monotonic()
    with gate.slot("a.example"):
        pass
    with gate.slot("b.example"):  # another host: no wait
        pass
    assert time.monotonic() - started < 0.1
    with gate.slot("a.example"):  # same host: waits for the delay
        pass
    assert time.monotonic() - started >= 0.29


def _robots(status: int | None, body: str | None = None) -> RobotsCache:
    now = datetime.now(UTC)
    return RobotsCache(
        lambda origin, trusted: RobotsFile(
            origin, status, body, now, error="connect error" if status is None else None
        )
    )


def test_robots_rules() -> None:
    rules = "User-agent: *\nDisallow: /private/\n\nUser-agent: newsetl\nDisallow: /no-bots/\n"
    cache = _robots(200, rules)
    assert cache.check("https://example.com/news/1") is None
    assert cache.check("https://example.com/no-bots/1") == "disallowed by robots.txt for user-agent 'newsetl'"
    # 4xx: no restrictions; 5xx or no answer: complete disallow (RFC 9309 §2.3.1.3/4).
    assert _robots(404).check("https://example.com/anything") is None
    assert "robots.txt unreachable (HTTP 503)" in (_robots(503).check("https://example.com/x") or "")
    assert "connect error" in (_robots(None).check("https://example.com/x") or "")


def test_robots_is_fetched_once_per_origin_and_sets_crawl_delay(server: FeedServer) -> None:
    server.add(
        "/robots.txt", b"User-agent: *\nCrawl-delay: 0.4\nDisallow: /admin\n", content_type="text/plain"
    )
    fetcher = _fetcher(per_host=2, delay=0)
    delays: dict[str, float] = {}

    def fetch(origin: str, trusted: str | None) -> RobotsFile:
        res = fetcher.fetch(origin + "/robots.txt", kind="robots", max_bytes=10_000, trusted=trusted)
        return RobotsFile(origin, res.status, (res.body or b"").decode(), datetime.now(UTC))

    cache = RobotsCache(fetch, on_crawl_delay=delays.__setitem__)
    origin = server.url("")
    with ThreadPoolExecutor(6) as pool:
        verdicts = list(pool.map(lambda p: cache.check(origin + p, origin), ["/a", "/admin/x", "/b"] * 2))
    assert verdicts.count(None) == 4 and server.hits("/robots.txt") == 1
    assert delays == {"127.0.0.1": 0.4}
    assert [f.origin for f in cache.take_new()] == [origin]


def test_a_shared_global_limit_caps_requests_across_hosts() -> None:
    """The global slot (a Prefect global concurrency limit under a deployment) is held for
    every request, on top of the per-host limits: here one slot for three hosts."""
    import threading
    from contextlib import contextmanager

    lock = threading.Lock()
    active, peak = 0, 0
    gate = threading.Semaphore(1)

    @contextmanager
    def global_slot():  # type: ignore[no-untyped-def]
        nonlocal active, peak
        with gate:
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.05)
            with lock:
                active -= 1
            yield

    polite = Politeness(2, 0, global_slot=global_slot)

    def request(host: str) -> None:
        with polite.slot(host):
            pass

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(request, ["a", "b", "c"] * 2))
    assert peak == 1
