"""The article's own schema.org record from a page's JSON-LD blocks.

Pages often carry several JSON-LD objects (the article, the web page, its images and videos,
related stories); only the article object states the headline, the publication time and
the byline of *this* story, so that one is picked by its ``@type`` rather than the first
``"datePublished"`` in the page.
"""

from __future__ import annotations

import contextlib
import html as htmllib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

_TAGS = re.compile(r"<[^>]+>")
_MEDIA_TYPES = {"ImageObject", "VideoObject", "AudioObject", "MediaObject", "Clip"}
_ARTICLE_TYPES = {"BlogPosting", "LiveBlogPosting", "Report", "SocialMediaPosting", "DiscussionForumPosting"}


@dataclass(frozen=True, slots=True)
class Credit:
    """One ``author`` entry: its text and whether schema.org typed it as an organisation."""

    name: str
    organization: bool = False


@dataclass(slots=True)
class ArticleRecord:
    """What the article object states (None/empty where it is silent)."""

    type: str = ""
    headline: str | None = None
    date_published: str | None = None
    date_modified: str | None = None
    date_created: str | None = None
    authors: list[Credit] = field(default_factory=list)
    publisher: str | None = None
    keywords: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LinkedData:
    article: ArticleRecord | None = None
    # Every timestamp of every object (the article's included), as zone evidence.
    stamps: list[tuple[str, str]] = field(default_factory=list)  # (key, value)


def _types(obj: dict[str, Any]) -> list[str]:
    t = obj.get("@type")
    if isinstance(t, str):
        return [t.rsplit("/", 1)[-1]]
    if isinstance(t, list):
        return [x.rsplit("/", 1)[-1] for x in t if isinstance(x, str)]
    return []


def _is_article(obj: dict[str, Any]) -> bool:
    return any(t.endswith("Article") or t in _ARTICLE_TYPES for t in _types(obj))


_MAIN_KEYS = {"@graph", "mainEntity", "mainEntityOfPage"}


def _walk(value: Any, depth: int = 0, main: bool = True) -> Iterator[tuple[int, bool, dict[str, Any]]]:
    """Every object with its depth, and whether it is the page's own (top level, ``@graph``,
    or a ``mainEntity``): articles inside lists, ``hasPart`` or ``mentions`` are other stories."""
    if depth > 6:
        return
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, depth, main)
    elif isinstance(value, dict):
        yield depth, main, value
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                yield from _walk(item, depth if key == "@graph" else depth + 1, main and key in _MAIN_KEYS)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, str):
        return None
    text = htmllib.unescape(_TAGS.sub(" ", value)) if ("<" in value or "&" in value) else value
    text = " ".join(text.split())
    return text or None


def _credits(value: Any, index: dict[str, dict[str, Any]], depth: int = 0) -> list[Credit]:
    if depth > 3 or value is None:
        return []
    if isinstance(value, list):
        return [c for item in value for c in _credits(item, index, depth + 1)]
    if isinstance(value, str):
        name = _text(value)
        return [Credit(name)] if name else []
    if not isinstance(value, dict):
        return []
    if "name" not in value and isinstance(value.get("@id"), str) and value["@id"] in index:
        value = index[value["@id"]]
    name = _text(value.get("name")) or _text(value.get("byline"))
    if not name:
        given, family = _text(value.get("givenName")), _text(value.get("familyName"))
        name = " ".join(x for x in (given, family) if x) or None
    if not name:
        return []
    organization = any(t.endswith("Organization") or t in {"Corporation", "NGO"} for t in _types(value))
    return [Credit(name, organization)]


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    if isinstance(value, list):
        return [k.strip() for k in value if isinstance(k, str) and k.strip()]
    return []


def _loads(text: str) -> Any:
    body = text.strip()
    if body.startswith("<!--"):
        body = body[4:].rsplit("-->", 1)[0]
    body = body.strip().removeprefix("//<![CDATA[").removesuffix("//]]>").strip()
    return json.loads(body, strict=False)


def _same_page(obj: dict[str, Any], url: str | None) -> bool | None:
    """Whether the object says it is the page at ``url`` (None: it does not say)."""
    if not url:
        return None
    ref = obj.get("url") or obj.get("mainEntityOfPage") or obj.get("@id")
    if isinstance(ref, dict):
        ref = ref.get("@id") or ref.get("url")
    if not isinstance(ref, str) or not ref.startswith(("http", "/")):
        return None

    def path(u: str) -> str:
        return re.sub(r"^(?:https?:)?//[^/]+", "", u).split("#")[0].split("?")[0].rstrip("/")

    return path(ref) == path(url)


def linked_data(tree: HtmlElement, url: str | None = None) -> LinkedData:
    """The article record of the page's JSON-LD: the page's own shallowest article-typed
    object, preferring one whose URL is ``url`` when several are."""
    out = LinkedData()
    objects: list[tuple[int, bool, int, dict[str, Any]]] = []
    for script in tree.iterfind(".//script[@type]"):
        if "ld+json" not in (script.get("type") or "").lower() or not script.text:
            continue
        with contextlib.suppress(ValueError, RecursionError):
            for depth, main, obj in _walk(_loads(script.text)):
                objects.append((depth, main, len(objects), obj))
    if not objects:
        return out
    index = {o["@id"]: o for *_, o in objects if isinstance(o.get("@id"), str) and len(o) > 1}
    for *_, obj in objects:
        for key in ("datePublished", "dateModified", "dateCreated", "uploadDate"):
            value = obj.get(key)
            if isinstance(value, str) and value.strip():
                out.stamps.append((key, value.strip()))
    articles = [
        (d, i, o)
        for d, main, i, o in objects
        if main and _is_article(o) and not set(_types(o)) & _MEDIA_TYPES
    ]
    if not articles:
        return out
    articles.sort(key=lambda a: (_same_page(a[2], url) is False, a[0], a[1]))
    obj = articles[0][2]
    publisher = obj.get("publisher")
    rec = ArticleRecord(
        type=(_types(obj) or [""])[0],
        headline=_text(obj.get("headline")) or _text(obj.get("name")),
        date_published=_text(obj.get("datePublished")),
        date_modified=_text(obj.get("dateModified")),
        date_created=_text(obj.get("dateCreated")),
        authors=_credits(obj.get("author"), index) or _credits(obj.get("creator"), index),
        publisher=_text(publisher.get("name")) if isinstance(publisher, dict) else _text(publisher),
        keywords=_keywords(obj.get("keywords")),
        sections=_keywords(obj.get("articleSection")),
    )
    out.article = rec
    return out
