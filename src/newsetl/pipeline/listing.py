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
# Link lines are dropped in runs of two or more, or alone from this many words (a headline).
LONE_LINK_LINE_WORDS = 5
_LIST_MARK = "-•*· \t"


@dataclass(frozen=True, slots=True)
class PageLinks:
    """The texts of a page's links (``a[@href]``, whitespace collapsed), read once per page
    for both checks below: ~150 links on a news page, ~0.3 ms to read."""

    away: tuple[str, ...]  # links to other pages
    within: tuple[str, ...]  # links within the page (``#anchor``) and ``javascript:``

    @classmethod
    def of(cls, tree: HtmlElement) -> PageLinks:
        away: list[str] = []
        within: list[str] = []
        for a in tree.iterfind(".//a[@href]"):
            label = " ".join(a.text_content().split())
            if not label:
                continue
            href = (a.get("href") or "").strip().lower()
            (within if not href or href.startswith(("#", "javascript:")) else away).append(label)
        return cls(tuple(away), tuple(within))


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


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _link_labels(links: PageLinks) -> set[str]:
    """Texts of the page's links to other pages (a link within the page, as in a table of
    contents, repeats the article's own headings)."""
    return {label.casefold() for label in links.away if label.count(" ") >= LINK_LINE_MIN_WORDS - 1}


def _is_link_line(line: str, labels: set[str]) -> bool:
    text = _norm(line.lstrip(_LIST_MARK))
    if len(text.split()) < LINK_LINE_MIN_WORDS:
        return False
    if text in labels:
        return True
    # a teaser: the linked headline, then a few words more in the same line. Only prefixes
    # ending at a word and long enough to cover the line are looked up.
    words = text.split(" ")
    end = len(text)
    for k in range(len(words) - 1, LINK_LINE_MIN_WORDS - 1, -1):
        end -= len(words[k]) + 1
        if end < LINK_LINE_COVER * len(text):
            return False
        if text[:end] in labels:
            return True
    return False


def drop_link_lines(text: str, links: PageLinks) -> str:
    """``text`` without the lines that are links to other pages: runs of two or more such
    lines (related stories, teaser lists), and single ones of five words or more (a linked
    headline, "Click here to get the app"). A link inside a sentence leaves the line alone.

    On the ground-truth pages (bench/quality.py) this raised precision with no loss of
    recall (article-extraction-benchmark F1 0.967 -> 0.972, fundus 0.9486 -> 0.9488) and
    removed one of trafilatura's evaluation snippets that must not be there."""
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
        if sum(flags[i:j]) < 2 and len(lines[i].lstrip(_LIST_MARK).split()) < LONE_LINK_LINE_WORDS:
            kept.extend(lines[i:j])  # one short link line: a name or a label, kept
        i = j
    return "\n".join(kept)
