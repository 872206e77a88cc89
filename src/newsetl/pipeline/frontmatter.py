"""Lines of the extracted text that repeat what the page's metadata already says: the
headline (or a variant of it), the byline, the dateline.

trafilatura keeps them when they sit in the article's container, and they are stored in
their own columns (``title``, ``authors``, ``published_at``), so in ``text`` they are noise:
they count as words, they shift the near-duplicate sketch of two copies of a story that
differ only in byline, and search finds an article for its author's name in its text.
The rules only compare a line with the page's own metadata or with the shape of a date,
never with a site's wording: a headline line contains a title candidate of the page (with a
few words more: a kicker, the site's name); a byline line is made of the names credited
by the page and byline words; a dateline is a date or time and a label, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from newsetl.pipeline.metadata.bylines import wire_service

_TOKEN = re.compile(r"\w+")

# Headline variants and datelines are looked for in the head of the text only: its first
# lines, up to the second paragraph of the body (a line of this many words or more; the
# first may be a standfirst above the headline and date). Further down, a line that repeats
# the headline is a section heading ("My Top 10 Women Talking Sports" under "Top 10 Women
# Talking Sports"), a date a part of the story.
HEAD_LINES = 6
BODY_LINE_WORDS = 15
HEAD_PARAGRAPHS = 1
# Words a headline line may carry beyond the title candidate it contains: a kicker
# ("Premier League"), the site's name ("| wdr aktuell"), a topic label.
HEADLINE_EXTRA_WORDS = 6
# A title candidate shorter than this (words) is too unspecific to match against.
HEADLINE_MIN_WORDS = 3
# Byline and dateline lines are short.
MAX_LINE_WORDS = 16
# A line longer than this (characters) is a paragraph of the body, whatever its words.
LONG_LINE_CHARS = 300
# Words of a byline line that are neither names of the credited people nor byline words: a
# place ("Von Anna Sleegers, Frankfurt") or a desk ("MDR (Engin Haupt, Alisa Sonntag)").
BYLINE_OTHER_WORDS = 2

# Words that introduce or join names in a byline, in the languages of the corpus' pages and
# their neighbours (the same as the prefixes of :mod:`newsetl.pipeline.metadata.bylines`).
_BYLINE = (
    "von vom by par por di door av af de da przez text texte texto words autor autorin autoren "
    "author authors reporting additional written posted und and et y e og sowie mit with from "
    "aus in"
)
_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "januar jänner februar märz mai juni juli oktober dezember mär okt dez "
    "janvier février fevrier mars avril juin juillet août aout septembre octobre novembre décembre "
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre "
    "janeiro fevereiro março abril maio junho julho setembro outubro novembro dezembro "
    "gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre "
    "januari februari maart mei augustus"
)
_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
    "montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag mo di mi do fr sa so "
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    "lunes martes miércoles jueves viernes sábado domingo "
    "segunda terça quarta quinta sexta feira "
    "lunedì martedì mercoledì giovedì venerdì sabato"
)
_CLOCK = "am pm a p m uhr h utc gmt cet cest mez mesz et est edt ct cst cdt pt pst pdt bst min"
# Labels of a dateline: "Stand:", "Updated", "Veröffentlicht am", "Publié le", "às".
_DATE_LABELS = (
    "stand aktualisiert veröffentlicht erschienen erstellt zuletzt datum am um vom "
    "published updated update posted last modified date on at of "
    "publié mis à jour le publicado actualizado atualizado em às de el pubblicato aggiornato alle"
)
_BYLINE_WORDS = frozenset(_BYLINE.split())
_LABEL_WORDS = frozenset(_DATE_LABELS.split())
_DATE_WORDS = frozenset(" ".join((_MONTHS, _WEEKDAYS, _CLOCK, _DATE_LABELS)).split())


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def _find(seq: Sequence[str], sub: Sequence[str]) -> int:
    """Where ``sub`` starts in ``seq`` as a contiguous run, or -1."""
    n = len(sub)
    for i in range(len(seq) - n + 1):
        if seq[i] == sub[0] and list(seq[i : i + n]) == list(sub):
            return i
    return -1


def is_headline_line(line: Sequence[str], titles: Iterable[Sequence[str]]) -> bool:
    """Whether a line (its tokens) is a title candidate of the page, possibly with a kicker
    or the site's name beside it."""
    for title in titles:
        extra = len(line) - len(title)
        if (
            len(title) >= HEADLINE_MIN_WORDS
            and 0 <= extra <= HEADLINE_EXTRA_WORDS
            and _find(line, title) >= 0
        ):
            return True
    return False


