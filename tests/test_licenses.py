"""The licence read from the page's links is trafilatura's ``extract_license`` answer."""

from __future__ import annotations

import lxml.html
import pytest
from trafilatura.metadata import extract_license

from newsetl.pipeline.decode import decode_bytes, maybe_decompress
from newsetl.pipeline.extract import strip_inert
from newsetl.pipeline.htmltree import parse_html
from newsetl.pipeline.listing import PageLinks
from newsetl.pipeline.metadata.licenses import page_license

from .conftest import corpus_html_pages

PAGES = {
    "rel": """<html><body><p>Text</p><a href="/about">About us</a>
        <a rel="noopener license" href="https://example.org/terms">Our terms of reuse</a>
        <footer><a href="https://creativecommons.org/licenses/by-sa/4.0/">CC</a></footer></body></html>""",
    "footer-href": """<html><body><p>Text</p><a href="/account">Account</a>
        <div class="site-footer"><a href="/access">Accessibility</a>
        <a href="https://creativecommons.org/licenses/by-nc/3.0/de/">Lizenz</a></div></body></html>""",
    "footer-text": """<html><body><p>Text</p>
        <footer><a href="/lizenz">Inhalt: CC BY 4.0</a></footer></body></html>""",
    "outside-footer": """<html><body>
        <a href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a></body></html>""",
    "none": """<html><body><a href="/success">Success stories</a><footer><a href="/acc">Accent</a></footer>
        </body></html>""",
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_same_answer_as_trafilatura(name: str) -> None:
    tree = lxml.html.fromstring(PAGES[name])
    assert page_license(PageLinks.of(tree).licence) == extract_license(tree)


def test_answers() -> None:
    def of(name: str) -> str | None:
        return page_license(PageLinks.of(lxml.html.fromstring(PAGES[name])).licence)

    assert of("rel") == "Our terms of reuse"
    assert of("footer-href") == "CC BY-NC 3.0"
    assert of("footer-text") == "CC BY 4.0"
    assert of("outside-footer") is None
    assert of("none") is None


def test_corpus_pages_same_as_trafilatura() -> None:
    found = 0
    for path in corpus_html_pages():
        html = decode_bytes(maybe_decompress(path.read_bytes(), 2**26), None, markup=True).text
        tree = parse_html(strip_inert(html))
        if tree is None:
            continue
        expected = extract_license(tree)
        found += expected is not None
        assert page_license(PageLinks.of(tree).licence) == expected, path
    assert found >= 1  # the corpus holds pages with a licence link
