"""Polling one feed: a conditional GET, the parse, and the feed's new state and health.

A ``304`` costs one request and nothing else; a ``200`` whose bytes equal the last ones is
not parsed again. Validators (ETag/Last-Modified) and the body hash change only with a
body that parsed. A feed that cannot be polled becomes one rejected input (the feed URL
as ``source_ref``) and is retried later and later, never dropped.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from newsetl.errors import Rejection
from newsetl.models import Processed
from newsetl.settings import Settings
from newsetl.sources.feeds.parse import PARSE, FeedEntry, parse_feed
from newsetl.sources.feeds.registry import FeedRow, max_age_s, next_check_error, next_check_ok
from newsetl.web.client import Fetcher, FetchResult
from newsetl.web.headers import ACCEPT_FEED, POLICY

log = logging.getLogger("newsetl.sources.feeds.registry")

KIND = "feed"  # inputs.source_kind of feed entries and feeds


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
    repeated_entries: int = 0  # listed twice in one body (same guid and link): ingested once
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
class FeedPoll:
    row: FeedRow  # the feed's new state
    entries: list[FeedEntry]
    rejection: Processed | None = None
    prior: FeedRow | None = None  # its state before this poll


class Poller:
    """Polls feeds for one run (thread-safe: many feeds are polled at once)."""

    def __init__(
        self,
        fetcher: Fetcher,
        settings: Settings,
        run_id: str,
        stats: FeedStats,
        archive: Callable[[bytes, str], bool],
    ) -> None:
        self.fetcher = fetcher
        self.settings = settings
        self.run_id = run_id
        self.stats = stats
        self._archive = archive
        self._lock = threading.Lock()

    def poll(self, row: FeedRow) -> FeedPoll:
        """One feed's surprise (a bug, an exotic document) must not end the run."""
        try:
            return self._poll(row)
        except Exception as exc:
            log.exception("polling %s failed unexpectedly", row.url)
            failed = replace(row, last_checked_at=datetime.now(UTC), last_run_id=self.run_id)
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
            return self._failed(failed, datetime.now(UTC), FetchResult(row.url, row.url), PARSE, reason)

    def _poll(self, row: FeedRow) -> FeedPoll:
        new = replace(row)
        headers = {"Accept": ACCEPT_FEED}
        if row.etag:
            headers["If-None-Match"] = row.etag
        if row.last_modified:
            headers["If-Modified-Since"] = row.last_modified
        res = self.fetcher.fetch(
            row.url,
            kind="feed",
            max_bytes=self.settings.feeds.max_feed_bytes,
            feed=row.url,
            trusted=row.url,
            headers=headers,
        )
        now = datetime.now(UTC)
        new.last_checked_at, new.last_run_id = now, self.run_id
        new.last_status, new.final_url = res.status, res.final_url
        self._add(feeds=1)
        if res.not_modified:
            new.etag = res.headers.get("etag") or row.etag
            new.last_modified = res.headers.get("last-modified") or row.last_modified
            self._succeeded(new, now, "not_modified", res, row.ttl_s)
            self._add(not_modified=1)
            return FeedPoll(new, [])
        if not res.ok or res.body is None:
            return self._failed(new, now, res, res.stage, res.error or f"HTTP {res.status}")
        body = res.body
        digest = hashlib.sha256(body).hexdigest()
        if digest == row.body_sha256:
            new.etag, new.last_modified = res.headers.get("etag"), res.headers.get("last-modified")
            self._succeeded(new, now, "unchanged_body", res, row.ttl_s)
            self._add(unchanged_body=1)
            return FeedPoll(new, [])
        try:
            parsed = parse_feed(body, url=res.final_url, headers=res.headers)
        except Rejection as rej:
            return self._failed(new, now, res, rej.stage, rej.reason, body)
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
        self._add(
            parsed=1,
            ill_formed=int(parsed.bozo),
            entries_seen=len(parsed.entries) + parsed.repeated,
            repeated_entries=parsed.repeated,
        )
        return FeedPoll(new, parsed.entries, prior=row)

    def _add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    def _succeeded(
        self, new: FeedRow, now: datetime, outcome: str, res: FetchResult, ttl_s: int | None
    ) -> None:
        fs = self.settings.feeds
        ttl = max(ttl_s or 0, max_age_s(res.headers.get("cache-control")) or 0) or None
        new.ttl_s = min(ttl, int(fs.max_backoff_s)) if ttl else None
        new.last_outcome, new.last_success_at = outcome, now
        new.error_streak, new.last_error = 0, None
        new.next_check_at = next_check_ok(now, fs, new.ttl_s)

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
        new.next_check_at = next_check_error(now, self.settings.feeds, new.error_streak, res.retry_after_s)
        self._add(failed=1, refused=int(stage == POLICY))
        sha = hashlib.sha256(body).hexdigest() if body is not None else None
        rejection = Processed(
            source_kind=KIND,
            source_ref=new.url,
            sha256=sha,
            size_bytes=len(body) if body is not None else None,
            stage=stage,
            reason=f"feed: {reason}"[:1000],
            duration_ms=res.elapsed_ms,
            raw_archived=body is not None and sha is not None and self._archive(body, sha),
        )
        return FeedPoll(new, [], rejection)
