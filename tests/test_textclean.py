from __future__ import annotations

import pytest

from newsetl.pipeline.textclean import (
    clean_text,
    content_key,
    is_teaser_line,
    normalize_text,
    split_plain_text,
)


def test_normalize_text_nfc_whitespace_and_invisibles() -> None:
    raw = "Cafe\u0301  au\u00a0lait\u200b\r\n\r\n\tzweite   Zeile \n"
    assert normalize_text(raw) == "Café au lait\nzweite Zeile"


def test_typographic_quotes_are_kept() -> None:
    text = "„Wir bleiben“, sagte sie. “Quoted” and ‘single’ – dash"
    assert clean_text(text) == text


@pytest.mark.parametrize(
    "line",
    [
        "Mehr zum Thema – Trumps mögliche Rückkehr ins Weiße Haus",
        "Lesen Sie auch: Der Streit um die Rente",
        "LESEN SIE AUCH",
        "Read more: How the vote was won",
        "Related: Five things to know",
        "Related stories",
        "See also - the full timeline",
        "Das könnte Sie auch interessieren:",
        "Weitere Artikel",
    ],
)
def test_teaser_lines_detected(line: str) -> None:
    assert is_teaser_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Related to the dispute, the minister said nothing.",
        "Read the full report before the vote, critics demanded.",
        "Mehr als 300 Menschen kamen zur Versammlung.",
        "Zum Thema Rente äußerte sich der Minister nicht.",
    ],
)
def test_ordinary_sentences_are_not_teasers(line: str) -> None:
    assert not is_teaser_line(line)


def test_trailing_related_block_is_removed_but_body_kept() -> None:
    body = ["Erster Absatz mit Inhalt." * 3, "Zweiter Absatz, ebenfalls Inhalt." * 3]
    text = "\n".join([*body, "Mehr zum Thema", "Schlagzeile eins", "Schlagzeile zwei"])
    assert clean_text(text) == "\n".join(body)


def test_inline_teaser_removed_in_middle() -> None:
    text = "Absatz eins.\nLesen Sie auch: Ein anderer Artikel\nAbsatz zwei."
    assert clean_text(text) == "Absatz eins.\nAbsatz zwei."


def test_plain_text_without_title_line() -> None:
    para = (
        "Die NATO hat sich verpflichtet, der Ukraine weiterhin Hilfe zu leisten, "
        "sagte der Minister am Dienstag in Brüssel."
    )
    title, paragraphs = split_plain_text(para + "\n" + para + "\n")
    assert title is None
    assert paragraphs == [para, para]


def test_plain_text_with_title_line() -> None:
    body = "Ein ganzer Absatz mit genug Text, damit die Überschrift als solche erkannt wird. " * 3
    title, paragraphs = split_plain_text(f"Stadt baut neuen Solarpark\n\n{body}\n\n{body}")
    assert title == "Stadt baut neuen Solarpark"
    assert len(paragraphs) == 2


def test_hard_wrapped_paragraphs_are_joined() -> None:
    raw = (
        "The council met on Tuesday evening to discuss the new budget for the\n"
        "harbour, which had been delayed by three months because of the storm-\n"
        "damage reports.\n\n"
        "A second paragraph follows here."
    )
    _title, paragraphs = split_plain_text(raw)
    assert paragraphs[0].startswith("The council met") and "harbour, which had" in paragraphs[0]
    assert "storm-damage reports" in paragraphs[0]
    assert paragraphs[-1] == "A second paragraph follows here."


def test_content_key_ignores_whitespace_only() -> None:
    assert content_key("a  b\nc") == content_key("a b c")
    assert content_key("a b c") != content_key("a b C")


@pytest.mark.parametrize(
    "line",
    [
        "© 2025 Coastline Gazette",
        "Copyright Inexhibit 2019 - ISSN: 2283-5474",
        "Alle Rechte vorbehalten.",
        "Thanks for signing up!",
        "Sign up for our daily newsletter",
        "There was an error processing your subscription.",
        "Link zum YouTube-Inhalt",
        "Jetzt Newsletter abonnieren",
    ],
)
def test_page_furniture_lines_are_dropped(line: str) -> None:
    assert (
        clean_text(f"Ein echter Absatz.\n{line}\nNoch ein Absatz.") == "Ein echter Absatz.\nNoch ein Absatz."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Copyright lawyers say the ruling changes everything for musicians.",
        "The court ruled that copyright law does not protect the recipe.",
    ],
)
def test_sentences_about_copyright_are_kept(text: str) -> None:
    assert clean_text(text) == text


def test_strip_inert_keeps_json_ld_and_markup() -> None:
    from newsetl.pipeline.extract import strip_inert

    html = (
        '<html><head><script src="a.js"></script><SCRIPT>var x = "<p>";</SCRIPT>'
        '<script type="application/ld+json">{"datePublished": "2024-01-01"}</script>'
        "<style>p { color: red }</style></head><body><p>Text</p><script>unclosed"
    )
    out = strip_inert(html)
    assert '{"datePublished": "2024-01-01"}' in out
    assert "var x" not in out and "color: red" not in out
    assert out.endswith("<body><p>Text</p><script>unclosed")  # an unclosed script is left alone
