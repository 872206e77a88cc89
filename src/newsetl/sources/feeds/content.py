"""An entry's own text: the article when its page cannot be used (feed content)."""

from __future__ import annotations

import re

from newsetl.models import Extracted
from newsetl.pipeline.textclean import clean_text
from newsetl.sources.feeds.model import FeedEntry

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr",
        "table", "section", "article", "figure", "figcaption", "header", "footer", "dd", "dt", "dl",
        "hr", "address", "aside",
    }
)  # fmt: skip
_DROP_TAGS = ("script", "style", "noscript", "iframe", "object", "embed", "template", "svg", "math")
# WordPress & co. append "The post X appeared first on Y." to every item.
# Characters XML forbids: lxml's HTML parser keeps them in text but refuses them when text
# is set (the line breaks added below), and they carry no text of their own.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FEED_TRAILER = re.compile(
    r"^(?:the post .{1,300} appeared first on .{1,200}|continue reading.{0,80})$", re.IGNORECASE
)


def html_fragment_text(html: str) -> str:
    """Paragraph text of an HTML fragment (feed content): one line per block element."""
    if "<" not in html:
        return clean_text(_unescape(html))
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(_NOT_XML.sub("", html), create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return ""
    for bad in root.iter(*_DROP_TAGS):
        bad.drop_tree()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif el.tag in _BLOCK_TAGS:
            el.text = "\n" + (el.text or "")
            el.tail = "\n" + (el.tail or "")
    return clean_text(root.text_content())


def _unescape(text: str) -> str:
    import html as htmllib

    return htmllib.unescape(text)


def entry_extracted(entry: FeedEntry) -> Extracted | None:
    """The entry's own content as an extraction (``text_source='feed'``), if it has text."""
    text = ""
    for html in (entry.content_html, entry.summary_html):
        if html:
            text = html_fragment_text(html)
            lines = [ln for ln in text.split("\n") if not _FEED_TRAILER.match(ln)]
            text = "\n".join(lines)
            if entry.title and lines and lines[0].casefold() == entry.title.casefold():
                text = "\n".join(lines[1:])
            if text.strip():
                break
    if not text.strip():
        return None
    return Extracted(
        text=text,
        text_source="feed",
        title=entry.title,
        authors=list(entry.authors),
        date=entry.published.isoformat() if entry.published else None,
        date_source="feed" if entry.published else None,
        url=entry.link_norm,
        tags=list(entry.tags),
        declared_language=(entry.language or "")[:2].lower() or None,
    )
