"""Parsing one sitemap document: a ``<urlset>`` (Google News tags included), a
``<sitemapindex>``, or a plain-text list of URLs -- streaming, bounded and safe.

lxml's ``iterparse`` reads the bytes element by element and each ``<url>`` is dropped once
read, so a 50,000-URL sitemap costs its entries, not a tree. Safety: entities are never
expanded (``resolve_entities=False``; libxml2 also stops entity amplification), no DTD is
loaded and nothing is fetched (``no_network``), a document that declares a DTD is
refused (sitemaps have none), text nodes and depth are bounded (``huge_tree=False``), and
at most ``max_urls`` entries are read (the sitemaps.org limit is 50,000): the rest is
counted and reported, not parsed. Gzip (``.xml.gz``) is unpacked with a cap on the
decompressed size. Elements are matched by local name, so a wrong or missing namespace
(common) does not lose the entries.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree

from newsetl.errors import Rejection
from newsetl.pipeline.decode import maybe_decompress
from newsetl.sources.urls.fetch import parse_when
from newsetl.web.urls import normalize_url

PARSE = "parse"
URLSET, INDEX, TEXT = "urlset", "index", "text"


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One ``<url>`` (or one line of a text sitemap)."""

    url: str  # normalised
    lastmod: datetime | None = None
    news_title: str | None = None
    news_publication: str | None = None
    news_language: str | None = None
    news_published: datetime | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChildSitemap:
    """One ``<sitemap>`` of an index."""

    url: str
    lastmod: datetime | None = None


@dataclass(slots=True)
class ParsedSitemap:
    kind: str  # 'urlset', 'index' or 'text'
    entries: list[SitemapEntry] = field(default_factory=list)
    children: list[ChildSitemap] = field(default_factory=list)
    bad_locs: int = 0  # <loc> that is not an http(s) URL
    repeated: int = 0  # the same URL twice in this document: kept once
    over_limit: bool = False  # more than max_urls entries: the rest was not read

    @property
    def size(self) -> int:
        return len(self.entries) + len(self.children)


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""  # comments, processing instructions, entities
    return tag.rsplit("}", 1)[-1].lower()


def _text(el: Any) -> str | None:
    value = el.text if el is not None else None
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_sitemap(body: bytes, *, max_urls: int = 50_000, max_bytes: int = 50 * 1024 * 1024) -> ParsedSitemap:
    """Entries or child sitemaps of one document; :class:`Rejection` (stage 'parse' or 'read')
    when it is none of the sitemap formats, is not well-formed, or is too big."""
    data = maybe_decompress(body, max_bytes)  # .xml.gz: gzip by magic number, capped
    if len(data) > max_bytes:
        raise Rejection("read", f"sitemap of {len(data)} bytes exceeds the cap of {max_bytes} bytes")
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise Rejection(PARSE, "empty sitemap")
    if not head.startswith(b"<"):
        return _text_sitemap(data, max_urls)
    return _xml_sitemap(data, max_urls)


def _text_sitemap(data: bytes, max_urls: int) -> ParsedSitemap:
    out = ParsedSitemap(TEXT)
    seen: set[str] = set()
    for line in io.BytesIO(data):
        text = line.decode("utf-8", "replace").strip()
        if not text:
            continue
        url = normalize_url(text)
        if url is None:
            out.bad_locs += 1
            if out.bad_locs > 100 and not out.entries:
                raise Rejection(PARSE, "not a sitemap: neither XML nor a list of http(s) URLs")
            continue
        if url in seen:
            out.repeated += 1
            continue
        if len(out.entries) >= max_urls:
            out.over_limit = True
            break
        seen.add(url)
        out.entries.append(SitemapEntry(url))
    if not out.entries:
        raise Rejection(PARSE, "not a sitemap: neither XML nor a list of http(s) URLs")
    return out


