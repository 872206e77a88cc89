"""Feeds as a source: RSS/Atom/RDF (feedparser) and JSON Feed bytes -> feed metadata + entries.

Parsing never touches the network or the file system: feedparser gets a ``BytesIO`` (given
``str`` *or* ``bytes`` it would try them as a URL or a file path first) plus the HTTP
headers, so the charset from ``Content-Type`` decides the decoding as the RFCs say. DTD
entity declarations are dropped by feedparser except plain-text ones, external entities
are never loaded, and expat bounds entity expansion: billion-laughs and XXE payloads
parse into harmless text. Anything that is not a feed (an HTML page, JSON, an empty body)
is a :class:`Rejection` with a reason.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser
from charset_normalizer import from_bytes

from newsetl.errors import Rejection
from newsetl.pipeline.decode import declared_charset, normalize_charset, sniff_bom
from newsetl.pipeline.enrich import parse_datetime
from newsetl.pipeline.textclean import normalize_line
from newsetl.sources.feeds.content import entry_extracted, html_fragment_text
from newsetl.sources.feeds.jsonfeed import parse_json_feed
from newsetl.sources.feeds.model import PARSE, FeedEntry, ParsedFeed, entry_key, unique_entries
from newsetl.web.urls import normalize_url

__all__ = [
    "PARSE",
    "FeedEntry",
    "ParsedFeed",
    "discover_feed_links",
    "entry_extracted",
    "html_fragment_text",
    "parse_feed",
]

_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]{0,200}\?>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
    re.IGNORECASE | re.DOTALL,
)
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF|RDF|channel)\b")
_ALT_LINK = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_FEED_TYPES = (
    b"application/rss+xml",
    b"application/atom+xml",
    b"application/rdf+xml",
    b"application/feed+json",
)


# --- what is this body? -------------------------------------------------------------------


def _strip_bom(body: bytes) -> bytes:
    bom = sniff_bom(body)
    if bom is None:
        return body
    enc, n = bom
    if enc == "utf-8":
        return body[n:]
    return body  # UTF-16/32: leave it to feedparser, which handles the BOM


def discover_feed_links(html: bytes, base: str) -> list[str]:
    """Feeds an HTML page advertises (``<link rel="alternate" type="application/rss+xml">``)."""
    import httpx

    found: list[str] = []
    for tag in _ALT_LINK.findall(html[:300_000]):
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or b"" for m in _ATTR.finditer(tag)
        }
        if b"alternate" not in attrs.get(b"rel", b"").lower().split():
            continue
        if attrs.get(b"type", b"").strip().lower() not in _FEED_TYPES or not attrs.get(b"href"):
            continue
        try:
            url = str(httpx.URL(base).join(attrs[b"href"].decode("utf-8", "replace").strip()))
        except (httpx.InvalidURL, ValueError):
            continue
        if url not in found:
            found.append(url)
    return found


def _not_a_feed(body: bytes, url: str) -> Rejection | None:
    head = _strip_bom(body)[:4096]
    if not head.strip():
        return Rejection(PARSE, "not a feed: empty response body")
    if _HTML_START.match(head) and not _FEED_ROOT.search(head):
        links = discover_feed_links(body, url)
        hint = f" (it links to feeds: {', '.join(links[:3])})" if links else ""
        return Rejection(PARSE, f"not a feed: an HTML page{hint}")
    return None


# --- charsets ---------------------------------------------------------------------------------


def _with_detected_charset(body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """Name a charset for undeclared, non-UTF-8 feeds so they are not read as mojibake.

    Only when nothing declares one (no BOM, no HTTP charset, no XML ``encoding=``) and the
    bytes are not UTF-8: feedparser would then fall back to windows-1252 or ASCII.
    """
    from newsetl.web.headers import content_type_charset, media_type

    content_type = headers.get("content-type")
    if sniff_bom(body) or content_type_charset(content_type) or declared_charset(body[:1024]):
        return headers
    try:
        body.decode("utf-8")
        return headers
    except UnicodeDecodeError:
        pass
    best = from_bytes(body[:200_000]).best()
    detected = normalize_charset(best.encoding) if best is not None and best.encoding else None
    if not detected:
        return headers
    return {**headers, "content-type": f"{media_type(content_type) or 'application/xml'}; charset={detected}"}


# --- parsing ---------------------------------------------------------------------------------


def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed document; :class:`Rejection` (stage 'parse') if it is not one.

    ``headers`` are the HTTP response headers (any case); ``url`` the URL the body came from
    (base for relative links unless the server sent a ``Content-Location``).
    """
    import httpx

    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    rejection = _not_a_feed(body, url)
    if rejection is not None:
        raise rejection
    stripped = _strip_bom(body).lstrip()
    if stripped[:1] in (b"{", b"["):
        return parse_json_feed(stripped, url)
    location = hdrs.get("content-location")
    try:
        base = str(httpx.URL(url).join(location)) if location else url
    except (httpx.InvalidURL, ValueError):
        base = url
    hdrs["content-location"] = base
    # No Content-Type at all: read it as generic XML (RFC 7303: the XML declaration decides),
    # rather than having feedparser flag every such feed as ill-formed.
    hdrs.setdefault("content-type", "application/xml")
    hdrs = _with_detected_charset(body, hdrs)
    try:
        raw = feedparser.parse(io.BytesIO(body), response_headers=hdrs)
    except RecursionError as exc:
        raise Rejection(PARSE, "feed nested too deeply to parse") from exc
    except Exception as exc:  # feedparser should never raise; if it does, it is this document
        raise Rejection(PARSE, f"feed parser failed: {type(exc).__name__}: {exc}"[:500]) from exc
    bozo_reason = _bozo_reason(raw)
    version = raw.get("version") or None
    entries_raw = raw.get("entries") or []
    if not version and not entries_raw:
        why = f" ({bozo_reason})" if bozo_reason else ""
        raise Rejection(PARSE, f"not a feed: no RSS, Atom or RDF document found{why}"[:500])
    feed = raw.get("feed") or {}
    entries, repeats = unique_entries([e for e in (_entry(x, base) for x in entries_raw) if e is not None])
    return ParsedFeed(
        format=version,
        title=_text(feed.get("title"), feed.get("title_detail")),
        site_url=normalize_url(feed.get("link")) or feed.get("link"),
        description=_text(feed.get("subtitle"), feed.get("subtitle_detail")),
        language=(feed.get("language") or None),
        ttl_s=_ttl(feed.get("ttl")),
        entries=entries,
        repeated=repeats,
        bozo=bool(raw.get("bozo")),
        bozo_reason=bozo_reason,
        encoding=raw.get("encoding") or None,
        raw=raw,
    )


