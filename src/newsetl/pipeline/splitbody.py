"""Articles whose body is split across sibling containers.

Some templates cut a long article into several containers of the same kind (``<div
class="body__inner-container">`` three times, with ads or newsletter boxes between them),
each inside its own wrapper. trafilatura takes the first element its body expressions
match and stops there, so such an article loses everything after its first part: on the
corpus' New Yorker page, 53 % of the text. The signal is structural and cheap (one walk
over the paragraphs' parents, ~0.3 ms a page): the paragraphs trafilatura returned sit in
one container of a group of same-tag, same-class containers, and the group's later members,
each with paragraphs of their own, are missing from the output. Only then is the page
extracted again, from a copy of the tree with those members' content moved into the first.
"""

from __future__ import annotations

import copy

from lxml.html import HtmlElement

# A later container counts as a part of the article from this much paragraph text ...
MIN_PART_CHARS = 400
# ... in at least this many paragraphs (a caption or a teaser has one).
MIN_PART_PARAGRAPHS = 2
# Characters of a container's longest paragraph looked up in the output.
PROBE_CHARS = 80
# A group of more same-kind containers than this is a list of comments or teasers, not the
# parts of one article (and looking each up in the output would cost too much).
MAX_PARTS = 40


def _probe(container: HtmlElement) -> str | None:
    """The start of the container's longest paragraph, or None when the container is too
    small to be a part of an article."""
    paragraphs = container.findall("p")
    if len(paragraphs) < MIN_PART_PARAGRAPHS:
        return None
    texts = [" ".join(p.text_content().split()) for p in paragraphs]
    if sum(map(len, texts)) < MIN_PART_CHARS:
        return None
    return max(texts, key=len)[:PROBE_CHARS]


def missing_parts(tree: HtmlElement, text: str) -> tuple[HtmlElement, list[HtmlElement]] | None:
    """The container of the extracted ``text`` and the later containers of the same kind
    whose paragraphs the text lacks, or None when the article is not split that way."""
    groups: dict[tuple[str, str], list[HtmlElement]] = {}
    seen: set[HtmlElement] = set()
    for p in tree.iter("p"):
        elem = p.getparent()
        if elem is None or elem in seen:
            continue
        seen.add(elem)
        cls = elem.get("class")
        if cls:
            groups.setdefault((elem.tag, cls), []).append(elem)
    flat = " ".join(text.split())
    for members in groups.values():
        if not 2 <= len(members) <= MAX_PARTS:
            continue
        parts = [(m, probe) for m in members if (probe := _probe(m)) is not None]
        present = [probe in flat for _, probe in parts]
        if not any(present) or all(present):
            continue
        first = present.index(True)
        head = parts[first][0]
        missing = [
            m
            for (m, _), seen in zip(parts[first + 1 :], present[first + 1 :], strict=True)
            if not seen and not _nested(head, m)
        ]
        if missing:
            return head, missing
    return None


def _nested(a: HtmlElement, b: HtmlElement) -> bool:
    return any(x is b for x in a.iterancestors()) or any(x is a for x in b.iterancestors())


def joined(tree: HtmlElement, head: HtmlElement, rest: list[HtmlElement]) -> HtmlElement:
    """A copy of ``tree`` in which the children of the ``rest`` containers follow those of
    ``head`` (the input tree is left as it is: the page's other readers still use it)."""
    root = tree.getroottree()
    paths = [root.getpath(e) for e in (head, *rest)]
    clone: HtmlElement = copy.deepcopy(tree)
    found = [clone.xpath(p) for p in paths]
    if not all(len(f) == 1 for f in found):
        return clone
    target, *others = (f[0] for f in found)
    for other in others:
        for child in list(other):
            target.append(child)
    return clone
