"""WARC records from a byte stream, one at a time, in bounded memory, broken ones included.

The archive is read forward only (a file, or an HTTP body as it arrives), so a 5 GB
archive is never held whole: at most one record block (capped) and a read buffer are in
memory. Compression is told by the first bytes: gzip (one member per record, as CC-NEWS
and every crawler write them; a whole-file gzip works too) or plain WARC.

Every record carries where it starts in the archive *as stored* (a gzip member's first
byte; the record's first byte in a plain WARC), so ``archive#offset`` names it and a read
can start there again (``start``). Records after the first in one gzip member also carry
their position inside the decompressed member.

A broken record never ends the read: a corrupt gzip member, a truncated record, headers
that are not WARC headers, a block over the cap. It is yielded with ``problem`` set, and
reading goes on at the next gzip member whose data starts with ``WARC/`` (or the next
``WARC/1.`` line of a plain WARC).

Why not warcio or fastwarc (both measured, see README): both stop at the first corrupt
gzip member (the rest of the archive is lost), both return a truncated last record as if
it were whole, and neither says how many stored bytes a record took; resuming at a
record and resynchronising need exactly that, and the framing is small with zlib.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

GZIP_MAGIC = b"\x1f\x8b"
_MEMBER_START = b"\x1f\x8b\x08"
_CRLF = (13, 10)
_CHUNK = 1 << 16
_MAX_HEADER = 64 * 1024  # a WARC header block longer than this is not one
_HISTORY = 8 << 20  # stored bytes of a member kept for resynchronising after corruption


class _Corrupt(Exception):
    """The stored bytes cannot be read as a record (bad gzip, truncated member)."""


@dataclass(slots=True)
class RawRecord:
    """One record (or what could be read of a broken one)."""

    offset: int  # first byte in the archive as stored
    pos: int = 0  # first byte inside its gzip member, decompressed (0 for a plain WARC)
    length: int | None = None  # stored bytes it took, when known
    headers: dict[str, str] = field(default_factory=dict)  # WARC headers, names lower-cased
    block: bytes | None = None  # the record block; None when broken or over the cap
    block_length: int = 0  # Content-Length
    problem: str | None = None  # why it is broken
    next_offset: int = 0  # where a read resumes after this record ...
    next_pos: int = 0  # ... and how far into that gzip member

    @property
    def ref(self) -> str:
        return f"{self.offset}" if self.pos == 0 else f"{self.offset}+{self.pos}"


class _Buffered:
    """``read(n)`` made peekable; ``pos`` counts the bytes consumed since the start."""

    def __init__(self, read: Callable[[int], bytes], pos: int = 0) -> None:
        self._read = read
        self.buf = bytearray()
        self.pos = pos
        self.eof = False

    def fill(self, n: int) -> bool:
        """At least ``n`` bytes buffered, unless the stream ends first."""
        while len(self.buf) < n and not self.eof:
            chunk = self._read(max(_CHUNK, n - len(self.buf)))
            if not chunk:
                self.eof = True
            else:
                self.buf += chunk
        return len(self.buf) >= n

    def take(self, n: int) -> bytes:
        self.fill(n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.pos += len(out)
        return out

    def skip(self, n: int) -> int:
        """Drop up to ``n`` bytes without keeping them; how many were dropped."""
        done = 0
        while done < n:
            if not self.buf and not self.fill(1):
                break
            k = min(n - done, len(self.buf))
            del self.buf[:k]
            self.pos += k
            done += k
        return done

    def at_end(self) -> bool:
        return not self.fill(1)


class _Member:
    """One gzip member of ``raw``, decompressed on demand (``read``).

    The member's stored bytes are kept (up to ``_HISTORY``) so that, when it turns out to
    be corrupt, the search for the next good member starts right after its first byte.
    """

    def __init__(self, raw: _Buffered) -> None:
        self.raw = raw
        self.start = raw.pos
        self._d = zlib.decompressobj(wbits=31)
        self.history: bytearray | None = bytearray()
        self.done = False

    def read(self, n: int) -> bytes:
        raw = self.raw
        while not self.done:
            if not raw.buf and not raw.fill(1):
                raise _Corrupt("truncated gzip member (the archive ends inside it)")
            data = bytes(raw.buf[:_CHUNK])
            try:
                out = self._d.decompress(data, max(n, 1))
            except zlib.error as exc:
                raise _Corrupt(f"bad gzip data: {exc}") from exc
            if self._d.eof:  # what follows the member is in unused_data (and maybe the tail too)
                used = len(data) - len(self._d.unused_data)
                self.done = True
            else:
                used = len(data) - len(self._d.unconsumed_tail)
            if self.history is not None:
                self.history += data[:used]
                if len(self.history) > _HISTORY:
                    self.history = None
            del raw.buf[:used]
            raw.pos += used
            if out:
                return out
        return b""

    def end(self) -> int:
        """Where the member ends in the archive (its rest decompressed and dropped)."""
        while not self.done:
            self.read(_CHUNK)
        return self.raw.pos

    def rewind(self) -> None:
        """Back to just after the member's first byte, when its bytes were kept."""
        if self.history is not None and len(self.history) > 1:
            self.raw.buf[:0] = self.history[1:]
            self.raw.pos = self.start + 1


