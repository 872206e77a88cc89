"""A real HTTP/1.1 server on 127.0.0.1 for the feed tests (stdlib, one thread per connection).

Routes are set by the tests; every request is logged (path, Host, headers) so tests can
assert what was sent and that nothing was sent at all.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line
    drip_s: float = 0.0  # between body chunks of 1 KiB
    gzip: bool = False


@dataclass
class Route:
    responses: list[Response]  # consumed in order; the last one repeats
    etag: str | None = None
    last_modified: str | None = None
    handler: Callable[[Request], Response] | None = None


@dataclass
class Request:
    path: str
    host: str
    headers: dict[str, str]
    at: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        srv = self.server
        req = Request(
            self.path,
            self.headers.get("Host", ""),
            {k.lower(): v for k, v in self.headers.items()},
            time.monotonic(),
        )
        with srv.lock:
            srv.log.append(req)
            srv.active += 1
            srv.max_active = max(srv.max_active, srv.active)
        try:
            self._respond(req)
        finally:
            with srv.lock:
                srv.active -= 1

    def _respond(self, req: Request) -> None:
        route = self.server.routes.get(req.path.split("#", 1)[0])
        if route is None:
            resp = Response(404, b"not found", {"Content-Type": "text/plain"})
        elif route.handler is not None:
            resp = route.handler(req)
        elif (route.etag and req.headers.get("if-none-match") == route.etag) or (
            route.last_modified and req.headers.get("if-modified-since") == route.last_modified
        ):
            resp = Response(304)
        else:
            with self.server.lock:
                resp = route.responses[0] if len(route.responses) == 1 else route.responses.pop(0)
        if resp.delay_s:
            time.sleep(resp.delay_s)
        body = gzip.compress(resp.body) if resp.gzip else resp.body
        self.send_response(resp.status)
        headers = dict(resp.headers)
        if route is not None and route.etag and resp.status in (200, 304):
            headers.setdefault("ETag", route.etag)
        if route is not None and route.last_modified and resp.status in (200, 304):
            headers.setdefault("Last-Modified", route.last_modified)
        if resp.gzip:
            headers["Content-Encoding"] = "gzip"
        for k, v in headers.items():
            self.send_header(k, v)
        if resp.status != 304 and "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if resp.status == 304:
            return
        try:
            if resp.drip_s:
                for i in range(0, len(body), 1024):
                    self.wfile.write(body[i : i + 1024])
                    self.wfile.flush()
                    time.sleep(resp.drip_s)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.connections = 0  # TCP connections accepted

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up early (timeouts, caps) are part of the tests


class FeedServer:
    def __init__(self) -> None:
        self._srv = _Server()
        self.port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def add(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        **kw: Any,
    ) -> str:
        hdrs = dict(headers or {})
        if content_type is not None:
            hdrs.setdefault("Content-Type", content_type)
        self._srv.routes[path] = Route([Response(status, body, hdrs, **kw)], etag, last_modified)
        return self.url(path)

    def sequence(self, path: str, responses: list[Response]) -> str:
        self._srv.routes[path] = Route(list(responses))
        return self.url(path)

    def handle(self, path: str, handler: Callable[[Request], Response]) -> str:
        self._srv.routes[path] = Route([], handler=handler)
        return self.url(path)

    def route(self, path: str) -> Route:
        return self._srv.routes[path]

    def requests(self, path: str | None = None) -> list[Request]:
        with self._srv.lock:
            return [r for r in self._srv.log if path is None or r.path == path]

    def hits(self, path: str) -> int:
        return len(self.requests(path))

    def clear_log(self) -> None:
        with self._srv.lock:
            self._srv.log.clear()
            self._srv.max_active = 0

    @property
    def max_active(self) -> int:
        return self._srv.max_active

    @property
    def connections(self) -> int:
        with self._srv.lock:
            return self._srv.connections
