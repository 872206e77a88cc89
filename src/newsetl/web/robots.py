"""robots.txt (RFC 9309) for article pages: fetched once per origin and run, cached in the
warehouse for a day, ``Crawl-delay`` honoured (up to a cap) through the politeness gates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from protego import Protego

ROBOTS_AGENT = "newsetl"


@dataclass(slots=True, frozen=True)
class RobotsFile:
    """A fetched robots.txt: ``status`` None when it could not be fetched at all."""

    origin: str
    status: int | None
    body: str | None
    fetched_at: datetime
    error: str | None = None

    @property
    def persistable(self) -> bool:
        """Answers worth caching across runs (not outages: those are retried next run)."""
        return self.status is not None and (200 <= self.status < 300 or 400 <= self.status < 500)


@dataclass(slots=True)
class _Rules:
    file: RobotsFile
    parser: Protego | None
    verdict: str | None  # 'allow' or 'disallow' when the file does not decide per path
    reason: str | None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _rules(file: RobotsFile) -> _Rules:
    status = file.status
    if status is not None and 200 <= status < 300:
        try:
            return _Rules(file, Protego.parse(file.body or ""), None, None)
        except Exception:  # an unparsable file says nothing: allow, as for a missing one
            return _Rules(file, None, "allow", None)
    if status is not None and 400 <= status < 500 and status != 429:
        return _Rules(file, None, "allow", None)  # RFC 9309: "unavailable" -> no restrictions
    why = f"HTTP {status}" if status is not None else (file.error or "no response")
    return _Rules(file, None, "disallow", f"robots.txt unreachable ({why}): assuming disallow (RFC 9309)")


class RobotsCache:
    """robots.txt per origin, fetched once (per ``ttl``) even when many threads ask at once.

    ``fetch(origin, trusted)`` is injected (the HTTP layer); ``trusted`` is the URL whose
    host may be private (the feed of the page asking), so the robots.txt request passes the
    same address check as the page itself. ``preload`` feeds answers kept in the warehouse,
    ``take_new`` hands back fresh answers so they can be stored with the batch.
    """

    def __init__(
        self,
        fetch: Callable[[str, str | None], RobotsFile],
        *,
        agent: str = ROBOTS_AGENT,
        ttl_s: float = 24 * 3600,
        on_crawl_delay: Callable[[str, float], None] | None = None,
        max_crawl_delay_s: float = 30.0,
    ) -> None:
        self._fetch = fetch
        self.agent = agent
        self.ttl = timedelta(seconds=ttl_s)
        self._on_crawl_delay = on_crawl_delay
        self._max_crawl_delay = max_crawl_delay_s
        self._rules: dict[str, _Rules] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._new: list[RobotsFile] = []

    def preload(self, files: list[RobotsFile]) -> None:
        now = datetime.now(UTC)
        for f in files:
            if now - f.fetched_at < self.ttl and f.origin not in self._rules:
                self._install(f)

    def known(self) -> set[str]:
        with self._lock:
            return set(self._rules)

    def take_new(self) -> list[RobotsFile]:
        with self._lock:
            new, self._new = self._new, []
        return new

    def put_back(self, files: list[RobotsFile]) -> None:
        with self._lock:
            self._new[:0] = files

    def _install(self, file: RobotsFile) -> _Rules:
        rules = _rules(file)
        with self._lock:
            self._rules[file.origin] = rules
        if rules.parser is not None and self._on_crawl_delay is not None:
            delay = rules.parser.crawl_delay(self.agent)
            if delay:
                host = urlsplit(file.origin).hostname or ""
                self._on_crawl_delay(host, min(float(delay), self._max_crawl_delay))
        return rules

    def _get(self, origin: str, trusted: str | None) -> _Rules:
        with self._lock:
            rules = self._rules.get(origin)
            if rules is not None:
                return rules
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            with self._lock:
                rules = self._rules.get(origin)
            if rules is not None:
                return rules
            file = self._fetch(origin, trusted)
            if file.persistable:
                with self._lock:
                    self._new.append(file)
            return self._install(file)

    def sitemaps(self, origin: str, trusted: str | None = None) -> list[str]:
        """The ``Sitemap:`` lines of the origin's robots.txt (as written; may be relative)."""
        rules = self._get(origin, trusted)
        return list(rules.parser.sitemaps) if rules.parser is not None else []

    def check(self, url: str, trusted: str | None = None) -> str | None:
        """None when ``url`` may be fetched, else the reason it may not.

        ``trusted``: the URL the page's request is trusted by (its feed); robots.txt is
        fetched under the same trust, never more.
        """
        rules = self._get(origin_of(url), trusted)
        if rules.verdict == "allow":
            return None
        if rules.verdict == "disallow":
            return rules.reason
        assert rules.parser is not None
        if rules.parser.can_fetch(url, self.agent):
            return None
        return f"disallowed by robots.txt for user-agent '{self.agent}'"
