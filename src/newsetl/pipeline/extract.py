"""Extract stage: HTML -> main text + metadata with trafilatura; plain text -> clean text.

Pure functions of their input (no I/O), run inside worker processes.
"""

from __future__ import annotations

import contextlib
import html as htmllib
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import trafilatura
from courlan import extract_domain
from htmldate import find_date
from htmldate.extractors import external_date_parser
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document

from newsetl.errors import Rejection
from newsetl.models import Extracted, Stage
from newsetl.pipeline import splitbody
from newsetl.pipeline.frontmatter import drop_front_matter
from newsetl.pipeline.htmltree import parse_html
from newsetl.pipeline.listing import PageLinks, drop_link_lines, listing_like
from newsetl.pipeline.metadata import bylines, dates, titles
from newsetl.pipeline.metadata.jsonld import LinkedData, linked_data
from newsetl.pipeline.metadata.licenses import page_license
from newsetl.pipeline.metadata.sites import SiteNames
from newsetl.pipeline.textclean import clean_text, split_plain_text
from newsetl.pipeline.versions import EXTRACTOR_VERSION

__all__ = [
    "EXTRACTOR_VERSION",
    "extract_html",
    "extract_plain_text",
    "page_metadata",
    "strip_inert",
    "warm_up",
]


for _name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
    # Every failure becomes a recorded rejection with a reason; library chatter adds nothing.
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_HEAD_SCAN = 300_000
_SITE_FROM_URL = re.compile(r"https?://(?:www\.|w[0-9]+\.)?([^/]+)")
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)
_ATTR = re.compile(r"""([\w:.\-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HTML_LANG = re.compile(
    r"<html\b[^>]*?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*", re.IGNORECASE
)
_JSONLD_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')
_TIME_PUBLISHED = re.compile(
    r"<time\b[^>]*itemprop\s*=\s*[\"']datePublished[\"'][^>]*>|<time\b[^>]*\bpubdate\b[^>]*>",
    re.IGNORECASE,
)
_PUBLISHED_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "article.published",
    "publishdate",
    "publish-date",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.issued",
    "date",
)
_LANG_KEYS = ("content-language", "language", "dc.language", "og:locale")
_MODIFIED_KEYS = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "last-modified",
    "dcterms.modified",
)
_AUTHOR_KEYS = (
    "author",
    "article:author",
    "parsely-author",
    "byl",
    "sailthru.author",
    "dc.creator",
    "dcterms.creator",
)
_TITLE_KEYS = ("og:title", "twitter:title", "og:site_name", "application-name", "twitter:site")
_ALL_KEYS = (*_PUBLISHED_KEYS, *_LANG_KEYS, *_MODIFIED_KEYS, *_AUTHOR_KEYS, *_TITLE_KEYS)


def _key_pattern(key: str) -> str:
    """A meta name with its separators loose: ``article:published:time`` is ``article:published_time``."""
    return "[:_.-]".join(re.escape(part) for part in re.split(r"[:_.-]", key))


def _key_norm(name: str) -> str:
    return re.sub(r"[:_.-]", ":", name)


_CANONICAL_KEY = {_key_norm(k): k for k in _ALL_KEYS}
_WANTED_META = re.compile(
    r"<meta\b[^>]*?\b(?:property|name|itemprop|http-equiv)\s*=\s*[\"']?(?:"
    + "|".join(_key_pattern(k) for k in _ALL_KEYS)
    + r")[\"'\s/>][^>]*>",
    re.IGNORECASE,
)
_TIME_DATETIME = re.compile(r"""<time\b[^>]*?\bdatetime\s*=\s*["']([^"']{8,40})["']""", re.IGNORECASE)


def warm_up() -> None:
    """Load now, once per forkserver, what pages load on first use in every worker:
    dateparser and its languages (~0.2 s of CPU; htmldate imports it on the first date only
    it can read) and the public suffix list (~0.08 s; courlan's domain of a URL its fast
    path does not match)."""
    external_date_parser("November 20 15:23 2019", "%Y-%m-%d")
    extract_domain("https://news.example.co.uk/", fast=False)


def _meta_tags(head: str) -> dict[str, str]:
    """First value per lower-cased name/property/itemprop/http-equiv of the <meta> tags we use.

    One regex pass picks only the tags named in ``_PUBLISHED_KEYS``/``_LANG_KEYS``; parsing
    the attributes of every meta tag on a page costs more than the rest of this module.
    """
    found: dict[str, str] = {}
    for tag in _WANTED_META.findall(head):
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or "" for m in _ATTR.finditer(tag)
        }
        content = attrs.get("content")
        if content is None:
            continue
        for key in ("property", "name", "itemprop", "http-equiv"):
            name = attrs.get(key)
            if name:
                name = name.strip().lower()
                name = _CANONICAL_KEY.get(_key_norm(name), name)
                value = htmllib.unescape(content).strip()
                if name in _AUTHOR_KEYS and found.get(name) and value not in found[name]:
                    found[name] += f"; {value}"  # several author tags: several authors
                found.setdefault(name, value)
    return found


def _date_candidates(html: str, metas: dict[str, str], ld: LinkedData) -> list[dates.Candidate]:
    """The page's dates, best publication evidence first (rules: :mod:`newsetl.pipeline.metadata.dates`)."""
    out: list[dates.Candidate] = []
    article = ld.article
    if article and article.date_published:
        out.append(dates.Candidate(article.date_published, "json-ld"))
    for key in _PUBLISHED_KEYS[:-1]:  # "date" is generic: ranked last
        value = metas.get(key)
        if value and any(ch.isdigit() for ch in value):
            out.append(dates.Candidate(value, f"meta:{key}"))
    m = _TIME_PUBLISHED.search(html)
    if m:
        attr = re.search(r"""datetime\s*=\s*["']([^"']+)["']""", m.group(0))
        if attr:
            out.append(dates.Candidate(attr.group(1), "time-element"))
    if article and article.date_created:
        out.append(dates.Candidate(article.date_created, "json-ld:dateCreated"))
    if article is None and (m := _JSONLD_PUBLISHED.search(html)):
        out.append(dates.Candidate(m.group(1), "json-ld"))
    if metas.get("date") and any(ch.isdigit() for ch in metas["date"]):
        out.append(dates.Candidate(metas["date"], "meta:date"))
    # zone evidence only: modification times, every other object's and <time> element's stamps
    out.extend(dates.Candidate(v, f"json-ld:{k}", published=False) for k, v in ld.stamps)
    out.extend(
        dates.Candidate(metas[k], f"meta:{k}", published=False) for k in _MODIFIED_KEYS if metas.get(k)
    )
    out.extend(
        dates.Candidate(v, "time", published=False) for v in _TIME_DATETIME.findall(html[:_HEAD_SCAN])[:40]
    )
    return out


def _declared_language(head: str, metas: dict[str, str]) -> str | None:
    m = _HTML_LANG.search(head[:20000])
    if m:
        return m.group(1).lower()
    for key in _LANG_KEYS:
        value = metas.get(key)
        if value:
            code = re.split(r"[-_,; ]", value.strip())[0].lower()
            if 2 <= len(code) <= 3 and code.isalpha():
                return code
    return None


def _as_list(value: Any) -> list[str]:
    """Distinct non-empty items; a comma-separated string (or list item) is several."""
    if not value:
        return []
    if isinstance(value, str):
        value = [value]
    items = [p.strip() for v in value if isinstance(v, str) for p in v.split(",")]
    return list(dict.fromkeys(p for p in items if p))


def page_metadata(
    tree: HtmlElement, url: str | None, *, need_date: bool = True, licence: str | None = None
) -> Document:
    """trafilatura's ``extract_metadata``, minus the guesses newsetl does not need.

    Same steps and order (meta tags, JSON-LD, then title, author, URL, date and site-name
    fallbacks, licence), except: the licence is passed in, read from the links of the walk
    newsetl makes anyway (:mod:`newsetl.pipeline.metadata.licenses`); categories come only
    from what the page declares (JSON-LD ``articleSection``), not from scanning every link
    for ``/category/`` paths; htmldate's search runs only when the page states no
    publication timestamp (which wins anyway); and the page body is not searched for a
    byline (:mod:`newsetl.pipeline.metadata.bylines` does that itself, only when the
    metadata names no one). Written against trafilatura 2.3 (pinned).
    """
    doc = examine_meta(tree)
    if doc.author and " " not in doc.author:  # a single word is a handle, not a name
        doc.author = None
    # trafilatura's JSON-LD parsing can fail on odd markup; the meta tags remain.
    with contextlib.suppress(Exception):
        doc = extract_meta_json(tree, doc)
    if not doc.title:
        doc.title = extract_title(tree)
    # No HTML byline search here: newsetl.pipeline.metadata.bylines.page_bylines does it, only when needed.
    if not doc.url:
        doc.url = extract_url(tree, url)
    if doc.url:
        doc.hostname = extract_domain(doc.url, fast=True)
    if need_date:
        # htmldate asserts on trees whose root is a foreign element (``<svg><p>``); a page
        # it cannot date is still an article, just an undated one.
        try:
            doc.date = find_date(tree, url=doc.url, original_date=True, extensive_search=True)
        except Exception:  # any htmldate failure means "no date found"
            doc.date = None
    if not doc.sitename:
        doc.sitename = extract_sitename(tree)
    if doc.sitename:
        doc.sitename = doc.sitename.lstrip("@")
        if doc.sitename and "." not in doc.sitename and not doc.sitename[0].isupper():
            doc.sitename = doc.sitename.title()
    elif doc.url and (m := _SITE_FROM_URL.match(doc.url)):
        doc.sitename = m[1]
    doc.license = licence  # trafilatura's extract_license, read from the links (metadata.licenses)
    doc.clean_and_trim()
    return doc


_INERT_OPEN = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)
_INERT_CLOSE = {
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
}


