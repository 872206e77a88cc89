"""Lines that repeat the page's metadata (headline, byline, dateline) leave the text; the
article's own lines, dates and names inside sentences stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.evaluation import _TOKEN, article_extraction_benchmark, fundus

from newsetl.errors import Rejection
from newsetl.models import DocKind
from newsetl.pipeline import extract
from newsetl.pipeline.frontmatter import _tokens, drop_front_matter, is_byline, is_dateline
from newsetl.pipeline.process import article_from_bytes

from .conftest import corpus_path


@pytest.mark.parametrize(
    "line",
    [
        "Stand: 22.04.2024, 06:00 Uhr",
        "30. Januar 2024",
        "18.05.2026",
        "Updated at 1:23 p.m.",
        "- Published 18 November 2019",
        "sexta-feira, 22 de outubro de 2010 às 20:13",
        "05.08.2024, 20:59 Uhr",
    ],
)
def test_datelines(line: str) -> None:
    assert is_dateline(_tokens(line))


@pytest.mark.parametrize(
    "line",
    [
        "29 November 2018 | 20 January 2019",  # a period: an exhibition's dates
        "10 p.m.",  # a ticker's entry
        "02-751-1500",  # a phone number
        "9.30 A.M. / 7.00 P.M.",  # opening hours
        "In 2019 the council met twice",
    ],
)
def test_not_datelines(line: str) -> None:
    assert not is_dateline(_tokens(line))


def test_bylines() -> None:
    names = [_tokens("Karim Natour"), _tokens("Patrick Shanley"), _tokens("Anna Sleegers")]
    assert is_byline(_tokens("Von Karim Natour"), names)
    assert is_byline(_tokens("5:45 AM PST 11/19/2019 by Patrick Shanley"), names)
    assert is_byline(_tokens("Von Anna Sleegers, Frankfurt"), names)
    assert is_byline(_tokens("Karim Natour"), names)
    # a sentence about the author, or a line that only starts with the name
    assert not is_byline(_tokens("Karim Natour sprach mit dem Minister über die Pläne"), names)
    assert not is_byline(_tokens("Karim Natour ist Redakteur"), names)
    assert not is_byline(_tokens("Von Karl Meier"), names)


def test_drop_front_matter_keeps_the_article() -> None:
    text = "\n".join(
        [
            "Feuerwehrleute sollen später in Pension | wdr aktuell",  # headline + site
            "Stand: 22.04.2024, 06:00 Uhr",
            "Schon im vergangenen Herbst hatte das Vorhaben für Empörung gesorgt: Die Landesregierung "
            "will das Rentenalter für Feuerwehrleute anheben, und die Gewerkschaften protestieren.",
            "Von Nina Magoley",
            "Bislang gehen Beamte der Feuerwehr mit 60 in den Ruhestand. Das soll sich ändern, sagt "
            "die Regierung, und verweist auf den medizinischen Fortschritt der letzten Jahrzehnte.",
            "Feuerwehrleute sollen später in Pension",  # further down: a section heading, kept
            "Am 22.04.2024 hört der Landtag die Experten an.",
            "mit dpa",
        ]
    )
    out = drop_front_matter(
        text, ["Feuerwehrleute sollen später in Pension", None], ["Nina Magoley"], ["dpa"]
    ).split("\n")
    assert out == [
        "Schon im vergangenen Herbst hatte das Vorhaben für Empörung gesorgt: Die Landesregierung "
        "will das Rentenalter für Feuerwehrleute anheben, und die Gewerkschaften protestieren.",
        "Bislang gehen Beamte der Feuerwehr mit 60 in den Ruhestand. Das soll sich ändern, sagt "
        "die Regierung, und verweist auf den medizinischen Fortschritt der letzten Jahrzehnte.",
        "Feuerwehrleute sollen später in Pension",
        "Am 22.04.2024 hört der Landtag die Experten an.",
    ]
    # one-word names are not matched (a handle, a brand), nor organisations that are not wires
    assert drop_front_matter("Beachbody Performance Energize\nText.", [], ["Beachbody"]) == (
        "Beachbody Performance Energize\nText."
    )
    assert drop_front_matter("Staff Reports\nText.", [], [], ["Staff Reports"]) == "Staff Reports\nText."
    # nothing is left: the text stays as it was
    assert drop_front_matter("Von Nina Magoley", [], ["Nina Magoley"]) == "Von Nina Magoley"


def _text(path: Path, url: str | None) -> str:
    try:
        return article_from_bytes(path.read_bytes(), DocKind.HTML, max_bytes=2**26, url=url).text
    except Rejection:
        return ""


def test_dropped_lines_are_not_article_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the ground-truth pages, the lines the rules remove are (but for one fundus page,
    whose expected text repeats the headline as a heading) not in the expected text."""
    pages = [
        *article_extraction_benchmark(corpus_path("article-extraction-benchmark")),
        *fundus(corpus_path("fundus")),
    ]
    removed: list[str] = []

    def spy(text: str, titles: list[str | None], people: list[str], agencies: list[str]) -> str:
        out = drop_front_matter(text, titles, people, agencies)
        kept = set(out.split("\n"))
        removed.extend(line for line in text.split("\n") if line not in kept)
        return out

    monkeypatch.setattr(extract, "drop_front_matter", spy)
    total = wrong = 0
    for page in pages:
        removed.clear()
        _text(page.path, page.url)
        truth = " " + " ".join(_TOKEN.findall(page.truth)).casefold() + " "
        total += len(removed)
        wrong += sum((" " + " ".join(_TOKEN.findall(x)).casefold() + " ") in truth for x in removed)
    assert total >= 60  # headlines, bylines and datelines of ~50 pages
    assert wrong <= 1
