"""SSRF guard: links found in feeds may not make newsetl reach internal addresses.

A feed is untrusted input: its entry links and the redirects of any response could point
at ``http://169.254.169.254/`` (cloud metadata), ``http://localhost:6379/`` or an intranet
host. Every request target is resolved *here* and each resolved address is checked (not
the name: ``internal.example`` may resolve to 10.0.0.5); the HTTP layer then connects only
to the addresses that passed (:mod:`newsetl.web.client` pins them), so a DNS answer that
changes between check and connect (DNS rebinding) cannot slip through.

Private, loopback, link-local, multicast, reserved and other non-public addresses are
refused unless the target stays on the feed's own host (the user subscribed to it) or
the user opted in with ``NEWSETL_ALLOW_PRIVATE_HOSTS=1`` / ``--allow-private-hosts``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from newsetl.errors import TerminalError

Resolver = Callable[[str, int], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CACHE_TTL_S = 60.0


class PolicyRefusal(TerminalError):
    """A URL newsetl will not request (scheme, address or robots.txt); no request was made."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResolveError(TerminalError):
    """The host name does not resolve (``transient``: the resolver could not answer now)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def system_resolver(host: str, port: int) -> list[str]:
    """Addresses of ``host`` from the operating system's resolver, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if addr not in seen:
            seen.append(addr)
    return seen


def address_problem(ip: IPAddress) -> str | None:
    """Why an address must not be reached from a link in a feed, or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if mapped is not None:
            return address_problem(mapped)
    for label, bad in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if bad:
            return label
    if not ip.is_global:
        return "not publicly routable"
    return None


def default_port(scheme: str) -> int:
    return _DEFAULT_PORTS.get(scheme.lower(), 80)


def _host_port(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or default_port(scheme)
    except ValueError as exc:
        raise PolicyRefusal(f"invalid URL: {exc}") from exc
    if scheme not in _DEFAULT_PORTS:
        raise PolicyRefusal(f"scheme '{scheme or '(none)'}' is not http or https")
    if not host:
        raise PolicyRefusal("URL has no host")
    return scheme, host, port


def same_site(url: str, trusted_url: str | None) -> bool:
    """True when ``url`` stays on the host of ``trusted_url`` (the feed the user added).

    Same host name, and the feed's port or a default web port: a feed on intranet:8080
    may link to http(s)://intranet/, not to intranet:6379.
    """
    if not trusted_url:
        return False
    try:
        _, host, port = _host_port(url)
        _, thost, tport = _host_port(trusted_url)
    except PolicyRefusal:
        return False
    return host == thost and port in {tport, 80, 443}


class SsrfGuard:
    """Checks request targets; thread-safe, with a short per-run cache of DNS answers.

    A lookup runs in a helper thread and is waited for at most ``resolve_timeout_s`` (or
    the caller's ``timeout_s``), and not at all once :meth:`abort` was called: the system
    resolver cannot be interrupted, and a stuck lookup must neither outlive a request's
    deadline nor keep a stopping process alive (the helper is a daemon thread).
    """

    def __init__(
        self,
        resolver: Resolver | None = None,
        *,
        allow_private: bool = False,
        cache_ttl_s: float = _CACHE_TTL_S,
        resolve_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = resolver or system_resolver
        self.allow_private = allow_private
        self.cache_ttl_s = cache_ttl_s
        self.resolve_timeout_s = resolve_timeout_s
        self._clock = clock
        self._cache: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._lock = threading.Lock()
        self._aborted = threading.Event()

    def abort(self) -> None:
        """Stop waiting for lookups: pending and later ones fail at once ('interrupted')."""
        self._aborted.set()

    def resolve(self, host: str, port: int, timeout_s: float | None = None) -> list[str]:
        """Addresses for a host (an IP literal is its own answer)."""
        literal = _ip_literal(host)
        if literal is not None:
            return [str(literal)]
        key = (host, port)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.cache_ttl_s:
                return hit[1]
        try:
            ips = [str(ipaddress.ip_address(a)) for a in self._lookup(host, port, timeout_s)]
        except (OSError, UnicodeError, ValueError) as exc:
            again = isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN
            raise ResolveError(f"cannot resolve host {host}: {exc}", transient=again) from exc
        if not ips:
            raise ResolveError(f"cannot resolve host {host}: no addresses")
        with self._lock:
            self._cache[key] = (now, ips)
        return ips

    def _lookup(self, host: str, port: int, timeout_s: float | None) -> Sequence[str]:
        limit = self.resolve_timeout_s if timeout_s is None else min(timeout_s, self.resolve_timeout_s)
        box: list[Sequence[str] | BaseException] = []
        done = threading.Event()

        def work() -> None:
            try:
                box.append(self._resolver(host, port))
            except BaseException as exc:  # handed to the waiting caller, whatever it is
                box.append(exc)
            finally:
                done.set()

        if self._aborted.is_set():
            raise ResolveError(f"cannot resolve host {host}: interrupted", transient=True)
        threading.Thread(target=work, name="newsetl-resolve", daemon=True).start()
        until = time.monotonic() + limit
        while not done.wait(min(0.1, max(0.0, until - time.monotonic()))):
            if self._aborted.is_set():
                raise ResolveError(f"cannot resolve host {host}: interrupted", transient=True)
            if time.monotonic() >= until:
                raise ResolveError(
                    f"cannot resolve host {host}: no answer within {limit:g} s", transient=True
                )
        answer = box[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def check_host(self, host: str, port: int, *, trusted: bool, timeout_s: float | None = None) -> list[str]:
        """The addresses to connect to; :class:`PolicyRefusal` if any of them is internal.

        One internal address among public ones is refused too: mixing them is exactly
        how a rebinding attacker picks which one a client ends up using.
        """
        ips = self.resolve(host.rstrip(".").lower(), port, timeout_s)
        if trusted or self.allow_private:
            return ips
        for ip in ips:
            problem = address_problem(ipaddress.ip_address(ip))
            if problem is not None:
                shown = host if _ip_literal(host) is not None else f"{host} ({ip})"
                raise PolicyRefusal(
                    f"refused: {shown} is a {problem} address "
                    "(links in feeds may not reach internal hosts; --allow-private-hosts to allow)"
                )
        return ips

    def check_url(
        self, url: str, trusted_url: str | None, timeout_s: float | None = None
    ) -> tuple[str, int, list[str]]:
        """Scheme and address checks for one request target: (host, port, addresses)."""
        _, host, port = _host_port(url)
        return (
            host,
            port,
            self.check_host(host, port, trusted=same_site(url, trusted_url), timeout_s=timeout_s),
        )

    def check_peer(self, ip: str, url: str, trusted_url: str | None) -> None:
        """Refuse a connection that ended up on an internal address (a reused connection)."""
        if self.allow_private or same_site(url, trusted_url):
            return
        try:
            problem = address_problem(ipaddress.ip_address(ip.split("%", 1)[0]))
        except ValueError:
            return
        if problem is not None:
            raise PolicyRefusal(f"refused: connected to a {problem} address ({ip})")


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