def strip_inert(html: str) -> str:
    """Empty ``<script>`` and ``<style>`` elements before parsing (JSON-LD scripts stay).

    trafilatura deletes them after parsing anyway; on news pages they are half the bytes,
    so parsing and cleaning a page without them costs ~6% less, with the same result on
    every corpus page. Like a browser, an element ends at its first closing tag.
    """
    out: list[str] = []
    pos = 0
    while (m := _INERT_OPEN.search(html, pos)) is not None:
        tag = m.group(1).lower()
        close = _INERT_CLOSE[tag].search(html, m.end())
        if close is None:
            break
        if tag == "script" and "ld+json" in m.group(2).lower():
            out.append(html[pos : close.end()])
        else:
            out.append(html[pos : m.start()])
            out.append(f"<{tag}></{tag}>")
        pos = close.end()
    if pos == 0:
        return html
    out.append(html[pos:])
    return "".join(out)


def extract_html(
    html: str,
    *,
    url: str | None = None,
    focus: str = "balanced",
    parse: Callable[[str], HtmlElement | None] = parse_html,
) -> Extracted:
    """Main text and metadata of one page; :class:`Rejection` when there is no article text.

    The page is parsed once (``parse``; trafilatura's ``load_html`` gives the reference
    output): metadata is read from the tree, and trafilatura extracts the main text from
    its own copy of it.
    """
    head = html[:_HEAD_SCAN]
    end = _HEAD_END.search(head)
    metas = _meta_tags(head if end is None else head[: end.start()])
    tree = parse(strip_inert(html))
    if tree is None:
        raise Rejection(Stage.EXTRACT, "not an HTML document (no parseable tree)")
    ld = linked_data(tree, url)
    published = dates.choose_published(_date_candidates(html, metas, ld))
    try:
        links = PageLinks.of(tree)
        meta = page_metadata(tree, url, need_date=published is None, licence=page_license(links.licence))
        doc = _bare_extraction(tree, url or meta.url, focus, links)
        if doc is not None and doc.text:
            doc = _with_missing_parts(tree, doc, url or meta.url, focus, links)
    except Exception as exc:  # a library crash on odd markup is a rejection
        reason = f"trafilatura failed on this markup ({type(exc).__name__}: {exc})"
        raise Rejection(Stage.EXTRACT, reason[:300]) from exc
    if doc is None or not (doc.text or "").strip():
        raise Rejection(Stage.EXTRACT, "no main text found (trafilatura)")
    site = SiteNames.of(
        [
            meta.sitename,
            metas.get("og:site_name"),
            metas.get("application-name"),
            ld.article.publisher if ld.article else None,
        ],
        extract_domain(meta.url or url or "", fast=True) if (meta.url or url) else None,
    )
    title, candidates = _choose_title(tree, metas, ld, meta, site)
    title = _clean_title(title)
    credit = bylines.credits(_byline_sources(tree, metas, ld, meta), site)
    text = drop_link_lines(clean_text(doc.text or ""), links)
    text = drop_front_matter(text, [title, *candidates], credit.authors, credit.agencies)
    if not text:
        raise Rejection(Stage.EXTRACT, "no main text left after cleaning")
    date: str | None = meta.date
    date_source: str | None = "htmldate" if meta.date else None
    date_offset: int | None = None
    if published is not None:
        date, date_source = published.value, published.source
        date_offset = None if published.tz_stated else published.offset_min
    return Extracted(
        text=text,
        text_source="html",
        title=title,
        authors=credit.authors,
        agencies=credit.agencies,
        date=date,
        date_source=date_source,
        date_offset_min=date_offset,
        url=meta.url,
        sitename=meta.sitename or None,
        description=(meta.description or None),
        categories=_as_list(meta.categories),
        tags=_as_list(meta.tags) or _as_list(ld.article.keywords if ld.article else None),
        image=meta.image or None,
        declared_language=_declared_language(head, metas),
        page_type=meta.pagetype or None,
        license=meta.license or None,
    )


