"""HTTP for feeds, pages and robots.txt: one shared client, every request checked and logged.

- One ``httpx.Client`` per run (injectable), identifying itself as ``newsetl/<version>``,
  with connect/read timeouts plus a total deadline per request.
- Redirects are followed here, not by httpx (at most ``max_redirects``), so every hop goes
  through the SSRF guard and the per-host politeness slots; loops are detected.
- The client's connections go only to addresses the guard approved for this request
  (:class:`GuardedBackend` pins them), which closes the DNS-rebinding gap.
- Bodies are read as raw bytes and decompressed here with a bound, so the size cap applies
  to the *decoded* bytes: a gzip bomb stops at the cap instead of filling memory.
- Transient failures (connect errors, timeouts, 408/425/429/5xx) are retried with
  exponential back-off and jitter; ``Retry-After`` is honoured up to a cap.
- Every HTTP request (each attempt, each redirect hop) becomes one ``fetches`` row.

Whole-request deadline: one :meth:`Fetcher.fetch` (every redirect hop and retry, DNS,
connect, TLS, headers and body) ends within ``total_timeout_s`` of its first request
whatever the peer does. The guarded connections (:class:`GuardedStream`) recompute the
timeout of every socket operation from the budget the fetch has left, so a server that
drips one header byte per second runs into the deadline instead of resetting a per-read
timeout forever. No watchdog thread is needed for that: each ``recv`` returns as soon as
a byte arrives, and the next one gets only what is left.

Abort: :meth:`Fetcher.abort` shuts down the sockets of all its connections (which wakes a
thread blocked in ``recv``, ``send`` or a TLS handshake), cancels waits for politeness
slots, back-off pauses, connects and DNS lookups; every fetch in flight ends within
moments and later ones return at once, all with the error ``interrupted``.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from newsetl.settings import WebSettings
from newsetl.web.decoders import BoundedDecoder, FetchFailure
from newsetl.web.headers import (
    ACCEPT_ENCODING,
    ACCEPT_FEED,
    ACCEPT_PAGE,
    FETCH,
    INTERRUPTED,
    POLICY,
    REDIRECT_STATUSES,
    content_type_charset,
    is_transient_status,
    media_type,
    parse_retry_after,
)
from newsetl.web.politeness import Politeness, SlotCancelled, SlotTimeout
from newsetl.web.ssrf import PolicyRefusal, ResolveError, SsrfGuard
from newsetl.web.transport import GuardedBackend, GuardedStream, _Call, _Switch, _tls, make_client

__all__ = [
    "ACCEPT_FEED",
    "ACCEPT_PAGE",
    "FETCH",
    "INTERRUPTED",
    "POLICY",
    "BoundedDecoder",
    "FetchResult",
    "Fetcher",
    "GuardedBackend",
    "GuardedStream",
    "make_client",
    "media_type",
    "parse_retry_after",
]


@dataclass(slots=True)
class FetchResult:
    """The outcome of fetching one URL (after redirects and retries)."""

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None  # why there is no usable response
    stage: str = FETCH  # 'policy' when refused without a request
    transient: bool = False
    retry_after_s: float | None = None
    attempts: int = 0
    elapsed_ms: float = 0.0
    peer_ip: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.body is not None and self.status is not None

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def charset(self) -> str | None:
        return content_type_charset(self.content_type)


class Fetcher:
    """Fetches URLs politely and safely; collects one row per HTTP request for ``fetches``.

    ``sleep`` (back-off pauses) and ``clock`` (deadlines) are injectable; by default a pause
    is a wait on the abort switch, so :meth:`abort` cuts it short.
    """

    def __init__(
        self,
        client: httpx.Client,
        settings: WebSettings,
        guard: SsrfGuard,
        politeness: Politeness,
        *,
        sleep: Callable[[float], None] | None = None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings
        self.guard = guard
        self.politeness = politeness
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._switch = _Switch()
        self._rows: list[dict[str, Any]] = []
        self._rows_lock = threading.Lock()

    def take_rows(self) -> list[dict[str, Any]]:
        """The ``fetches`` rows recorded since the last call (written with the next batch)."""
        with self._rows_lock:
            rows, self._rows = self._rows, []
        return rows

    def put_back(self, rows: list[dict[str, Any]]) -> None:
        """Rows whose write failed (the batch is retried): keep them for the next write."""
        with self._rows_lock:
            self._rows[:0] = rows

    @property
    def aborted(self) -> bool:
        return self._switch.tripped

    def abort(self) -> None:
        """End every fetch in flight now and refuse new ones (error ``interrupted``).

        Safe to call from any thread, more than once. Used when a run is stopped: threads
        blocked on a hostile peer must not keep the process alive.
        """
        self._switch.trip()  # first: whoever wakes up below must already see it
        self.politeness.wake()
        self.guard.abort()

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter: half fixed, half random."""
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2.0 ** (attempt - 1))
        return float(ceiling / 2 + self._rng() * ceiling / 2)

    def _pause(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            self._switch.event.wait(seconds)

    def fetch(
        self,
        url: str,
        *,
        kind: str,
        max_bytes: int,
        feed: str | None = None,
        trusted: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_attempts: int | None = None,
    ) -> FetchResult:
        """GET ``url``; never raises for network or HTTP problems (they are in the result).

        ``trusted`` is the URL the user subscribed to: targets on its host may be private.
        Ends within ``total_timeout_s`` of the first request, redirects and retries
        included (waiting for the first politeness slot is queueing, not counted).
        """
        attempts = max_attempts or self.settings.max_attempts
        started = self._clock()
        result = FetchResult(url=url, final_url=url)
        if self._switch.tripped:
            result.error, result.transient = INTERRUPTED, True
            return result
        call = _Call(self._clock, started + self.settings.total_timeout_s, self._switch)
        for attempt in range(1, attempts + 1):
            result = self._follow(url, kind, max_bytes, feed, trusted, headers, attempt, call)
            result.attempts = attempt
            if not result.transient or attempt == attempts or self._switch.tripped:
                break
            left = call.remaining()
            wait = result.retry_after_s
            if wait is not None:
                if wait > self.settings.retry_after_cap_s or wait >= left:
                    break  # longer than we wait within this fetch; the caller reschedules
                host = httpx.URL(result.final_url).host
                self.politeness.defer(host, wait)  # the next slot for this host opens after it
            else:
                pause = self.backoff(attempt)
                if pause >= left:
                    break
                self._pause(pause)
                if self._switch.tripped:  # the retry it was waiting for will not happen
                    result.error, result.transient = INTERRUPTED, True
                    break
        result.elapsed_ms = round((self._clock() - started) * 1000, 2)
        return result

    def _follow(
        self,
        url: str,
        kind: str,
        max_bytes: int,
        feed: str | None,
        trusted: str | None,
        headers: Mapping[str, str] | None,
        attempt: int,
        call: _Call,
    ) -> FetchResult:
        current = url
        seen = {url}
        for hop in range(self.settings.max_redirects + 1):
            res = self._request(current, kind, max_bytes, feed, trusted, headers, attempt, hop, call)
            res.url = url
            if res.error is None and res.status in REDIRECT_STATUSES:
                location = res.headers.get("location", "").strip()
                if not location:
                    res.error = f"HTTP {res.status} redirect without a Location header"
                    return res
                try:
                    target = str(httpx.URL(current).join(location))
                except (httpx.InvalidURL, ValueError) as exc:
                    res.error = f"redirect to an invalid URL {location[:200]!r}: {exc}"
                    return res
                if target in seen:
                    res.error = f"redirect loop ({current} -> {target})"
                    return res
                if hop == self.settings.max_redirects:
                    res.error = f"too many redirects (more than {self.settings.max_redirects})"
                    return res
                seen.add(target)
                current = target
                continue
            return res
        raise AssertionError("unreachable")  # pragma: no cover

    def _record(self, row: dict[str, Any]) -> None:
        with self._rows_lock:
            self._rows.append(row)

    def _total_timeout(self) -> str:
        return f"total timeout: no complete response within {self.settings.total_timeout_s:g} s"

    def _request(
        self,
        url: str,
        kind: str,
        max_bytes: int,
        feed: str | None,
        trusted: str | None,
        headers: Mapping[str, str] | None,
        attempt: int,
        hop: int,
        call: _Call,
    ) -> FetchResult:
        res = FetchResult(url=url, final_url=url)
        if self._switch.tripped or call.remaining() <= 0:  # nothing sent: nothing to log
            res.error = INTERRUPTED if self._switch.tripped else self._total_timeout()
            res.transient = True
            return res
        fetched_at = datetime.now(UTC)
        started = self._clock()
        try:
            host, port, ips = self.guard.check_url(url, trusted, timeout_s=call.remaining())
        except PolicyRefusal as exc:  # no request is made: nothing to log in fetches
            res.error, res.stage = exc.reason, POLICY
            return res
        except ResolveError as exc:  # an attempt that failed at its first step: logged
            res.error, res.transient = str(exc), exc.transient
            host, port, ips = "", 0, []
        row: dict[str, Any] = {
            "kind": kind,
            "feed": feed,
            "url": url,
            "attempt": attempt,
            "hop": hop,
            "status": None,
            "not_modified": False,
            "bytes": None,
            "duration_ms": None,
            "error": None,
            "location": None,
            "content_type": None,
            "peer_ip": None,
            "fetched_at": fetched_at,
        }
        timed_out = False
        try:
            if res.error is None:
                queued = self._clock()
                slot_timeout = None if call.first else max(call.remaining(), 0.0)
                with self.politeness.slot(host, timeout_s=slot_timeout, cancel=self._switch.event):
                    if call.first:  # queueing for the first slot is not the request's time
                        call.deadline += self._clock() - queued
                        call.first = False
                    started = self._clock()
                    row["fetched_at"] = datetime.now(UTC)
                    self._exchange(res, url, (host, port), ips, max_bytes, trusted, headers, call)
        except SlotCancelled:
            res.error, res.transient = INTERRUPTED, True
        except SlotTimeout:
            res.error, res.transient, timed_out = self._total_timeout(), True, True
        except ResolveError as exc:
            res.error, res.transient = str(exc), exc.transient
        except PolicyRefusal as exc:
            res.error, res.stage = exc.reason, POLICY
        except FetchFailure as exc:
            res.error, res.transient = exc.reason, exc.transient
        except httpx.TimeoutException as exc:
            res.error, res.transient = f"{_timeout_name(exc)} after {self._timeout_of(exc):g} s", True
            timed_out = True
        except httpx.ConnectError as exc:
            msg = _one_line(exc) or "connection failed"
            res.error = f"connect error: {msg}"
            res.transient = "CERTIFICATE" not in msg and "SSL" not in msg
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            msg = _one_line(exc) or type(exc).__name__
            if "Receive buffer too long" in msg:  # h11's limit on an incomplete response head
                res.error = "malformed response: header block over 100 KiB"
            else:
                res.error, res.transient = f"connection broken: {msg}", True
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, UnicodeError) as exc:
            res.error = f"HTTP error: {type(exc).__name__}: {_one_line(exc)}"[:500]
        if res.error is not None and res.stage != POLICY:
            if self._switch.tripped:
                res.error, res.transient = INTERRUPTED, True
            elif timed_out and call.remaining() <= 0.01:
                res.error, res.transient = self._total_timeout(), True
        row.update(
            status=res.status,
            not_modified=res.not_modified,
            bytes=len(res.body) if res.body is not None else None,
            duration_ms=round((self._clock() - started) * 1000, 2),
            error=res.error,
            location=res.headers.get("location") if res.status in REDIRECT_STATUSES else None,
            content_type=res.content_type,
            peer_ip=res.peer_ip,
        )
        self._record(row)
        return res

    def _timeout_of(self, exc: httpx.TimeoutException) -> float:
        if isinstance(exc, httpx.ConnectTimeout):
            return self.settings.connect_timeout_s
        if isinstance(exc, httpx.PoolTimeout):
            return self.settings.total_timeout_s
        return self.settings.read_timeout_s

    def _timeouts(self, call: _Call) -> httpx.Timeout:
        """This request's httpx timeouts: none longer than what the fetch has left (this
        also bounds the wait for a pooled connection, and helps an injected client)."""
        left = max(call.remaining(), 0.001)
        fs = self.settings
        return httpx.Timeout(
            connect=min(fs.connect_timeout_s, left),
            read=min(fs.read_timeout_s, left),
            write=min(fs.read_timeout_s, left),
            pool=left,
        )

    def _exchange(
        self,
        res: FetchResult,
        url: str,
        key: tuple[str, int],
        ips: list[str],
        max_bytes: int,
        trusted: str | None,
        headers: Mapping[str, str] | None,
        call: _Call,
    ) -> None:
        # Only encodings BoundedDecoder can bound, whatever client was injected.
        request = self.client.build_request(
            "GET",
            url,
            headers={**dict(headers or {}), "Accept-Encoding": ACCEPT_ENCODING},
            timeout=self._timeouts(call),
        )
        _tls.call = call  # connections read it for every socket operation of this request
        try:
            _tls.target = (key, ips)
            try:
                response = self.client.send(request, stream=True, follow_redirects=False)
            finally:
                _tls.target = None
            try:
                self._handle(res, response, url, max_bytes, trusted, call)
            finally:
                response.close()
        finally:
            _tls.call = None

    def _handle(
        self,
        res: FetchResult,
        response: httpx.Response,
        url: str,
        max_bytes: int,
        trusted: str | None,
        call: _Call,
    ) -> None:
        peer = _peer_ip(response)
        res.peer_ip = peer
        if peer is not None:
            self.guard.check_peer(peer, url, trusted)
        res.status = response.status_code
        res.headers = {k.lower(): v for k, v in response.headers.items()}
        status = response.status_code
        if 200 <= status < 300:
            res.body = self._read_body(response, max_bytes, call)
            return
        if status != 304 and status not in REDIRECT_STATUSES:
            res.error = f"HTTP {status} {response.reason_phrase}".strip()
            res.transient = is_transient_status(status)
            if status in (429, 503):
                res.retry_after_s = parse_retry_after(res.headers.get("retry-after"))
        _drain(response, call)

    def _read_body(self, response: httpx.Response, max_bytes: int, call: _Call) -> bytes:
        decoder = BoundedDecoder(response.headers.get("content-encoding"), max_bytes)
        declared = response.headers.get("content-length", "").strip()
        if decoder.coding is None and declared.isdigit() and int(declared) > max_bytes:
            raise FetchFailure(
                f"body of {declared} bytes (Content-Length) exceeds the cap of {max_bytes} bytes"
            )
        out = bytearray()
        for raw in response.iter_raw():  # as received: a chunk size would buffer past the deadline
            out += decoder.feed(raw)
            if call.remaining() <= 0:
                raise FetchFailure(self._total_timeout(), transient=True)
        out += decoder.flush()
        return bytes(out)


_DRAIN_MAX = 64 * 1024  # unused bodies read to their end (else: a TCP+TLS set-up per unchanged feed)


def _drain(response: httpx.Response, call: _Call) -> None:
    """Read a small unused body to its end so the connection goes back to the pool."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > _DRAIN_MAX:
        return
    seen = 0
    with contextlib.suppress(httpx.HTTPError):  # a larger or slower body: dropped with it
        for raw in response.iter_raw():
            seen += len(raw)
            if seen > _DRAIN_MAX or call.remaining() <= 0:
                return


def _peer_ip(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    try:
        addr = stream.get_extra_info("server_addr")
    except Exception:  # pragma: no cover - a transport without socket info
        return None
    if isinstance(addr, tuple) and addr:
        return str(addr[0])
    return None


def _timeout_name(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect timeout",
        httpx.ReadTimeout: "read timeout",
        httpx.WriteTimeout: "write timeout",
        httpx.PoolTimeout: "pool timeout",
    }.get(type(exc), "timeout")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
