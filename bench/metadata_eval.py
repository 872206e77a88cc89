"""Metadata accuracy against public ground truth: title, publication time, authors, topics.

Ground truth comes from ``../shared/corpus``: fundus' per-publisher parser expectations
(``<Publisher>.json``, every parser version via ``html-to-version.tsv``) and the pages of
trafilatura's evaluation set that carry metadata expectations. The metrics are deliberately
plain so that a number means one thing:

- title: equal after :func:`normalize_title` (Unicode, quotes, dashes, spaces, case);
- instant: within one hour of the truth, only where the truth states a UTC offset;
- day: the calendar day as the truth writes it (in its own offset);
- authors, topics: F1 of the normalised name sets, per page, averaged over pages.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import statistics
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

INSTANT_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class MetaTruth:
    """One page with its expected metadata (None: the ground truth does not say)."""

    dataset: str
    page_id: str
    publisher: str
    path: Path
    url: str | None
    title: str | None
    published: str | None
    authors: list[str] | None
    topics: list[str] | None


@dataclass(slots=True)
class MetaGuess:
    """What an extractor found; ``day`` is the publication day as the page states it."""

    title: str | None = None
    published_at: datetime | None = None
    day: date | None = None
    authors: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    # The people alone, when ``authors`` also holds credited organisations (agencies).
    persons: list[str] | None = None


def fundus_metadata(root: Path) -> Iterator[MetaTruth]:
    """Every fundus page of ``root`` (the corpus' ``fundus/`` folder), all parser versions."""
    with (root / "html-to-version.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    cache: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        expected = row["expected_json"]
        if expected not in cache:
            cache[expected] = json.loads((root / expected).read_text(encoding="utf-8"))
        entry = cache[expected].get(row["version_key"])
        path = root / row["html_file"]
        if entry is None or not path.exists():
            continue
        country, _, name = row["html_file"].partition("/")
        publisher = f"{country}/{name.rsplit('_', 3)[0]}"
        yield MetaTruth(
            dataset="fundus",
            page_id=row["html_file"],
            publisher=publisher,
            path=path,
            url=row.get("url") or None,
            title=entry.get("title"),
            published=entry.get("publishing_date"),
            authors=list(entry["authors"]) if isinstance(entry.get("authors"), list) else None,
            topics=list(entry["topics"]) if isinstance(entry.get("topics"), list) else None,
        )


def trafilatura_metadata(root: Path) -> Iterator[MetaTruth]:
    """Pages of trafilatura's ``evaldata.json`` that state a title, date or author."""
    data = json.loads((root / "evaldata.json").read_text(encoding="utf-8"))
    for url, entry in data.items():
        if not any(entry.get(k) for k in ("title", "date", "author")):
            continue
        path = root / "cache" / entry["file"]
        if not path.exists():
            continue
        tags = list(entry.get("tags") or []) + list(entry.get("categories") or [])
        yield MetaTruth(
            dataset="trafilatura",
            page_id=entry["file"],
            publisher=entry["file"].split(".")[0],
            path=path,
            url=url,
            title=entry.get("title") or None,
            published=entry.get("date") or None,
            authors=[a.strip() for a in entry["author"].split(";")] if entry.get("author") else None,
            topics=tags or None,
        )


def split_of(publisher: str, salt: str = "newsetl-metadata") -> str:
    """``'dev'`` or ``'check'``: a fixed half of the publishers per country, by hash.

    Rules are developed looking at the dev half only; the check half tells whether they
    carry over to publishers they were not written against.
    """
    return "dev" if int(hashlib.sha256(f"{salt}:{publisher}".encode()).hexdigest(), 16) % 2 == 0 else "check"


# --- normalisation ---------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_QUOTES = str.maketrans(
    {
        **dict.fromkeys("„“”«»″", '"'),
        **dict.fromkeys("‚‘’‹›′`´", "'"),
        **dict.fromkeys("‐‑‒–—―−", "-"),
    }
)


def normalize_title(title: str | None) -> str:
    """Case, Unicode form, typographic quotes/dashes, invisible characters and spacing ignored."""
    if not title:
        return ""
    text = unicodedata.normalize("NFKC", title).translate(_INVISIBLE).translate(_QUOTES)
    return " ".join(text.split()).casefold()


_NAME_TITLES = re.compile(r"^(?:(?:dr|prof|mag|dipl|ing)\.?\s+)+", re.IGNORECASE)


def normalize_name(name: str) -> str:
    """A name for set comparison: case, accents kept; academic titles and dots ignored."""
    text = unicodedata.normalize("NFKC", name).translate(_INVISIBLE)
    text = " ".join(text.replace(".", ". ").split())
    text = _NAME_TITLES.sub("", text)
    return " ".join(text.replace(".", " ").split()).casefold()


def set_f1(truth: Iterable[str], guess: Iterable[str], norm: Any = normalize_name) -> float:
    """F1 of two name sets; two empty sets agree (1.0)."""
    t = {norm(x) for x in truth if x and norm(x)}
    g = {norm(x) for x in guess if x and norm(x)}
    if not t and not g:
        return 1.0
    tp = len(t & g)
    if not tp:
        return 0.0
    p, r = tp / len(g), tp / len(t)
    return 2 * p * r / (p + r)


def _topic_norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


# --- dates ------------------------------------------------------------------------------------


def parse_truth_time(value: str | None) -> tuple[datetime | None, date | None]:
    """(aware instant or None when the truth gives no offset, the day as written)."""
    if not value:
        return None, None
    raw = value.strip()
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        m = re.match(r"(\d{4})-(\d\d)-(\d\d)", raw)
        return None, (date(int(m[1]), int(m[2]), int(m[3])) if m else None)
    if len(raw) <= 10:  # a date without time
        return None, dt.date()
    return (dt if dt.tzinfo is not None else None), dt.date()


def instant_ok(truth: str | None, guess: datetime | None) -> bool | None:
    """Within :data:`INSTANT_TOLERANCE`; None when the truth has no zoned instant to compare."""
    instant, _ = parse_truth_time(truth)
    if instant is None:
        return None
    if guess is None:
        return False
    return abs(guess - instant) <= INSTANT_TOLERANCE


def day_ok(truth: str | None, guess: MetaGuess) -> bool | None:
    """The day in the truth's own frame: our instant in its offset, else our stated day."""
    instant, day = parse_truth_time(truth)
    if day is None:
        return None
    if instant is not None and guess.published_at is not None:
        offset = instant.utcoffset() or timedelta(0)
        return guess.published_at.astimezone(timezone(offset)).date() == day
    return guess.day == day


# --- scoring ----------------------------------------------------------------------------------


@dataclass(slots=True)
class PageScore:
    page: MetaTruth
    title: bool | None
    instant: bool | None
    day: bool | None
    authors: float | None
    persons: float | None
    topics: float | None


def score_page(truth: MetaTruth, guess: MetaGuess) -> PageScore:
    return PageScore(
        page=truth,
        title=None if not truth.title else normalize_title(truth.title) == normalize_title(guess.title),
        instant=instant_ok(truth.published, guess.published_at),
        day=day_ok(truth.published, guess),
        authors=None if truth.authors is None else set_f1(truth.authors, guess.authors),
        persons=None
        if truth.authors is None
        else set_f1(truth.authors, guess.authors if guess.persons is None else guess.persons),
        topics=None if not truth.topics else set_f1(truth.topics, guess.topics, _topic_norm),
    )


METRICS = ("title", "instant", "day", "authors", "persons", "topics")


def summarize(scores: list[PageScore]) -> dict[str, tuple[float, int]]:
    """Mean and number of scorable pages per metric (NaN when none is scorable)."""
    out: dict[str, tuple[float, int]] = {}
    for metric in METRICS:
        values = [float(v) for s in scores if (v := getattr(s, metric)) is not None]
        out[metric] = (statistics.mean(values) if values else math.nan, len(values))
    return out
