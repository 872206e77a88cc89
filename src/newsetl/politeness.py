"""Polite fetching: a per-host concurrency limit, a minimum delay between requests to one
host, and robots.txt (RFC 9309) for article pages.

Hosts are throttled independently, so a slow or strict site never holds up the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from protego import Protego

ROBOTS_AGENT = "newsetl"


@dataclass(slots=True)
class _Gate:
    cond: threading.Condition
    delay: float
    active: int = 0
    next_start: float = 0.0


GlobalSlot = Callable[[], AbstractContextManager[object]]


class SlotTimeout(Exception):
    """No slot for the host opened within the time the request had left."""


class SlotCancelled(Exception):
    """The request was cancelled (its run is stopping) while it waited for a slot."""


class Politeness:
    """Per-host slots: at most ``per_host`` requests at once, starts ``min_delay_s`` apart.

    ``global_slot``, when given, is also held for every request: a limit shared with other
    processes (the ingest-feeds flow passes a Prefect global concurrency limit when running
    on a server, so all of newsetl's fetching together stays under one ceiling).
    """

    def __init__(
        self,
        per_host: int = 2,
        min_delay_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        global_slot: GlobalSlot | None = None,
    ) -> None:
        self.per_host = per_host
        self.min_delay_s = min_delay_s
        self.global_slot = global_slot
        self._clock = clock
        self._gates: dict[str, _Gate] = {}
        self._lock = threading.Lock()

    def _gate(self, host: str) -> _Gate:
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _Gate(threading.Condition(), self.min_delay_s)
            return gate

    @contextmanager
    def slot(
        self, host: str, *, timeout_s: float | None = None, cancel: threading.Event | None = None
    ) -> Iterator[None]:
        """Hold one of the host's request slots for the duration of a request.

        ``timeout_s``: give up (:class:`SlotTimeout`) rather than wait longer, for a request
        whose deadline is already running; ``cancel``: give up (:class:`SlotCancelled`) as
        soon as it is set and :meth:`wake` is called, so an aborted run never waits here.
        """
        gate = self._gate(host)
        until = None if timeout_s is None else self._clock() + timeout_s
        with gate.cond:
            while True:
                if cancel is not None and cancel.is_set():
                    raise SlotCancelled(host)
                now = self._clock()
                if gate.active < self.per_host and now >= gate.next_start:
                    break
                wait = None if gate.active >= self.per_host else gate.next_start - now
                if until is not None:
                    if now >= until:
                        raise SlotTimeout(host)
                    wait = until - now if wait is None else min(wait, until - now)
                gate.cond.wait(wait)
            gate.active += 1
            gate.next_start = now + gate.delay
        try:
            if self.global_slot is None:
                yield
            else:
                with self.global_slot():
                    yield
        finally:
            with gate.cond:
                gate.active -= 1
                gate.cond.notify_all()

    def wake(self) -> None:
        """Wake every waiting request so it can notice that it was cancelled."""
        with self._lock:
            gates = list(self._gates.values())
        for gate in gates:
            with gate.cond:
                gate.cond.notify_all()

    def defer(self, host: str, seconds: float) -> None:
        """No new request to ``host`` for ``seconds`` (it asked us to back off: Retry-After)."""
        gate = self._gate(host)
        with gate.cond:
            gate.next_start = max(gate.next_start, self._clock() + seconds)
            gate.cond.notify_all()

    def set_delay(self, host: str, seconds: float) -> None:
        """A host-specific delay (robots.txt Crawl-delay); never below the global minimum."""
        gate = self._gate(host)
        with gate.cond:
            gate.delay = max(self.min_delay_s, seconds)


# --- robots.txt ------------------------------------------------------------------------


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
