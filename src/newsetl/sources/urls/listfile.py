"""Reading a list of URLs: one a line, CSV with a ``url`` column, or JSON Lines.

The format is chosen by the file's name (``.csv``, ``.jsonl``/``.ndjson``), else by its
first line (``{`` starts JSON Lines; a header naming a ``url`` column makes CSV), else a
plain list. Plain lists ignore blank lines and ``#`` comments. Every other line becomes a
:class:`ListLine`: a normalised URL, or the reason it is not one (the caller records it as a
rejection, never drops it). Reading is lazy: a list of millions of lines is never held whole.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

from newsetl.web.urls import normalize_url

MAX_LINE_CHARS = 100_000  # a line longer than this is rejected, not parsed
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True, slots=True)
class ListLine:
    """One line of a URL list: ``url`` (normalised) or ``reason``; ``fields`` are the other
    columns of a CSV/JSON line (title, date, language, keywords: used as hints)."""

    line: int
    raw: str
    url: str | None = None
    reason: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


def url_problem(raw: str) -> str | None:
    """Why ``raw`` is not a URL newsetl fetches (None: it is one)."""
    text = raw.strip()
    if not text:
        return "empty URL"
    m = _SCHEME.match(text)
    if m is None:
        return f"not a URL (no scheme): {text[:200]!r}"
    scheme = m.group(1).lower()
    if scheme not in ("http", "https"):
        return f"scheme {scheme!r} not allowed (http and https only): {text[:200]!r}"
    try:
        host = urlsplit(text).hostname
    except ValueError as exc:
        return f"not a URL ({exc}): {text[:200]!r}"
    if not host:
        return f"not a URL (no host): {text[:200]!r}"
    if normalize_url(text) is None:
        return f"not a usable http(s) URL: {text[:200]!r}"
    return None


def _line(n: int, raw: str, value: object, fields: tuple[tuple[str, str], ...] = ()) -> ListLine:
    if not isinstance(value, str):
        return ListLine(n, raw, reason="no 'url' value")
    why = url_problem(value)
    if why is not None:
        return ListLine(n, raw, reason=why)
    return ListLine(n, raw, url=normalize_url(value.strip()), fields=fields)


def detect_format(name: str | None, first_line: str) -> str:
    """'csv', 'jsonl' or 'plain'."""
    lowered = (name or "").lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    head = first_line.lstrip("\ufeff \t")
    if head.startswith("{"):
        return "jsonl"
    if "," in head or ";" in head or "\t" in head:
        cols = next(csv.reader([head], dialect=_dialect(head)), [])
        if any(c.strip().lower() == "url" for c in cols):
            return "csv"
    return "plain"


def _dialect(sample: str) -> type[csv.Dialect]:
    if "\t" in sample and "," not in sample:
        return csv.excel_tab
    return csv.excel


def read_url_list(stream: IO[str], name: str | None = None) -> Iterator[ListLine]:
    """Lazily, every line of a URL list that is not blank or a comment."""
    lines = _numbered(stream)
    first: tuple[int, str] | None = None
    for n, text in lines:
        if text.strip() and not text.lstrip().startswith("#"):
            first = (n, text)
            break
    if first is None:
        return
    fmt = detect_format(name, first[1])
    rest = _chain(first, lines)
    if fmt == "jsonl":
        yield from _jsonl(rest)
    elif fmt == "csv":
        yield from _csv(rest, first[1])
    else:
        yield from _plain(rest)


def _numbered(stream: IO[str]) -> Iterator[tuple[int, str]]:
    for n, line in enumerate(stream, 1):
        yield n, line.rstrip("\r\n")


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _too_long(n: int, text: str) -> ListLine | None:
    if len(text) > MAX_LINE_CHARS:
        return ListLine(n, text[:200], reason=f"line longer than {MAX_LINE_CHARS} characters")
    return None


def _plain(lines: Iterable[tuple[int, str]]) -> Iterator[ListLine]:
    for n, text in lines:
        stripped = text.strip().lstrip("\ufeff")
        if not stripped or stripped.startswith("#"):
            continue
        yield _too_long(n, text) or _line(n, stripped, stripped.split()[0] if " " in stripped else stripped)


def _jsonl(lines: Iterable[tuple[int, str]]) -> Iterator[ListLine]:
    for n, text in lines:
        stripped = text.strip().lstrip("\ufeff")
        if not stripped:
            continue
        long = _too_long(n, text)
        if long is not None:
            yield long
            continue
        try:
            obj = json.loads(stripped)
        except ValueError as exc:
            yield ListLine(n, stripped[:200], reason=f"not valid JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            yield ListLine(n, stripped[:200], reason="not a JSON object with a 'url' field")
            continue
        if "url" not in obj:
            yield ListLine(n, stripped[:200], reason="no 'url' field")
            continue
        yield _line(n, stripped[:200], obj["url"], _fields(obj))


def _csv(lines: Iterable[tuple[int, str]], header_line: str) -> Iterator[ListLine]:
    numbered = iter(lines)
    dialect = _dialect(header_line)
    n_header, header = next(numbered)
    columns = [c.strip().lower().lstrip("\ufeff") for c in next(csv.reader([header], dialect=dialect), [])]
    if "url" not in columns:
        yield ListLine(n_header, header[:200], reason="CSV header has no 'url' column")
        return
    at = columns.index("url")
    for n, text in numbered:
        if not text.strip():
            continue
        long = _too_long(n, text)
        if long is not None:
            yield long
            continue
        try:
            row = next(csv.reader(io.StringIO(text), dialect=dialect))
        except (csv.Error, StopIteration) as exc:
            yield ListLine(n, text[:200], reason=f"not a CSV row: {exc}")
            continue
        if at >= len(row):
            yield ListLine(n, text[:200], reason="no 'url' value")
            continue
        yield _line(n, text[:200], row[at], _fields(dict(zip(columns, row, strict=False))))


_HINT_FIELDS = ("title", "date", "published", "language", "keywords", "tags")


def _fields(obj: dict[str, object]) -> tuple[tuple[str, str], ...]:
    out = []
    for key in _HINT_FIELDS:
        value = obj.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, str | int | float) and str(value).strip():
            out.append((key, str(value).strip()[:1000]))
    return tuple(out)
