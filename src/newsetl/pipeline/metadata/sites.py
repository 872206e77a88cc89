"""The names a site goes by, to recognise it in bylines and title suffixes.

A page names its publisher in several ways: ``og:site_name`` ("Börsen-Zeitung"), the
JSON-LD publisher ("Deutsche Welle"), its host ("mdr.de", "n-tv.de"), initials ("SZ" for
"Süddeutsche Zeitung"). Comparison keys fold case, accents (ö = o = oe) and punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_TLD = re.compile(r"\.(?:[a-z]{2,3}|com|net|org|info|online|news)$")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_GENERIC_LABELS = {"www", "m", "mobile", "amp", "news", "de", "en", "uk", "us", "co", "com", "online"}


def keys(text: str) -> set[str]:
    """Comparison keys of ``text``: lower-case alphanumerics, with ö as o and as oe."""
    out = set()
    for variant in (text, text.translate(_UMLAUTS)):
        folded = unicodedata.normalize("NFKD", variant.casefold())
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
        key = _NON_ALNUM.sub("", folded)
        if key:
            out.add(key)
    return out


def _initials(name: str) -> str:
    words = [w for w in re.split(r"[\s\-]+", name) if w[:1].isalpha()]
    return "".join(w[0] for w in words).casefold() if len(words) >= 2 else ""


@dataclass(frozen=True, slots=True)
class SiteNames:
    """Keys of the site's names; ``matches`` tells whether a string is one of them."""

    names: frozenset[str]
    labels: frozenset[str]  # host labels ("mdr", "n-tv"): also matched as a word
    initials: frozenset[str]

    @classmethod
    def of(cls, names: Iterable[str | None], host: str | None = None) -> SiteNames:
        found: set[str] = set()
        initials: set[str] = set()
        labels: set[str] = set()
        for name in names:
            if not name or len(name) > 80:
                continue
            found |= keys(name)
            found |= keys(_TLD.sub("", name.casefold().strip()))
            if ini := _initials(name):
                initials.add(ini)
        if host:
            host = host.casefold().removeprefix("www.")
            found |= keys(host)
            parts = [p for p in host.split(".") if p and p not in _GENERIC_LABELS]
            if parts:
                main = parts[-2] if len(parts) >= 2 and len(parts[-1]) <= 3 else parts[0]
                labels |= {k for k in keys(main) if len(k) >= 2}
                found |= labels
        return cls(frozenset(k for k in found if len(k) >= 2), frozenset(labels), frozenset(initials))

    def is_name(self, text: str) -> bool:
        """``text`` is one of the site's names or its host, nothing more."""
        return bool(keys(text) & self.names) or bool(keys(_TLD.sub("", text.casefold().strip())) & self.names)

    def matches(self, text: str) -> bool:
        """``text`` is the site's name, host, a host label, or contains one as a whole word
        ("MDR THÜRINGEN", "Tageszeitung junge Welt"), or is the name's initials."""
        if not text:
            return False
        k = keys(text)
        if k & self.names:
            return True
        stripped = keys(_TLD.sub("", text.casefold().strip()))
        if stripped & (self.names | self.initials):
            return True
        words = [w for w in re.split(r"[\s,|:/()]+", text) if w]
        for w in words:
            bare = _TLD.sub("", w.casefold().removeprefix("www."))
            if keys(w) & self.labels or keys(bare) & (self.labels | self.names):
                return True
        # a multi-word site name contained in a longer credit ("Redaktion Börsen-Zeitung")
        joined = next(iter(keys(text)), "")
        return any(len(n) >= 6 and n in joined for n in self.names)
