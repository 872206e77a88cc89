"""Bounded decompression of response bodies: the size cap applies to the decoded bytes, so a
gzip bomb stops at the cap instead of filling memory."""

from __future__ import annotations

import zlib
from typing import Any


class FetchFailure(Exception):
    """Why a response is unusable (a body over the cap, a corrupt encoding, a timeout)."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class BoundedDecoder:
    """Undo ``Content-Encoding`` (gzip/deflate/identity) without producing more than ``cap``."""

    def __init__(self, content_encoding: str | None, cap: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            raise FetchFailure(f"unsupported Content-Encoding {content_encoding!r} (more than one coding)")
        self.coding = codings[0] if codings else None
        if self.coding not in (None, "gzip", "x-gzip", "deflate"):
            raise FetchFailure(f"unsupported Content-Encoding {self.coding!r}")
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
            raise FetchFailure(f"{what} exceeds the cap of {self.cap} bytes")
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
                raise FetchFailure(f"corrupt {self.coding} body: {exc}") from exc
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