def _is_year(token: str) -> bool:
    return len(token) == 4 and token.isdigit() and 1900 <= int(token) <= 2099


def is_dateline(line: Sequence[str]) -> bool:
    """One date or time with at most a label ("Stand: 22.04.2024, 06:00 Uhr", "Updated at
    1:23 p.m.", "30. Januar 2024"): every word a number, a month, a weekday or a label, and
    either one year or a labelled time. Two years are a period ("29 November 2018 | 20
    January 2019", an exhibition's), a bare time is a ticker's entry, digits alone a phone
    number: all content."""
    if not line or len(line) > MAX_LINE_WORDS or not all(t.isdigit() or t in _DATE_WORDS for t in line):
        return False
    years = sum(map(_is_year, line))
    if years:
        return years == 1
    return any(t in _LABEL_WORDS for t in line) and any(t.isdigit() for t in line)


def is_byline(line: Sequence[str], names: Iterable[Sequence[str]]) -> bool:
    """A line made of the names the page credits, byline words and perhaps a date: "Von
    Karim Natour", "5:45 AM PST 11/19/2019 by Patrick Shanley", "Von Anna Sleegers,
    Frankfurt". Without a byline word or a date, one other word at most ("MDR (Engin Haupt,
    Alisa Sonntag)"): a line that merely starts with a name is a sentence about them."""
    if not line or len(line) > MAX_LINE_WORDS:
        return False
    rest = list(line)
    found = False
    for name in names:
        while (at := _find(rest, name)) >= 0:
            del rest[at : at + len(name)]
            found = True
    if not found:
        return False
    dated = any(t.isdigit() for t in rest)
    marked = dated or any(t in _BYLINE_WORDS for t in rest)
    other = [t for t in rest if not (t.isdigit() or t in _BYLINE_WORDS or (dated and t in _DATE_WORDS))]
    return len(other) <= (BYLINE_OTHER_WORDS if marked else 1)


def drop_front_matter(
    text: str, titles: Iterable[str | None], people: Iterable[str], agencies: Iterable[str] = ()
) -> str:
    """``text`` without headline lines (in its head: the first lines, before the body's
    second paragraph), byline lines (lines of the credited ``people`` of two words or more,
    and of the news ``agencies``: "mit dpa") and datelines (in its head or as its last
    line). The text is returned unchanged when nothing else would be left."""
    lines = text.split("\n")
    title_tokens = [t for t in (_tokens(x) for x in titles if x) if t]
    names = [t for t in map(_tokens, people) if len(t) >= 2]
    names += [t for t in map(_tokens, (a for a in agencies if wire_service(a))) if t]
    name_tokens = sorted(names, key=len, reverse=True)
    kept: list[str] = []
    last = len(lines) - 1
    paragraphs = 0
    for i, line in enumerate(lines):
        if len(line) > LONG_LINE_CHARS:  # a paragraph: no need to read its words
            paragraphs += 1
            kept.append(line)
            continue
        tokens = _tokens(line)
        head = i < HEAD_LINES and paragraphs <= HEAD_PARAGRAPHS
        if head and (is_headline_line(tokens, title_tokens) or is_dateline(tokens)):
            continue
        paragraphs += len(tokens) >= BODY_LINE_WORDS
        if (i == last and is_dateline(tokens)) or (name_tokens and is_byline(tokens, name_tokens)):
            continue
        kept.append(line)
    return "\n".join(kept) if kept else text