def _choose_title(
    tree: HtmlElement, metas: dict[str, str], ld: LinkedData, meta: Document, site: SiteNames
) -> tuple[str | None, list[str | None]]:
    """Headline first (JSON-LD), then og:title, twitter:title, <h1>, <title>
    (:mod:`newsetl.pipeline.metadata.titles`)."""
    h1 = tree.find(".//h1")
    head_title = tree.find(".//head/title")
    candidates = [
        ("json-ld", ld.article.headline if ld.article else None),
        ("og:title", metas.get("og:title")),
        ("twitter:title", metas.get("twitter:title")),
        ("h1", h1.text_content() if h1 is not None else None),
        ("title", head_title.text_content() if head_title is not None else None),
        ("trafilatura", meta.title),
    ]
    return titles.choose_title(candidates, site)[0], [value for _, value in candidates]


def _byline_sources(
    tree: HtmlElement, metas: dict[str, str], ld: LinkedData, meta: Document
) -> Iterator[tuple[str, list[bylines.RawCredit]]]:
    """Credit sources, most structured first; the page's byline elements only when needed."""
    if ld.article and ld.article.authors:
        yield "json-ld", [bylines.RawCredit(c.name, c.organization) for c in ld.article.authors]
    for key in _AUTHOR_KEYS:
        if metas.get(key):
            yield f"meta:{key}", [bylines.RawCredit(metas[key])]
    yield from bylines.page_bylines(tree)
    if meta.author:
        yield "trafilatura", [bylines.RawCredit(meta.author)]


