"""Parse a page into the lxml tree trafilatura and the metadata readers share.

trafilatura's ``load_html`` parses with ``lxml.html``'s parser, whose element-class lookup
is a Python method: lxml calls it every time it hands Python an element it has not handed
out yet (every XPath result, every ``iter()`` step, every ancestor), ~3,000 times per
news page. Its only effect beyond the generic :class:`~lxml.html.HtmlElement` is giving
``<form>``, ``<input>``, ``<select>``, ``<textarea>`` and ``<label>`` form-handling classes,
which no extractor here uses. :data:`PARSER` has the same options with lxml's C lookup
(every element an ``HtmlElement``, comments and processing instructions their HTML
classes): 4 % fewer instructions per page (callgrind), the same output on every corpus page
(``tests/test_htmltree.py``). Copies of a tree keep its parser, so trafilatura's own
copies use it too.
"""

from __future__ import annotations

import lxml.html
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import is_dubious_html, repair_faulty_html

__all__ = ["PARSER", "parse_html"]

PARSER = lxml.html.HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
)
PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=HtmlElement,
        comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    )
)


def parse_html(html: str) -> HtmlElement | None:
    """The tree of a decoded page, or None when it is not HTML.

    The steps of trafilatura's ``load_html`` for a string (written against 2.3, pinned):
    repair what libxml2 trips on, parse the text, parse its UTF-8 bytes when lxml refuses
    a string with an encoding declaration or finds no elements, and reject a document that
    neither mentions ``html`` near its start nor has two top-level elements.
    """
    beginning = html[:50].lower()
    dubious = is_dubious_html(beginning)
    html = repair_faulty_html(html, beginning)
    tree: HtmlElement | None = None
    tried_bytes = False
    try:
        tree = lxml.html.fromstring(html, parser=PARSER)
    except ValueError:  # "Unicode strings with encoding declaration are not supported."
        tree, tried_bytes = _from_bytes(html), True
    except Exception:  # libxml2 gave up on this markup: try its bytes below
        tree = None
    if (tree is None or len(tree) < 1) and not tried_bytes:
        tree = _from_bytes(html)
    if tree is not None and dubious and len(tree) < 2:
        return None
    return tree


def _from_bytes(html: str) -> HtmlElement | None:
    try:
        return lxml.html.fromstring(html.encode("utf8", "surrogatepass"), parser=PARSER)
    except Exception:  # not parseable as bytes either
        return None
