"""newsetl's JSON-LD reading for trafilatura's metadata gives trafilatura's answer."""

from __future__ import annotations

import pytest
from trafilatura.json_metadata import normalize_json as trafilatura_normalize
from trafilatura.metadata import JSON_MINIFY, examine_meta, extract_meta_json

from newsetl.pipeline.decode import decode_bytes, maybe_decompress
from newsetl.pipeline.extract import strip_inert
from newsetl.pipeline.htmltree import parse_html
from newsetl.pipeline.metadata.jsonmeta import meta_json, minify, normalize_json

from .conftest import corpus_html_pages

TEXTS = [
    '{ "@type" : "NewsArticle",\n\t"headline": "Two  spaces\\n and a tab\\t" }',
    '{"a": "unterminated \n string, "b" : 1 }',  # a quote that opens no string
    '{"x": "escaped \\" quote", "y" : [ 1 , 2 ] }',
    '{"author": {"name": "J\\u00f6rg \\ud83d\\ude00 M&uuml;ller <b>x</b>"}}',
    '{"k": "line\\\nbreak"}  ',  # a backslash before a real newline: no string there
    "\u00a0{\u2003}\u3000",  # Unicode spaces
    "",
    '""',
    '"\\',
]


@pytest.mark.parametrize("text", TEXTS)
def test_same_strings_as_trafilatura(text: str) -> None:
    expected = JSON_MINIFY.sub(r"\1", text)
    assert minify(text) == expected
    assert normalize_json(expected) == trafilatura_normalize(expected)


def _fields(doc: object) -> dict[str, object]:
    return {k: getattr(doc, k) for k in doc.__slots__ if isinstance(getattr(doc, k), (str, list, type(None)))}  # type: ignore[attr-defined]


def test_corpus_pages_same_metadata_as_trafilatura() -> None:
    checked = 0
    for path in corpus_html_pages():
        tree = parse_html(
            strip_inert(decode_bytes(maybe_decompress(path.read_bytes(), 2**26), None, markup=True).text)
        )
        if tree is None:
            continue
        ours = meta_json(list(tree.iter("script")), examine_meta(tree))
        assert _fields(ours) == _fields(extract_meta_json(tree, examine_meta(tree))), path
        checked += 1
    assert checked > 200