def _bozo_reason(raw: Any) -> str | None:
    if not raw.get("bozo"):
        return None
    exc = raw.get("bozo_exception")
    if exc is None:
        return "ill-formed feed"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]


def _ttl(value: Any) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _text(value: Any, detail: Any = None) -> str | None:
    """A plain-text title: markup removed when the feed says it is HTML."""
    if not value or not isinstance(value, str):
        return None
    if detail and "html" in str(detail.get("type", "")) and "<" in value:
        value = html_fragment_text(value).replace("\n", " ")
    return normalize_line(value) or None


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        t = entry.get(key)
        if t:
            try:
                dt = datetime(t[0], t[1], t[2], t[3], t[4], t[5], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
            return parse_datetime(dt.isoformat())  # same plausibility bounds as pages
    return None


def _people(entry: Any) -> tuple[str, ...]:
    names: list[str] = []
    for a in entry.get("authors") or []:
        name = normalize_line(str(a.get("name") or "")) if isinstance(a, Mapping) else ""
        if name and name not in names:
            names.append(name)
    if not names and isinstance(entry.get("author"), str):
        name = normalize_line(entry["author"])
        if name:
            names.append(name)
    return tuple(names)


def _tags(entry: Any) -> tuple[str, ...]:
    out: list[str] = []
    for t in entry.get("tags") or []:
        term = t.get("term") or t.get("label") if isinstance(t, Mapping) else None
        term = normalize_line(str(term)) if term else ""
        if term and term not in out:
            out.append(term)
    return tuple(out)


def _content(entry: Any) -> str | None:
    best: str | None = None
    for c in entry.get("content") or []:
        value = c.get("value") if isinstance(c, Mapping) else None
        if isinstance(value, str) and value.strip() and (best is None or len(value) > len(best)):
            best = value
    return best


def _entry(x: Any, base: str) -> FeedEntry | None:
    import httpx

    guid = x.get("id")
    guid = normalize_line(guid) if isinstance(guid, str) else None
    link = x.get("link")
    link = link.strip() if isinstance(link, str) and link.strip() else None
    if link is not None:
        with contextlib.suppress(httpx.InvalidURL, ValueError):
            link = str(httpx.URL(base).join(link))
    link_norm = normalize_url(link)
    title = _text(x.get("title"), x.get("title_detail"))
    published = _published(x)
    content = _content(x)
    summary = x.get("summary") if isinstance(x.get("summary"), str) else None
    if not (guid or link or title or content or summary):
        return None
    return FeedEntry(
        key=entry_key(guid or None, link_norm, title, published, content or summary),
        guid=guid or None,
        link=link,
        link_norm=link_norm,
        title=title,
        published=published,
        authors=_people(x),
        tags=_tags(x),
        content_html=content,
        summary_html=summary if summary and summary != content else None,
        language=(x.get("language") or None) if isinstance(x.get("language"), str) else None,
    )
