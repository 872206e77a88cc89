"""Extraction output that looks like a listing rather than an article: a cheap test for the
whole output, and the removal of link lines (teasers of other stories) from an article.

newsetl runs trafilatura with ``fast=True``: it skips the comparison with its fallback
extractors (readability, justext), which costs about as much again as the extraction, and
is almost always the same answer. It is not when trafilatura took the wrong container:
the site's navigation, or the page's other stories. Such output has a shape: most of it is
short lines without sentence punctuation (menu items, teaser headlines), or much of it is
the text of links to other pages (teasers). Only then is the comparison worth its cost.

Within an article, trafilatura keeps blocks of teasers ("More on this", related stories,
"Get the app" promos) when they sit in the article's container. Their lines are link texts:
:func:`drop_link_lines` removes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml.html import HtmlElement

from newsetl.pipeline.metadata.licenses import could_be_license

# Output where at least this share of the characters is in short unpunctuated lines.
SHORT_LINE_SHARE = 0.5
# ... or where at least this share is the text of headline-like links (≥ 5 words).
LINK_TEXT_SHARE = 0.25
# ... or longer than this (characters): rare for an article, common for a page of stories.
LONG_OUTPUT = 15_000

_SENTENCE_END = re.compile(r"""[.!?:;…"“”»«)'’]\s*$""")

# A line is a link line when a link to another page covers at least this share of it ...
LINK_LINE_COVER = 0.8
# ... and it has at least this many words (shorter lines are names, labels, products).
LINK_LINE_MIN_WORDS = 3
# A list item whose end is a link covering at least this share of it is a teaser too.
LIST_ITEM_LINK_COVER = 0.5
# Link lines are dropped in runs of two or more, or alone from this many words (a headline).
LONE_LINK_LINE_WORDS = 5
_LIST_MARK = "-•*· \t"
# A line of at most this many words ending with ":" is a heading of what follows.
LIST_HEADING_WORDS = 6


@dataclass(frozen=True, slots=True)
class PageLinks:
    """The texts of a page's links (``a[@href]``, whitespace collapsed), read once per page
    for both checks below and for the licence: ~150 links on a news page, ~0.3 ms to read."""

    away: tuple[str, ...]  # links to other pages
    within: tuple[str, ...]  # links within the page (``#anchor``) and ``javascript:``
    # links that may state the page's licence (:mod:`newsetl.pipeline.metadata.licenses`)
    licence: tuple[HtmlElement, ...] = ()

    @classmethod
    def of(cls, tree: HtmlElement) -> PageLinks:
        away: list[str] = []
        within: list[str] = []
        licence: list[HtmlElement] = []
        for a in tree.iterfind(".//a[@href]"):
            raw = a.get("href") or ""
            label = " ".join(a.text_content().split())
            if could_be_license(a.get("rel"), raw, label):
                licence.append(a)
            if not label:
                continue
            href = raw.strip().lower()
            (within if not href or href.startswith(("#", "javascript:")) else away).append(label)
        return cls(tuple(away), tuple(within), tuple(licence))


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


def link_text_share(text: str, links: PageLinks) -> float:
    """Share of the characters of ``text`` that are the text of a headline-like link of the
    page (five words or more, as teasers of other stories are)."""
    if not text:
        return 0.0
    seen: set[str] = set()
    covered = 0
    for label in (*links.away, *links.within):
        if len(label) < 30 or label in seen or len(label.split()) < 5:
            continue
        seen.add(label)
        if label in text:
            covered += len(label)
    return covered / len(text)


def listing_like(text: str, links: PageLinks) -> str | None:
    """Why ``text`` (extracted from a page with these links) looks like a listing, or None
    if it does not."""
    if len(text) >= LONG_OUTPUT:
        return "long"
    if short_line_share(text) >= SHORT_LINE_SHARE:
        return "short lines"
    if link_text_share(text, links) >= LINK_TEXT_SHARE:
        return "link text"
    return None


def is_list_heading(line: str) -> bool:
    """A short line that introduces what follows it ("More:", "Mehr Themen auf VOGUE.de:")."""
    line = line.strip()
    return line.endswith(":") and len(line.split()) <= LIST_HEADING_WORDS


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _link_labels(links: PageLinks) -> set[str]:
    """Texts of the page's links to other pages (a link within the page, as in a table of
    contents, repeats the article's own headings)."""
    return {label.casefold() for label in links.away if label.count(" ") >= LINK_LINE_MIN_WORDS - 1}


def _is_link_line(line: str, labels: set[str]) -> int:
    """0 for a line of text; 2 for a link line (a link covers most of it); 1 for a list item
    that ends with a link covering at least half of it: a teaser with its kicker or date
    before the linked headline ("- Archäologie: Simple Erklärung für …", "- 19.03.2024
    Fahndung nach Verrätern"), which counts only among other link lines."""
    item = line.lstrip(_LIST_MARK)
    text = _norm(item)
    if len(text.split()) < LINK_LINE_MIN_WORDS:
        return 0
    if text in labels:
        return 2
    # a teaser: the linked headline, then a few words more in the same line. Only prefixes
    # ending at a word and long enough to cover the line are looked up.
    words = text.split(" ")
    end = len(text)
    for k in range(len(words) - 1, LINK_LINE_MIN_WORDS - 1, -1):
        end -= len(words[k]) + 1
        if end < LINK_LINE_COVER * len(text):
            break
        if text[:end] in labels:
            return 2
    if len(item) == len(line):
        return 0
    start = 0
    for k in range(len(words) - LINK_LINE_MIN_WORDS):
        start += len(words[k]) + 1
        if len(text) - start < LIST_ITEM_LINK_COVER * len(text):
            break
        if text[start:] in labels:
            return 1
    return 0


def drop_link_lines(text: str, links: PageLinks) -> str:
    """``text`` without the lines that are links to other pages: runs of two or more such
    lines (related stories, teaser lists; list items whose linked headline follows a kicker
    or a date count here), with the heading that introduces the run ("Ähnliche:"), and
    single ones of five words or more (a linked headline, "Click here to get the app"). A
    link inside a sentence leaves the line alone.

    On the ground-truth pages (bench/quality.py) this raised precision with no loss of
    recall (article-extraction-benchmark F1 0.967 -> 0.972, fundus 0.9486 -> 0.9488; the
    list items and headings: fundus 0.9509 -> 0.9536) and removed one of trafilatura's
    evaluation snippets that must not be there."""
    lines = text.split("\n")
    labels = _link_labels(links)
    if not labels:
        return text
    flags = [_is_link_line(line, labels) for line in lines]
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if not flags[i]:
            kept.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and (flags[j] or not lines[j].strip()):
            j += 1
        run = sum(1 for f in flags[i:j] if f)
        if run < 2 and (flags[i] < 2 or len(lines[i].lstrip(_LIST_MARK).split()) < LONE_LINK_LINE_WORDS):
            kept.extend(lines[i:j])  # one short link line (a name, a label) or one list item
        elif kept and is_list_heading(kept[-1]):
            kept.pop()  # the run's heading ("More:", "Ähnliche:") introduced only the links
        i = j
    return "\n".join(kept)
