"""What a parsed feed is to newsetl: its entries, their identity and the repeats in a body."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

MAX_KEY_CHARS = 1000
PARSE = "parse"  # inputs.stage of a body that is not a readable feed


@dataclass(slots=True, frozen=True)
class FeedEntry:
    """One entry as newsetl needs it (picklable: it travels to extraction workers)."""

    key: str  # identity within its feed: guid, else normalised link, else a content hash
    guid: str | None
    link: str | None  # absolute, as the feed gives it
    link_norm: str | None  # normalised (http/https only)
    title: str | None
    published: datetime | None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    content_html: str | None = None  # content:encoded / Atom content
    summary_html: str | None = None
    language: str | None = None

    @property
    def source_ref(self) -> str:
        """What the ``inputs`` ledger calls this entry."""
        return self.link_norm or self.link or self.guid or self.key


@dataclass(slots=True)
class ParsedFeed:
    format: str | None  # feedparser's version ('rss20', 'atom10', 'rss10', ...) or 'json1'
    title: str | None
    site_url: str | None
    description: str | None
    language: str | None
    ttl_s: int | None  # the interval the feed asks for (RSS <ttl>)
    entries: list[FeedEntry]
    repeated: int = 0  # entries listed twice in the body (same identity), ingested once
    bozo: bool = False
    bozo_reason: str | None = None
    encoding: str | None = None
    raw: Any = field(default=None, repr=False)  # feedparser's result, for inspection


def entry_key(
    guid: str | None, link_norm: str | None, title: str | None, published: datetime | None, body: str | None
) -> str:
    if guid and len(guid) <= MAX_KEY_CHARS:
        return guid
    if link_norm and len(link_norm) <= MAX_KEY_CHARS:
        return link_norm
    basis = "\x1f".join(
        [
            guid or "",
            link_norm or "",
            title or "",
            published.isoformat() if published else "",
            (body or "")[:2000],
        ]
    )
    return "sha256:" + hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()


def unique_entries(entries: list[FeedEntry]) -> tuple[list[FeedEntry], int]:
    """Every distinct entry of a body once, and how many were exact repeats.

    An entry's identity is its guid (RSS and Atom say it identifies the item), else its
    normalised link. A guid the body gives to entries with *different* links cannot
    identify them: those entries are keyed by guid and link, so each is ingested (feeds
    that reuse one guid for every item exist). An entry repeating an earlier one's key —
    the same guid and link, or no guid and the same link — is the same item listed twice:
    counted, not ingested twice.
    """
    links_by_guid: dict[str, set[str | None]] = {}
    for e in entries:
        if e.guid is not None and e.key == e.guid:
            links_by_guid.setdefault(e.guid, set()).add(e.link_norm)
    out: list[FeedEntry] = []
    seen: set[str] = set()
    repeats = 0
    for entry in entries:
        e = entry
        if e.guid is not None and e.key == e.guid and len(links_by_guid.get(e.guid, ())) > 1:
            key = entry_key(None, f"{e.guid} {e.link_norm or e.link or ''}".strip(), e.title, e.published,
                            e.content_html or e.summary_html)  # fmt: skip
            e = replace(e, key=key)
        if e.key in seen:
            repeats += 1
            continue
        seen.add(e.key)
        out.append(e)
    return out, repeats
