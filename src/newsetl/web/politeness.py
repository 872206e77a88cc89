"""Polite fetching: a per-host concurrency limit and a minimum delay between requests to one
host (robots.txt is in newsetl.web.robots).

Hosts are throttled independently, so a slow or strict site never holds up the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass


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
