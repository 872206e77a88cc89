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
import errno
import os
import random
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpcore
import httpx

from newsetl.feed_settings import FeedSettings
from newsetl.models import Stage
from newsetl.politeness import Politeness, SlotCancelled, SlotTimeout
from newsetl.ssrf import PolicyRefusal, ResolveError, SsrfGuard

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate"
ACCEPT_FEED = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
ACCEPT_PAGE = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.8, */*;q=0.5"
INTERRUPTED = "interrupted"  # the error of every fetch ended or refused by Fetcher.abort()


def is_transient_status(status: int) -> bool:
    """Statuses that may go away by themselves: worth another try later."""
    if status in (408, 425, 429):
        return True
    return 500 <= status < 600 and status not in (501, 505, 506, 508, 510, 511)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def content_type_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    if isinstance(charset, tuple):  # RFC 2231 form
        charset = charset[2]
    if not charset:
        return None
    return str(charset).strip().strip("'\"") or None


def media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


@dataclass(slots=True)
class FetchResult:
    """The outcome of fetching one URL (after redirects and retries)."""

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None  # why there is no usable response
    stage: str = Stage.FETCH  # 'policy' when refused without a request
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


class _Failure(Exception):
    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


# --- bounded decompression --------------------------------------------------------------


class BoundedDecoder:
    """Undo ``Content-Encoding`` (gzip/deflate/identity) without producing more than ``cap``."""

    def __init__(self, content_encoding: str | None, cap: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            raise _Failure(f"unsupported Content-Encoding {content_encoding!r} (more than one coding)")
        self.coding = codings[0] if codings else None
        if self.coding not in (None, "gzip", "x-gzip", "deflate"):
            raise _Failure(f"unsupported Content-Encoding {self.coding!r}")
        self.cap = cap
        self.total = 0
        self._raw_deflate = False
        self._started = False
        self._d: Any = self._new()

    def _new(self) -> Any:
        if self.coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        if self.coding == "deflate":
            return zlib.decompressobj(wbits=-15 if self._raw_deflate else 15)
        return None

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.cap:
            what = "decompressed body" if self.coding else "body"
            raise _Failure(f"{what} exceeds the cap of {self.cap} bytes")
        return data

    def feed(self, data: bytes) -> bytes:
        if self._d is None:
            return self._count(data)
        out = bytearray()
        buf = data
        while buf:
            try:
                chunk = self._d.decompress(buf, self.cap - self.total + 1)
            except zlib.error as exc:
                if self.coding == "deflate" and not self._started and not self._raw_deflate:
                    # Some servers send raw deflate although RFC 9110 says zlib-wrapped.
                    self._raw_deflate = True
                    self._d = self._new()
                    continue
                raise _Failure(f"corrupt {self.coding} body: {exc}") from exc
            self._started = True
            out += self._count(chunk)
            buf = self._d.unconsumed_tail
            if self._d.eof:
                rest = self._d.unused_data
                if rest[:2] == b"\x1f\x8b":  # another gzip member
                    self._d = self._new()
                    buf = rest
                else:
                    break  # trailing junk after the stream is ignored, as browsers do
        return bytes(out)

    def flush(self) -> bytes:
        if self._d is None:
            return b""
        # A truncated stream keeps what decoded so far (browsers and feed readers do the same).
        return self._count(self._d.flush())


# --- connections only to approved addresses, within the fetch's deadline -----------------

_tls = threading.local()
_SLICE_S = 0.1  # how often a connect in progress looks at the abort switch
_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EAGAIN})


class _Switch:
    """Aborts every connection of one fetcher at once.

    ``shutdown(SHUT_RDWR)`` (not ``close``) is what wakes a thread blocked in ``recv`` on
    the same socket. Streams leave the set under the lock before they close their socket,
    so a shutdown never reaches a descriptor number that was already reused.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self._lock = threading.Lock()
        self._streams: set[GuardedStream] = set()

    @property
    def tripped(self) -> bool:
        return self.event.is_set()

    def add(self, stream: GuardedStream) -> bool:
        with self._lock:
            if self.event.is_set():
                return False
            self._streams.add(stream)
            return True

    def discard(self, stream: GuardedStream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def trip(self) -> None:
        with self._lock:
            self.event.set()
            for stream in self._streams:
                stream.shutdown()


@dataclass(slots=True)
class _Call:
    """One fetch in progress: its deadline (on the fetcher's clock) and abort switch."""

    clock: Callable[[], float]
    deadline: float
    switch: _Switch
    first: bool = True  # no request sent yet (waiting for its first politeness slot is free)

    def remaining(self) -> float:
        return self.deadline - self.clock()


def _current_call() -> _Call | None:
    call: _Call | None = getattr(_tls, "call", None)
    return call


def _budget(
    switch: _Switch | None,
    timeout: float | None,
    on_timeout: type[Exception],
    on_error: type[Exception],
) -> float | None:
    """The timeout for one socket operation: the given one, cut to what the current fetch
    has left; raises when that is nothing or the fetch was aborted."""
    call = _current_call()
    if (switch is not None and switch.tripped) or (call is not None and call.switch.tripped):
        raise on_error(INTERRUPTED)
    if call is None:
        return timeout
    left = call.remaining()
    if left <= 0:
        raise on_timeout("total timeout")
    return left if timeout is None else min(timeout, left)


def _wait_writable(sock: socket.socket, timeout: float) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLOUT | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(max(0, int(timeout * 1000) + 1)))
    _, w, x = select.select([], [sock], [sock], timeout)
    return bool(w or x)


def _is_readable(sock: socket.socket) -> bool:
    fd = sock.fileno()
    if fd < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    r, _, _ = select.select([fd], [], [], 0)
    return bool(r)


def _connect(
    ip: str,
    port: int,
    timeout: float | None,
    switch: _Switch | None,
    local_address: str | None,
    socket_options: Iterable[Any] | None,
) -> socket.socket:
    """A TCP connection to exactly ``ip``; non-blocking underneath, so an abort is noticed
    within ``_SLICE_S`` instead of after the whole connect timeout."""
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if local_address:
            sock.bind((local_address, 0))
        sock.setblocking(False)
        err = sock.connect_ex((ip, port))
        until = None if timeout is None else time.monotonic() + timeout
        while err in _IN_PROGRESS:
            if switch is not None and switch.tripped:
                raise httpcore.ConnectError(INTERRUPTED)
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                raise httpcore.ConnectTimeout("timed out")
            if _wait_writable(sock, _SLICE_S if left is None else min(left, _SLICE_S)):
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise httpcore.ConnectError(f"[Errno {err}] {os.strerror(err)}")
        sock.setblocking(True)
        return sock
    except OSError as exc:
        sock.close()
        raise httpcore.ConnectError(str(exc)) from exc
    except BaseException:
        sock.close()
        raise


class GuardedStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake fits in the current fetch's
    remaining time, and which its fetcher can shut down from another thread."""

    def __init__(self, sock: socket.socket, switch: _Switch | None) -> None:
        self._sock = sock
        self._switch = switch

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        t = _budget(self._switch, timeout, httpcore.ReadTimeout, httpcore.ReadError)
        try:
            self._sock.settimeout(t)
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        while buffer:
            t = _budget(self._switch, timeout, httpcore.WriteTimeout, httpcore.WriteError)
            try:
                self._sock.settimeout(t)
                sent = self._sock.send(buffer)
            except TimeoutError as exc:
                raise httpcore.WriteTimeout(str(exc) or "timed out") from exc
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc
            buffer = buffer[sent:]

    def close(self) -> None:
        if self._switch is not None:
            self._switch.discard(self)
        self._sock.close()

    def shutdown(self) -> None:
        """Wake whoever is blocked on this socket (called by the switch, under its lock)."""
        with contextlib.suppress(OSError):
            # The plain socket method, also for TLS: SSLSocket.shutdown would drop its SSL
            # object under the feet of a thread that is reading.
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        try:
            t = _budget(self._switch, timeout, httpcore.ConnectTimeout, httpcore.ConnectError)
            self._sock.settimeout(t)  # CPython bounds the whole handshake by it, not each read
            self._sock = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.close()
            raise httpcore.ConnectTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            self.close()
            raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            self.close()
            raise
        return self  # same descriptor: the switch still finds it

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return getattr(self._sock, "_sslobj", None) if isinstance(self._sock, ssl.SSLSocket) else None
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return _is_readable(self._sock)
        return None


class GuardedBackend(httpcore.SyncBackend):
    """Connects to the addresses the guard approved for the current request, nothing else.

    The fetcher checks a URL (resolving its host) and pins the approved addresses for the
    calling thread; the connection pool calls :meth:`connect_tcp` in that same thread.
    Connections made for a fetch carry its deadline and its fetcher's abort switch.
    """

    def __init__(self, guard: SsrfGuard) -> None:
        self._guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        target = getattr(_tls, "target", None)
        key = (host.rstrip(".").lower(), port)
        if target is not None and target[0] == key:
            ips: list[str] = target[1]
        else:  # not from our fetcher (or a stale pin): check from scratch, trusting nothing
            ips = self._guard.check_host(key[0], port, trusted=False)
        call = _current_call()
        switch = call.switch if call is not None else None
        last: Exception | None = None
        for ip in ips:
            budget = _budget(switch, timeout, httpcore.ConnectTimeout, httpcore.ConnectError)
            try:
                sock = _connect(ip, port, budget, switch, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            stream = GuardedStream(sock, switch)
            if switch is not None and not switch.add(stream):
                stream.close()
                raise httpcore.ConnectError(INTERRUPTED)
            return stream
        assert last is not None
        raise last


@cache
def _default_ssl_context() -> ssl.SSLContext:
    """Certificate verification with certifi's CA bundle; loaded once (it takes ~0.1 s)."""
    return httpx.create_ssl_context(trust_env=False)


def make_client(
    settings: FeedSettings,
    guard: SsrfGuard,
    *,
    verify: bool | str = True,
) -> httpx.Client:
    """The shared client: guarded connections, timeouts, no automatic redirects or env proxies.

    ``trust_env=False``: a proxy would hide the address actually connected to (and .netrc
    credentials must never be sent to hosts named by a feed).
    """
    limits = httpx.Limits(
        max_connections=settings.concurrency * 2,
        max_keepalive_connections=settings.concurrency * 2,
        keepalive_expiry=30.0,
    )
    ssl_context = _default_ssl_context() if verify is True else httpx.create_ssl_context(verify=verify)
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False, limits=limits)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool):  # pragma: no cover - httpx internals moved
        raise RuntimeError("unsupported httpx version: cannot install the guarded network backend")
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(guard),
    )
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=settings.read_timeout_s,
        write=settings.read_timeout_s,
        pool=settings.total_timeout_s,
    )
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
    )


# --- the fetcher ----------------------------------------------------------------------------


class Fetcher:
    """Fetches URLs politely and safely; collects one row per HTTP request for ``fetches``.

    ``sleep`` (back-off pauses) and ``clock`` (deadlines) are injectable; by default a pause
    is a wait on the abort switch, so :meth:`abort` cuts it short.
    """

    def __init__(
        self,
        client: httpx.Client,
        settings: FeedSettings,
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
            res.error, res.stage = exc.reason, Stage.POLICY
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
            res.error, res.stage = exc.reason, Stage.POLICY
        except _Failure as exc:
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
        if res.error is not None and res.stage != Stage.POLICY:
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
        elif status == 304 or status in REDIRECT_STATUSES:
            pass
        else:
            res.error = f"HTTP {status} {response.reason_phrase}".strip()
            res.transient = is_transient_status(status)
            if status in (429, 503):
                res.retry_after_s = parse_retry_after(res.headers.get("retry-after"))

    def _read_body(self, response: httpx.Response, max_bytes: int, call: _Call) -> bytes:
        decoder = BoundedDecoder(response.headers.get("content-encoding"), max_bytes)
        declared = response.headers.get("content-length", "").strip()
        if decoder.coding is None and declared.isdigit() and int(declared) > max_bytes:
            raise _Failure(f"body of {declared} bytes (Content-Length) exceeds the cap of {max_bytes} bytes")
        out = bytearray()
        for raw in response.iter_raw():  # as received: a chunk size would buffer past the deadline
            out += decoder.feed(raw)
            if call.remaining() <= 0:
                raise _Failure(self._total_timeout(), transient=True)
        out += decoder.flush()
        return bytes(out)


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
