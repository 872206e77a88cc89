from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest

from newsetl.errors import Rejection
from newsetl.models import DocKind
from newsetl.pipeline.decode import declared_charset, decode_bytes
from newsetl.pipeline.process import article_from_bytes

from .conftest import corpus_path

GERMAN = "Die Bürgerinnen äußerten sich über die Öffnungszeiten der Bibliothek. „Grüße“, sagte sie."
HTML = "<html><head>{meta}<title>Test</title></head><body><p>{text}</p></body></html>"


def test_meta_charset_latin1_is_honoured() -> None:
    page = HTML.format(meta='<meta charset="iso-8859-1">', text="Grüße aus Köln").encode("cp1252")
    d = decode_bytes(page)
    assert "Grüße aus Köln" in d.text
    assert (d.encoding, d.source) == ("cp1252", "meta")  # WHATWG: latin-1 label means windows-1252


def test_http_equiv_charset() -> None:
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
    page = HTML.format(meta=meta, text="Привет, мир").encode("cp1251")
    d = decode_bytes(page)
    assert "Привет, мир" in d.text and d.source == "meta"


def test_xml_declaration_charset() -> None:
    page = ('<?xml version="1.0" encoding="ISO-8859-15"?>' + HTML.format(meta="", text="Preis 5 €")).encode(
        "iso-8859-15"
    )
    d = decode_bytes(page)
    assert "5 €" in d.text and d.source == "xml-decl"


def test_http_header_charset_wins_over_nothing() -> None:
    page = HTML.format(meta="", text="Grüße").encode("cp1252")
    d = decode_bytes(page, http_charset="windows-1252")
    assert "Grüße" in d.text and d.source == "http"


@pytest.mark.parametrize("bom_codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_byte_order_marks(bom_codec: str) -> None:
    text = HTML.format(meta="", text=GERMAN)
    data = text.encode(bom_codec)
    if bom_codec in ("utf-16-le", "utf-16-be"):
        data = (codecs.BOM_UTF16_LE if bom_codec.endswith("le") else codecs.BOM_UTF16_BE) + data
    d = decode_bytes(data)
    assert GERMAN in d.text and d.source == "bom"


def test_stale_declaration_loses_to_valid_utf8() -> None:
    # A CMS that declares latin-1 but serves UTF-8: the bytes are right, the label is wrong.
    page = HTML.format(meta='<meta charset="iso-8859-1">', text=GERMAN).encode("utf-8")
    d = decode_bytes(page)
    assert GERMAN in d.text and d.encoding == "utf-8"


def test_undeclared_legacy_encoding_is_detected() -> None:
    page = HTML.format(meta="", text=GERMAN * 5).encode("cp1252")
    d = decode_bytes(page)
    assert GERMAN in d.text and d.source == "detected"


def test_binary_and_empty_are_rejected() -> None:
    with pytest.raises(Rejection, match="empty"):
        decode_bytes(b"  \n ")
    with pytest.raises(Rejection, match="binary"):
        decode_bytes(bytes(range(256)) * 50)
    with pytest.raises(Rejection, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02\x03" * 500)


def test_declared_charset_ignores_unknown_labels() -> None:
    assert declared_charset(b'<meta charset="no-such-charset">') is None
    assert declared_charset(b'<meta charset="UTF-16">') == ("utf-8", "meta")


_SCRIPTS = {
    "big5.xml": r"[\u4e00-\u9fff]",
    "eucjp.xml": r"[\u3040-\u30ff]",
    "shiftjis.xml": r"[\u3040-\u30ff]",
    "koi8r.xml": r"[\u0400-\u04ff]",
    "windows1255.xml": r"[\u0590-\u05ff]",
}


@pytest.mark.parametrize("name", sorted(_SCRIPTS))
def test_real_undeclared_legacy_encodings(name: str) -> None:
    """feedparser's chardet cases: real text in legacy encodings with no declaration at all."""
    data = corpus_path("feeds", "feedparser", "illformed", "chardet", name).read_bytes()
    d = decode_bytes(data)
    assert d.source == "detected"
    assert len(re.findall(_SCRIPTS[name], d.text)) >= 10
    assert "\ufffd" not in d.text


def test_trafilatura_pages_decode_without_mojibake() -> None:
    """Every page of trafilatura's eval set decodes to text without replacement characters or
    the tell-tale UTF-8-read-as-latin-1 pairs beyond what the page itself contains."""
    cache = corpus_path("trafilatura", "cache")
    for page in sorted(cache.iterdir()):
        data = page.read_bytes()
        text = decode_bytes(data).text
        assert "\ufffd" not in text, page.name
        # Mojibake count must not exceed that of the raw bytes read as UTF-8 (the page's own).
        raw = data.decode("utf-8", errors="ignore")
        for pattern in ("Ã¤", "Ã¶", "Ã¼", "Ã©", "â€"):
            assert text.count(pattern) <= raw.count(pattern), (page.name, pattern)


def test_legacy_charset_page_end_to_end(tmp_path: Path) -> None:
    """A real page re-encoded into legacy charsets (declared and not) extracts the same text."""
    original = corpus_path("trafilatura", "cache", "heise.de.lithium.html").read_bytes()
    reference = article_from_bytes(original, DocKind.HTML, max_bytes=2**25)
    html = original.decode("utf-8")
    for codec in ("cp1252", "iso-8859-15"):
        relabelled = re.sub(r'charset="?utf-8"?', f'charset="{codec}"', html, flags=re.IGNORECASE)
        data = relabelled.encode(codec, errors="xmlcharrefreplace")
        article = article_from_bytes(data, DocKind.HTML, max_bytes=2**25)
        assert article.text == reference.text, codec
        assert article.encoding == codecs.lookup(codec).name
