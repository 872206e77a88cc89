"""One input through read -> decode -> extract -> enrich, as a single picklable call.

These functions run inside worker processes; they never raise for a bad input, they
return a rejected :class:`Processed` carrying the stage and the reason.
"""

from __future__ import annotations

import hashlib
import logging
import time

from newsetl.archive import RawArchive
from newsetl.config import Settings
from newsetl.decoding import decode_bytes
from newsetl.enrich import enrich
from newsetl.errors import Rejection
from newsetl.extract import extract_html, extract_plain_text
from newsetl.models import Article, DocKind, FileRef, Processed, SourceKind, Stage
from newsetl.sources.files import maybe_decompress, read_file

log = logging.getLogger("newsetl.process")


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
    body = maybe_decompress(data, max_bytes)
    decoded = decode_bytes(body, http_charset, markup=kind is DocKind.HTML)
    if kind is DocKind.HTML:
        extracted = extract_html(decoded.text, url=url, focus=focus)
    else:
        extracted = extract_plain_text(decoded.text)
    extracted.encoding = decoded.encoding
    return enrich(extracted, fallback_url=url, min_words=min_words)


def archive_raw(data: bytes, sha256: str, settings: Settings) -> bool:
    """Keep the raw bytes for replay; a full disk must not stop ingestion (the audit shows it)."""
    if not settings.archive_raw:
        return False
    try:
        RawArchive(settings.archive_dir).put(data, sha256)
    except OSError as exc:
        log.warning("could not archive raw bytes %s: %s", sha256[:12], exc)
        return False
    return True


def rejection_of(exc: Exception) -> tuple[str, str]:
    """The (stage, reason) recorded for a document whose processing raised ``exc``."""
    if isinstance(exc, Rejection):
        return exc.stage, exc.reason
    if isinstance(exc, RecursionError):
        return Stage.EXTRACT, "document nested too deeply to process"
    if isinstance(exc, MemoryError):
        return Stage.EXTRACT, "out of memory while processing"
    return Stage.EXTRACT, f"unexpected error: {type(exc).__name__}: {exc}"[:500]


def process_file(ref: FileRef, settings: Settings) -> Processed:
    """Read and process one file; every failure becomes a rejection with a reason."""
    started = time.perf_counter()
    result = Processed(
        source_kind=SourceKind.FILE,
        source_ref=ref.path,
        size_bytes=ref.size,
        mtime_ns=ref.mtime_ns,
    )
    try:
        data, st = read_file(ref.path, settings.max_file_bytes)
        # The state of the bytes read, not of what discovery saw: a file replaced in
        # between is recorded as the version that was hashed and extracted.
        result.sha256 = hashlib.sha256(data).hexdigest()
        result.size_bytes, result.mtime_ns = len(data), st.st_mtime_ns
        result.raw_archived = archive_raw(data, result.sha256, settings)
        result.article = article_from_bytes(
            data,
            ref.kind,
            max_bytes=settings.max_file_bytes,
            focus=settings.extract_focus,
            min_words=settings.min_words,
        )
    except Exception as exc:  # one broken document must never take its batch down
        result.stage, result.reason = rejection_of(exc)
    result.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return result
