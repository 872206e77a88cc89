"""The worker step: one document's bytes -> decode -> extract -> enrich, as one picklable call.

Every source hands the workers the same :class:`Doc`: where its bytes are (a
:class:`Payload` the worker reads itself — a file, an archived blob, a WARC record — or
bytes already fetched), how to read them, what the warehouse remembers about them (to skip
re-extraction when they did not change), and metadata the source carries itself (a feed
entry's title and date, a sitemap's news tags) that fills what the page lacks or, when the
page cannot be used, stands in for it. Functions here never raise for a bad input: they
return a rejected :class:`Processed` with the stage and the reason.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from newsetl.errors import Rejection
from newsetl.models import Article, DocKind, Extracted, Outcome, Processed, Stage
from newsetl.pipeline.decode import decode_bytes, maybe_decompress
from newsetl.pipeline.enrich import enrich
from newsetl.pipeline.versions import EXTRACTOR_VERSION
from newsetl.settings import Settings
from newsetl.storage.raw_archive import RawArchive, archive_root

log = logging.getLogger("newsetl.pipeline.process")


class Payload(Protocol):
    """Where a document's raw bytes are; read inside the worker (files in parallel)."""

    def read(self, max_bytes: int) -> tuple[bytes, int | None]:
        """The raw bytes and the modification time (ns) of exactly those bytes when the
        store keeps one (a file replaced meanwhile is recorded as the version read), or
        :class:`Rejection` (stage 'read') with the reason."""
        ...


@dataclass(frozen=True, slots=True)
class Inline:
    """Bytes already in hand (a fetched page, a record read from a stream)."""

    data: bytes

    def read(self, max_bytes: int) -> tuple[bytes, int | None]:
        return self.data, None


