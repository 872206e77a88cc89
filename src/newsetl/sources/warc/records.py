"""What one WARC record is to newsetl: a page to extract, a record to skip, or a rejection.

- ``response`` (or ``resource``) records whose payload is an HTML page are inputs: the
  article's url is ``WARC-Target-URI``, the HTTP ``Content-Type`` charset is honoured, the
  HTTP body (de-chunked and decoded in the worker, see :class:`HttpBody`) is what gets
  hashed, archived and extracted.
- Every other record is ``skipped`` with what it is: ``warcinfo``, ``request``,
  ``metadata``, ``revisit`` (no payload stored), ``conversion``; a response that is not a
  2xx, not HTTP (``dns:``), or not HTML (images, scripts, robots.txt).
- A broken record (bad gzip, truncated, headers that are not WARC or HTTP) is ``rejected``
  at stage ``parse`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from newsetl.errors import Rejection
from newsetl.models import DocKind, Processed, Stage
from newsetl.pipeline.outcomes import skipped
from newsetl.pipeline.process import Doc, Known
from newsetl.sources.warc.reader import RawRecord
from newsetl.web.decoders import BoundedDecoder, FetchFailure
from newsetl.web.headers import content_type_charset, media_type
from newsetl.web.pages import page_kind

KIND = "warc"  # inputs.source_kind
PARSE = "parse"  # inputs.stage of broken records
SKIP = "warc"  # inputs.stage of records that are not pages
_PAGE_TYPES = ("response", "resource")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True, slots=True)
class HttpBody:
    """A response record's HTTP body, read by the worker: de-chunked and decoded there."""

    block: bytes
    start: int  # where the body starts in the block
    chunked: bool = False
    coding: str | None = None  # HTTP Content-Encoding

    def read(self, max_bytes: int) -> tuple[bytes, int | None]:
        body = self.block[self.start :]
        if self.chunked:
            body = dechunk(body, max_bytes)
        if self.coding:
            try:
                dec = BoundedDecoder(self.coding, max_bytes)
                body = dec.feed(body) + dec.flush()
            except FetchFailure as exc:
                raise Rejection(Stage.READ, exc.reason) from exc
        if len(body) > max_bytes:
            raise Rejection(Stage.READ, f"body of {len(body)} bytes exceeds the cap of {max_bytes}")
        return body, None


def dechunk(data: bytes, max_bytes: int) -> bytes:
    """An HTTP/1.1 chunked body; a truncated one keeps what arrived, as browsers do."""
    out = bytearray()
    i = 0
    while i < len(data):
        end = data.find(b"\r\n", i)
        if end < 0:
            break
        size_field = data[i:end].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise Rejection(Stage.READ, f"bad chunked encoding (chunk size {size_field[:20]!r})") from None
        if size == 0:
            break
        out += data[end + 2 : end + 2 + size]
        if len(out) > max_bytes:
            raise Rejection(Stage.READ, f"body exceeds the cap of {max_bytes} bytes")
        i = end + 2 + size + 2
    return bytes(out)


@dataclass(frozen=True, slots=True)
class RecordInfo:
    """A record's identity and headers, for its ``warc_records`` row."""

    archive: str
    ref: str  # inputs.source_ref
    offset: int
    length: int | None
    record_type: str | None
    record_id: str | None
    target_uri: str | None
    warc_date: datetime | None
    http_status: int | None = None
    content_type: str | None = None


def _is_html(content_type: str | None, head: bytes) -> bool:
    """An HTML page: text/html or XHTML, or no type and markup that says so. Stricter than
    for a fetched page: a crawl is full of feeds and sitemaps served as XML."""
    mt = media_type(content_type)
    if mt is None:
        return page_kind(None, head) is DocKind.HTML and b"<html" in head[:1024].lower()
    return mt in _HTML_TYPES


def parse_warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _uri(value: str | None) -> str | None:
    if not value:
        return None
    return value.strip().strip("<>").strip() or None  # WARC/1.0 writers may bracket it


def _http(block: bytes) -> tuple[int, dict[str, str], int] | str:
    """(status, headers lower-cased, body start) of an HTTP response, or why not."""
    end, sep = block.find(b"\r\n\r\n", 0, 65536), 4
    if end < 0:
        end, sep = block.find(b"\n\n", 0, 65536), 2
    if end < 0:
        return "bad HTTP headers in the response record (no end of the header block)"
    lines = block[:end].decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return f"bad HTTP status line in the response record: {lines[0][:60]!r}"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return int(parts[1]), headers, end + sep


def interpret(rec: RawRecord, archive: str, known: Known | None = None) -> tuple[RecordInfo, Doc | Processed]:
    """The record's row and what it is for the run: a :class:`Doc`, or a settled input."""
    h = rec.headers
    ref = f"{archive}#{rec.ref}"
    rtype = (h.get("warc-type") or "").lower() or None
    info = RecordInfo(
        archive, ref, rec.offset, rec.length, rtype, h.get("warc-record-id"),
        _uri(h.get("warc-target-uri")), parse_warc_date(h.get("warc-date")),
    )  # fmt: skip
    size = rec.block_length or None
    if rec.problem is not None or rec.block is None:
        reason = rec.problem or "record has no block"
        return info, Processed(KIND, ref, parent_ref=archive, stage=PARSE, reason=reason, size_bytes=size)
    if rtype not in _PAGE_TYPES:
        why = f"WARC {rtype} record" if rtype else "WARC record without a WARC-Type"
        if rtype == "revisit":
            why += " (the payload is not stored again)"
        return info, skipped(KIND, ref, SKIP, why, parent_ref=archive, size_bytes=size)
    block_type = media_type(h.get("content-type"))
    if rtype == "resource" or not rec.block.startswith(b"HTTP/"):
        if rtype == "response" and block_type != "text/html":
            what = block_type or "no Content-Type"
            return info, skipped(KIND, ref, SKIP, f"response record without an HTTP response ({what})",
                                 parent_ref=archive, size_bytes=size)  # fmt: skip
        if not _is_html(h.get("content-type"), rec.block[:1024]):
            why = f"not an HTML {rtype} (Content-Type {block_type})"
            return info, skipped(KIND, ref, SKIP, why, parent_ref=archive, size_bytes=size)
        charset = content_type_charset(h.get("content-type"))
        doc = Doc(KIND, ref, archive, HttpBody(rec.block, 0), DocKind.HTML, info.target_uri, charset, known)
        return info, doc
    parsed = _http(rec.block)
    if isinstance(parsed, str):
        return info, Processed(KIND, ref, parent_ref=archive, stage=PARSE, reason=parsed, size_bytes=size)
    status, headers, start = parsed
    ctype = headers.get("content-type")
    info = replace(info, http_status=status, content_type=ctype)
    if not 200 <= status < 300:
        why = f"HTTP {status} response (not a page)"
        return info, skipped(KIND, ref, SKIP, why, parent_ref=archive, size_bytes=size)
    if not _is_html(ctype, rec.block[start : start + 1024]):
        why = f"not an HTML response (Content-Type {media_type(ctype) or 'text/plain'})"
        return info, skipped(KIND, ref, SKIP, why, parent_ref=archive, size_bytes=size)
    body = HttpBody(
        rec.block,
        start,
        chunked="chunked" in headers.get("transfer-encoding", "").lower(),
        coding=headers.get("content-encoding") or None,
    )
    doc = Doc(
        KIND, ref, archive, body, DocKind.HTML, info.target_uri, content_type_charset(ctype), known,
        http_status=status,
    )  # fmt: skip
    return info, doc
