"""Extract stage: HTML -> main text + metadata with trafilatura; plain text -> clean text.

Pure functions of their input (no I/O), run inside worker processes.
"""

from __future__ import annotations

import html as htmllib
import logging
import re
from typing import Any

import trafilatura
from trafilatura.settings import Document
from trafilatura.utils import load_html

from newsetl.errors import Rejection
from newsetl.models import Extracted, Stage
from newsetl.textclean import clean_text, split_plain_text

# Bump when newsetl's own cleaning rules change, so reprocessing can tell versions apart.
EXTRACT_REVISION = 1
EXTRACTOR_VERSION = f"trafilatura-{trafilatura.__version__}+newsetl-{EXTRACT_REVISION}"

for _name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
    # Every failure becomes a recorded rejection with a reason; library chatter adds nothing.
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_HEAD_SCAN = 300_000
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
_WANTED_META = re.compile(
    r"<meta\b[^>]*?\b(?:property|name|itemprop|http-equiv)\s*=\s*[\"']?(?:"
    + "|".join(re.escape(k) for k in (*_PUBLISHED_KEYS, *_LANG_KEYS))
    + r")[\"'\s/>][^>]*>",
    re.IGNORECASE,
)


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
                found.setdefault(name.strip().lower(), htmllib.unescape(content).strip())
    return found


def _published_from_markup(html: str, metas: dict[str, str]) -> tuple[str, str] | None:
    """A publication timestamp the page states explicitly, with where it was found."""
    for key in _PUBLISHED_KEYS:
        value = metas.get(key)
        if value and any(ch.isdigit() for ch in value):
            return value, f"meta:{key}"
    m = _JSONLD_PUBLISHED.search(html)
    if m:
        return m.group(1), "json-ld"
    m = _TIME_PUBLISHED.search(html)
    if m:
        attr = re.search(r"""datetime\s*=\s*["']([^"']+)["']""", m.group(0))
        if attr:
            return attr.group(1), "time-element"
    return None


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


def _split_people(value: str | None) -> list[str]:
    if not value:
        return []
    seen: list[str] = []
    for part in re.split(r";|\|", value):
        name = " ".join(part.split()).strip(" ,")
        if name and name not in seen:
            seen.append(name)
    return seen


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


def extract_html(html: str, *, url: str | None = None, focus: str = "balanced") -> Extracted:
    """Main text and metadata of one page; :class:`Rejection` when there is no article text."""
    head = html[:_HEAD_SCAN]
    end = _HEAD_END.search(head)
    metas = _meta_tags(head if end is None else head[: end.start()])
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        fast=True,
        favor_precision=focus == "precision",
        favor_recall=focus == "recall",
        include_comments=False,
        include_tables=True,
        with_metadata=True,
        date_extraction_params={"original_date": True, "extensive_search": True},
    )
    if not isinstance(doc, Document) or not (doc.text or "").strip():
        if load_html(html) is None:
            raise Rejection(Stage.EXTRACT, "not an HTML document (no parseable tree)")
        raise Rejection(Stage.EXTRACT, "no main text found (trafilatura)")
    title = _clean_title(doc.title)
    text = _drop_leading_title(clean_text(doc.text or ""), title)
    if not text:
        raise Rejection(Stage.EXTRACT, "no main text left after cleaning")
    published = _published_from_markup(html, metas)
    date: str | None = doc.date
    date_source: str | None = "htmldate" if doc.date else None
    if published is not None:
        date, date_source = published
    return Extracted(
        text=text,
        text_source="html",
        title=title,
        authors=_split_people(doc.author),
        date=date,
        date_source=date_source,
        url=doc.url,
        sitename=doc.sitename or None,
        description=(doc.description or None),
        categories=_as_list(doc.categories),
        tags=_as_list(doc.tags),
        image=doc.image or None,
        declared_language=_declared_language(head, metas),
        page_type=doc.pagetype or None,
        license=doc.license or None,
    )


def _drop_leading_title(text: str, title: str | None) -> str:
    """The headline is stored in ``title``; repeating it as the first paragraph is noise."""
    if not title:
        return text
    first, _, rest = text.partition("\n")
    if rest and first.casefold() == title.casefold():
        return rest
    return text


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
