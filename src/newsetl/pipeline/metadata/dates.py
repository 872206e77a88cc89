"""Publication timestamps: which of a page's dates is the publication, and in which zone.

Pages state several dates (published, modified, the print issue, related stories, images)
in several places, some with a UTC offset and some without. The rules, in order:

1. **Which value.** Candidates are ranked by how specifically they name the publication
   of *this* article: the JSON-LD article object's ``datePublished``; then publication meta
   tags (``article:published_time`` and its spellings, ``parsely-pub-date`` ...); then a
   ``<time itemprop="datePublished">`` / ``pubdate``; then the article's ``dateCreated``;
   then generic ``date`` meta tags (often the print issue or a local time). Modification
   dates are never chosen. A date without a time gives way to a lower-ranked candidate
   with a time on the same day.
2. **Which zone.** A stated offset (``Z``, ``+02:00``, ``+0200``, ``+02``) is honoured. A
   value without one takes the zone the page reveals elsewhere: (a) another timestamp with
   an offset and the same wall-clock time (to the minute); else (b) a publication
   timestamp with an offset that is the same instant shifted by a whole quarter-hour
   offset (same seconds), e.g. ``05:00:07`` local beside ``03:00:07Z``; else (c) the
   non-zero offset of the page's other zoned timestamp nearest in time. Only when the page
   reveals no zone is the time taken as UTC (``tz_stated`` false, offset unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz

_LATEST_PLAUSIBLE = timedelta(days=2)
_EARLIEST_YEAR = 1990
_MAX_OFFSET_MIN = 14 * 60

_ISO = re.compile(
    r"""^\s*(\d{4})-(\d{1,2})-(\d{1,2})
        (?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?
        \s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Stamp:
    """A parsed timestamp: the wall-clock time as written, and its offset if stated."""

    local: datetime  # naive
    offset_min: int | None
    has_time: bool

    def instant(self, offset_min: int | None = None) -> datetime:
        """The UTC instant, with ``offset_min`` for a value that states no offset (else UTC)."""
        off = self.offset_min if self.offset_min is not None else (offset_min or 0)
        return (self.local - timedelta(minutes=off)).replace(tzinfo=UTC)


def _offset(token: str | None) -> int | None:
    if not token:
        return None
    token = token.upper()
    if token in {"Z", "UTC", "GMT"}:
        return 0
    sign = -1 if token[0] == "-" else 1
    digits = token[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    value = sign * (hours * 60 + minutes)
    return value if abs(value) <= _MAX_OFFSET_MIN else None


def parse_stamp(value: str | None) -> Stamp | None:
    """ISO 8601 (lenient: space separator, no seconds, ``+0200``, ``+02``), RFC 2822, or a
    leading ``YYYY-MM-DD``; None for anything else."""
    if not value:
        return None
    raw = value.strip()
    m = _ISO.match(raw)
    if m:
        try:
            if m[4] is None:
                return Stamp(datetime(int(m[1]), int(m[2]), int(m[3])), None, False)
            micro = int((m[7] or "0")[:6].ljust(6, "0"))
            local = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0), micro)
        except ValueError:
            return None
        return Stamp(local, _offset(m[8]), True)
    parts = parsedate_tz(raw) if re.search(r"[A-Za-z]{3}", raw) else None
    if parts is not None:
        try:
            local = datetime(*parts[:6])
        except (TypeError, ValueError):
            return None
        # RFC 2822 '-0000' means "zone unknown"; parsedate_tz cannot tell it from +0000.
        tz = None if parts[9] is None or raw.rstrip().endswith("-0000") else parts[9] // 60
        return Stamp(local, tz, True)
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", raw)
    if m:
        try:
            return Stamp(datetime(int(m[1]), int(m[2]), int(m[3])), None, False)
        except ValueError:
            return None
    return None


