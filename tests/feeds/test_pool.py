"""The linear connection pool (newsetl.web.pool) against real sockets on 127.0.0.1: the same
policy as httpcore's pool, without its per-request scan of every idle connection."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from newsetl.web.pool import LinearConnectionPool

from .server import FeedServer


class _CountingStream(httpcore.NetworkStream):
    """A real socket stream that counts the pool's "has the server closed it?" probes."""

    def __init__(self, inner: httpcore.NetworkStream, backend: _CountingBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            self._backend.probes += 1
        return self._inner.get_extra_info(info)


class _CountingBackend(httpcore.SyncBackend):
    def __init__(self) -> None:
        self.probes = 0

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _CountingStream(super().connect_tcp(*args, **kwargs), self)


@pytest.fixture
def servers() -> Iterator[list[FeedServer]]:
    started = [FeedServer() for _ in range(12)]
    for s in started:
        s.add("/x", b"ok")
    yield started
    for s in started:
        s.close()


def _get(pool: httpcore.ConnectionPool, url: str) -> bytes:
    response = pool.request("GET", url)
    assert response.status == 200
    return response.content


def _ports(pool: httpcore.ConnectionPool) -> list[int]:
    return [int(c.info().split(":")[2].split("'")[0]) for c in pool.connections]


def test_a_kept_alive_connection_is_reused(servers: list[FeedServer]) -> None:
    with LinearConnectionPool(max_connections=4, max_keepalive_connections=4) as pool:
        for _ in range(5):
            _get(pool, servers[0].url("/x"))
    assert servers[0].connections == 1


def test_idle_connections_beyond_the_keepalive_limit_are_closed_oldest_first(
    servers: list[FeedServer],
) -> None:
    # httpcore 1.0.9 compares the count of *all* connections with the limit; here idle ones count.
    with LinearConnectionPool(max_connections=20, max_keepalive_connections=4) as pool:
        for s in servers[:6]:
            _get(pool, s.url("/x"))
        assert _ports(pool) == [s.port for s in servers[2:6]]
        _get(pool, servers[5].url("/x"))  # still kept: reused, no new connection
    assert servers[5].connections == 1


def test_a_full_pool_closes_the_oldest_idle_connection_to_make_room(servers: list[FeedServer]) -> None:
    with LinearConnectionPool(max_connections=3, max_keepalive_connections=3) as pool:
        for s in servers[:4]:
            _get(pool, s.url("/x"))
        assert _ports(pool) == [s.port for s in servers[1:4]]


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server answers with keep-alive, then hangs up: the next request must not be sent on
    the dead socket (it would fail with "server disconnected") but on a new connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            # closed here, silently: no "Connection: close" was announced

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    try:
        with LinearConnectionPool(max_connections=4, max_keepalive_connections=4) as pool:
            pool.sweep_s = 3600.0  # only the probe before reuse can notice
            assert _get(pool, url) == b"ok"
            for _ in range(500):  # until the FIN has arrived (at most 5 s)
                if not pool.connections or pool.connections[0].has_expired():
                    break
                threading.Event().wait(0.01)
            assert _get(pool, url) == b"ok"
    finally:
        listener.close()
    assert len(accepted) == 2


def test_probes_per_request_do_not_grow_with_idle_connections(servers: list[FeedServer]) -> None:
    backend = _CountingBackend()
    with LinearConnectionPool(
        max_connections=20, max_keepalive_connections=20, network_backend=backend
    ) as pool:
        pool.sweep_s = 3600.0  # the first pass sweeps, the next sweep is an hour away
        for s in servers[1:]:
            _get(pool, s.url("/x"))  # 11 idle connections to other hosts
        _get(pool, servers[0].url("/x"))
        backend.probes = 0
        for _ in range(20):
            _get(pool, servers[0].url("/x"))
    # httpcore probes every idle connection on every request and every release (~20 × 2 × 12);
    # here only the connection a request could reuse, once per pass.
    assert backend.probes <= 2 * 20, backend.probes
    assert servers[0].connections == 1


def test_a_connection_handed_to_a_request_is_neither_closed_nor_shared(servers: list[FeedServer]) -> None:
    """Drives assignment passes directly: an idle connection assigned to a request that has not
    started on it yet is still idle, but closing it to make room would leave that request
    waiting for its read timeout (encode/httpcore#1110), and handing it to a second request
    would make one of them fail. Other requests wait instead."""
    pool = LinearConnectionPool(max_connections=1, max_keepalive_connections=1)
    _get(pool, servers[0].url("/x"))
    (kept,) = pool.connections
    assert kept.is_idle()

    def queue(url: str) -> Any:
        request = httpcore._sync.connection_pool.PoolRequest(httpcore.Request("GET", url))
        pool._requests.append(request)
        return request

    first = queue(servers[0].url("/x"))
    assert pool._assign_requests_to_connections() == []
    assert first.connection is kept and kept.is_idle()  # assigned, not started
    other_host = queue(servers[1].url("/x"))
    same_host = queue(servers[0].url("/x"))
    assert pool._assign_requests_to_connections() == []  # nothing closed
    assert other_host.connection is None and same_host.connection is None  # both wait
    assert pool.connections == [kept]
    pool.close()
