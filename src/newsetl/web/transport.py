"""Connections only to the addresses the SSRF guard approved, within the fetch's deadline.

The guarded connections (:class:`GuardedStream`) recompute the timeout of every socket
operation from the budget the fetch has left, so a server that drips one header byte per
second runs into the deadline instead of resetting a per-read timeout forever; an abort
switch shuts every connection of a fetcher down at once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpcore
import httpx

from newsetl.settings import WebSettings
from newsetl.web.headers import ACCEPT_ENCODING, INTERRUPTED
from newsetl.web.pool import LinearConnectionPool
from newsetl.web.ssrf import SsrfGuard

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
    settings: WebSettings,
    guard: SsrfGuard,
    *,
    verify: bool | str = True,
) -> httpx.Client:
    """The shared client: guarded connections, timeouts, no automatic redirects or env proxies.

    ``trust_env=False``: a proxy would hide the address actually connected to (and .netrc
    credentials must never be sent to hosts named by a feed).
    """
    # Idle connections kept: as many as there are fetching threads to reuse them. More only
    # lengthen every bookkeeping pass and the pool's once-a-second probe of each idle one
    # (web/pool.py): a poll of many hosts fills the pool with hosts it will not ask again.
    limits = httpx.Limits(
        max_connections=settings.concurrency * 2,
        max_keepalive_connections=settings.concurrency,
        keepalive_expiry=30.0,
    )
    ssl_context = _default_ssl_context() if verify is True else httpx.create_ssl_context(verify=verify)
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False, limits=limits)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool):  # pragma: no cover - httpx internals moved
        raise RuntimeError("unsupported httpx version: cannot install the guarded network backend")
    transport._pool = LinearConnectionPool(
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
