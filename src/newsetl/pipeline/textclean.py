"""Plain-text normalisation shared by every source: Unicode NFC, whitespace, paragraphs,
and removal of teaser / related-content lines that are not part of an article."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and invisible format characters that only get in the way of search and hashing.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Any horizontal whitespace (tabs, NBSP, thin spaces, ideographic space) -> one space.
_HSPACE = re.compile(r"[^\S\n]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Lines that introduce links to other articles. They must be followed by a delimiter or end
# the line, so that a sentence merely starting with "Related" or "Read" is kept.
_TEASER_PREFIX = (
    r"(?:"
    # German
    r"mehr zum thema|mehr zu(?:m|r)? [\w-]+|lesen sie (?:auch|mehr|hier|dazu)|mehr dazu|mehr lesen|"
    r"weiterlesen|auch interessant|das k[öo]nnte sie auch interessieren|zum thema|"
    r"weitere (?:artikel|nachrichten|meldungen|themen|beitr[äa]ge)|siehe auch|passend zum thema|"
    r"empfohlene artikel|lesetipps?|auch lesenswert|ebenfalls interessant|"
    # English
    r"read more|read also|also read|read next|"
    r"related(?: articles?| stories| story| coverage| content| reading| news)?|"
    r"more on (?:this|that)(?: story| topic)?|see also|you (?:may|might) also (?:like|be interested in)|"
    r"recommended(?: reading| stories| for you)?|further reading|most read|"
    r"more stories|more news|don['’]t miss"
    r")"
)
_TEASER_LINE = re.compile(rf"^\s*[»>•*\-–—]?\s*{_TEASER_PREFIX}\s*(?:[:–—\-|»>›]|\.{{3}}|…|$)", re.IGNORECASE)
_TEASER_HEADING = re.compile(rf"^\s*{_TEASER_PREFIX}\s*[:–—\-|»>›…]?\s*$", re.IGNORECASE)
_TEASER_MAX_LEN = 300
# Short lines that are page furniture wherever they appear: copyright notices, newsletter
# sign-up widgets, placeholders of blocked embeds.
_BOILERPLATE_LINE = re.compile(
    r"^(?:"
    r"(?:©|\(c\)).{0,150}"
    r"|copyright\b(?=.{0,40}(?:\b\d{4}\b|©|\(c\)|rights reserved)).{0,150}"
    r"|.{0,100}\b(?:all rights reserved|alle rechte vorbehalten)\b.{0,60}"
    r"|(?:thanks|thank you) for (?:signing up|subscribing)\b.*"
    r"|(?:sign up|subscribe) (?:for|to) (?:our|the|my) (?:[\w-]+ )?newsletters?\b.*"
    r"|(?:jetzt )?(?:zum )?newsletter (?:abonnieren|bestellen|anmelden)\b.*"
    r"|there was an error processing your subscription\b.*"
    r"|keep an eye on your inbox\b.*"
    r"|link zum [\w-]+-inhalt"
    r"|(?:externer|eingebetteter) inhalt\b.{0,80}"
    r")$",
    re.IGNORECASE,
)
_BOILERPLATE_MAX_LEN = 200
_TRAILER_MAX_LINE = 160
_TRAILER_MAX_LINES = 12


def normalize_line(line: str) -> str:
    line = _INVISIBLE.sub("", line)
    line = _CONTROL.sub(" ", line)
    return _HSPACE.sub(" ", line).strip()


def normalize_text(text: str) -> str:
    """NFC, one space between words, one newline between paragraphs, no empty lines."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (normalize_line(ln) for ln in text.split("\n"))
    return "\n".join(ln for ln in lines if ln)


def is_teaser_line(line: str) -> bool:
    return len(line) <= _TEASER_MAX_LEN and _TEASER_LINE.match(line) is not None


def is_boilerplate_line(line: str) -> bool:
    return len(line) <= _BOILERPLATE_MAX_LEN and _BOILERPLATE_LINE.match(line) is not None


def strip_teasers(paragraphs: list[str]) -> list[str]:
    """Drop 'Read more: ...' style lines, and a trailing 'Related' block of short link lines."""
    kept: list[str] = []
    for i, para in enumerate(paragraphs):
        if is_teaser_line(para):
            rest = paragraphs[i + 1 :]
            # A bare heading ("Mehr zum Thema") followed only by a few short headline lines:
            # everything from here to the end is a link list.
            if (
                _TEASER_HEADING.match(para)
                and len(rest) <= _TRAILER_MAX_LINES
                and all(len(r) <= _TRAILER_MAX_LINE for r in rest)
            ):
                return kept
            continue
        if is_boilerplate_line(para):
            continue
        kept.append(para)
    return kept


def clean_text(text: str) -> str:
    """Normalise extracted or plain text and strip teaser lines; paragraphs joined by '\\n'."""
    paragraphs = normalize_text(text).split("\n")
    return "\n".join(strip_teasers(paragraphs))


def content_key(text: str) -> str:
    """The form of a text that is hashed: whitespace-insensitive, otherwise exact."""
    return " ".join(text.split())


_SENTENCE_END = (".", ",", ";", ":", "…")
_TITLE_MAX_CHARS = 160
_TITLE_MAX_WORDS = 24


def split_plain_text(raw: str) -> tuple[str | None, list[str]]:
    """Paragraphs of a plain-text article, and its title when the first line is one.

    Blank-line separated blocks are paragraphs whose hard-wrapped lines are joined; without
    blank lines every line is a paragraph. The first paragraph counts as a title only
    when it looks like one (short, no sentence punctuation at the end) and text follows:
    a first line that is a full paragraph leaves the title empty rather than inventing one.
    """
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [normalize_line(ln) for ln in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    paragraphs: list[str] = []
    if "" in lines:
        block: list[str] = []
        for ln in [*lines, ""]:
            if ln:
                block.append(ln)
            elif block:
                paragraphs.extend(_join_wrapped(block))
                block = []
    else:
        paragraphs = lines
    title: str | None = None
    if len(paragraphs) >= 2:
        first = paragraphs[0].lstrip("#").strip()
        body_len = sum(len(p) for p in paragraphs[1:])
        if (
            len(first) <= _TITLE_MAX_CHARS
            and len(first.split()) <= _TITLE_MAX_WORDS
            and not first.endswith(_SENTENCE_END)
            and body_len >= 2 * len(first)
        ):
            title = first
            paragraphs = paragraphs[1:]
    return title, strip_teasers(paragraphs)


_WRAP_WIDTH = 100
_WRAP_MIN = 40


def _join_wrapped(block: list[str]) -> list[str]:
    """One paragraph from a hard-wrapped block; a block of long lines stays line-per-paragraph."""
    if len(block) == 1 or not all(_WRAP_MIN <= len(ln) <= _WRAP_WIDTH for ln in block[:-1]):
        return block
    out = block[0]
    for ln in block[1:]:
        # A hyphen at a hard line break stays a hyphen ("storm-damage"): dropping it would
        # be right for "Regie-rung" but wrong for every real compound.
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and ln[:1].isalpha():
            out = out + ln
        else:
            out = f"{out} {ln}"
    return [out]
