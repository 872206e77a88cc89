"""Compose the feeds source without Prefect: poll feeds -> fetch new entries' pages ->
extract (worker processes, the same code as files) -> load.

:class:`FeedIngest` exposes the stages batch by batch (like ``FileIngest``), so the
Prefect flow wraps each as a task while :func:`ingest_feeds` runs them as plain calls.

Crash safety: a feed's new validators (ETag/Last-Modified/body hash) and health are
committed in the *same* transaction as the last of its new entries. Killed before that,
the next poll gets the feed again (no 304) and finds the entries that did commit already
known, so nothing is lost and nothing is loaded twice.

Ledger: every new entry is one ``inputs`` row (source_kind 'feed', source_ref = its
normalised link, parent_ref = the feed URL). Entries seen before are not fetched again
and add no row (they are counted in the run's feed statistics). A feed that cannot be
polled (HTTP error, not a feed, ...) is one rejected row with the feed URL as source_ref
and no parent_ref, so failures show in the run summary.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Any

import duckdb
import httpx
import polars as pl

from newsetl import faults, progress, runs
from newsetl.config import Settings
from newsetl.enrich import enrich
from newsetl.errors import Rejection
from newsetl.feed_settings import FeedSettings
from newsetl.feeds import (
    POLL_COLUMNS,
    FeedRow,
    Subscription,
    add_feeds,
    due_feeds,
    feed_url,
    max_age_s,
    next_check_error,
    next_check_ok,
    read_feeds,
)
from newsetl.http import ACCEPT_FEED, ACCEPT_PAGE, Fetcher, FetchResult, make_client, media_type
from newsetl.load import write_batch
from newsetl.models import Article, BatchReport, DocKind, Outcome, Processed, RunSummary, SourceKind, Stage
from newsetl.pipeline import new_run_id
from newsetl.politeness import GlobalSlot, Politeness, RobotsCache, RobotsFile, origin_of
from newsetl.process import archive_raw, article_from_bytes, rejection_of
from newsetl.sources.feeds import FeedEntry, entry_extracted, parse_feed
from newsetl.ssrf import PolicyRefusal, ResolveError, Resolver, SsrfGuard
from newsetl.warehouse import ensure_schema, session, transaction
from newsetl.workers import WorkerPool

log = logging.getLogger("newsetl.feeds")

FEEDS_FLOW = "ingest-feeds"

_HTML_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "application/xml", "text/xml", "application/html"}
)


@dataclass(slots=True)
class FeedStats:
    """What a run did with feeds, beyond the per-input outcomes in ``inputs``."""

    feeds: int = 0  # feeds polled
    not_modified: int = 0  # answered 304
    unchanged_body: int = 0  # 200 with the same bytes as last time (not parsed again)
    parsed: int = 0
    failed: int = 0
    ill_formed: int = 0  # parsed with bozo set (recovered)
    entries_seen: int = 0  # entries in the parsed feeds
    new_entries: int = 0
    known_entries: int = 0  # seen before: not fetched again, no inputs row
    retried_entries: int = 0  # earlier transient failures tried again
    pages_fetched: int = 0
    pages_failed: int = 0
    refused: int = 0  # SSRF, scheme or robots.txt: no request made
    from_feed: int = 0  # articles whose text is the entry's own content

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class _Known:
    article_id: str | None
    retryable: bool
    attempts: int
    first_seen_at: datetime
    first_run_id: str


@dataclass(slots=True)
class EntryWork:
    """A new entry of one feed, and how it will be settled."""

    idx: int  # position in the run (earlier entries win same-link ties)
    feed: str  # the feed's registry URL (its host is trusted for private addresses)
    entry: FeedEntry
    known_article_id: str | None = None  # link already stored (another feed, a file): no fetch
    dup_of: int | None = None  # an earlier entry of this run has the same link
    attempts: int = 1
    first_seen_at: datetime | None = None
    first_run_id: str | None = None


@dataclass(slots=True)
class FeedPoll:
    row: FeedRow  # the feed's new state
    entries: list[FeedEntry]
    rejection: Processed | None = None
    prior: FeedRow | None = None  # its state before this poll


@dataclass(slots=True)
class Chunk:
    """Entries loaded in one transaction, with the feeds whose last entries they hold."""

    works: list[EntryWork]
    feeds: list[FeedRow]
    rejections: list[Processed]

    @property
    def needs_pages(self) -> bool:
        return any(w.known_article_id is None and w.dup_of is None for w in self.works)


@dataclass(slots=True, frozen=True)
class PageTask:
    """One entry's page (or why there is none), ready for a worker process."""

    work_idx: int
    feed: str
    entry: FeedEntry
    max_bytes: int
    body: bytes | None = None
    final_url: str | None = None
    charset: str | None = None
    kind: DocKind = DocKind.HTML
    status: int | None = None
    stage: str | None = None  # why the page is not usable
    reason: str | None = None
    transient: bool = False


