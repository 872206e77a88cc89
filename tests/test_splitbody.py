"""An article whose body is split across containers of one kind is extracted whole."""

from __future__ import annotations

import lxml.html
from bench.evaluation import fundus, page_scores

from newsetl.pipeline.extract import extract_html
from newsetl.pipeline.splitbody import joined, missing_parts

from .conftest import corpus_path

_PART = (
    '<div class="body article__body"><div class="body__inner-container">'
    "<p>{0} One of the paragraphs of this part of the long story, written out at length so "
    "that it reads like the body of an article about the town's new tram line.</p>"
    "<p>{0} Another paragraph of the same part, with a second sentence about the council "
    "and a third one about the timetable, the stops and what the trams will cost.</p>"
    "<p>{0} A last paragraph before the advertisement, long enough to count as text that "
    "belongs to the article and not to the page around it, its menus or its teasers.</p>"
    "</div></div>"
)
_AD = '<div class="ad"><p>Advertisement</p></div>'


def _page(*parts: str) -> str:
    return (
        "<html><head><title>The tram line opens</title></head><body>"
        '<nav><a href="/">Home</a> <a href="/news">News</a></nav><article><h1>The tram line opens</h1>'
        + _AD.join(_PART.format(p) for p in parts)
        + '</article><div class="comments"><div class="comment"><p>First!</p><p>Nice.</p></div>'
        "</div></body></html>"
    )


def test_the_parts_after_the_first_are_extracted() -> None:
    text = extract_html(_page("Part one.", "Part two.", "Part three.")).text
    for part in ("Part one.", "Part two.", "Part three."):
        assert text.count(part) == 3, text
    assert "Advertisement" not in text
    assert text.index("Part one.") < text.index("Part two.") < text.index("Part three.")


def test_no_split_no_change() -> None:
    tree = lxml.html.fromstring(_page("Only part."))
    assert missing_parts(tree, "Only part. One of the paragraphs of this part") is None
    # all parts already in the output
    tree = lxml.html.fromstring(_page("A.", "B."))
    both = " ".join(p.text_content() for p in tree.iter("p"))
    assert missing_parts(tree, both) is None


def test_joined_leaves_the_page_alone() -> None:
    tree = lxml.html.fromstring(_page("One.", "Two."))
    first = " ".join(p.text_content() for p in tree.iter("p") if p.text_content().startswith("One."))
    split = missing_parts(tree, first)
    assert split is not None
    head, rest = split
    assert len(rest) == 1
    clone = joined(tree, head, rest)
    containers = clone.xpath('//div[@class="body__inner-container"]')
    assert len(containers[0].findall("p")) == 6 and len(containers[1]) == 0
    # the input tree keeps its structure: its other readers (bylines, title) still use it
    assert [len(c.findall("p")) for c in tree.xpath('//div[@class="body__inner-container"]')] == [3, 3]


def test_corpus_page_split_in_three() -> None:
    """The New Yorker page of fundus' test data: trafilatura alone returns its first third."""
    pages = [p for p in fundus(corpus_path("fundus")) if "NewYorker" in p.page_id]
    assert pages
    for page in pages:
        html = page.html_bytes().decode("utf-8")
        tp, _, fn = page_scores(page.truth, extract_html(html, url=page.url).text)
        assert tp / (tp + fn) > 0.95  # recall; 0.47 before


def test_parts_that_make_a_listing_are_not_joined() -> None:
    """Same-kind containers that hold rows of short labels (a menu, a list of sections) would
    turn the joined text into a listing: the article stays as extracted."""
    labels = "".join(f"<p>Ressort Nummer {k} im Überblick</p>" for k in range(30))
    menu = f'<div class="body article__body"><div class="body__inner-container">{labels}</div></div>'
    html = _page("Part one.").replace("</article>", menu * 3 + "</article>")
    text = extract_html(html).text
    assert "Part one." in text
    assert "Ressort Nummer" not in text