def _xml_sitemap(data: bytes, max_urls: int) -> ParsedSitemap:
    # Only the elements that matter reach Python: the root, and each <url> / <sitemap>.
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        tag=("{*}urlset", "{*}sitemapindex", "{*}url", "{*}sitemap"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )
    out: ParsedSitemap | None = None
    seen: set[str] = set()
    try:
        for event, el in events:
            if out is None:
                if el.getparent() is not None:  # a <url> first: the root is something else
                    out = _root_kind(el.getroottree().getroot())
                out = out or _root_kind(el)
            if event != "end":
                continue
            name = _local(el.tag)
            if name == "url" and out.kind == URLSET:
                _add_entry(out, el, seen, max_urls)
                _drop(el)
            elif name == "sitemap" and out.kind == INDEX:
                _add_child(out, el, seen, max_urls)
                _drop(el)
            if out.over_limit:
                break
    except etree.XMLSyntaxError as exc:
        raise Rejection(PARSE, f"not well-formed XML: {' '.join(str(exc).split())[:300]}") from None
    if out is None:
        root = getattr(events, "root", None)
        if root is None:
            raise Rejection(PARSE, "not well-formed XML: no root element")
        out = _root_kind(root)
    return out


def _root_kind(el: Any) -> ParsedSitemap:
    if el.getroottree().docinfo.internalDTD is not None:
        raise Rejection(
            PARSE, "the document declares a DTD (entities are never expanded; sitemaps have none)"
        )
    name = _local(el.tag)
    if name == "urlset":
        return ParsedSitemap(URLSET)
    if name == "sitemapindex":
        return ParsedSitemap(INDEX)
    if name in ("rss", "feed", "rdf"):
        raise Rejection(PARSE, f"a feed (<{name}>), not a sitemap: add it with `newsetl feeds add`")
    if name == "html":
        raise Rejection(PARSE, "an HTML page, not a sitemap")
    raise Rejection(PARSE, f"not a sitemap (root element <{name[:50]}>)")


def _drop(el: Any) -> None:
    """Forget what was read: the element and the siblings before it."""
    el.clear()
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def _children(el: Any) -> dict[str, Any]:
    """Direct child elements by local name (the first of each)."""
    out: dict[str, Any] = {}
    for child in el:
        tag = child.tag
        if isinstance(tag, str):
            out.setdefault(tag.rsplit("}", 1)[-1].lower(), child)
    return out


def _text_of(found: dict[str, Any], name: str) -> str | None:
    value = _text(found.get(name))
    return value[:1000] if value else None


def _add_entry(out: ParsedSitemap, el: Any, seen: set[str], max_urls: int) -> None:
    parts = _children(el)
    url = normalize_url(_text_of(parts, "loc"))
    if url is None:
        out.bad_locs += 1
        return
    if url in seen:
        out.repeated += 1
        return
    if len(out.entries) >= max_urls:
        out.over_limit = True
        return
    seen.add(url)
    lastmod = parse_when(_text_of(parts, "lastmod"))
    news_el = parts.get("news")
    if news_el is None or "news" not in str(news_el.tag):
        out.entries.append(SitemapEntry(url, lastmod))
        return
    news = _children(news_el)
    publication = _children(news["publication"]) if "publication" in news else {}
    keywords = tuple(k.strip() for k in (_text_of(news, "keywords") or "").split(",") if k.strip())[:50]
    out.entries.append(
        SitemapEntry(
            url,
            lastmod,
            _text_of(news, "title"),
            _text_of(publication, "name"),
            (_text_of(publication, "language") or "").lower()[:20] or None,
            parse_when(_text_of(news, "publication_date")),
            keywords,
        )
    )


def _add_child(out: ParsedSitemap, el: Any, seen: set[str], max_urls: int) -> None:
    parts = _children(el)
    url = normalize_url(_text_of(parts, "loc"))
    if url is None:
        out.bad_locs += 1
        return
    if url in seen:
        out.repeated += 1
        return
    if len(out.children) >= max_urls:
        out.over_limit = True
        return
    seen.add(url)
    out.children.append(ChildSitemap(url, parse_when(_text_of(parts, "lastmod"))))
