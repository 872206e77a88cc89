"""Hostile HTTP peers on 127.0.0.1, as raw sockets: they do what no well-behaved server does.

Each :class:`RawServer` hands every accepted connection to a *behaviour* (a function of
the server and the socket) in a daemon thread. Behaviours stop when the client hangs up (a failed send
or an EOF), and :meth:`RawServer.close` shuts every connection down, so no thread
outlives its test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Callable

Behaviour = Callable[["RawServer", socket.socket], None]


class RawServer:
    def __init__(self, behaviour: Behaviour, *, backlog: int = 64) -> None:
        self.behaviour = behaviour
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(backlog)
        self.port: int = self._sock.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.sent = 0  # bytes sent to clients, all connections together
        self.connected = threading.Event()
        self._conns: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)
        self._thread.start()

    def url(self, path: str = "/feed", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self.lock:
                if self._closed:
                    conn.close()
                    return
                self.connections += 1
                self._conns.append(conn)
            self.connected.set()
            threading.Thread(target=self._serve, args=(conn,), name="hostile-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.behaviour(self, conn)
        with contextlib.suppress(OSError):
            conn.close()

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self.lock:
            self.sent += len(data)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self.lock:
            self._closed = True
            conns = list(self._conns)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


def read_request(conn: socket.socket) -> bytes:
    """The request head (a GET has no body); b'' when the client left first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


def wait_for_hangup(conn: socket.socket) -> None:
    """Say nothing; return when the client closes or the server shuts down."""
    while conn.recv(65536):
        pass


# --- behaviours ---------------------------------------------------------------------------


def header_drip(interval_s: float = 0.2) -> Behaviour:
    """``200 OK``, then a header that never ends: one byte every ``interval_s``."""

    def behave(srv: RawServer, conn: socket.socket) -> None:
        if not read_request(conn):
            return
        srv.send(conn, b"HTTP/1.1 200 OK\r\nX-Drip: ")
        while True:
            time.sleep(interval_s)
            srv.send(conn, b"a")

    return behave


def silent(srv: RawServer, conn: socket.socket) -> None:
    """Accept, read the request, never answer."""
    wait_for_hangup(conn)


def many_headers(count: int, line: Callable[[int], bytes], body: bytes = b"<rss/>") -> Behaviour:
    def behave(srv: RawServer, conn: socket.socket) -> None:
        if not read_request(conn):
            return
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(line(i) + b"\r\n" for i in range(count))
        head += b"Content-Type: application/rss+xml\r\nContent-Length: %d\r\n\r\n" % len(body)
        srv.send(conn, head + body)
        wait_for_hangup(conn)

    return behave


def endless_chunks(chunk: bytes, interval_s: float = 0.0) -> Behaviour:
    """A chunked body that never ends (fast: hits the size cap; slow: the deadline)."""

    def behave(srv: RawServer, conn: socket.socket) -> None:
        if not read_request(conn):
            return
        srv.send(
            conn,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        while True:
            srv.send(conn, frame)
            if interval_s:
                time.sleep(interval_s)

    return behave


def big_body(size: int, *, declared: bool) -> Behaviour:
    """``size`` bytes of a feed-looking body, generated as it is sent (never held in memory);
    with ``declared`` the length is announced, else the body ends when the connection does."""

    def behave(srv: RawServer, conn: socket.socket) -> None:
        if not read_request(conn):
            return
        length = b"Content-Length: %d\r\n" % size if declared else b"Connection: close\r\n"
        srv.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + length + b"\r\n")
        block = b"<rss><channel>" + b" " * (64 * 1024 - 14)
        left = size
        while left > 0:
            piece = block[: min(left, len(block))]
            srv.send(conn, piece)
            left -= len(piece)
            block = b" " * len(block)

    return behave


def body_drip(total: int, piece: int, interval_s: float) -> Behaviour:
    """A declared body sent ``piece`` bytes at a time, each in time for the read timeout."""

    def behave(srv: RawServer, conn: socket.socket) -> None:
        if not read_request(conn):
            return
        srv.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % total)
        for _ in range(0, total, piece):
            srv.send(conn, b"x" * piece)
            time.sleep(interval_s)

    return behave


def gzip_bomb(decoded_mb: int) -> bytes:
    """``decoded_mb`` MiB of zeros, gzip-compressed in pieces (a few hundred KB on the wire)."""
    c = zlib.compressobj(9, wbits=31)
    zeros = b"\0" * (1024 * 1024)
    return b"".join(c.compress(zeros) for _ in range(decoded_mb)) + c.flush()
