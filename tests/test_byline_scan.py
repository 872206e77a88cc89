"""The one-walk byline scan finds exactly what the XPath expressions it replaces find."""

from __future__ import annotations

import gzip

import lxml.html
import pytest
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.utils import load_html
from trafilatura.xpaths import AUTHOR_XPATHS

from newsetl.pipeline.metadata import byline_scan
from newsetl.pipeline.metadata.byline_scan import labelled_elements, scan_bylines

from .conftest import corpus_html_pages

# The expressions newsetl used before the scan (profile links and labels were its own).
_RE_NS = {"re": "http://exslt.org/regular-expressions"}
PROFILE_LINKS = XPath(
    f"//a[@rel='author' or re:test(@href, '{byline_scan.PROFILE_HREF.pattern}', 'i')]", namespaces=_RE_NS
)
LABEL_CANDIDATES = XPath(
    "//*[self::li or self::p or self::div or self::span or self::dd]"
    "[re:test(normalize-space(text()[1]), $label, 'i')"
    " or re:test(normalize-space(*[1]/text()[1]), $label, 'i')]",
    namespaces=_RE_NS,
)


def _reference(tree: HtmlElement) -> list[list[HtmlElement]]:
    tiers = [[el for el in xp(tree) if isinstance(el.tag, str)] for xp in AUTHOR_XPATHS]
    labelled = LABEL_CANDIDATES(tree, label=byline_scan.LABEL + r"(?:\s|$)")
    return [*tiers, list(PROFILE_LINKS(tree)), list(labelled)]


def _scanned(tree: HtmlElement) -> list[list[HtmlElement]]:
    found = scan_bylines(tree)
    return [*found.tiers, found.profile_links, labelled_elements(tree)]


def test_same_elements_as_the_xpaths_on_every_corpus_page() -> None:
    pages = corpus_html_pages()
    assert len(pages) > 150
    compared = 0
    for page in pages:
        data = page.read_bytes()
        if page.suffix == ".gz":
            data = gzip.decompress(data)
        tree = load_html(data)
        if tree is None:
            continue
        assert _scanned(tree) == _reference(tree), page.name
        compared += 1
    assert compared > 150


@pytest.mark.parametrize(
    "html",
    [
        # trafilatura's `rel='me'` is a child element named rel, not an attribute
        "<div><span>Jane Roe<rel>me</rel></span><span rel='me'>not this</span></div>",
        "<div><author>Jane Roe</author><p class='post-author'>x</p><h3 id='Author'>y</h3></div>",
        "<div><p class='x AuthorName'>a</p><a data-testid='AuthorURL'>b</a><i itemprop='author'>c</i>"
        "<section data-component='BylineBlock'>d</section><b class='writer'>e</b></div>",
        "<div><a href='/Autoren/jane-roe'>Jane</a><a href='/authorship'>no</a><a rel='author'>Max</a></div>",
        # label text: the first text node, or the first child element's; XPath's whitespace rules
        "<div><p>\n  Autor:  Jane Roe</p><li><!-- c -->Text: Max</li><dd><b>Byline:</b> Ann</dd>"
        "<span>\xa0Autor: no</span><div>Autorin\xa0/ Autor: Jo</div><p>Authors</p><p>Autorenteam</p></div>",
    ],
)
def test_same_elements_on_edge_cases(html: str) -> None:
    tree = lxml.html.fromstring(f"<html><body>{html}</body></html>")
    assert _scanned(tree) == _reference(tree)
    assert any(_scanned(tree))
