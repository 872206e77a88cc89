"""A cheap test for extraction output that looks like a listing rather than an article.

newsetl runs trafilatura with ``fast=True``: it skips the comparison with its fallback
extractors (readability, justext), which costs about as much again as the extraction, and
is almost always the same answer. It is not when trafilatura took the wrong container:
the site's navigation, or the page's other stories. Such output has a shape: most of it is
short lines without sentence punctuation (menu items, teaser headlines), or much of it is
the text of links to other pages (teasers). Only then is the comparison worth its cost.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

# Output where at least this share of the characters is in short unpunctuated lines.
SHORT_LINE_SHARE = 0.5
# ... or where at least this share is the text of headline-like links (≥ 5 words).
LINK_TEXT_SHARE = 0.25
# ... or longer than this (characters): rare for an article, common for a page of stories.
LONG_OUTPUT = 15_000

_SENTENCE_END = re.compile(r"""[.!?:;…"“”»«)'’]\s*$""")


def short_line_share(text: str) -> float:
    """Share of the characters of ``text`` in lines of at most five words that end without
    sentence punctuation (menu entries, teaser headlines, tag lists)."""
    if not text:
        return 0.0
    short = sum(
        len(line)
        for line in text.split("\n")
        if line.strip() and len(line.split()) <= 5 and not _SENTENCE_END.search(line)
    )
    return short / len(text)


def link_text_share(text: str, tree: HtmlElement) -> float:
    """Share of the characters of ``text`` that are the text of a headline-like link of the
    page (five words or more, as teasers of other stories are)."""
    if not text:
        return 0.0
    seen: set[str] = set()
    covered = 0
    for a in tree.iterfind(".//a[@href]"):
        label = " ".join(a.text_content().split())
        if len(label) < 30 or label in seen or len(label.split()) < 5:
            continue
        seen.add(label)
        if label in text:
            covered += len(label)
    return covered / len(text)


def listing_like(text: str, tree: HtmlElement) -> str | None:
    """Why ``text`` (extracted from ``tree``) looks like a listing, or None if it does not."""
    if len(text) >= LONG_OUTPUT:
        return "long"
    if short_line_share(text) >= SHORT_LINE_SHARE:
        return "short lines"
    if link_text_share(text, tree) >= LINK_TEXT_SHARE:
        return "link text"
    return None
