"""Bylines into people and credited organisations.

A byline as published mixes people with everything else: prefixes ("Von", "By", "Par",
"Por"), roles ("ARD-Korrespondentin", "Political Correspondent"), places ("…, Lille"),
joiners ("und", "and", "&"), e-mail addresses, social handles, news agencies ("dpa",
"Reuters") and the site's own name ("n-tv NACHRICHTEN", "mdr.de"). The rules here are
general: they use the page's own site names (:class:`~newsetl.pipeline.metadata.sites.SiteNames`), a list of
wire services, and the shape of a personal name; nothing names a publisher's template.

Sources are tried in order of how structured they are (JSON-LD article author, author
meta tags, the page's byline elements). The first source that names a person gives the
authors, and the wire services named beside them; when no source names a person, the
organisations of the first source that credits any (agency, desk, the site itself) are
the credit.
"""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from lxml.html import HtmlElement

from newsetl.pipeline.metadata.byline_scan import LABEL, labelled_elements, scan_bylines
from newsetl.pipeline.metadata.sites import SiteNames

# News agencies (wire services), by the names and abbreviations bylines use for them.
WIRE_SERVICES = {
    k.casefold(): v
    for v, names in {
        "dpa": ("dpa", "dpa-AFX", "deutsche presse-agentur", "dpa-infocom", "dpa/lni", "dpa/lnw", "dpa/lby"),
        "AFP": ("afp", "agence france-presse", "agence france presse"),
        "Reuters": ("reuters", "thomson reuters"),
        "AP": ("ap", "associated press", "the associated press"),
        "KNA": ("kna", "katholische nachrichten-agentur"),
        "epd": ("epd", "evangelischer pressedienst"),
        "SID": ("sid", "sport-informations-dienst"),
        "APA": ("apa", "austria presse agentur"),
        "SDA": ("sda", "keystone-sda"),
        "ANSA": ("ansa",),
        "EFE": ("efe",),
        "Europa Press": ("europa press",),
        "PA": ("pa", "pa media", "press association"),
        "UPI": ("upi", "united press international"),
        "Bloomberg": ("bloomberg", "bloomberg news"),
        "Xinhua": ("xinhua",),
        "Kyodo": ("kyodo", "kyodo news"),
        "TASS": ("tass",),
        "ANP": ("anp",),
        "Belga": ("belga",),
        "Ritzau": ("ritzau",),
        "NTB": ("ntb",),
        "TT": ("tt nyhetsbyrån",),
        "dts": ("dts", "dts nachrichtenagentur"),
        "AFX": ("afx",),
        "Lusa": ("lusa",),
        "PAP": ("pap",),
        "ČTK": ("čtk", "ctk"),
        "Yonhap": ("yonhap",),
        "IANS": ("ians",),
        "PTI": ("pti", "press trust of india"),
        "CNA": ("cna",),
    }.items()
    for k in names
}

# Words that make a credit an organisation (desks, companies, media), compared case-folded.
_ORG_WORDS = {
    "redaktion", "redaktionen", "onlineredaktion", "newsroom", "desk", "staff", "team", "agentur", "agency",
    "verlag", "gmbh", "ag", "kg", "inc", "inc.", "ltd", "ltd.", "llc", "plc", "e.v.", "online", "nachrichten",
    "news", "zeitung", "magazin", "magazine", "media", "medien", "radio", "tv", "fernsehen", "rundfunk",
    "press", "presse", "pressestelle", "times", "journal", "tribune", "gazette", "herald", "foundation",
    "stiftung", "institut", "institute", "universität", "university", "ministerium", "ministry", "polizei",
    "police", "department", "office", "group", "gruppe", "verband", "association", "sender", "broadcasting",
    "network", "service", "dienst", "bureau", "büro", "channel", "studio", "editorial", "editors", "wire",
    "reporters", "correspondents", "readers", "leser", "anzeiger", "kurier", "rundschau", "tagblatt",
    "tageblatt", "allgemeine", "wochenblatt", "sport", "sports", "aktuell", "digital", "corporation",
    "company",
}  # fmt: skip