@dataclass(frozen=True, slots=True)
class Archived:
    """Bytes kept in the raw archive (replay, reprocess)."""

    root: str
    sha256: str

    def read(self, max_bytes: int) -> tuple[bytes, int | None]:
        from newsetl.storage.raw_archive import ArchiveError

        try:
            return RawArchive(self.root).get(self.sha256, max_bytes=max_bytes + 1), None
        except ArchiveError as exc:
            raise Rejection(Stage.READ, str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Known:
    """What the warehouse remembers about the last bytes seen for this input."""

    sha256: str
    outcome: str
    article_id: str | None
    stage: str | None
    reason: str | None
    extractor_version: str | None


@dataclass(frozen=True, slots=True)
class Hints:
    """Metadata the source itself carries; used where the page has none."""

    origin: str = "feed"  # published_at_source of a date taken from here
    title: str | None = None
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str | None = None  # as the source declares it (a news sitemap's publication)
    # The source's own text (a feed entry's content), used when the page cannot be, and its
    # bytes, archived when there is no page at all.
    fallback: Extracted | None = None
    fallback_raw: bytes | None = None
    label: str = "feed content"  # how rejection reasons name the fallback
    no_fallback: str | None = None  # why there is none, when the source could have had one


@dataclass(frozen=True, slots=True)
class Doc:
    """One input for the extraction workers (picklable: it crosses a process boundary)."""

    source_kind: str
    source_ref: str
    parent_ref: str | None = None
    payload: Payload | None = None
    kind: DocKind = DocKind.HTML
    url: str | None = None  # where the bytes came from (base URL, fallback identity)
    http_charset: str | None = None
    known: Known | None = None
    hints: Hints | None = None
    # Why there are no bytes (a fetch that failed, a link refused), and whether that may
    # go away by itself; the source's fallback text may still make an article.
    problem: tuple[str, str] | None = None
    transient: bool = False
    http_status: int | None = None


def article_from_bytes(
    data: bytes,
    kind: DocKind,
    *,
    max_bytes: int,
    focus: str = "balanced",
    url: str | None = None,
    http_charset: str | None = None,
    min_words: int = 0,
) -> Article:
    """Raw (possibly gzipped) bytes to an enriched article, or :class:`Rejection`."""
    # Imported here, in the workers: the loading process imports this module for Doc and
    # friends, and the extraction libraries would cost it ~10 MB for nothing.
    from newsetl.pipeline.extract import extract_html, extract_plain_text

    body = maybe_decompress(data, max_bytes)
    decoded = decode_bytes(body, http_charset, markup=kind is DocKind.HTML)
    if kind is DocKind.HTML:
        extracted = extract_html(decoded.text, url=url, focus=focus)
    else:
        extracted = extract_plain_text(decoded.text)
    extracted.encoding = decoded.encoding
    return enrich(extracted, fallback_url=url, min_words=min_words)


_WARM_PAGE = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Warm-up</title>
<meta property="og:site_name" content="Example News"></head><body><article><h1>Warm-up</h1>
<div class="byline">By Jane Roe</div><p class="date">November 20 15:23 2019</p>
<p>One page through every step once, so that what the first page of a run would load lazily
(the public suffix list, dateparser's languages, compiled expressions) is loaded before the
workers are forked from the process that ran it.</p>
<p>A second paragraph, so that the page has enough text to be extracted as an article and
goes through the enrich step as well, with its hashes, language and sketch.</p>
</article></body></html>"""


@functools.cache
def warm_up() -> None:
    """Load what every worker would otherwise load on its first pages, once, in the
    forkserver the workers are forked from (shared copy-on-write): the language model,
    dateparser (~0.2 s) and the public suffix list (~0.08 s), then one small built-in page
    through decode, extract and enrich for the rest (numpy's lazy modules, compiled
    expressions). Once per process: a worker forked after the preload inherits the call;
    its own call at start-up (for a preload that failed) then does nothing."""
    from newsetl.pipeline import enrich as enrich_stage
    from newsetl.pipeline import extract

    enrich_stage.warm_up()
    extract.warm_up()
    with contextlib.suppress(Rejection):  # still warm: the loads happen before any verdict
        article_from_bytes(
            _WARM_PAGE,
            DocKind.HTML,
            max_bytes=len(_WARM_PAGE),
            url="https://news.example.com/2019/11/20/warm-up",
        )


def archive_raw(data: bytes, sha256: str, settings: Settings) -> bool:
    """Keep the raw bytes for replay; a full disk must not stop ingestion (the audit shows it)."""
    if not settings.archive.archive_raw:
        return False
    try:
        RawArchive(archive_root(settings)).put(data, sha256)
    except OSError as exc:
        log.warning("could not archive raw bytes %s: %s", sha256[:12], exc)
        return False
    return True


def rejection_of(exc: BaseException) -> tuple[str, str]:
    """The (stage, reason) recorded for a document whose processing raised ``exc``."""
    if isinstance(exc, Rejection):
        return exc.stage, exc.reason
    if isinstance(exc, RecursionError):
        return Stage.EXTRACT, "document nested too deeply to process"
    if isinstance(exc, MemoryError):
        return Stage.EXTRACT, "out of memory while processing"
    return Stage.EXTRACT, f"unexpected error: {type(exc).__name__}: {exc}"[:500]


def fill_from_hints(article: Article, hints: Hints) -> None:
    """Keep the source's metadata where the page has none, and say which fields came from it."""
    filled: list[str] = []
    if not article.title and hints.title:
        article.title = hints.title
        filled.append("title")
    if article.published_at is None and hints.published is not None:
        article.published_at, article.published_at_source = hints.published, hints.origin
        filled.append("published_at")
    if not article.authors and hints.authors:
        article.authors = list(hints.authors)
        filled.append("authors")
    if not article.tags and hints.tags:
        article.tags = list(hints.tags)
        filled.append("tags")
    if not article.declared_language and hints.language:
        article.declared_language = hints.language
        filled.append("declared_language")
    article.filled_from = filled


def _reuse(p: Processed, known: Known) -> bool:
    """Settle ``p`` from what is stored for the same bytes; False when it must be re-extracted."""
    if known.outcome == Outcome.REJECTED:
        if known.extractor_version != EXTRACTOR_VERSION:
            return False  # a newer extractor deserves another try
        p.stage, p.reason = known.stage, known.reason
        return True
    if not known.article_id:
        return False
    p.outcome_hint, p.known_article_id = Outcome.UNCHANGED, known.article_id
    return True


def process_document(doc: Doc, settings: Settings) -> Processed:
    """Read, extract and enrich one document; every failure becomes a rejection with a reason."""
    started = time.perf_counter()
    ex = settings.extract
    p = Processed(
        source_kind=doc.source_kind,
        source_ref=doc.source_ref,
        parent_ref=doc.parent_ref,
        http_status=doc.http_status,
    )
    problem = doc.problem
    data: bytes | None = None
    if doc.payload is not None:
        try:
            data, p.read_mtime_ns = doc.payload.read(ex.max_file_bytes)
        except Exception as exc:  # one unreadable input must never take its batch down
            problem = rejection_of(exc)
    if data is not None:
        p.sha256 = hashlib.sha256(data).hexdigest()
        p.size_bytes = len(data)
        if doc.known is not None and doc.known.sha256 == p.sha256 and _reuse(p, doc.known):
            p.raw_archived = archive_raw(data, p.sha256, settings)
            p.duration_ms = _ms(started)
            return p
        p.raw_archived = archive_raw(data, p.sha256, settings)
        try:
            article = article_from_bytes(
                data,
                doc.kind,
                max_bytes=ex.max_file_bytes,
                focus=ex.extract_focus,
                url=doc.url,
                http_charset=doc.http_charset,
                min_words=ex.min_words,
            )
            if doc.hints is not None:
                fill_from_hints(article, doc.hints)
            p.article = article
        except Exception as exc:  # one broken document must never take its batch down
            problem = rejection_of(exc)
    if p.article is None:
        _settle_without_page(p, doc, problem, data is None, settings)
    p.duration_ms = _ms(started)
    return p


def _settle_without_page(
    p: Processed, doc: Doc, problem: tuple[str, str] | None, no_bytes: bool, settings: Settings
) -> None:
    """The source's own text as the article, or a rejection that says why neither worked."""
    hints = doc.hints
    fallback = hints.fallback if hints is not None else None
    if hints is None or fallback is None:
        p.stage, p.reason = problem or (Stage.EXTRACT, "no content")
        if hints is not None and hints.no_fallback:
            reason = p.reason if problem is not None else "no page to fetch"
            p.reason = f"{reason}; {hints.label}: {hints.no_fallback}"[:1000]
        p.retryable = doc.transient
        if problem is not None and hints is not None:
            p.page_error = f"{problem[0]}: {problem[1]}"[:1000]
        return
    try:
        article = enrich(fallback, fallback_url=doc.url, min_words=settings.extract.min_words)
        article.filled_from = [
            name
            for name, value in (
                ("title", article.title),
                ("published_at", article.published_at),
                ("authors", article.authors),
                ("tags", article.tags),
            )
            if value
        ]
        p.article = article
        raw = hints.fallback_raw
        if no_bytes and raw is not None:
            p.sha256, p.size_bytes = hashlib.sha256(raw).hexdigest(), len(raw)
            p.raw_archived = archive_raw(raw, p.sha256, settings)
    except Rejection as rej:
        stage, reason = problem or (rej.stage, "no page to fetch")
        own = rej.reason if rej.stage == Stage.EXTRACT else f"{rej.stage}: {rej.reason}"
        p.stage, p.reason = stage, f"{reason}; {hints.label}: {own}"[:1000]
        p.retryable = doc.transient
    except Exception as exc:
        stage, reason = problem or (Stage.EXTRACT, "no page to fetch")
        p.stage, p.reason = stage, f"{reason}; {hints.label}: unexpected error: {type(exc).__name__}"
    if problem is not None:
        p.page_error = f"{problem[0]}: {problem[1]}"[:1000]


def worker_failure(doc: Doc, reason: str) -> Processed:
    """The result for a document whose worker crashed or timed out."""
    return Processed(
        source_kind=doc.source_kind,
        source_ref=doc.source_ref,
        parent_ref=doc.parent_ref,
        stage=Stage.WORKER,
        reason=reason,
        http_status=doc.http_status,
        page_error=f"worker: {reason}",
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