@dataclass(slots=True)
class EntryResult:
    work_idx: int
    processed: Processed
    page_status: int | None = None
    page_error: str | None = None
    retryable: bool = False


# --- the worker side (runs in extraction processes) -----------------------------------------


def fill_from_entry(article: Article, entry: FeedEntry) -> None:
    """Keep the feed's metadata where the page has none, and say which fields came from it."""
    filled: list[str] = []
    if not article.title and entry.title:
        article.title = entry.title
        filled.append("title")
    if article.published_at is None and entry.published is not None:
        article.published_at, article.published_at_source = entry.published, "feed"
        filled.append("published_at")
    if not article.authors and entry.authors:
        article.authors = list(entry.authors)
        filled.append("authors")
    if not article.tags and entry.tags:
        article.tags = list(entry.tags)
        filled.append("tags")
    article.filled_from_feed = filled


def _from_feed_content(entry: FeedEntry, min_words: int) -> Article:
    extracted = entry_extracted(entry)
    if extracted is None:
        raise Rejection(Stage.EXTRACT, "the entry has no content of its own")
    article = enrich(extracted, fallback_url=entry.link_norm, min_words=min_words)
    article.filled_from_feed = [
        name
        for name, value in (
            ("title", article.title),
            ("published_at", article.published_at),
            ("authors", article.authors),
            ("tags", article.tags),
        )
        if value
    ]
    return article


def process_page(task: PageTask, settings: Settings) -> EntryResult:
    """Page -> article with the same extraction as files; else the entry's own content."""
    import time

    started = time.perf_counter()
    entry = task.entry
    p = Processed(source_kind=SourceKind.FEED, source_ref=entry.source_ref, parent_ref=task.feed)
    problem: tuple[str, str] | None = (task.stage, task.reason) if task.stage and task.reason else None
    if task.body is not None:
        p.sha256 = hashlib.sha256(task.body).hexdigest()
        p.size_bytes = len(task.body)
        p.raw_archived = archive_raw(task.body, p.sha256, settings)
        try:
            article = article_from_bytes(
                task.body,
                task.kind,
                max_bytes=task.max_bytes,
                focus=settings.extract_focus,
                url=task.final_url,
                http_charset=task.charset,
                min_words=settings.min_words,
            )
            fill_from_entry(article, entry)
            p.article = article
        except Exception as exc:  # one broken page must never take its batch down
            problem = rejection_of(exc)
    result = EntryResult(task.work_idx, p, page_status=task.status)
    if p.article is None:
        try:
            p.article = _from_feed_content(entry, settings.min_words)
            if task.body is None:
                raw = (entry.content_html or entry.summary_html or "").encode("utf-8")
                p.sha256, p.size_bytes = hashlib.sha256(raw).hexdigest(), len(raw)
                p.raw_archived = archive_raw(raw, p.sha256, settings)
        except Rejection as rej:
            stage, reason = problem or (rej.stage, "no page to fetch")
            own = rej.reason if rej.stage == Stage.EXTRACT else f"{rej.stage}: {rej.reason}"
            p.stage, p.reason = stage, f"{reason}; feed content: {own}"[:1000]
            result.retryable = task.transient
        except Exception as exc:
            stage, reason = problem or (Stage.EXTRACT, "no page to fetch")
            p.stage, p.reason = stage, f"{reason}; feed content: unexpected error: {type(exc).__name__}"
        if problem is not None:
            result.page_error = f"{problem[0]}: {problem[1]}"[:1000]
    p.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return result


def _worker_failure(task: PageTask, reason: str) -> EntryResult:
    p = Processed(
        source_kind=SourceKind.FEED,
        source_ref=task.entry.source_ref,
        parent_ref=task.feed,
        stage=Stage.WORKER,
        reason=reason,
    )
    return EntryResult(task.work_idx, p, page_status=task.status, page_error=f"worker: {reason}")


# --- the run ------------------------------------------------------------------------------------


def _page_kind(content_type: str | None, body: bytes) -> DocKind | None:
    """How to read a page body; None when it is not a document we extract."""
    mt = media_type(content_type)
    if mt is None:
        head = body[:1024].lstrip().lower()
        return DocKind.HTML if head.startswith(b"<") or b"<html" in head else DocKind.TEXT
    if mt in _HTML_TYPES or mt.endswith("+xml"):
        return DocKind.HTML
    if mt == "text/plain":
        return DocKind.TEXT
    return None