_ROLE_STEMS = (
    "redakteur", "redakteurin", "korrespondent", "korrespondentin", "reporter", "reporterin", "editor",
    "correspondent", "writer", "columnist", "kolumnist", "kolumnistin", "contributor", "photographer",
    "fotograf", "fotografin", "journalist", "journalistin", "autor", "autorin", "analyst", "producer",
    "produzent", "moderator", "moderatorin", "volontär", "volontärin", "praktikant", "praktikantin",
    "chefreporter", "ressortleiter", "ressortleiterin", "chefredakteur", "chefredakteurin", "herausgeber",
    "herausgeberin", "critic", "kritiker", "kritikerin", "expert", "expertin", "experte", "mitarbeiter",
    "mitarbeiterin", "reportage", "author", "freelance", "freelancer", "intern", "korrespondenten",
    "redakteure", "redakteuren", "autoren", "correspondents",
)  # fmt: skip
_ROLE_QUALIFIERS = {
    "senior", "chief", "political", "staff", "leitender", "leitende", "freier", "freie", "stellvertretender",
    "stellvertretende", "deputy", "associate", "contributing", "special", "foreign", "economics", "business",
    "science", "sports", "digital", "online", "managing", "executive", "news", "health", "tech",
    "technology", "culture", "wissenschafts", "wirtschafts", "politik", "sport", "and", "&", "und", "of",
    "the", "für", "for", "our", "unser", "unsere", "unserer", "unserem", "unseren", "us", "uk", "eu",
    "europe", "washington",
}  # fmt: skip

_PARTICLES = {
    "von", "van", "de", "da", "das", "do", "dos", "del", "della", "der", "den", "di", "du", "la", "le", "ter",
    "zu", "zur", "bin", "ibn", "al", "el", "y", "e", "af", "av", "ten", "st.", "mc", "mac", "o'",
}  # fmt: skip

_PREFIXES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(?:ein(?:e)?\s+|an?\s+)?(?:kommentar|analyse|gastbeitrag|gastkommentar|interview|essay|reportage|"
        r"kolumne|glosse|bericht|porträt|rezension|kritik|commentary|analysis|column|opinion|review|"
        r"report|feature)\s+(?:von|by|de|par|por)\s+",
        r"^(?:text|texte|texto|words|fotos?|photos?|bilder|recherche|interview|mitarbeit|verfasst|"
        r"(?:additional\s+)?reporting|written|posted|published|edited|compiled|updated|"
        r"autor(?:in)?(?:\s*/\s*autor(?:in)?)?|autoren|autorinnen|author(?:\(?s\)?)?|authors|credit)"
        r"(?:\s+(?:by|von|de|from|und\s+\w+))?\s*:?\s+",
        r"^(?:(?:agentur)?material|informationen|angaben)\s+(?:von|der|des|from)\s+",
        r"^(?:aktualisiert|bearbeitet|redigiert|übersetzt|zusammengestellt|überarbeitet|updated|edited|"
        r"translated|compiled|curated)\s+(?:von|by)\s+",
        r"^(?:by|von|vom|par|por|di|door|av|af|przez|от|de)\s*:?\s+",
    )
]
_JOINERS = re.compile(
    r"\s*(?:;|\||/|\s&\s|\s\+\s|\bund\b|\band\b|\bet\b|\by\b|\be\b|\bog\b|\bsowie\b|\bmit\b|\bwith\b)\s*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_HANDLE = re.compile(r"\(?@\w[\w.]*\)?")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_PAREN = re.compile(r"\s*[(\[]([^)\]]*)[)\]]")
_TRAILING_PLACE = re.compile(r"\s+(?:in|aus|from|en|à|em)\s+([A-ZÄÖÜ][\w\-]+(?:\s+[A-ZÄÖÜ][\w\-]+)?)$")
_DIGIT = re.compile(r"\d")
_TAGS = re.compile(r"<[^>]+>")
_NAME_TOKEN = re.compile(r"^(?:[A-ZÀ-ÖØ-ÞŁŚŻŹĆŃ][\w'’\-.]*|[A-Z]\.|\w+[-'’][A-ZÀ-Þ][\w'’\-]*)$")


@dataclass(frozen=True, slots=True)
class RawCredit:
    """One credit string as a source gives it; ``organization`` when typed so (JSON-LD)."""

    text: str
    organization: bool = False


@dataclass(slots=True)
class Credits:
    """People credited as authors, and organisations credited beside or instead of them."""

    authors: list[str] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)
    source: str | None = None


@dataclass(slots=True)
class _Parsed:
    persons: list[str] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)