def _headers(block: bytes) -> tuple[dict[str, str], str | None]:
    lines = (
        block.decode("utf-8", "replace").split("\r\n")
        if b"\r\n" in block
        else block.decode("utf-8", "replace").split("\n")
    )
    first = lines[0].strip()
    if not first.startswith("WARC/"):
        return {}, f"bad WARC headers: not a WARC record (first line {first[:60]!r})"
    out: dict[str, str] = {"warc-version": first[5:]}
    last: str | None = None
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and last is not None:  # a folded header line
            out[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            return out, f"bad WARC headers: malformed line {line[:60]!r}"
        last = name.strip().lower()
        out[last] = value.strip()
    length = out.get("content-length")
    if length is None:
        return out, "bad WARC headers: no Content-Length"
    if not length.isdigit():
        return out, f"bad WARC headers: Content-Length {length[:30]!r} is not a number"
    return out, None


def _one_record(src: _Buffered, rec: RawRecord, max_block: int) -> None:
    """Parse a record at ``src``'s position into ``rec``; sets ``problem`` when broken."""
    while src.fill(1) and src.buf[0] in _CRLF:
        src.take(1)  # blank lines between records
    src.fill(_MAX_HEADER)
    end = src.buf.find(b"\r\n\r\n", 0, _MAX_HEADER)
    sep = 4
    if end < 0:
        end, sep = src.buf.find(b"\n\n", 0, _MAX_HEADER), 2
    if end < 0:
        if src.eof:
            rec.problem = f"truncated record: the archive ends inside its headers ({len(src.buf)} bytes)"
        else:
            rec.problem = "bad WARC headers: no end of the header block within 64 KiB"
        return
    head = src.take(end + sep)
    rec.headers, rec.problem = _headers(head[:end])
    if rec.problem is not None:
        return
    n = int(rec.headers["content-length"])
    rec.block_length = n
    if n > max_block:
        got = src.skip(n)
        rec.problem = f"record block of {n} bytes exceeds the cap of {max_block} bytes"
        if got < n:
            rec.problem = f"truncated record: {got} of {n} bytes (and over the cap)"
        return
    block = src.take(n)
    if len(block) < n:
        rec.problem = f"truncated record: {len(block)} of {n} bytes"
        return
    rec.block = block
    while src.fill(1) and src.buf[0] in _CRLF:
        src.take(1)  # the record's CRLF CRLF trailer


def _looks_like_member(raw: _Buffered, at: int) -> bool:
    """Whether a gzip member starting ``at`` bytes into the buffer decompresses to ``WARC/``."""
    d = zlib.decompressobj(wbits=31)
    try:
        raw.fill(at + 4096)
        return d.decompress(bytes(raw.buf[at : at + 4096]), 16).startswith(b"WARC/")
    except zlib.error:
        return False


def _resync_gzip(raw: _Buffered, start: int) -> None:
    """Drop bytes up to the next member whose data starts with ``WARC/`` (past ``start``)."""
    if raw.pos <= start:
        raw.skip(start + 1 - raw.pos)
    while True:
        raw.fill(_CHUNK)
        i = raw.buf.find(_MEMBER_START)
        while i >= 0:
            if _looks_like_member(raw, i):
                raw.skip(i)
                return
            i = raw.buf.find(_MEMBER_START, i + 1)
        if raw.eof:
            raw.skip(len(raw.buf))
            return
        raw.skip(max(len(raw.buf) - 2, 0))  # keep a possible magic split across chunks


def _resync_plain(raw: _Buffered) -> None:
    while True:
        raw.fill(_CHUNK)
        i = raw.buf.find(b"WARC/1.", 1)
        if i >= 0:
            raw.skip(i)
            return
        if raw.eof:
            raw.skip(len(raw.buf))
            return
        raw.skip(max(len(raw.buf) - 8, 0))


def _gzip_records(raw: _Buffered, max_block: int, skip_pos: int) -> Iterator[RawRecord]:
    while not raw.at_end():
        start = raw.pos
        if raw.buf[:3] != _MEMBER_START:
            rec = RawRecord(start, problem="bad gzip data: not a gzip member (junk between records)")
            _resync_gzip(raw, start)
            rec.length, rec.next_offset = raw.pos - start, raw.pos
            yield rec
            continue
        member = _Member(raw)
        inner = _Buffered(member.read)
        pos = 0
        try:
            while not inner.at_end():
                pos = inner.pos
                rec = RawRecord(start, pos)
                _one_record(inner, rec, max_block)
                bad_headers = rec.problem is not None and rec.problem.startswith("bad WARC headers")
                if bad_headers or inner.at_end():  # the member ends here (CC-NEWS: always)
                    rec.length, rec.next_offset = member.end() - start, raw.pos
                else:
                    rec.next_offset, rec.next_pos = start, inner.pos
                if pos >= skip_pos:
                    yield rec
                if bad_headers:
                    break  # the rest of this member cannot be trusted
        except _Corrupt as exc:
            member.rewind()
            _resync_gzip(raw, start)
            yield RawRecord(start, pos, raw.pos - start, problem=str(exc), next_offset=raw.pos)
        skip_pos = 0


def _plain_records(raw: _Buffered, max_block: int) -> Iterator[RawRecord]:
    while True:
        while raw.fill(1) and raw.buf[0] in _CRLF:
            raw.take(1)
        if raw.at_end():
            return
        rec = RawRecord(raw.pos)
        _one_record(raw, rec, max_block)
        if rec.problem is not None and not rec.problem.startswith("truncated"):
            _resync_plain(raw)
        rec.length, rec.next_offset = raw.pos - rec.offset, raw.pos
        yield rec


def read_records(
    read: Callable[[int], bytes], *, start: int = 0, skip_pos: int = 0, max_block: int
) -> Iterator[RawRecord]:
    """Records from ``read`` (a stream positioned at ``start`` in the archive), in order.

    ``skip_pos``: resuming inside a gzip member, the records before that position in it
    are read and dropped. ``max_block``: a larger record block is skipped, not held.
    """
    raw = _Buffered(read, start)
    if raw.at_end():
        return
    if raw.buf[:2] == GZIP_MAGIC:
        yield from _gzip_records(raw, max_block, skip_pos)
    else:
        yield from _plain_records(raw, max_block)
