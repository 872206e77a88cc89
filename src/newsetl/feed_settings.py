"""Settings for fetching feeds and pages: limits, timeouts, politeness, schedule.

Kept apart from :class:`newsetl.config.Settings` (which every run and worker process
receives) because only the feeds flow needs them; both are frozen and overridable from
``NEWSETL_*`` environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from newsetl import __version__
from newsetl.config import MB, _env_float, _env_int

HOUR = 3600.0


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be 0/1 (or true/false), got {raw!r}")


def default_user_agent() -> str:
    return os.environ.get("NEWSETL_USER_AGENT") or f"newsetl/{__version__}"


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """How newsetl talks to the web. Defaults follow what polite feed readers do."""

    user_agent: str = f"newsetl/{__version__}"
    # Body caps, enforced on the decoded bytes while streaming (a gzip bomb stops at the cap).
    max_feed_bytes: int = 5 * MB
    max_page_bytes: int = 10 * MB
    max_robots_bytes: int = 512 * 1024  # what Google reads of a robots.txt
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0  # longest silence between two reads
    # One fetch as a whole: DNS, connect, TLS, headers, body, every redirect and retry,
    # from its first request to its last byte, whatever the peer does.
    total_timeout_s: float = 60.0
    max_redirects: int = 5
    # Attempts per URL for transient errors (connect errors, timeouts, 5xx, 429).
    max_attempts: int = 3
    backoff_base_s: float = 1.0  # 1, 2, 4 ... s, each with full jitter
    backoff_max_s: float = 30.0
    # A longer Retry-After is not waited for in the run; a feed is then next checked after it.
    retry_after_cap_s: float = 60.0
    concurrency: int = 16  # simultaneous requests, all hosts together
    per_host_concurrency: int = 2
    min_host_delay_s: float = 1.0  # between the starts of two requests to one host
    max_crawl_delay_s: float = 30.0  # robots.txt Crawl-delay is honoured up to this
    respect_robots: bool = True
    robots_ttl_s: float = 24 * HOUR
    allow_private_hosts: bool = False
    dns_cache_s: float = 60.0  # how long a checked DNS answer is reused before asking again
    fetch_pages: bool = True  # False: use the feed's own content only
    poll_interval_s: float = 30 * 60  # a healthy feed is checked again after this (±10 %)
    error_backoff_base_s: float = 15 * 60  # first retry of a failing feed; doubles per error
    max_backoff_s: float = 24 * HOUR  # cap for both a failing feed's and a feed's own interval
    feeds_per_batch: int = 200  # feeds polled concurrently, then loaded together
    max_entry_attempts: int = 3  # an entry whose page failed transiently is retried when seen again
    # New entries taken from one feed per poll; the rest come with the next run (a runaway
    # feed with 50,000 items must not mean 50,000 page fetches in one go).
    max_new_entries_per_feed: int = 1000

    @classmethod
    def from_env(cls, **overrides: Any) -> FeedSettings:
        base = cls(
            user_agent=default_user_agent(),
            max_feed_bytes=_env_int("NEWSETL_FEED_MAX_MB", 5) * MB,
            max_page_bytes=_env_int("NEWSETL_PAGE_MAX_MB", 10) * MB,
            total_timeout_s=_env_float("NEWSETL_HTTP_TIMEOUT", 60.0),
            concurrency=_env_int("NEWSETL_FETCH_CONCURRENCY", 16),
            per_host_concurrency=_env_int("NEWSETL_HOST_CONCURRENCY", 2),
            min_host_delay_s=_env_float("NEWSETL_HOST_DELAY", 1.0),
            respect_robots=_env_bool("NEWSETL_RESPECT_ROBOTS", True),
            allow_private_hosts=_env_bool("NEWSETL_ALLOW_PRIVATE_HOSTS", False),
            poll_interval_s=_env_float("NEWSETL_FEED_INTERVAL_MIN", 30.0) * 60,
            max_backoff_s=_env_float("NEWSETL_FEED_MAX_BACKOFF_H", 24.0) * HOUR,
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        settings = replace(base, **clean)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.per_host_concurrency < 1 or self.concurrency < 1:
            raise ValueError("concurrency limits must be at least 1")
        if self.min_host_delay_s < 0:
            raise ValueError("the per-host delay cannot be negative (0 disables it)")
        if not 0 <= self.max_redirects <= 20:
            raise ValueError("max_redirects must be between 0 and 20")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.max_feed_bytes, self.max_page_bytes, self.max_robots_bytes) < 1:
            raise ValueError("body size caps must be positive")
        if min(self.connect_timeout_s, self.read_timeout_s, self.total_timeout_s) <= 0:
            raise ValueError("timeouts must be positive")
        if self.poll_interval_s <= 0 or self.max_backoff_s < self.poll_interval_s:
            raise ValueError("the poll interval must be positive and at most the back-off cap")
        if self.max_new_entries_per_feed < 1:
            raise ValueError("max_new_entries_per_feed must be at least 1")
        if self.dns_cache_s < 0:
            raise ValueError("dns_cache_s cannot be negative (0: resolve every time)")
        if self.feeds_per_batch < 1:
            raise ValueError("feeds_per_batch must be at least 1")
