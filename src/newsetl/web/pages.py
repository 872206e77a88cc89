"""Polite, guarded fetching of article pages: the web stage every URL source shares.

Feeds, sitemaps and URL lists all end in the same step: a list of page URLs to fetch
without hurting anyone and without being turned against the network newsetl runs in. For
each URL: scheme and SSRF checks (private addresses only on the host the user subscribed
to), robots.txt (cached per origin, kept in the warehouse for a day), per-host slots and
delays, retries for transient errors, size caps, and the kind of document the body is.
Every HTTP request is logged; the log and new robots.txt answers are handed to the
caller's batch transaction (:meth:`PageFetcher.take_log`, :func:`write_log`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import duckdb
import httpx
import polars as pl

from newsetl.models import DocKind
from newsetl.settings import WebSettings
from newsetl.storage import writes
from newsetl.storage.sqllists import text_list
from newsetl.web.client import Fetcher, make_client
from newsetl.web.headers import ACCEPT_PAGE, FETCH, POLICY, media_type
from newsetl.web.politeness import GlobalSlot, Politeness
from newsetl.web.robots import RobotsCache, RobotsFile, origin_of
from newsetl.web.ssrf import PolicyRefusal, ResolveError, Resolver, SsrfGuard

log = logging.getLogger("newsetl.web")

T = TypeVar("T")
R = TypeVar("R")

_HTML_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "application/xml", "text/xml", "application/html"}
)

FETCH_SCHEMA: writes.Schema = {
    "run_id": pl.Utf8,
    "kind": pl.Utf8,
    "feed": pl.Utf8,
    "url": pl.Utf8,
    "attempt": pl.Int32,
    "hop": pl.Int32,
    "status": pl.Int32,
    "not_modified": pl.Boolean,
    "bytes": pl.Int64,
    "duration_ms": pl.Float64,
    "error": pl.Utf8,
    "location": pl.Utf8,
    "content_type": pl.Utf8,
    "peer_ip": pl.Utf8,
    "fetched_at": pl.Datetime("us", "UTC"),
}
ROBOTS_SCHEMA: writes.Schema = {
    "origin": pl.Utf8,
    "status": pl.Int32,
    "body": pl.Utf8,
    "fetched_at": pl.Datetime("us", "UTC"),
}


def page_kind(content_type: str | None, body: bytes) -> DocKind | None:
    """How to read a page body; None when it is not a document newsetl extracts."""
    mt = media_type(content_type)
    if mt is None:
        head = body[:1024].lstrip().lower()
        return DocKind.HTML if head.startswith(b"<") or b"<html" in head else DocKind.TEXT
    if mt in _HTML_TYPES or mt.endswith("+xml"):
        return DocKind.HTML
    if mt == "text/plain":
        return DocKind.TEXT
    return None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A page to fetch. ``trusted``: the URL the user added (a feed, a sitemap); pages on
    its host may be on private addresses."""

    url: str | None  # normalised http(s) URL; None when the source had no usable link
    trusted: str | None = None
    raw_link: str | None = None  # the link as given, for the reason when ``url`` is None
    parent: str | None = None  # for the fetch log ('feed' column)


@dataclass(slots=True)
class Page:
    """A fetched page, or why there is none (``stage``/``reason``)."""

    body: bytes | None = None
    final_url: str | None = None
    charset: str | None = None
    kind: DocKind = DocKind.HTML
    status: int | None = None
    stage: str | None = None
    reason: str | None = None
    transient: bool = False

    @property
    def ok(self) -> bool:
        return self.body is not None


@dataclass(slots=True)
class PageStats:
    fetched: int = 0
    failed: int = 0
    refused: int = 0  # SSRF, scheme or robots.txt: no request made


@dataclass(slots=True)
class FetchLog:
    """HTTP requests made and robots.txt answers learnt, waiting for a batch transaction."""

    fetches: list[dict[str, Any]] = field(default_factory=list)
    robots: list[RobotsFile] = field(default_factory=list)

    def extend(self, other: FetchLog) -> None:
        self.fetches.extend(other.fetches)
        self.robots.extend(other.robots)


def write_log(conn: duckdb.DuckDBPyConnection, run_id: str, entry: FetchLog) -> None:
    """The ``fetches`` rows and cached ``robots_txt`` answers, in the caller's transaction."""
    writes.insert(conn, "fetches", [{**r, "run_id": run_id} for r in entry.fetches], FETCH_SCHEMA)
    robots = [
        {"origin": r.origin, "status": r.status, "body": r.body, "fetched_at": r.fetched_at}
        for r in entry.robots
    ]
    writes.upsert(conn, "robots_txt", robots, ROBOTS_SCHEMA, ["origin"])


def load_robots(conn: duckdb.DuckDBPyConnection, origins: Sequence[str]) -> list[RobotsFile]:
    rows = conn.execute(
        "SELECT origin, status, body, fetched_at FROM robots_txt "
        "WHERE origin IN (SELECT unnest($o::JSON::VARCHAR[]))",
        {"o": text_list(sorted(origins))},
    ).fetchall()
    return [RobotsFile(*r) for r in rows]


