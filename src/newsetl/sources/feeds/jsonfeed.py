"""JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1): newsetl's own reader (feedparser
6 has none)."""

from __future__ import annotations

import json
import re

from newsetl.errors import Rejection
from newsetl.pipeline.enrich import parse_datetime
from newsetl.pipeline.textclean import normalize_line
from newsetl.sources.feeds.model import PARSE, FeedEntry, ParsedFeed, entry_key, unique_entries
from newsetl.web.urls import normalize_url

_JSONFEED = re.compile(r"^https?://jsonfeed\.org/version/", re.IGNORECASE)


def is_json_feed_version(version: object) -> bool:
    return bool(_JSONFEED.match(str(version or "")))


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    import httpx

    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Rejection(PARSE, f"not a feed: invalid JSON ({type(exc).__name__})") from exc
    if not isinstance(doc, dict) or not _JSONFEED.match(str(doc.get("version", ""))):
        raise Rejection(PARSE, "not a feed: a JSON document that is not a JSON Feed")
    items = doc.get("items")
    if not isinstance(items, list):
        raise Rejection(PARSE, "not a feed: JSON Feed without an 'items' list")
    base = str(doc.get("feed_url") or url)
    entries: list[FeedEntry] = []
    for it in items:
        if not isinstance(it, dict):
            continue
        guid = str(it["id"]).strip() if it.get("id") is not None else None
        link = it.get("url") or it.get("external_url")
        if isinstance(link, str) and link.strip():
            try:
                link = str(httpx.URL(base).join(link.strip()))
            except (httpx.InvalidURL, ValueError):
                link = link.strip()
        else:
            link = None
        link_norm = normalize_url(link)
        content = it.get("content_html") if isinstance(it.get("content_html"), str) else None
        text = it.get("content_text") if isinstance(it.get("content_text"), str) else None
        if content is None and text:
            content = "".join(f"<p>{_escape(p)}</p>" for p in text.split("\n") if p.strip())
        summary = it.get("summary") if isinstance(it.get("summary"), str) else None
        title = normalize_line(str(it["title"])) if isinstance(it.get("title"), str) else None
        published = parse_datetime(str(it.get("date_published") or it.get("date_modified") or "")) or None
        authors_raw = it.get("authors") or ([it["author"]] if isinstance(it.get("author"), dict) else [])
        authors = tuple(
            normalize_line(str(a["name"])) for a in authors_raw if isinstance(a, dict) and a.get("name")
        )
        tags = tuple(normalize_line(str(t)) for t in it.get("tags") or [] if isinstance(t, str) and t.strip())
        if not (guid or link or title or content or summary):
            continue
        entries.append(
            FeedEntry(
                key=entry_key(guid or None, link_norm, title, published, content or summary),
                guid=guid or None,
                link=link,
                link_norm=link_norm,
                title=title or None,
                published=published,
                authors=authors,
                tags=tags,
                content_html=content,
                summary_html=summary,
                language=it.get("language") if isinstance(it.get("language"), str) else None,
            )
        )
    unique, repeats = unique_entries(entries)
    return ParsedFeed(
        format="json" + str(doc.get("version", "")).rstrip("/").rsplit("/", 1)[-1],
        title=normalize_line(str(doc["title"])) if isinstance(doc.get("title"), str) else None,
        site_url=normalize_url(doc.get("home_page_url"))
        if isinstance(doc.get("home_page_url"), str)
        else None,
        description=doc.get("description") if isinstance(doc.get("description"), str) else None,
        language=doc.get("language") if isinstance(doc.get("language"), str) else None,
        ttl_s=None,
        entries=unique,
        repeated=repeats,
        raw=doc,
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
