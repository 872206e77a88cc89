"""The SSRF guard: resolved addresses, not names, decide; refused targets cause no request."""

from __future__ import annotations

import ipaddress
import threading
import time
from pathlib import Path

import httpcore
import pytest

from newsetl.settings import Settings
from newsetl.web.client import Fetcher, GuardedBackend, make_client
from newsetl.web.politeness import Politeness
from newsetl.web.ssrf import PolicyRefusal, ResolveError, SsrfGuard, address_problem, same_site

from ..helpers import table_rows
from .conftest import fast_feed_settings, run
from .server import FeedServer
from .test_ingest import STORY, rss


@pytest.mark.parametrize(
    ("ip", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "not publicly routable"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:5", "private"),  # NAT64 of 10.0.0.5
        ("93.184.216.34", None),
        ("2606:4700::6810:84e5", None),
    ],
)
def test_address_classification(ip: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(ip)) == problem


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise OSError(f"name not known: {host}")
        return table[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def test_names_are_judged_by_their_addresses() -> None:
    guard = SsrfGuard(
        _resolver(
            {
                "news.example.com": ["93.184.216.34"],
                "internal.example.com": ["10.1.2.3"],
                "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
                "metadata.example.com": ["169.254.169.254"],
            }
        )
    )
    assert guard.check_url("https://news.example.com/a", None)[2] == ["93.184.216.34"]
    for url, why in [
        ("http://internal.example.com/admin", "internal.example.com (10.1.2.3) is a private address"),
        ("http://mixed.example.com/", "127.0.0.1) is a loopback address"),
        ("http://metadata.example.com/latest/meta-data/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::1]:8080/", "::1 is a loopback address"),
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
        ("ftp://news.example.com/x", "scheme 'ftp'"),
        ("gopher://127.0.0.1:6379/_SET", "scheme 'gopher'"),
        ("http:///nohost", "no host"),
    ]:
        with pytest.raises(
            PolicyRefusal, match=why.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
        ):
            guard.check_url(url, "https://news.example.com/feed.xml")


def test_odd_ip_spellings_are_resolved_before_the_check() -> None:
    guard = SsrfGuard()  # the system resolver: numeric forms need no DNS
    for url in ("http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://017700000001/"):
        with pytest.raises(PolicyRefusal, match=r"\(127\.0\.0\.1\) is a loopback address"):
            guard.check_url(url, None)


def test_the_feeds_own_host_and_opt_in_are_allowed() -> None:
    resolve = _resolver({"intranet": ["10.0.0.7"], "other-intranet": ["10.0.0.8"]})
    guard = SsrfGuard(resolve)
    feed = "http://intranet:8080/feed.xml"
    assert guard.check_url("http://intranet:8080/story/1", feed)[2] == ["10.0.0.7"]
    assert guard.check_url("https://intranet/story/1", feed)[2] == ["10.0.0.7"]  # default ports too
    with pytest.raises(PolicyRefusal):
        guard.check_url("http://intranet:6379/", feed)  # another service on that host
    with pytest.raises(PolicyRefusal):
        guard.check_url("http://other-intranet/", feed)
    assert SsrfGuard(resolve, allow_private=True).check_url("http://other-intranet/", feed)[2] == ["10.0.0.8"]
    assert same_site("HTTP://INTRANET:8080/x", feed) and not same_site("http://intranet.evil/", feed)


def test_dns_answers_are_cached_within_a_run() -> None:
    resolve = _resolver({"news.example.com": ["93.184.216.34"]})
    guard = SsrfGuard(resolve)
    for _ in range(5):
        guard.check_url("https://news.example.com/a", None)
    assert resolve.calls == ["news.example.com"]  # type: ignore[attr-defined]


def _fetcher(settings: Settings, guard: SsrfGuard) -> Fetcher:
    return Fetcher(make_client(settings.web, guard), settings.web, guard, Politeness(2, 0))


def test_refused_links_and_redirects_cause_no_request(server: FeedServer) -> None:
    """A public-looking name resolving to loopback is refused before any byte is sent,
    also when it is the target of a redirect from an allowed page."""
    resolve = _resolver({"news.example.com": ["127.0.0.1"], "sneaky.example.net": ["127.0.0.1"]})
    settings = fast_feed_settings()
    guard = SsrfGuard(resolve)
    fetcher = _fetcher(settings, guard)
    server.add("/secret", b"internal data")
    server.add("/hop", b"", status=302, headers={"Location": server.url("/secret", "sneaky.example.net")})
    feed = server.url("/feed.xml", "news.example.com")
    direct = fetcher.fetch(
        server.url("/secret", "sneaky.example.net"), kind="page", max_bytes=1000, trusted=feed
    )
    assert direct.stage == "policy" and "loopback" in (direct.error or "")
    via = fetcher.fetch(server.url("/hop", "news.example.com"), kind="page", max_bytes=1000, trusted=feed)
    assert via.stage == "policy" and "sneaky.example.net (127.0.0.1) is a loopback" in (via.error or "")
    assert server.hits("/hop") == 1 and server.hits("/secret") == 0
    # The feed's own host (resolving to loopback) is fine: the user subscribed to it.
    server.add("/story", b"<p>story</p>")
    ok = fetcher.fetch(server.url("/story", "news.example.com"), kind="page", max_bytes=1000, trusted=feed)
    assert ok.ok and ok.body == b"<p>story</p>" and ok.peer_ip == "127.0.0.1"
    assert server.requests("/story")[0].host == f"news.example.com:{server.port}"
    rows = fetcher.take_rows()
    assert [(r["url"].rsplit("/", 1)[1], r["hop"]) for r in rows] == [("hop", 0), ("story", 0)]
    # A name that does not resolve: an attempt that failed at its first step (logged, not retried).
    lost = fetcher.fetch("http://nowhere.example.org/x", kind="page", max_bytes=1000, trusted=feed)
    assert lost.error == "cannot resolve host nowhere.example.org: name not known: nowhere.example.org"
    assert lost.attempts == 1 and [r["error"] for r in fetcher.take_rows()] == [lost.error]


def test_connections_go_only_to_approved_addresses(server: FeedServer) -> None:
    """DNS rebinding: the backend connects only to the addresses the check approved (pinned
    per request), and checks from scratch, trusting nothing, when asked to go elsewhere."""
    backend = GuardedBackend(SsrfGuard(_resolver({"rebind.example.com": ["127.0.0.1"]})))
    with pytest.raises(PolicyRefusal, match="loopback"):
        backend.connect_tcp("rebind.example.com", server.port, timeout=1)
    assert server.requests() == []
    # An approved pin connects without asking the resolver again.
    trusting = GuardedBackend(SsrfGuard(lambda h, p: pytest.fail("resolver must not be asked")))
    from newsetl.web import client as newsetl_http

    newsetl_http._tls.target = (("pinned.example.com", server.port), ["127.0.0.1"])
    try:
        stream = trusting.connect_tcp("pinned.example.com", server.port, timeout=1)
    finally:
        newsetl_http._tls.target = None
    assert isinstance(stream, httpcore.NetworkStream)
    stream.close()


def test_robots_txt_goes_through_the_same_guard_as_the_page(server: FeedServer, tmp_path: Path) -> None:
    """DNS rebinding against robots.txt: the page's host first resolves to a public address
    (the page check passes), then, once the DNS answer is stale, to loopback. The robots.txt
    request is checked again like any other and refused: nothing is sent to loopback, and
    with robots.txt unreachable the page is not fetched either (RFC 9309: disallow)."""
    answers = iter([["93.184.216.34"]])

    def rebinding(host: str, port: int) -> list[str]:
        assert host == "rebind.example.net"
        return next(answers, ["127.0.0.1"])

    server.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    server.add("/story", b"<html><body><p>should never be fetched</p></body></html>")
    story = server.url("/story", "rebind.example.net")
    items = [{"title": "Rebound", "link": story, "guid": "g-1", "description": f"{STORY}<p>(1)</p>"}]
    feed = server.add("/feed.xml", rss(items), content_type="application/rss+xml")
    db = tmp_path / "news.duckdb"
    # No DNS cache: every request asks again, as after the 60 s cache expired.
    summary, _ = run([feed], db, fast_feed_settings(dns_cache_s=0), resolver=rebinding)
    assert summary.status == "completed"
    assert server.hits("/robots.txt") == 0 and server.hits("/story") == 0
    ((page_error, outcome),) = table_rows(db, "SELECT page_error, outcome FROM feed_entries")
    assert outcome == "loaded"  # from the entry's own content
    assert page_error.startswith("policy: robots.txt unreachable (refused: rebind.example.net (127.0.0.1)")
    # The robots.txt of a page on the feed's own host stays allowed, like the page itself.
    server.add("/own", b"<html><body>" + STORY.encode() * 3 + b"</body></html>")
    own = [{"title": "Own", "link": server.url("/own"), "guid": "g-own", "description": STORY}]
    feed2 = server.add("/own.xml", rss(own), content_type="application/rss+xml")
    run([feed2], tmp_path / "own.duckdb", fast_feed_settings(dns_cache_s=0))
    assert server.hits("/robots.txt") == 1 and server.hits("/own") == 1


def test_a_resolver_that_never_answers_is_not_waited_for() -> None:
    """The system resolver cannot be interrupted: lookups run in a daemon thread and are
    waited for at most resolve_timeout_s (or the fetch's remaining time), and not at all
    once the guard is aborted."""
    hang = threading.Event()

    def stuck(host: str, port: int) -> list[str]:
        hang.wait(30)
        return ["93.184.216.34"]

    guard = SsrfGuard(stuck, resolve_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(ResolveError, match=r"no answer within 0\.3 s") as err:
        guard.check_url("https://slow-dns.example.com/", None)
    assert err.value.transient and time.monotonic() - started < 1.0
    with pytest.raises(ResolveError, match=r"no answer within 0\.1 s"):
        guard.check_url("https://slow-dns.example.com/", None, timeout_s=0.1)
    patient = SsrfGuard(stuck, resolve_timeout_s=10.0)
    threading.Timer(0.2, patient.abort).start()
    started = time.monotonic()
    with pytest.raises(ResolveError, match="interrupted"):
        patient.check_url("https://other.example.com/", None)
    assert time.monotonic() - started < 1.0
    hang.set()