class PageFetcher:
    """One run's web client: the shared HTTP client, SSRF guard, politeness and robots.txt.

    ``client`` and ``resolver`` are injectable (tests, proxies of one's own); a client
    given is not closed here.
    """

    def __init__(
        self,
        settings: WebSettings,
        *,
        client: httpx.Client | None = None,
        resolver: Resolver | None = None,
        global_slot: GlobalSlot | None = None,
    ) -> None:
        self.settings = settings
        self.guard = SsrfGuard(
            resolver, allow_private=settings.allow_private_hosts, cache_ttl_s=settings.dns_cache_s
        )
        self._own_client = client is None
        self.client = client if client is not None else make_client(settings, self.guard)
        self.politeness = Politeness(
            settings.per_host_concurrency, settings.min_host_delay_s, global_slot=global_slot
        )
        self.fetcher = Fetcher(self.client, settings, self.guard, self.politeness)
        self.robots = RobotsCache(
            self._fetch_robots,
            ttl_s=settings.robots_ttl_s,
            on_crawl_delay=self.politeness.set_delay,
            max_crawl_delay_s=settings.max_crawl_delay_s,
        )
        self.stats = PageStats()
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="newsetl-fetch"
        )

    def abort(self) -> None:
        """Stop now: requests in flight end ('interrupted'), later ones are not sent."""
        self.fetcher.abort()

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        if self._own_client:
            self.client.close()

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` on the fetch threads (I/O-bound), in order."""
        return list(self._threads.map(fn, items))

    def take_log(self) -> FetchLog:
        """What was fetched and learnt since the last call (written with the next batch)."""
        return FetchLog(self.fetcher.take_rows(), self.robots.take_new())

    # -- robots.txt -----------------------------------------------------------------------

    def preload_robots(self, store_session: Callable[[], Any], urls: Iterable[str | None]) -> None:
        """Cached robots.txt answers for these URLs' origins, from the warehouse."""
        if not self.settings.respect_robots:
            return
        origins = {origin_of(u) for u in urls if u} - self.robots.known()
        if not origins:
            return
        with store_session() as conn:
            self.robots.preload(load_robots(conn, sorted(origins)))

    def _fetch_robots(self, origin: str, trusted: str | None) -> RobotsFile:
        res = self.fetcher.fetch(
            origin + "/robots.txt",
            kind="robots",
            max_bytes=self.settings.max_robots_bytes,
            trusted=trusted,  # the same address check as the page: re-resolved, never trusted more
            max_attempts=1,
        )
        now = datetime.now(UTC)
        if res.ok and res.body is not None:
            return RobotsFile(origin, res.status, res.body.decode("utf-8", "replace"), now)
        return RobotsFile(origin, res.status, None, now, error=res.error)

    # -- pages ----------------------------------------------------------------------------

    def fetch_pages(self, requests: Sequence[PageRequest]) -> list[Page]:
        """Fetch pages concurrently and politely; one :class:`Page` per request, in order."""
        return self.map(self._page_safely, requests)

    def _page_safely(self, req: PageRequest) -> Page:
        try:
            return self.fetch_page(req)
        except Exception as exc:  # one page's surprise must not end the run
            log.exception("fetching %s failed unexpectedly", req.url)
            return Page(stage=FETCH, reason=f"unexpected error: {type(exc).__name__}: {exc}"[:500])

    def fetch_page(self, req: PageRequest) -> Page:
        url = req.url
        if url is None:
            if req.raw_link:
                return self._refused(f"link {req.raw_link[:200]!r} is not an http(s) URL")
            return Page(stage="extract", reason="the entry has no link")
        try:
            self.guard.check_url(url, req.trusted)
        except PolicyRefusal as exc:
            return self._refused(exc.reason)
        except ResolveError as exc:
            return Page(stage=FETCH, reason=str(exc))
        if self.settings.respect_robots:
            why = self.robots.check(url, req.trusted)
            if why is not None:
                return self._refused(why)
        res = self.fetcher.fetch(
            url, kind="page", max_bytes=self.settings.max_page_bytes, feed=req.parent, trusted=req.trusted,
            headers={"Accept": ACCEPT_PAGE},
        )  # fmt: skip
        if res.stage == POLICY:
            return self._refused(res.error or "refused")
        if not res.ok or res.body is None:
            self._count("failed")
            reason = res.error or f"HTTP {res.status}"
            return Page(stage=FETCH, reason=reason, status=res.status, transient=res.transient)
        kind = page_kind(res.content_type, res.body)
        if kind is None:
            self._count("failed")
            reason = f"not an article page (Content-Type {media_type(res.content_type)})"
            return Page(stage=FETCH, reason=reason, status=res.status)
        self._count("fetched")
        return Page(res.body, res.final_url, res.charset, kind, res.status)

    def _refused(self, reason: str) -> Page:
        self._count("refused")
        return Page(stage=POLICY, reason=reason)

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self.stats, what, getattr(self.stats, what) + 1)
