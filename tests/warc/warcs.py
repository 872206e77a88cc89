"""WARC archives written by the tests from corpus pages (by hand: each record one gzip
member, as CC-NEWS ships them, with the broken bits placed exactly)."""

from __future__ import annotations

import gzip
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..conftest import corpus_path


def corpus_pages(n: int) -> list[bytes]:
    """``n`` real article pages (HTML bytes), cycling through the benchmark pages."""
    files = sorted(corpus_path("article-extraction-benchmark", "html").glob("*.html.gz"))
    return [gzip.decompress(files[i % len(files)].read_bytes()) for i in range(n)]


def record(rtype: str, block: bytes, uri: str | None = None, date: str = "2024-05-01T10:00:00Z",
           content_type: str | None = None, extra: dict[str, str] | None = None) -> bytes:  # fmt: skip
    headers = {
        "WARC-Type": rtype,
        # Deterministic: the same record written twice has the same bytes (and offset).
        "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{rtype} {uri} {len(block)}')}>",
        "WARC-Date": date,
    }
    if uri:
        headers["WARC-Target-URI"] = uri
    if content_type:
        headers["Content-Type"] = content_type
    headers.update(extra or {})
    headers["Content-Length"] = str(len(block))
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str = "text/html; charset=utf-8", status: str = "200 OK",
                  extra: str = "") -> bytes:  # fmt: skip
    return f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}\r\n".encode() + body


def response(uri: str, body: bytes, **kw: str) -> bytes:
    return record(
        "response", http_response(body, **kw), uri, content_type="application/http; msgtype=response"
    )


def request(uri: str) -> bytes:
    return record("request", b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", uri,
                  content_type="application/http; msgtype=request")  # fmt: skip


@dataclass
class Archive:
    """Records as gzip members; ``expect`` maps each member's offset to what it should be."""

    members: list[bytes] = field(default_factory=list)
    expect: list[tuple[str, str]] = field(default_factory=list)  # (outcome-ish, what)

    def add(self, rec: bytes, expect: tuple[str, str], *, raw: bool = False) -> None:
        self.members.append(rec if raw else gzip.compress(rec, mtime=0))
        self.expect.append(expect)

    def offsets(self) -> list[int]:
        out, at = [], 0
        for m in self.members:
            out.append(at)
            at += len(m)
        return out

    def write(self, path: Path) -> Path:
        path.write_bytes(b"".join(self.members))
        return path


def pages_archive(n: int, *, start: int = 0) -> Archive:
    """warcinfo, then request + response per page (distinct URLs), CC-NEWS-like."""
    a = Archive()
    a.add(record("warcinfo", b"software: newsetl-tests\r\n", content_type="application/warc-fields"),
          ("skipped", "warcinfo"))  # fmt: skip
    for i, page in enumerate(corpus_pages(n)):
        uri = f"https://news.example/{start + i}/story.html"
        a.add(request(uri), ("skipped", "request"))
        a.add(response(uri, page), ("page", uri))
    return a


def mixed_archive() -> Archive:
    """Every kind of record, and the broken ones, in one archive."""
    pages = corpus_pages(4)
    a = Archive()
    a.add(record("warcinfo", b"software: newsetl-tests\r\n", content_type="application/warc-fields"),
          ("skipped", "warcinfo"))  # fmt: skip
    a.add(request("https://news.example/a.html"), ("skipped", "request"))
    a.add(response("https://news.example/a.html", pages[0]), ("page", "https://news.example/a.html"))
    meta = record(
        "metadata", b"via: x\r\n", "https://news.example/a.html", content_type="application/warc-fields"
    )
    a.add(meta, ("skipped", "metadata"))
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    a.add(
        response("https://news.example/logo.png", png, content_type="image/png"), ("skipped", "not an HTML")
    )
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'
    a.add(response("https://news.example/feed.xml", rss, content_type="application/rss+xml"),
          ("skipped", "not an HTML"))  # fmt: skip
    a.add(response("https://news.example/gone.html", b"<html>gone</html>", status="404 Not Found"),
          ("skipped", "HTTP 404"))  # fmt: skip
    digest = "sha1:" + hashlib.sha1(pages[0]).hexdigest()
    a.add(record("revisit", b"HTTP/1.1 200 OK\r\n\r\n", "https://news.example/a-again.html",
                 extra={"WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
                        "WARC-Payload-Digest": digest}),
          ("skipped", "revisit"))  # fmt: skip
    # A page served gzipped and chunked, as some crawlers store it.
    gz = gzip.compress(pages[1], mtime=0)
    chunked = b"".join(f"{len(gz[i:i+4000]):x}\r\n".encode() + gz[i:i + 4000] + b"\r\n"
                       for i in range(0, len(gz), 4000)) + b"0\r\n\r\n"  # fmt: skip
    a.add(response("https://news.example/b.html", chunked,
                   extra="Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
          ("page", "https://news.example/b.html"))  # fmt: skip
    # Latin-1 bytes, the charset only in the HTTP header.
    words = " ".join(["Die Bürgerinnen und Bürger der Gemeinde stimmten über die neue Brücke ab."] * 12)
    latin = f"<html><head><title>Brücke</title></head><body><article><h1>Brücke</h1><p>{words}</p>" \
            f"<p>{words}</p></article></body></html>".encode("latin-1")  # fmt: skip
    a.add(response("https://news.example/latin.html", latin, content_type="text/html; charset=iso-8859-1"),
          ("page", "https://news.example/latin.html"))  # fmt: skip
    corrupt = bytearray(gzip.compress(response("https://news.example/c.html", pages[2]), mtime=0))
    corrupt[40:90] = b"\x00" * 50
    a.add(bytes(corrupt), ("rejected", "bad gzip"), raw=True)
    bad_headers = b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: many\r\n\r\nxx\r\n\r\n"
    a.add(gzip.compress(bad_headers, mtime=0), ("rejected", "bad WARC headers"), raw=True)
    a.add(response("https://news.example/d.html", pages[3]), ("page", "https://news.example/d.html"))
    last = gzip.compress(response("https://news.example/e.html", pages[0] + b"<!-- e -->"), mtime=0)
    a.add(last[: len(last) - 300], ("rejected", "truncated"), raw=True)
    return a
