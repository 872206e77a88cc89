"""newsetl's parser gives trafilatura's trees and, on every corpus page, the same extraction."""

from __future__ import annotations

import copy
import dataclasses
import gzip
from typing import Any

import lxml.html
import pytest
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from newsetl.errors import Rejection
from newsetl.pipeline.decode import decode_bytes
from newsetl.pipeline.extract import extract_html
from newsetl.pipeline.htmltree import parse_html

from .conftest import corpus_html_pages


def _outcome(html: str, parse: Any) -> Any:
    try:
        return dataclasses.asdict(extract_html(html, parse=parse))
    except Rejection as exc:
        return ("rejected", exc.reason)


def test_every_corpus_page_extracts_as_with_trafilaturas_parser() -> None:
    pages = corpus_html_pages()
    assert len(pages) > 150
    for page in pages:
        data = page.read_bytes()
        if page.suffix == ".gz":
            data = gzip.decompress(data)
        html = decode_bytes(data, None, markup=True).text
        assert _outcome(html, parse_html) == _outcome(html, load_html), page.name


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>T</title></head><body><p>one</p></body></html>",
        # lxml refuses a str with an encoding declaration: both parse its bytes
        '<?xml version="1.0" encoding="utf-8"?><html><body><p>déjà</p></body></html>',
        # repaired before parsing: a self-closing <html/>, a doctype with a slash, control chars
        "<html/>\n<body><p>text\x0b here</p></body>",
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x/y">\n<html><body><p>a</p></body></html>',
        # not HTML: no "html" near the start and fewer than two top-level elements
        "just some words, no markup at all",
        "<p>a fragment</p>",
        "<div>a</div><div>b</div>",
        "",
        "<html><body><form><label>L</label><input value='v'><select></select></form></body></html>",
    ],
)
def test_same_tree_or_none_as_load_html(html: str) -> None:
    ours, theirs = parse_html(html), load_html(html)
    assert (ours is None) == (theirs is None)
    if ours is not None and theirs is not None:
        assert etree.tostring(ours) == etree.tostring(theirs)


def test_elements_are_plain_html_elements_in_the_tree_and_its_copies() -> None:
    tree = parse_html("<html><body><form><input name='q'><label>x</label></form><p>text</p></body></html>")
    assert tree is not None
    for root in (tree, copy.copy(tree), copy.deepcopy(tree)):
        kinds = {type(el) for el in root.iter()}
        assert kinds == {HtmlElement}
        assert root.find(".//p").text_content() == "text"  # HtmlElement's API is there
    # trafilatura's parser gives form elements their own classes; ours does not
    reference = load_html("<html><body><form><input name='q'></form><p>x</p></body></html>")
    assert reference is not None
    assert type(reference.find(".//input")) is lxml.html.InputElement