def _clean(text: str) -> str:
    if "<" in text or "&" in text:
        text = htmllib.unescape(_TAGS.sub(" ", text))
    text = unicodedata.normalize("NFC", text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    return " ".join(text.replace("\u00a0", " ").split()).strip(" ,;:|-–—·•")


def _strip_prefixes(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for rx in _PREFIXES:
            new = rx.sub("", text, count=1)
            if new != text:
                text, changed = new.strip(" ,;:|-–—"), True
    return text


def wire_service(text: str) -> str | None:
    """The canonical name of the news agency ``text`` names, if it names one."""
    key = " ".join(text.casefold().replace("\u00a0", " ").split()).strip(" .,")
    if key in WIRE_SERVICES:
        return WIRE_SERVICES[key]
    return None


def _is_role(tokens: list[str]) -> bool:
    low = [t.casefold().strip(".,") for t in tokens]
    return any(t.endswith(_ROLE_STEMS) for t in low) and all(
        t.endswith(_ROLE_STEMS) or t in _ROLE_QUALIFIERS or "-" in t for t in low
    )


def _strip_roles(tokens: list[str]) -> list[str]:
    """Role words before or after a name: "ARD-Korrespondentin Christin Jordan"."""
    out = [t for t in tokens if not t.casefold().strip(".,").endswith(_ROLE_STEMS)]
    if len(out) != len(tokens):
        out = [t for t in out if t.casefold() not in _ROLE_QUALIFIERS or t[:1].isupper()]
    return out


def _is_org(text: str, site: SiteNames) -> bool:
    tokens = [t.casefold() for t in text.split()]
    if site.matches(text):
        return True
    if any(t in _ORG_WORDS for t in tokens):
        return True
    if re.search(r"\w\.(?:de|com|net|org|at|ch|uk|fr|es|it|nl|info|online|news)\b", text.casefold()):
        return True
    if _DIGIT.search(text):
        return True
    words = text.split()
    # an acronym beside other words ("MDR Thüringen"), unless the whole name is in capitals
    return len(words) >= 2 and not text.isupper() and any(w.isupper() and 3 <= len(w) <= 5 for w in words)


def looks_like_person(text: str) -> bool:
    """Two to six name-shaped words: capitalised (or all capitals), no digits."""
    words = text.split()
    if not 2 <= len(words) <= 6 or len(text) > 70 or _DIGIT.search(text):
        return False
    named = 0
    for w in words:
        if w.casefold() in _PARTICLES:
            continue
        if not _NAME_TOKEN.match(w):
            return False
        named += 1
    return named >= 2 or (named == 1 and any(w.endswith(".") for w in words))


def _title_case(text: str) -> str:
    return text.title() if text.islower() else text


_NOT_HANDLES = {
    "admin", "administrator", "guest", "gast", "user", "anonymous", "anonym", "unknown", "nobody", "none",
    "null", "undefined", "editor", "author", "autor", "redaktion", "staff", "webmaster", "team",
}  # fmt: skip


def _parse(credit: RawCredit, site: SiteNames) -> _Parsed:
    out = _Parsed()
    text = _clean(credit.text)
    if not text:
        return out
    for inner in _PAREN.findall(text):
        if wire_service(inner):
            out.agencies.append(inner.strip())
    text = _PAREN.sub(" ", text)
    segments = [s.strip() for s in text.split(",")]
    for i, segment in enumerate(segments):
        for piece in _JOINERS.split(segment):
            part = _strip_prefixes(piece.strip(" .,;:-–—·•"))
            if not part:
                continue
            m = _TRAILING_PLACE.search(part)
            if m and (wire_service(part[: m.start()]) or looks_like_person(part[: m.start()])):
                part = part[: m.start()]
            if wire_service(part):
                out.agencies.append(part)
                continue
            tokens = part.split()
            if site.matches(part) or (credit.organization and not looks_like_person(part)):
                out.orgs.append(part)
                continue
            if _is_role(tokens):
                continue
            if _is_org(part, site):
                out.orgs.append(part)
                continue
            part = " ".join(_strip_roles(tokens))
            if looks_like_person(_title_case(part)):
                out.persons.append(_title_case(part))
            elif (
                len(tokens) == 1
                and i == 0
                and part[:1].isalpha()
                and len(part) >= 3
                and part.casefold() not in _NOT_HANDLES
            ):
                out.handles.append(part)
            # else: a place after a comma ("…, Lille"), a fragment, or noise
    return out


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        key = " ".join(name.casefold().split())
        if key not in seen:
            seen[key] = name
    # keep the fullest form of a name ("Max Muster" beside "Dr. Max Muster")
    return [v for k, v in seen.items() if not any(k != o and f" {k} " in f" {o} " for o in seen)]


def split_byline(text: str, site: SiteNames | None = None) -> Credits:
    """One byline string into people and agencies (the single-source case of :func:`credits`)."""
    return credits([("byline", [RawCredit(text)])], site or SiteNames.of([]))


def credits(sources: Iterable[tuple[str, Sequence[RawCredit]]], site: SiteNames) -> Credits:
    """People and organisations credited by the first source that names anyone (see module doc).

    ``sources`` is consumed lazily: a generator can leave costly sources (the page's byline
    elements) uncomputed when an earlier one already names the authors.
    """
    first_orgs: tuple[str, list[str]] | None = None
    first_handles: tuple[str, list[str]] | None = None
    for label, raw in sources:
        parsed = [_parse(c, site) for c in raw]
        persons = _unique(p for x in parsed for p in x.persons)
        agencies = _unique(a for x in parsed for a in x.agencies)
        if persons:
            return Credits(persons, agencies, label)
        orgs = _unique([*agencies, *(o for x in parsed for o in x.orgs)])
        if orgs and first_orgs is None:
            first_orgs = (label, orgs)
        if agencies and label.startswith(("json-ld", "meta")):
            # a wire service in the page's metadata is a deliberate credit, unlike the site's
            # own name (a CMS default): do not look for people in the page body.
            break
        handles = _unique(h for x in parsed for h in x.handles)
        if handles and first_handles is None:
            first_handles = (label, handles)
    if first_orgs is not None:
        return Credits([], first_orgs[1], first_orgs[0])
    if first_handles is not None:
        return Credits(first_handles[1], [], first_handles[0])
    return Credits()


# --- byline elements of the page ---------------------------------------------------------------

_LABELLED = re.compile(LABEL + r"\s+\S", re.IGNORECASE)
_OFF_ARTICLE = re.compile(
    r"(?:^|[\s_-])(?:comments?|kommentare?|sidebar|related|teasers?|footer|nav|navigation|recommend\w*|"
    r"share|social|newsletter|promo|outbrain|taboola|caption|credits?|copyright)(?:$|[\s_-])",
    re.IGNORECASE,
)
_SKIP_TAGS = {"time", "figure", "figcaption", "script", "style", "noscript", "button", "svg"}
_SKIP_ANCESTORS = {"figure", "figcaption", "footer", "nav", "aside"}


def _element_text(elem: HtmlElement) -> str:
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag not in _SKIP_TAGS:
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(elem)
    return " ".join(" ".join(parts).split())


def _off_article(elem: HtmlElement) -> bool:
    node = elem.getparent()
    while node is not None and node.tag not in ("body", "html"):  # page-level classes say nothing
        if node.tag in _SKIP_ANCESTORS:
            return True
        attrs = f"{node.get('class') or ''} {node.get('id') or ''}"
        if attrs.strip() and _OFF_ARTICLE.search(attrs):
            return True
        node = node.getparent()
    return False


def _after_headline(found: list[HtmlElement], h1: HtmlElement | None) -> list[HtmlElement]:
    """Candidates after the page's first <h1> first (by source line): bylines of other
    stories come earlier."""
    if h1 is None or h1.sourceline is None or not found:
        return found
    start = h1.sourceline
    return sorted(found, key=lambda el: (el.sourceline or 0) < start)


def page_bylines(tree: HtmlElement) -> Iterator[tuple[str, list[RawCredit]]]:
    """Bylines in the page body, three ways, best first: elements marked as author or byline
    (trafilatura's selectors), links to author profile pages, and "Autor: …" labels. A
    generator: a later (vaguer) way is looked at only when asked for."""
    h1 = tree.find(".//h1")
    found = scan_bylines(tree)
    for tier in found.tiers:
        kept = [el for el in tier if not _off_article(el)]
        texts = [t for el in _after_headline(kept, h1) if 2 < len(t := _element_text(el)) < 150]
        if texts:
            yield "html:byline", [RawCredit(texts[0])]
            break
    links = _after_headline([a for a in found.profile_links if not _off_article(a)], h1)
    if links:
        parent = links[0].getparent()
        names = [_element_text(a) for a in links if a.getparent() is parent]
        yield "html:author-link", [RawCredit(n) for n in names if 2 < len(n) < 80]
    for el in labelled_elements(tree):
        text = _element_text(el)
        if len(text) <= 80 and _LABELLED.match(text) and not _off_article(el):
            yield "html:label", [RawCredit(text)]
            break
