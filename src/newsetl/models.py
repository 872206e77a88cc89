"""Small typed values passed between the pipeline stages.

Everything that crosses a process boundary (worker -> loader) is a slotted dataclass of
plain Python values, so pickling stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What happened to one input in one run (the ``inputs.outcome`` column)."""

    LOADED = "loaded"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    # Not an article by its type (data, images, notes; WARC records other than HTML
    # responses): recorded with the reason, counted apart from rejections.
    SKIPPED = "skipped"


class Stage(StrEnum):
    """Where in the shared pipeline an input was rejected (the ``inputs.stage`` column).

    Sources and the web layer add their own stages: ``discover`` (files), ``fetch`` and
    ``policy`` (newsetl.web), ``parse`` (feeds, sitemaps, archives).
    """

    READ = "read"
    DECODE = "decode"
    EXTRACT = "extract"
    ENRICH = "enrich"
    LOAD = "load"
    WORKER = "worker"


class DocKind(StrEnum):
    """How an input's bytes are interpreted."""

    HTML = "html"
    TEXT = "text"


@dataclass(slots=True)
class Extracted:
    """Output of the extract stage: clean text plus whatever metadata the source declared."""

    text: str
    text_source: str  # 'html', 'text' or 'feed'
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    date: str | None = None  # date string as found (htmldate, meta tag, feed)
    date_source: str | None = None
    # UTC offset (minutes) the page reveals elsewhere for a ``date`` that states none.
    date_offset_min: int | None = None
    # Organisations the byline credits beside or instead of people (dpa, Reuters, ...).
    agencies: list[str] = field(default_factory=list)
    url: str | None = None  # canonical URL declared by the page
    sitename: str | None = None
    description: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    declared_language: str | None = None
    page_type: str | None = None
    license: str | None = None
    encoding: str | None = None
    encoding_source: str | None = None


@dataclass(slots=True)
class Article:
    """One enriched article; mirrors the ``articles`` table columns."""

    article_id: str
    url: str | None
    title: str | None
    authors: list[str]
    published_at: datetime | None
    published_at_source: str | None
    language: str | None
    language_score: float | None
    declared_language: str | None
    text: str
    description: str | None
    sitename: str | None
    domain: str | None
    categories: list[str]
    tags: list[str]
    image: str | None
    page_type: str | None
    license: str | None
    word_count: int
    reading_time_s: int
    content_hash: str
    simhash: int
    text_source: str
    encoding: str | None
    extractor_version: str
    # Fields taken from the source's own metadata (a feed entry, a sitemap's news tags)
    # because the page had none ('title', 'published_at', ...): the ``filled_from_feed`` column.
    filled_from: list[str] = field(default_factory=list)
    # Organisations credited in the byline (news agencies, desks, the site when no one is named).
    agencies: list[str] = field(default_factory=list)
    # Whether published_at's source stated its UTC offset, and the offset (stated or inferred).
    published_at_tz_stated: bool | None = None
    published_at_offset_min: int | None = None
    # Bottom-k MinHash sketch for near-duplicate linking (newsetl.analysis.neardup); computed in the
    # extraction workers, stored in article_sketches, not a column of articles.
    sketch: Any = None


@dataclass(slots=True)
class Processed:
    """The result of running one input through read -> extract -> enrich.

    Exactly one of ``article`` and ``reason`` is set (``outcome_hint`` covers inputs
    settled before extraction, such as files whose bytes did not change).
    """

    source_kind: str
    source_ref: str
    parent_ref: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    article: Article | None = None
    stage: str | None = None
    reason: str | None = None
    outcome_hint: str | None = None
    known_article_id: str | None = None
    # Position of an earlier input of the same batch that this one repeats (the same page
    # under two feed entries): it shares that input's outcome.
    same_as: int | None = None
    duration_ms: float = 0.0
    # Settled from the stored state without reading the input (a file with the same size
    # and mtime): there is nothing new to remember about it.
    settled_from_state: bool = False
    # The raw bytes were written to (or found in) the raw archive in this run.
    raw_archived: bool = False
    # Modification time of exactly the bytes read, when their store keeps one (a file).
    read_mtime_ns: int | None = None
    # For inputs fetched over HTTP: the page's status, why the page could not be used (the
    # source's own text may still have made the article), and whether that may pass.
    http_status: int | None = None
    page_error: str | None = None
    retryable: bool = False

    @property
    def rejected(self) -> bool:
        return self.article is None and self.outcome_hint is None


@dataclass(slots=True)
class BatchReport:
    """Counts for one loaded batch (and, summed, for a whole run)."""

    counts: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, reason_key: str | None = None) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if reason_key:
            self.reasons[reason_key] = self.reasons.get(reason_key, 0) + 1

    def merge(self, other: BatchReport) -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True)
class RunSummary:
    """What a finished run reports to the CLI, the flow artifact and the ``runs`` row."""

    run_id: str
    flow: str
    status: str
    db_path: str
    started_at: datetime
    finished_at: datetime
    report: BatchReport
    top_reasons: list[tuple[str, str, int]]  # (stage, reason, count)
    # Why inputs were skipped (not articles by their type): (stage, reason, count).
    top_skipped: list[tuple[str, str, int]] = field(default_factory=list)
    # The source's own counts (feeds polled, records skipped, ...), for the summary.
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