def plausible(instant: datetime, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    return instant.year >= _EARLIEST_YEAR and instant <= now + _LATEST_PLAUSIBLE


@dataclass(frozen=True, slots=True)
class Candidate:
    """A date found on the page: its text, where (``json-ld``, ``meta:<name>`` ...), and
    whether it names the publication (``published``) or is zone evidence only."""

    value: str
    source: str
    published: bool = True


@dataclass(frozen=True, slots=True)
class Choice:
    """The publication timestamp chosen, and the UTC offset the page reveals for it.

    ``offset_min`` is the stated offset, or the inferred one when ``tz_stated`` is false;
    None when the zone is unknown (the time is then taken as UTC) or the value is a date.
    """

    value: str
    source: str
    offset_min: int | None
    tz_stated: bool


def _infer_offset(stamp: Stamp, evidence: list[tuple[Stamp, bool]]) -> int | None:
    zoned = [(s, pub) for s, pub in evidence if s.offset_min is not None and s.has_time]
    minute = stamp.local.replace(second=0, microsecond=0)
    for s, _ in zoned:  # (a) the same wall-clock time stated with a zone
        if s.local.replace(second=0, microsecond=0) == minute:
            return s.offset_min
    naive_utc = stamp.local
    for s, pub in zoned:  # (b) the same instant, shifted by a plausible offset
        if not pub or s.local.second != stamp.local.second:
            continue
        delta = naive_utc - s.instant().replace(tzinfo=None)
        minutes = delta.total_seconds() / 60
        if minutes and abs(minutes) <= _MAX_OFFSET_MIN and abs(minutes - round(minutes / 15) * 15) < 0.05:
            return round(minutes / 15) * 15
    nonzero = [s for s, _ in zoned if s.offset_min]
    if nonzero:  # (c) the page's zone, from its nearest zoned timestamp
        nearest = min(nonzero, key=lambda s: abs(s.local - stamp.local))
        return nearest.offset_min
    return None


def choose_published(candidates: list[Candidate], now: datetime | None = None) -> Choice | None:
    """The publication timestamp among ``candidates`` (best first), zone resolved."""
    parsed = [(c, s) for c in candidates if (s := parse_stamp(c.value)) is not None]
    parsed = [(c, s) for c, s in parsed if plausible(s.instant(), now)]
    chosen = next(((c, s) for c, s in parsed if c.published), None)
    if chosen is None:
        return None
    cand, stamp = chosen
    if not stamp.has_time:
        same_day = next(
            (
                (c, s)
                for c, s in parsed
                if c.published and s.has_time and s.local.date() == stamp.local.date()
            ),
            None,
        )
        if same_day is None:
            return Choice(cand.value, cand.source, None, False)
        cand, stamp = same_day
    if stamp.offset_min is not None:
        return Choice(cand.value, cand.source, stamp.offset_min, True)
    evidence = [(s, c.published) for c, s in parsed if c is not cand]
    return Choice(cand.value, cand.source, _infer_offset(stamp, evidence), False)


def to_utc(
    value: str | None, offset_min: int | None = None, now: datetime | None = None
) -> tuple[datetime | None, int | None, bool | None]:
    """(UTC instant, offset used, whether the value stated it) for a stored date string.

    ``offset_min`` is applied only when the value states none; without either the time is
    taken as UTC. A bare date becomes 00:00 UTC of that day with an unknown offset.
    """
    stamp = parse_stamp(value)
    if stamp is None:
        return None, None, None
    instant = stamp.instant(offset_min)
    if not plausible(instant, now):
        return None, None, None
    if stamp.offset_min is not None:
        return instant, stamp.offset_min, True
    if not stamp.has_time:
        return instant, None, False
    return instant, offset_min, False


def local_time(instant: datetime, offset_min: int | None) -> datetime:
    """``instant`` as wall-clock time in the page's zone (UTC when unknown)."""
    return instant.astimezone(timezone(timedelta(minutes=offset_min or 0)))
