"""The article's headline: which of the page's titles, without the site's suffix.

A page titles itself several times: the JSON-LD ``headline`` of the article, ``og:title``
and ``twitter:title`` (often a shorter social-media variant), the ``<h1>`` and the
``<title>`` (usually with the site's name appended). The headline the newsroom wrote is
the JSON-LD one; the others follow in that order. From each candidate, trailing segments
that name the site ("… | Börsen-Zeitung", "… - WELT", "… – DW – 28.04.2023") or a date
are removed, and so is a trailing segment that another candidate shows is not part of the
headline ("… | Sport" beside the same text without it).
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Sequence

from newsetl.pipeline.metadata.sites import SiteNames

_SEPARATORS = re.compile(r"\s+[|\-–—·•:/]{1,2}\s+|\s*[|·•]\s*|,\s+")
_DATE = re.compile(
    r"^(?:\d{1,2}[./]\s?\d{1,2}[./]\s?\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}\.?\s+[A-Za-zäöüÄÖÜéû]+\.?\s+\d{4}|"
    r"[A-Za-z]+\.?\s+\d{1,2},?\s+\d{4})$"
)
_ELLIPSIS = ("…", "...")
_GENERIC = {
    "home",
    "startseite",
    "news",
    "nachrichten",
    "index",
    "homepage",
    "untitled",
    "artikel",
    "article",
}


def _clean(text: str | None) -> str:
    if not text:
        return ""
    if "&" in text:
        text = htmllib.unescape(text)
    return " ".join(text.replace("\u00a0", " ").split())


def _last_segment(title: str) -> tuple[str, str] | None:
    """(head, tail) split at the last separator, or None."""
    matches = list(_SEPARATORS.finditer(title))
    if not matches:
        return None
    m = matches[-1]
    head, tail = title[: m.start()].rstrip(), title[m.end() :].strip()
    return (head, tail) if head and tail else None


def strip_site(title: str, site: SiteNames) -> str:
    """``title`` without trailing segments naming the site or a date (repeatedly)."""
    title = _clean(title)
    while (split := _last_segment(title)) is not None:
        head, tail = split
        if len(head.split()) < 2 and not head.endswith(("?", "!")):
            break
        if site.matches(tail) or _DATE.match(tail):
            title = head.rstrip(" |-–—·•:,")
            continue
        break
    # a site name in front: "BR24: …" / "tagesschau.de - …"
    first = re.match(r"^([^|:–—]{2,40}?)\s*(?:[|–—]|\s-\s|:)\s+(.{10,})$", title)
    if first and site.is_name(first[1]):
        title = first[2]
    return title


def _trim_by_others(title: str, others: Sequence[str]) -> str:
    """Drop a trailing segment when another candidate is this title without it."""
    folded = title.casefold()
    for other in others:
        o = other.casefold()
        if o and len(o) < len(folded) and folded.startswith(o):
            rest = title[len(other) :]
            if _SEPARATORS.match(rest) and len(rest.split()) <= 5 and len(other.split()) >= 3:
                return title[: len(other)]
    return title


def _at_boundary(text: str, at: int) -> bool:
    """Whether ``text`` has a word boundary at ``at`` (a cut there leaves whole words)."""
    return at >= len(text) or not (text[at - 1].isalnum() and text[at].isalnum())


def choose_title(
    candidates: Sequence[tuple[str, str | None]], site: SiteNames
) -> tuple[str | None, str | None]:
    """(title, source) from ``(source, text)`` candidates given best first."""
    cleaned = [(src, strip_site(text, site)) for src, text in candidates if text and _clean(text)]
    texts = [t for _, t in cleaned if t]
    for i, (src, text) in enumerate(cleaned):
        if not text or text.casefold() in _GENERIC or site.is_name(text):
            continue
        # a truncated headline ("…", or cut at ~110 characters): its longer form elsewhere wins
        ellipsis = text.endswith(_ELLIPSIS)
        stem = text.rstrip(".… ") if ellipsis else text
        longer = next(
            (
                t
                for t in texts
                if t != text
                and len(t) > len(stem) + 1
                and t.casefold().startswith(stem.casefold())
                and not _SEPARATORS.match(t[len(stem) :])
            ),
            None,
        )
        if longer and (ellipsis or len(stem) >= 100 or not _at_boundary(longer, len(stem))):
            return longer, src
        return _trim_by_others(text, texts[:i] + texts[i + 1 :]), src
    return None, None