_ENTRY_SCHEMA: dict[str, Any] = {
    "feed": pl.Utf8,
    "entry_key": pl.Utf8,
    "guid": pl.Utf8,
    "link": pl.Utf8,
    "title": pl.Utf8,
    "published": pl.Datetime("us", "UTC"),
    "article_id": pl.Utf8,
    "outcome": pl.Utf8,
    "text_source": pl.Utf8,
    "page_status": pl.Int32,
    "page_error": pl.Utf8,
    "attempts": pl.Int32,
    "retryable": pl.Boolean,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "first_run_id": pl.Utf8,
    "run_id": pl.Utf8,
}
_FETCH_SCHEMA: dict[str, Any] = {
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
_FEED_SCHEMA: dict[str, Any] = {
    "url": pl.Utf8,
    "title": pl.Utf8,
    "site_url": pl.Utf8,
    "description": pl.Utf8,
    "language": pl.Utf8,
    "feed_format": pl.Utf8,
    "final_url": pl.Utf8,
    "etag": pl.Utf8,
    "last_modified": pl.Utf8,
    "body_sha256": pl.Utf8,
    "ttl_s": pl.Int32,
    "bozo": pl.Boolean,
    "bozo_reason": pl.Utf8,
    "last_status": pl.Int32,
    "last_outcome": pl.Utf8,
    "last_checked_at": pl.Datetime("us", "UTC"),
    "last_success_at": pl.Datetime("us", "UTC"),
    "last_new_entries": pl.Int32,
    "next_check_at": pl.Datetime("us", "UTC"),
    "error_streak": pl.Int32,
    "last_error": pl.Utf8,
    "last_error_at": pl.Datetime("us", "UTC"),
    "last_run_id": pl.Utf8,
}
_ROBOTS_SCHEMA: dict[str, Any] = {
    "origin": pl.Utf8,
    "status": pl.Int32,
    "body": pl.Utf8,
    "fetched_at": pl.Datetime("us", "UTC"),
}
assert set(_FEED_SCHEMA) == {"url", *POLL_COLUMNS}


def _insert(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    rows: list[dict[str, Any]],
    schema: dict[str, Any],
    verb: str = "INSERT",
) -> None:
    if not rows:
        return
    view = f"_feeds_{table}"
    conn.register(view, pl.DataFrame(rows, schema=schema))
    try:
        conn.execute(f"{verb} INTO {table} ({', '.join(schema)}) SELECT * FROM {view}")
    finally:
        conn.unregister(view)


@dataclass
class FeedIngest:
    """One ``ingest-feeds`` run, driven batch by batch.

    ``urls``: feeds to poll now (registered if new); empty: every registered feed that is
    due (all of them with ``all_feeds``). ``client`` and ``resolver`` are injectable.
    """

    urls: Sequence[str]
    settings: Settings
    feed_settings: FeedSettings = field(default_factory=FeedSettings.from_env)
    run_id: str = field(default_factory=new_run_id)
    all_feeds: bool = False
    client: httpx.Client | None = None
    resolver: Resolver | None = None
    global_slot: GlobalSlot | None = None
    flow: str = FEEDS_FLOW
    report: BatchReport = field(default_factory=BatchReport)
    stats: FeedStats = field(default_factory=FeedStats)
    started_at: datetime | None = None
    _feeds: list[FeedRow] = field(default_factory=list)
    _own_client: bool = False
    _pool: WorkerPool[PageTask, EntryResult] | None = None
    _threads: ThreadPoolExecutor | None = None
    _finished: RunSummary | None = None
    _next_idx: int = 0
    _run_links: dict[str, int] = field(default_factory=dict)
    _settled: dict[int, tuple[str, str | None, str | None, str | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- set-up ---------------------------------------------------------------------------

    def __enter__(self) -> FeedIngest:
        fs = self.feed_settings
        explicit = [feed_url(u) for u in self.urls]  # a bad URL fails the run before it starts
        ensure_schema(self.settings.db_path, timeout_s=self.settings.lock_timeout_s)
        params = {
            "urls": explicit,
            "all_feeds": self.all_feeds,
            "batch_size": self.settings.batch_size,
            "fetch_pages": fs.fetch_pages,
            "respect_robots": fs.respect_robots,
            "allow_private_hosts": fs.allow_private_hosts,
            "min_host_delay_s": fs.min_host_delay_s,
        }
        now = datetime.now(UTC)
        with self._session() as conn:
            if explicit:
                add_feeds(conn, [Subscription(u) for u in explicit], now=now)
                self._feeds = read_feeds(conn, list(dict.fromkeys(explicit)))
            else:
                self._feeds = due_feeds(conn, now, everything=self.all_feeds)
            self.started_at = runs.start_run(conn, self.run_id, self.flow, params)
        faults.hit("run.started")
        self.guard = SsrfGuard(
            self.resolver, allow_private=fs.allow_private_hosts, cache_ttl_s=fs.dns_cache_s
        )
        if self.client is None:
            self.client = make_client(fs, self.guard)
            self._own_client = True
        self.politeness = Politeness(
            fs.per_host_concurrency, fs.min_host_delay_s, global_slot=self.global_slot
        )
        self.fetcher = Fetcher(self.client, fs, self.guard, self.politeness)
        self.robots = RobotsCache(
            self._fetch_robots,
            ttl_s=fs.robots_ttl_s,
            on_crawl_delay=self.politeness.set_delay,
            max_crawl_delay_s=fs.max_crawl_delay_s,
        )
        self._threads = ThreadPoolExecutor(max_workers=fs.concurrency, thread_name_prefix="newsetl-fetch")
        self._pool = WorkerPool(
            partial(process_page, settings=self.settings),
            _worker_failure,
            workers=self.settings.workers,
            item_timeout_s=self.settings.item_timeout_s,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.abort()  # a stopping run must not wait for hostile peers or busy workers
        if self._pool is not None:
            self._pool.close()
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
        if self._own_client and self.client is not None:
            self.client.close()
        if exc is not None and self._finished is None:
            runs.record_failure(self.finish, self.run_id, exc)

    def _session(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return session(self.settings.db_path, timeout_s=self.settings.lock_timeout_s)

    def abort(self) -> None:
        """Stop now: fetches in flight end ('interrupted'), extraction workers are killed."""
        fetcher: Fetcher | None = getattr(self, "fetcher", None)
        if fetcher is not None:
            fetcher.abort()
        if self._pool is not None:
            self._pool.terminate()

    @property
    def feeds(self) -> list[FeedRow]:
        """The feeds this run polls."""
        return list(self._feeds)

    def feed_batches(self) -> Iterator[list[FeedRow]]:
        n = self.feed_settings.feeds_per_batch
        for i in range(0, len(self._feeds), n):
            yield self._feeds[i : i + n]

    # -- stage 1: poll ------------------------------------------------------------------

    def poll(self, batch: Sequence[FeedRow]) -> list[Chunk]:
        """Poll feeds concurrently, keep their new entries, cut them into load chunks."""
        assert self._threads is not None, "use FeedIngest as a context manager"
        polls = list(self._threads.map(self._poll_safely, batch))
        works = self._new_entries(polls)
        return self._chunks(polls, works)

    def _poll_safely(self, row: FeedRow) -> FeedPoll:
        """One feed's surprise (a bug, an exotic document) must not end the run."""
        try:
            return self._poll_one(row)
        except Exception as exc:
            log.exception("polling %s failed unexpectedly", row.url)
            failed = replace(row, last_checked_at=datetime.now(UTC), last_run_id=self.run_id)
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
            return self._failed(failed, datetime.now(UTC), FetchResult(row.url, row.url), Stage.PARSE, reason)

    def _poll_one(self, row: FeedRow) -> FeedPoll:
        fs = self.feed_settings
        new = replace(row)
        headers = {"Accept": ACCEPT_FEED}
        if row.etag:
            headers["If-None-Match"] = row.etag
        if row.last_modified:
            headers["If-Modified-Since"] = row.last_modified
        res = self.fetcher.fetch(
            row.url, kind="feed", max_bytes=fs.max_feed_bytes, feed=row.url, trusted=row.url, headers=headers
        )
        now = datetime.now(UTC)
        new.last_checked_at, new.last_run_id = now, self.run_id
        new.last_status, new.final_url = res.status, res.final_url
        with self._lock:
            self.stats.feeds += 1
        if res.not_modified:
            new.etag = res.headers.get("etag") or row.etag
            new.last_modified = res.headers.get("last-modified") or row.last_modified
            self._succeeded(new, now, "not_modified", res, row.ttl_s)
            with self._lock:
                self.stats.not_modified += 1
            return FeedPoll(new, [])
        if not res.ok or res.body is None:
            return self._failed(new, now, res, res.stage, res.error or f"HTTP {res.status}")
        body = res.body
        digest = hashlib.sha256(body).hexdigest()
        if digest == row.body_sha256:
            new.etag, new.last_modified = res.headers.get("etag"), res.headers.get("last-modified")
            self._succeeded(new, now, "unchanged_body", res, row.ttl_s)
            with self._lock:
                self.stats.unchanged_body += 1
            return FeedPoll(new, [])
        try:
            parsed = parse_feed(body, url=res.final_url, headers=res.headers)
        except Rejection as rej:
            return self._failed(new, now, res, rej.stage, rej.reason, body)
        # Validators and body hash only change with a successfully parsed body.
        new.etag, new.last_modified, new.body_sha256 = (
            res.headers.get("etag"),
            res.headers.get("last-modified"),
            digest,
        )
        new.title = parsed.title or row.title
        new.site_url = parsed.site_url or row.site_url
        new.description = parsed.description or row.description
        new.language = parsed.language or row.language
        new.feed_format = parsed.format
        new.bozo, new.bozo_reason = parsed.bozo, parsed.bozo_reason
        self._succeeded(new, now, "no_new_entries", res, parsed.ttl_s)
        with self._lock:
            self.stats.parsed += 1
            self.stats.ill_formed += int(parsed.bozo)
            self.stats.entries_seen += len(parsed.entries)
        return FeedPoll(new, parsed.entries, prior=row)

    def _succeeded(
        self, new: FeedRow, now: datetime, outcome: str, res: FetchResult, ttl_s: int | None
    ) -> None:
        ttl = max(ttl_s or 0, max_age_s(res.headers.get("cache-control")) or 0) or None
        new.ttl_s = min(ttl, int(self.feed_settings.max_backoff_s)) if ttl else None
        new.last_outcome, new.last_success_at = outcome, now
        new.error_streak, new.last_error = 0, None
        new.next_check_at = next_check_ok(now, self.feed_settings, new.ttl_s)

    def _failed(
        self,
        new: FeedRow,
        now: datetime,
        res: FetchResult,
        stage: str,
        reason: str,
        body: bytes | None = None,
    ) -> FeedPoll:
        new.last_outcome = "error"
        new.error_streak += 1
        new.last_error, new.last_error_at = reason[:1000], now
        new.next_check_at = next_check_error(now, self.feed_settings, new.error_streak, res.retry_after_s)
        with self._lock:
            self.stats.failed += 1
            self.stats.refused += int(stage == Stage.POLICY)
        sha = hashlib.sha256(body).hexdigest() if body is not None else None
        rejection = Processed(
            source_kind=SourceKind.FEED,
            source_ref=new.url,
            sha256=sha,
            size_bytes=len(body) if body is not None else None,
            stage=stage,
            reason=f"feed: {reason}"[:1000],
            duration_ms=res.elapsed_ms,
            raw_archived=body is not None and sha is not None and archive_raw(body, sha, self.settings),
        )
        return FeedPoll(new, [], rejection)

    def _new_entries(self, polls: list[FeedPoll]) -> dict[str, list[EntryWork]]:
        """Which entries are new (one warehouse query per batch, not per feed)."""
        probe = [(p.row.url, e.key, e.link_norm) for p in polls for e in p.entries]
        out: dict[str, list[EntryWork]] = {p.row.url: [] for p in polls}
        if not probe:
            return out
        links = sorted({link for _, _, link in probe if link})
        with self._session() as conn:
            frame = pl.DataFrame(
                {"feed": [f for f, _, _ in probe], "entry_key": [k for _, k, _ in probe]},
                schema={"feed": pl.Utf8, "entry_key": pl.Utf8},
            )
            conn.register("_probe", frame)
            try:
                rows = conn.execute(
                    """SELECT fe.feed, fe.entry_key, fe.article_id, fe.retryable, fe.attempts,
                              fe.first_seen_at, fe.first_run_id
                       FROM feed_entries fe JOIN _probe p USING (feed, entry_key)"""
                ).fetchall()
            finally:
                conn.unregister("_probe")
            known = {(r[0], r[1]): _Known(*r[2:]) for r in rows}
            link_rows = conn.execute(
                """SELECT link, feed, article_id FROM feed_entries WHERE link IN (SELECT unnest($l))
                   UNION ALL
                   SELECT url, NULL, article_id FROM articles WHERE url IN (SELECT unnest($l))""",
                {"l": links},
            ).fetchall()
        feed_links = {(feed, link) for link, feed, _ in link_rows if feed is not None}
        stored: dict[str, str] = {}
        for link, _, aid in sorted(link_rows, key=lambda r: (r[0], r[1] is not None, r[1] or "")):
            if aid is not None:
                stored.setdefault(link, aid)
        max_attempts = self.feed_settings.max_entry_attempts
        cap = self.feed_settings.max_new_entries_per_feed
        for p in polls:
            for e in p.entries:
                if len(out[p.row.url]) >= cap:
                    self._defer_rest(p)
                    break
                k = known.get((p.row.url, e.key))
                work = EntryWork(self._next_idx, p.row.url, e)
                if k is not None:
                    if k.article_id is None and k.retryable and k.attempts < max_attempts:
                        work.attempts, work.first_seen_at, work.first_run_id = (
                            k.attempts + 1, k.first_seen_at, k.first_run_id,
                        )  # fmt: skip
                        self.stats.retried_entries += 1
                    else:
                        self.stats.known_entries += 1
                        continue
                elif e.link_norm and (p.row.url, e.link_norm) in feed_links:
                    self.stats.known_entries += 1  # same story under a new guid
                    continue
                self._next_idx += 1
                link = e.link_norm
                if link:
                    if link in self._run_links:
                        work.dup_of = self._run_links[link]
                    elif link in stored:
                        work.known_article_id = stored[link]
                    else:
                        self._run_links[link] = work.idx
                out[p.row.url].append(work)
                self.stats.new_entries += 1
            p.row.last_new_entries = len(out[p.row.url])
            if p.row.last_outcome == "no_new_entries" and out[p.row.url]:  # (not when capped)
                p.row.last_outcome = "new_entries"
        return out

    def _defer_rest(self, p: FeedPoll) -> None:
        """More new entries than one poll takes: keep the old validators, so the next run
        reads the feed again (due at once) and takes the next ones; nothing is skipped."""
        if p.prior is not None:
            p.row.etag, p.row.last_modified = p.prior.etag, p.prior.last_modified
            p.row.body_sha256 = p.prior.body_sha256
        p.row.next_check_at = p.row.last_checked_at
        p.row.last_outcome = "new_entries_capped"

    def _chunks(self, polls: list[FeedPoll], works: dict[str, list[EntryWork]]) -> list[Chunk]:
        """At most ``batch_size`` entries per chunk; a feed's state rides with its last entry."""
        size = self.settings.batch_size
        chunks: list[Chunk] = [Chunk([], [], [])]
        for p in polls:
            for w in works[p.row.url]:
                if len(chunks[-1].works) >= size:
                    chunks.append(Chunk([], [], []))
                chunks[-1].works.append(w)
            target = chunks[-1] if works[p.row.url] else chunks[0]
            target.feeds.append(p.row)
            if p.rejection is not None:
                target.rejections.append(p.rejection)
        return chunks

    # -- stage 2: fetch pages -------------------------------------------------------------

    def fetch_pages(self, chunk: Chunk) -> list[PageTask]:
        """Fetch the pages of the chunk's new entries (politely, concurrently)."""
        assert self._threads is not None, "use FeedIngest as a context manager"
        todo = [w for w in chunk.works if w.known_article_id is None and w.dup_of is None]
        if self.feed_settings.fetch_pages and self.feed_settings.respect_robots:
            self._preload_robots(todo)
        return list(self._threads.map(self._page_task_safely, todo))

    def _preload_robots(self, works: Iterable[EntryWork]) -> None:
        origins = {origin_of(w.entry.link_norm) for w in works if w.entry.link_norm} - self.robots.known()
        if not origins:
            return
        with self._session() as conn:
            rows = conn.execute(
                "SELECT origin, status, body, fetched_at FROM robots_txt WHERE origin IN (SELECT unnest($o))",
                {"o": sorted(origins)},
            ).fetchall()
        self.robots.preload([RobotsFile(*r) for r in rows])

    def _fetch_robots(self, origin: str, feed: str | None) -> RobotsFile:
        res = self.fetcher.fetch(
            origin + "/robots.txt",
            kind="robots",
            max_bytes=self.feed_settings.max_robots_bytes,
            trusted=feed,  # the same address check as the page: re-resolved, never trusted more
            max_attempts=1,
        )
        now = datetime.now(UTC)
        if res.ok and res.body is not None:
            return RobotsFile(origin, res.status, res.body.decode("utf-8", "replace"), now)
        return RobotsFile(origin, res.status, None, now, error=res.error)

    def _page_task_safely(self, work: EntryWork) -> PageTask:
        try:
            return self._page_task(work)
        except Exception as exc:
            log.exception("fetching the page of %s failed unexpectedly", work.entry.source_ref)
            reason = f"unexpected error: {type(exc).__name__}: {exc}"[:500]
            return PageTask(work.idx, work.feed, work.entry, self.feed_settings.max_page_bytes,
                            stage=Stage.FETCH, reason=reason)  # fmt: skip

    def _page_task(self, work: EntryWork) -> PageTask:
        fs = self.feed_settings
        e = work.entry
        task = partial(PageTask, work.idx, work.feed, e, fs.max_page_bytes)
        if not fs.fetch_pages:
            return task()
        url = e.link_norm
        if url is None:
            if e.link:
                return self._refused(task, f"link {e.link[:200]!r} is not an http(s) URL")
            return task(stage=Stage.EXTRACT, reason="the entry has no link")
        try:
            self.guard.check_url(url, work.feed)
        except PolicyRefusal as exc:
            return self._refused(task, exc.reason)
        except ResolveError as exc:
            return task(stage=Stage.FETCH, reason=str(exc))
        if fs.respect_robots:
            why = self.robots.check(url, work.feed)
            if why is not None:
                return self._refused(task, why)
        res = self.fetcher.fetch(
            url, kind="page", max_bytes=fs.max_page_bytes, feed=work.feed, trusted=work.feed,
            headers={"Accept": ACCEPT_PAGE},
        )  # fmt: skip
        if res.stage == Stage.POLICY:
            return self._refused(task, res.error or "refused")
        if not res.ok or res.body is None:
            with self._lock:
                self.stats.pages_failed += 1
            reason = res.error or f"HTTP {res.status}"
            return task(stage=Stage.FETCH, reason=reason, status=res.status, transient=res.transient)
        kind = _page_kind(res.content_type, res.body)
        if kind is None:
            with self._lock:
                self.stats.pages_failed += 1
            return task(
                stage=Stage.FETCH,
                reason=f"not an article page (Content-Type {media_type(res.content_type)})",
                status=res.status,
            )
        with self._lock:
            self.stats.pages_fetched += 1
        return task(body=res.body, final_url=res.final_url, charset=res.charset, kind=kind, status=res.status)

    def _refused(self, task: partial[PageTask], reason: str) -> PageTask:
        with self._lock:
            self.stats.refused += 1
        return task(stage=Stage.POLICY, reason=reason)

    # -- stage 3: extract ---------------------------------------------------------------

    def extract(self, tasks: Sequence[PageTask]) -> list[EntryResult]:
        """Pages to articles in worker processes (CPU-bound), in order."""
        assert self._pool is not None, "use FeedIngest as a context manager"
        return self._pool.map(list(tasks)) if tasks else []

    # -- stage 4: load ------------------------------------------------------------------

    def load(self, chunk: Chunk, results: Sequence[EntryResult]) -> BatchReport:
        """Entries, articles, inputs, feed state, fetch log and robots answers: one transaction."""
        by_idx = {r.work_idx: r for r in results}
        fetch_rows = self.fetcher.take_rows()
        robots_rows = self.robots.take_new()
        try:
            with self._session() as conn, transaction(conn):
                report = self._write(conn, chunk, by_idx, fetch_rows, robots_rows)
                faults.hit("feeds.before_commit")
        except BaseException:
            self.fetcher.put_back(fetch_rows)
            self.robots.put_back(robots_rows)
            raise
        self.report.merge(report)
        hook = progress.current()
        if hook is not None:
            hook(report)
        return report

    def _write(
        self,
        conn: duckdb.DuckDBPyConnection,
        chunk: Chunk,
        by_idx: dict[int, EntryResult],
        fetch_rows: list[dict[str, Any]],
        robots_rows: list[RobotsFile],
    ) -> BatchReport:
        now = datetime.now(UTC)
        firsts = [w for w in chunk.works if w.dup_of is None]
        items: list[Processed] = list(chunk.rejections)
        for w in firsts:
            if w.known_article_id is not None:
                items.append(self._settled_input(w, Outcome.DUPLICATE, w.known_article_id))
            else:
                items.append(by_idx[w.idx].processed)
        first = write_batch(conn, self.run_id, items, now=now)
        report = first.report
        for w, p, (outcome, aid) in zip(
            firsts, items[len(chunk.rejections) :], first.decisions[len(chunk.rejections) :], strict=True
        ):
            self._settled[w.idx] = (outcome, aid, p.stage, p.reason)
        dups = [w for w in chunk.works if w.dup_of is not None]
        if dups:
            dup_items = [self._dup_input(w) for w in dups]
            second = write_batch(conn, self.run_id, dup_items, now=now)
            report.merge(second.report)
            for w, (outcome, aid) in zip(dups, second.decisions, strict=True):
                self._settled[w.idx] = (outcome, aid, None, None)
        entry_rows = [self._entry_row(w, by_idx.get(w.idx), now) for w in chunk.works]
        _insert(conn, "feed_entries", entry_rows, _ENTRY_SCHEMA, verb="INSERT OR REPLACE")
        self._update_feeds(conn, chunk.feeds)
        _insert(conn, "fetches", [{**r, "run_id": self.run_id} for r in fetch_rows], _FETCH_SCHEMA)
        _insert(
            conn,
            "robots_txt",
            [
                {"origin": r.origin, "status": r.status, "body": r.body, "fetched_at": r.fetched_at}
                for r in robots_rows
            ],
            _ROBOTS_SCHEMA,
            verb="INSERT OR REPLACE",
        )
        with self._lock:
            self.stats.from_feed += sum(
                1
                for w in firsts
                if (r := by_idx.get(w.idx))
                and r.processed.article
                and r.processed.article.text_source == "feed"
            )
        return report

    def _settled_input(self, w: EntryWork, outcome: str, article_id: str) -> Processed:
        return Processed(
            source_kind=SourceKind.FEED,
            source_ref=w.entry.source_ref,
            parent_ref=w.feed,
            outcome_hint=outcome,
            known_article_id=article_id,
        )

    def _dup_input(self, w: EntryWork) -> Processed:
        assert w.dup_of is not None
        _, aid, stage, reason = self._settled[w.dup_of]
        if aid is not None:
            return self._settled_input(w, Outcome.DUPLICATE, aid)
        return Processed(
            source_kind=SourceKind.FEED,
            source_ref=w.entry.source_ref,
            parent_ref=w.feed,
            stage=stage or Stage.FETCH,
            reason=f"same link as an earlier entry of this run, which was rejected: {reason}"[:1000],
        )

    def _entry_row(self, w: EntryWork, result: EntryResult | None, now: datetime) -> dict[str, Any]:
        outcome, aid, _, _ = self._settled[w.idx]
        article = result.processed.article if result is not None else None
        e = w.entry
        return {
            "feed": w.feed,
            "entry_key": e.key,
            "guid": e.guid,
            "link": e.link_norm or e.link,
            "title": e.title,
            "published": e.published,
            "article_id": aid,
            "outcome": outcome,
            "text_source": article.text_source if article is not None else None,
            "page_status": result.page_status if result is not None else None,
            "page_error": result.page_error if result is not None else None,
            "attempts": w.attempts,
            "retryable": bool(result is not None and result.retryable and aid is None),
            "first_seen_at": w.first_seen_at or now,
            "first_run_id": w.first_run_id or self.run_id,
            "run_id": self.run_id,
        }

    def _update_feeds(self, conn: duckdb.DuckDBPyConnection, rows: list[FeedRow]) -> None:
        if not rows:
            return
        frame = pl.DataFrame([{c: getattr(r, c) for c in _FEED_SCHEMA} for r in rows], schema=_FEED_SCHEMA)
        conn.register("_feeds_state", frame)
        try:
            sets = ", ".join(f"{c} = s.{c}" for c in POLL_COLUMNS)
            conn.execute(f"UPDATE feeds SET {sets} FROM _feeds_state s WHERE feeds.url = s.url")
        finally:
            conn.unregister("_feeds_state")

    def finish(self, status: str = "completed", error: str | None = None) -> RunSummary:
        with self._session() as conn:
            self._finished = runs.finish_run(conn, self.run_id, status, error)
        return self._finished


def run_feed_batches(job: FeedIngest) -> None:
    """Poll, fetch, extract and load every batch (no Prefect).

    The pages of chunk n+1 are fetched (I/O, politely slow) while chunk n is extracted on
    the worker processes and loaded.
    """

    def fetch(chunk: Chunk) -> list[PageTask]:
        return job.fetch_pages(chunk) if chunk.needs_pages else []

    # aborting(): on any exception, abort before ``ahead`` waits for the fetches in flight.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsetl-fetch-ahead") as ahead,
        runs.aborting(job.abort),
    ):
        for batch in job.feed_batches():
            chunks = job.poll(batch)
            pending = ahead.submit(fetch, chunks[0])
            for i, chunk in enumerate(chunks):
                tasks = pending.result()
                if i + 1 < len(chunks):
                    pending = ahead.submit(fetch, chunks[i + 1])
                job.load(chunk, job.extract(tasks))


def ingest_feeds(
    urls: Sequence[str] = (),
    settings: Settings | None = None,
    feed_settings: FeedSettings | None = None,
    *,
    all_feeds: bool = False,
    client: httpx.Client | None = None,
    resolver: Resolver | None = None,
    run_id: str | None = None,
) -> tuple[RunSummary, FeedStats]:
    """Poll feeds into the warehouse, without Prefect."""
    settings = settings or Settings.from_env()
    with FeedIngest(
        urls,
        settings,
        feed_settings or FeedSettings.from_env(),
        run_id=run_id or new_run_id(),
        all_feeds=all_feeds,
        client=client,
        resolver=resolver,
    ) as job:
        run_feed_batches(job)
        return job.finish(), job.stats
