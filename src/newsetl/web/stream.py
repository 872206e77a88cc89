"""A large body (a WARC archive) read as it arrives, through the same guarded client.

:meth:`Fetcher.fetch` holds a whole body in memory within one deadline; an archive of
gigabytes needs the opposite: the body is handed to the reader chunk by chunk and never
kept. Everything else is the guarded fetch: every redirect hop is checked by the SSRF
guard (private addresses only on the host the user named) and connects only to the
addresses it approved, one per-host politeness slot is held while the body streams, the
fetcher's abort switch ends it at once, and the request is logged in ``fetches`` (kind
``warc``: status, bytes read, error) when the stream closes.

Time limits: the connection and the response headers get the usual total deadline; the
body gets an *idle* deadline instead (``read_timeout_s`` without a byte ends it), since
reading gigabytes takes as long as it takes. ``Range`` (resuming a read) and conditional
headers (``If-None-Match``/``If-Modified-Since``) are the caller's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from newsetl.web.client import Fetcher
from newsetl.web.decoders import BoundedDecoder, FetchFailure
from newsetl.web.headers import INTERRUPTED, REDIRECT_STATUSES
from newsetl.web.politeness import SlotCancelled
from newsetl.web.ssrf import PolicyRefusal, ResolveError
from newsetl.web.transport import _Call, _tls

_UNBOUNDED = 1 << 62


class StreamError(Exception):
    """Why the archive could not be (further) read; ``transient``: may pass by itself."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class BodyStream:
    """``open()``, then ``read(n)`` until it returns b"", then ``close()`` (or use ``with``)."""

    def __init__(
        self, fetcher: Fetcher, url: str, *, headers: Mapping[str, str] | None = None, kind: str = "warc"
    ) -> None:
        self.fetcher = fetcher
        self.url = url
        self.final_url = url
        self.kind = kind
        self._headers = {**dict(headers or {}), "Accept-Encoding": "identity"}
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.bytes_read = 0
        self._stack = contextlib.ExitStack()
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._buf = b""
        self._decoder: BoundedDecoder | None = None
        self._call: _Call | None = None
        self._error: str | None = None
        self._row: dict[str, Any] | None = None
        self._started = 0.0

    def __enter__(self) -> BodyStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening ----------------------------------------------------------------------

    def open(self) -> None:
        """Send the request (following redirects); raises :class:`StreamError`."""
        f = self.fetcher
        clock = f._clock
        self._started = clock()
        self._call = _Call(clock, self._started + f.settings.total_timeout_s, f._switch)
        current, seen = self.url, {self.url}
        for hop in range(f.settings.max_redirects + 1):
            self._request(current, hop)
            assert self._response is not None
            if self.status not in REDIRECT_STATUSES:
                return
            location = self.headers.get("location", "").strip()
            self._finish_row()
            self._release()
            try:
                target = str(httpx.URL(current).join(location)) if location else ""
            except (httpx.InvalidURL, ValueError):
                target = ""
            if not target or target in seen:
                self._fail(f"bad redirect from {current} to {location[:200]!r}")
            seen.add(target)
            current = self.final_url = target
        self._fail(f"too many redirects (more than {f.settings.max_redirects})")

    def _fail(self, reason: str, transient: bool = False) -> None:
        self._error = reason
        self.close()
        raise StreamError(reason, transient=transient)

    def _request(self, url: str, hop: int) -> None:
        f = self.fetcher
        call = self._call
        assert call is not None
        self._row = {
            "kind": self.kind, "feed": None, "url": url, "attempt": 1, "hop": hop, "status": None,
            "not_modified": False, "bytes": None, "duration_ms": None, "error": None, "location": None,
            "content_type": None, "peer_ip": None, "fetched_at": datetime.now(UTC),
        }  # fmt: skip
        try:
            host, port, ips = f.guard.check_url(url, self.url, timeout_s=call.remaining())
            self._stack.enter_context(f.politeness.slot(host, cancel=f._switch.event))
            request = f.client.build_request("GET", url, headers=self._headers)
            _tls.call, _tls.target = call, ((host, port), ips)
            try:
                response = f.client.send(request, stream=True, follow_redirects=False)
            finally:
                _tls.call = _tls.target = None
            self._stack.callback(response.close)
            self._response = response
            peer = response.extensions.get("network_stream")
            addr = peer.get_extra_info("server_addr") if peer is not None else None
            if isinstance(addr, tuple) and addr:
                self._row["peer_ip"] = str(addr[0])
                f.guard.check_peer(str(addr[0]), url, self.url)
        except PolicyRefusal as exc:
            self._fail(exc.reason)
        except ResolveError as exc:
            self._fail(str(exc), exc.transient)
        except SlotCancelled:
            self._fail(INTERRUPTED, True)
        except httpx.HTTPError as exc:
            reason = INTERRUPTED if f._switch.tripped else f"{type(exc).__name__}: {exc}"[:300]
            self._fail(reason, True)
        self.status = response.status_code
        self.headers = {k.lower(): v for k, v in response.headers.items()}
        self._row.update(status=self.status, content_type=self.headers.get("content-type"))
        if self.status in REDIRECT_STATUSES:
            self._row["location"] = self.headers.get("location")
        elif not (200 <= self.status < 300 or self.status == 304):
            self._fail(f"HTTP {self.status} {response.reason_phrase}".strip(), self.status >= 500)
        else:
            try:
                coding = self.headers.get("content-encoding")
                self._decoder = BoundedDecoder(coding, _UNBOUNDED) if coding else None
            except FetchFailure as exc:
                self._fail(exc.reason)
            self._chunks = response.iter_raw()

    # -- reading ----------------------------------------------------------------------

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of the body (b"" at its end); raises :class:`StreamError`."""
        while not self._buf:
            if self._chunks is None:
                return b""
            call = self._call
            assert call is not None
            call.deadline = self.fetcher._clock() + self.fetcher.settings.read_timeout_s  # idle limit
            _tls.call = call
            try:
                raw = next(self._chunks, None)
            except httpx.HTTPError as exc:
                what = INTERRUPTED if self.fetcher._switch.tripped else f"{type(exc).__name__}: {exc}"
                self._fail(f"archive download broken after {self.bytes_read} bytes: {what}"[:300], True)
                raise  # unreachable: _fail raised
            finally:
                _tls.call = None
            if raw is None:
                self._chunks = None
                if self._decoder is not None:
                    self._buf = self._decoder.flush()
                continue
            self.bytes_read += len(raw)
            try:
                self._buf = self._decoder.feed(raw) if self._decoder is not None else raw
            except FetchFailure as exc:
                self._fail(exc.reason)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def skip(self, n: int) -> int:
        """Read and drop ``n`` bytes (a server that ignored ``Range``); how many there were."""
        done = 0
        while done < n:
            chunk = self.read(min(n - done, 1 << 20))
            if not chunk:
                break
            done += len(chunk)
        return done

    # -- closing ----------------------------------------------------------------------

    def _finish_row(self) -> None:
        row, self._row = self._row, None
        if row is None:
            return
        row.update(
            bytes=self.bytes_read,
            error=self._error,
            duration_ms=round((self.fetcher._clock() - self._started) * 1000, 2),
        )
        self.fetcher._record(row)

    def _release(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._response, self._chunks = None, None

    def close(self) -> None:
        self._finish_row()
        self._release()