def _trafilatura(tree: HtmlElement, url: str | None, focus: str, *, fast: bool = True) -> Document | None:
    """trafilatura's main text of ``tree`` with newsetl's options (metadata is read apart)."""
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=fast,
        favor_precision=focus == "precision",
        favor_recall=focus == "recall",
        include_comments=False,
        include_tables=True,
        with_metadata=False,
    )
    return doc if isinstance(doc, Document) else None


def _bare_extraction(
    tree: HtmlElement, url: str | None, focus: str, links: PageLinks, *, fast: bool = True
) -> Document | None:
    doc = _trafilatura(tree, url, focus, fast=fast)
    if fast and doc is not None and doc.text and listing_like(doc.text, links):
        # Only output shaped like a listing pays for trafilatura's fallback comparison; its
        # answer is kept when shorter (the guard is against over-extraction, not for recall).
        full = _bare_extraction(tree, url, focus, links, fast=False)
        if full is not None and (full.text or "").strip() and len(full.text or "") < len(doc.text):
            return full
    return doc


def _with_missing_parts(
    tree: HtmlElement, doc: Document, url: str | None, focus: str, links: PageLinks
) -> Document:
    """The article again from a tree with its later parts joined to the first, when its body
    is split across containers of one kind (:mod:`newsetl.pipeline.splitbody`). A joined
    result that looks like a listing (the parts were teasers after all) is not taken."""
    split = splitbody.missing_parts(tree, doc.text or "")
    if split is None:
        return doc
    full = _trafilatura(splitbody.joined(tree, *split), url, focus)
    if full is None or len(full.text or "") <= len(doc.text or ""):
        return doc
    # a long text is what joining the parts is for; the listing shapes still disqualify it
    return full if listing_like(full.text or "", links) in (None, "long") else doc


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    title = " ".join(title.split())
    return title or None


def extract_plain_text(text: str) -> Extracted:
    """A plain-text article: title only if the first line is one, teasers stripped."""
    title, paragraphs = split_plain_text(text)
    body = "\n".join(paragraphs)
    if not body.strip():
        raise Rejection(Stage.EXTRACT, "no text left after cleaning")
    return Extracted(text=body, text_source="text", title=title)
