"""The page's byline elements, found in one walk of the tree.

The same elements, in document order, as trafilatura's three ``AUTHOR_XPATHS`` tiers, a
link to an author profile page and an "Autor: …" label would select. As XPath, each of
those tests the attributes or first text of every element with a regular expression
through a Python callback (EXSLT ``re:test``): 2–3 ms per expression on a news page, ~10 ms
when a page has no byline and all five run. One walk with compiled expressions finds all
five (the labels, the last resort, in a second walk when they are needed).
``tests/test_byline_scan.py`` checks the equivalence on every corpus page against the
expressions themselves, so an upgrade of trafilatura (pinned) that changes its tiers fails it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

# trafilatura.xpaths.AUTHOR_XPATHS, tier by tier: the tags each tier looks at and its tests.
_TIER0_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_TIER0_CLASS = re.compile("author-?name|AuthorName|authorName")
_TIER1_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_TIER1_CLASSES = frozenset({"byline", "username", "byl", "BBL"})
_TIER1_ID = re.compile("author|zuozhe|bianji|xiaobian")
_TIER1_CLASS = re.compile("author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_TIER2_ID = re.compile("[Aa]uthor")
_TIER2_CLASS = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")

PROFILE_HREF = re.compile(
    "/(autor|autoren|autorin|autorinnen|author|authors|contributors?|journalist|journalists|"
    "journalisten|redakteur|redakteure|profil|profile)([/_.-]|$)",
    re.IGNORECASE,
)
LABEL = r"^(?:autor(?:in)?(?:\s*/\s*autor(?:in)?)?|autoren|autorinnen|author|authors|text|byline)\s*:?"
_LABEL_ONLY = re.compile(LABEL + r"(?:\s|$)", re.IGNORECASE)
_LABEL_TAGS = frozenset({"li", "p", "div", "span", "dd"})
_XML_SPACE = re.compile("[ \t\r\n]+")  # XPath's normalize-space() collapses only these
_LABEL_STARTS = frozenset("aAtTbB")


@dataclass
class BylineElements:
    """Candidates of each way, in document order."""

    tiers: tuple[list[HtmlElement], list[HtmlElement], list[HtmlElement]] = field(
        default_factory=lambda: ([], [], [])
    )
    profile_links: list[HtmlElement] = field(default_factory=list)


def _first_text(elem: HtmlElement) -> str | None:
    """``text()[1]``: the element's first text node (its text, else a child's tail)."""
    if elem.text:
        return str(elem.text)
    for child in elem:
        if child.tail:
            return str(child.tail)
    return None


def _label_text(text: str | None) -> bool:
    # Every label starts with a, t or b: most texts are ruled out before the expression.
    if not text:
        return False
    text = text.strip(" \t\r\n")
    if text[:1] not in _LABEL_STARTS:
        return False
    return _LABEL_ONLY.search(_XML_SPACE.sub(" ", text)) is not None


def _labelled(elem: HtmlElement) -> bool:
    """``re:test(normalize-space(text()[1]), label, 'i')`` or the same of its first child element."""
    if _label_text(_first_text(elem)):
        return True
    for child in elem:
        if isinstance(child.tag, str):
            return _label_text(_first_text(child))
    return False


def scan_bylines(tree: HtmlElement) -> BylineElements:
    """The byline candidates of the three tiers and the profile links, in one walk."""
    found = BylineElements()
    # `rel='me'` in trafilatura's first tier compares a child *element* named rel (no @).
    rel_me = {el.getparent() for el in tree.iter("rel") if el.text_content() == "me"}
    for el in tree.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        attrib = el.attrib  # most elements have none: then only the tag and text tests apply
        if tag == "author" or (tag in _TIER0_TAGS and (el in rel_me or (attrib and _tier0(attrib)))):
            found.tiers[0].append(el)
        if attrib:
            _by_attributes(el, tag, attrib, found)
    return found


def labelled_elements(tree: HtmlElement) -> list[HtmlElement]:
    """Elements whose first text, or their first child's, is an author label ("Autor:",
    "Text:"): the last way, so a walk of its own, taken only when the others found no one."""
    return [el for el in tree.iter(*_LABEL_TAGS) if _labelled(el)]


def _tier0(attrib: Any) -> bool:
    cls = attrib.get("class")
    return bool(
        attrib.get("rel") == "author"
        or attrib.get("id") == "author"
        or cls == "author"
        or attrib.get("itemprop") == "author name"
        or attrib.get("data-testid") in ("AuthorCard", "AuthorURL")
        or (cls is not None and _TIER0_CLASS.search(cls) is not None)
    )


def _by_attributes(el: HtmlElement, tag: str, attrib: Any, found: BylineElements) -> None:
    """Tiers 1 and 2 and profile links: tests of the element's attributes."""
    cls = attrib.get("class")
    ident = attrib.get("id")
    itemprop = attrib.get("itemprop")
    if tag in _TIER1_TAGS and (
        cls in _TIER1_CLASSES
        or (itemprop is not None and "author" in itemprop)
        or (ident is not None and _TIER1_ID.search(ident) is not None)
        or (cls is not None and _TIER1_CLASS.search(cls) is not None)
    ):
        found.tiers[1].append(el)
    component = attrib.get("data-component")
    if (
        (component is not None and "Byline" in component)
        or (itemprop is not None and "author" in itemprop)
        or (ident is not None and _TIER2_ID.search(ident) is not None)
        or (cls is not None and _TIER2_CLASS.search(cls) is not None)
    ):
        found.tiers[2].append(el)
    if tag == "a":
        href = attrib.get("href")
        if attrib.get("rel") == "author" or (href is not None and PROFILE_HREF.search(href)):
            found.profile_links.append(el)
