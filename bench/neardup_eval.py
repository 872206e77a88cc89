"""Labelled pairs for measuring near-duplicate detection on real articles.

Positives are made from each real article by the edits that separate copies of one story in
the wild: other boilerplate appended or a footer removed, an edited lede, a paragraph added
or dropped, typo fixes, a syndicated copy with an agency dateline and credit, a shortened
syndicated copy, and combinations.

Negatives are real, different articles that are as close as the corpus allows: every pair
from the same outlet (domain), and each article's nearest neighbours by shared vocabulary
(same topic, e.g. several outlets' reports on one hearing). Every other pair is kept as a
background set for the false-positive rate at scale. Real pairs with the same headline are
kept apart, unlabelled ('same-headline'), for inspection: a page crawled twice is a true
near-duplicate, but two pages titled with their site's name are not. Used by
bench/neardup.py and the tests.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

_WORD = re.compile(r"[^\W_]+")

BOILERPLATE = {
    "en": [
        "Sign up for our newsletter to get the day's top stories delivered to your inbox every morning.",
        "© 2024 Example Media Group. All rights reserved. This material may not be published, "
        "broadcast, rewritten or redistributed.",
        "Follow us on Twitter, Facebook and Instagram for the latest updates.",
        "Have a news tip? Contact our newsroom at any time, day or night.",
        "This article was amended on the day of publication to correct the spelling of a name.",
    ],
    "de": [
        "Abonnieren Sie unseren Newsletter und erhalten Sie jeden Morgen die wichtigsten "
        "Nachrichten des Tages.",
        "© 2024 Beispiel Medien GmbH. Alle Rechte vorbehalten. Vervielfältigung nur mit Genehmigung.",
        "Folgen Sie uns auf Facebook, Instagram und X für aktuelle Meldungen aus der Region.",
        "Sie haben einen Hinweis für unsere Redaktion? Schreiben Sie uns, wir melden uns.",
        "Dieser Artikel wurde nach Veröffentlichung aktualisiert und um weitere Informationen ergänzt.",
    ],
}
AGENCY = {
    "en": ("WASHINGTON (AP) — ", "Copyright 2024 The Associated Press. All rights reserved."),
    "de": ("BERLIN (dpa) - ", "© dpa-infocom, dpa:240101-99-000001/2"),
}


@dataclass(frozen=True, slots=True)
class EvalArticle:
    article_id: str
    domain: str | None
    language: str | None
    title: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Pair:
    kind: str  # the edit for positives; 'same-outlet', 'same-topic', 'background'; 'same-headline'
    positive: bool | None  # None: unlabelled
    a: str
    b: str
    label: str = ""  # what the pair is made of (article ids)


def load_articles(conn: duckdb.DuckDBPyConnection, min_words: int = 50) -> list[EvalArticle]:
    """Whole article texts (a feed's own excerpt of an article is not one)."""
    rows = conn.execute(
        """SELECT article_id, domain, language, title, text FROM articles
           WHERE word_count >= ? AND text_source <> 'feed' ORDER BY article_id""",
        [min_words],
    ).fetchall()
    return [EvalArticle(*r) for r in rows]


def _paras(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def _lang(a: EvalArticle) -> str:
    return "de" if a.language == "de" else "en"


def _typos(text: str, rng: random.Random, n: int) -> str:
    """Swap two adjacent letters inside ``n`` random longer words (or undo such swaps)."""
    words = text.split(" ")
    for _ in range(n):
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 4:
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def edits(article: EvalArticle, donor: EvalArticle, rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, text_a, text_b) near-duplicate variants of one article; ``donor`` lends a paragraph."""
    text, p, lang = article.text, _paras(article.text), _lang(article)
    boiler = BOILERPLATE[lang]
    dateline, credit = AGENCY[lang]
    out: list[tuple[str, str, str]] = []
    out.append(
        ("other-boilerplate", "\n".join(p + rng.sample(boiler, 2)), "\n".join([*p, rng.choice(boiler)]))
    )
    if len(p) > 2:
        out.append(("footer-removed", text, "\n".join(p[:-1])))
    lede = p[0].split(" ")
    for _ in range(min(3, len(lede))):
        lede[rng.randrange(len(lede))] = rng.choice(["new", "latest", "update", "neue", "jetzt"])
    out.append(("lede-edited", text, "\n".join([" ".join(lede), *p[1:]])))
    added = list(p)
    added.insert(rng.randrange(1, len(p) + 1), rng.choice(_paras(donor.text)))
    out.append(("paragraph-added", text, "\n".join(added)))
    if len(p) > 2:
        dropped = list(p)
        del dropped[rng.randrange(1, len(p))]
        out.append(("paragraph-dropped", text, "\n".join(dropped)))
    out.append(("typos-fixed", _typos(text, rng, 6), text))
    out.append(("syndicated", text, "\n".join([dateline + p[0], *p[1:], credit, rng.choice(boiler)])))
    if len(p) >= 4:
        keep = max(2, round(len(p) * 0.6))
        out.append(("syndicated-shortened", text, "\n".join([dateline + p[0], *p[1:keep], credit])))
    combo = list(p)
    if len(combo) > 3:
        del combo[rng.randrange(1, len(combo))]
    combo[0] = dateline + combo[0]
    out.append(
        (
            "syndicated+dropped+typos",
            "\n".join([*p, rng.choice(boiler)]),
            _typos("\n".join([*combo, credit, *rng.sample(boiler, 2)]), rng, 3),
        )
    )
    return out


def _vocab(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.casefold()) if len(w) > 3}


def _norm_title(title: str | None) -> str:
    return " ".join((title or "").casefold().split())


def build_pairs(
    articles: Sequence[EvalArticle], *, seed: int = 7, neighbours: int = 3
) -> tuple[list[Pair], list[tuple[str, EvalArticle, EvalArticle]]]:
    """Labelled text pairs, plus the real article pairs behind the negatives (for reporting).

    Returns ``(pairs, real)`` where ``real`` lists (kind, a, b) for every real pair used.
    """
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for i, art in enumerate(articles):
        donor = articles[(i + 1) % len(articles)]
        for kind, text_a, text_b in edits(art, donor, rng):
            pairs.append(Pair(kind, True, text_a, text_b, art.article_id))
    real: list[tuple[str, EvalArticle, EvalArticle]] = []
    vocab = [_vocab(a.text) for a in articles]
    nearest: set[tuple[int, int]] = set()
    for i in range(len(articles)):
        scored = sorted(
            (
                (len(vocab[i] & vocab[j]) / (len(vocab[i] | vocab[j]) or 1), j)
                for j in range(len(articles))
                if j != i
            ),
            reverse=True,
        )
        nearest.update((min(i, j), max(i, j)) for _, j in scored[:neighbours])
    for i, j in itertools.combinations(range(len(articles)), 2):
        a, b = articles[i], articles[j]
        positive: bool | None
        if _norm_title(a.title) and _norm_title(a.title) == _norm_title(b.title):
            kind, positive = "same-headline", None
        elif a.domain and a.domain == b.domain:
            kind, positive = "same-outlet", False
        elif (i, j) in nearest:
            kind, positive = "same-topic", False
        else:
            kind, positive = "background", False
        pairs.append(Pair(kind, positive, a.text, b.text, f"{a.article_id}~{b.article_id}"))
        if kind != "background":
            real.append((kind, a, b))
    return pairs, real


@dataclass(frozen=True, slots=True)
class Confusion:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def confusion(
    scored: Sequence[tuple[Pair, float]], threshold: float, kinds: set[str] | None = None
) -> Confusion:
    tp = fp = fn = tn = 0
    for pair, s in scored:
        if (kinds is not None and pair.kind not in kinds) or pair.positive is None:
            continue
        hit = s >= threshold
        if pair.positive:
            tp, fn = tp + hit, fn + (not hit)
        else:
            fp, tn = fp + hit, tn + (not hit)
    return Confusion(tp, fp, fn, tn)


def score_pairs(pairs: Sequence[Pair], fn: Callable[[str, str], float]) -> list[tuple[Pair, float]]:
    return [(p, fn(p.a, p.b)) for p in pairs]
