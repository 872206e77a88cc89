"""What every source of page URLs shares: fetch the pages politely, hand them to the engine.

A URL source (a URL list, a sitemap) plans :class:`UrlWork` items -- a normalised URL, the
list or sitemap it came from, the URL whose host is trusted for private addresses, and
:class:`~newsetl.pipeline.process.Hints` (a sitemap's news title, date, language and
keywords fill what the page lacks) -- and :class:`UrlFetchSource` does the rest: the same
URL twice in one run is fetched once (the repeat shares its outcome), pages are fetched
through :class:`~newsetl.web.pages.PageFetcher` (robots.txt, per-host slots and delay,
caps, SSRF guard) ahead of extraction, and the fetch log is written with the batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import httpx

from newsetl.models import Outcome, Processed
from newsetl.pipeline.outcomes import Written
from newsetl.pipeline.process import Doc, Hints, Inline, Known
from newsetl.pipeline.source import Batch, Run, Source
from newsetl.web.pages import FetchLog, Page, PageFetcher, PageRequest, write_log
from newsetl.web.politeness import GlobalSlot
from newsetl.web.ssrf import Resolver

PENDING = "pending"  # outcome placeholder of a repeat settled at load time


@dataclass(slots=True)
class UrlWork:
    """One URL to fetch (or to settle without fetching), planned by a URL source."""

    idx: int  # position in the run: the first of two equal URLs wins
    url: str  # normalised http(s) URL
    source_ref: str  # its name in the ledger
    parent: str | None = None  # inputs.parent_ref: the list or sitemap it came from
    trusted: str | None = None  # pages on this URL's host may be on private addresses
    hints: Hints | None = None
    known: Known | None = None  # the bytes seen last time (same bytes: no extraction)
    settled: tuple[str, str] | None = None  # (outcome, article_id): no fetch at all
    dup_of: int | None = None  # an earlier work item of this run has the same URL
    own: Any = None  # the source's own bookkeeping (a sitemap entry)


@dataclass(slots=True)
class UrlChunk:
    """What rides with a batch: the fetch log, and the source's own rows."""

    log: FetchLog | None = None
    own: Any = None


@dataclass(slots=True)
class UrlStats:
    urls: int = 0  # URLs planned this run (including repeats and settled ones)
    repeated: int = 0  # the same URL again in this run: fetched once
    pages_fetched: int = 0
    pages_failed: int = 0
    refused: int = 0  # SSRF, scheme or robots.txt: no request made


def parse_when(value: str | None) -> datetime | None:
    """A W3C datetime (``2024``, ``2024-05``, ``2024-05-01``, ``…T10:00Z``, with seconds and
    fractions) as an aware UTC datetime; None when absent or unreadable. A date without a
    zone is taken as UTC."""
    if not value:
        return None
    text = value.strip()
    if re.fullmatch(r"\d{4}", text):
        text += "-01-01"
    elif re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    try:
        when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


class UrlFetchSource(Source):
    """Base of the URL sources: subclasses yield batches of ``Item(state=UrlWork)`` (and
    settled items) with ``extra=UrlChunk()``; this class fetches, settles repeats and
    writes the fetch log. ``client`` and ``resolver`` are injectable (tests)."""

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        resolver: Resolver | None = None,
        global_slot: GlobalSlot | None = None,
    ) -> None:
        self._client = client
        self._resolver = resolver
        self._global_slot = global_slot
        self.web: PageFetcher | None = None
        self.url_stats = UrlStats()
        self._next_idx = 0
        self._first: dict[str, int] = {}  # normalised URL -> first work item of this run
        self._settled: dict[int, tuple[str | None, str | None, str | None]] = {}

    def open(self, run: Run) -> None:
        self.web = PageFetcher(
            run.settings.web, client=self._client, resolver=self._resolver, global_slot=self._global_slot
        )

    def abort(self) -> None:
        if self.web is not None:
            self.web.abort()

    def close(self) -> None:
        if self.web is not None:
            self.web.close()

    def stats(self) -> dict[str, int]:
        st = self.url_stats
        if self.web is not None:
            st.pages_fetched, st.pages_failed = self.web.stats.fetched, self.web.stats.failed
            st.refused = self.web.stats.refused
        return {
            "urls": st.urls,
            "repeated": st.repeated,
            "pages_fetched": st.pages_fetched,
            "pages_failed": st.pages_failed,
            "refused": st.refused,
        }

    # -- planning helpers for subclasses -------------------------------------------------

    def claim(self, work: UrlWork) -> UrlWork:
        """Number ``work`` and mark it a repeat when its URL came earlier in this run."""
        work.idx = self._next_idx
        self._next_idx += 1
        self.url_stats.urls += 1
        first = self._first.get(work.url)
        if first is not None:
            work.dup_of = first
            self.url_stats.repeated += 1
        else:
            self._first[work.url] = work.idx
        return work

    def seen(self, url: str) -> bool:
        return url in self._first

    # -- fetching pages (ahead of extraction) ----------------------------------------------

    def prepare(self, run: Run, batch: Batch) -> None:
        assert self.web is not None, "the source is not open"
        first_in_batch: dict[int, int] = {}
        todo: list[tuple[Any, UrlWork]] = []
        for pos, it in enumerate(batch.items):
            w = it.state
            if not isinstance(w, UrlWork) or it.done is not None:
                continue
            first_in_batch[w.idx] = pos
            if w.dup_of is not None:
                same = first_in_batch.get(w.dup_of)
                it.done = Processed(self.kind, w.source_ref, w.parent, same_as=same,
                                    outcome_hint=None if same is not None else PENDING)  # fmt: skip
            elif w.settled is not None:
                outcome, aid = w.settled
                it.done = Processed(
                    self.kind, w.source_ref, w.parent, outcome_hint=outcome, known_article_id=aid
                )
            else:
                todo.append((it, w))
        if todo:
            self.web.preload_robots(lambda: run.store.session(read_only=True), (w.url for _, w in todo))
            pages = self.web.fetch_pages([PageRequest(w.url, w.trusted, w.url, w.parent) for _, w in todo])
            for (it, w), page in zip(todo, pages, strict=True):
                it.doc = self.doc(w, page)
        batch.extra.log = self.web.take_log()

    def doc(self, w: UrlWork, page: Page) -> Doc:
        problem = (page.stage, page.reason) if page.stage and page.reason else None
        return Doc(
            self.kind,
            w.source_ref,
            w.parent,
            payload=Inline(page.body) if page.body is not None else None,
            kind=page.kind,
            url=page.final_url if page.body is not None else w.url,
            http_charset=page.charset,
            known=w.known,
            hints=w.hints,
            problem=problem,
            transient=page.transient,
            http_status=page.status,
        )

    def settle(self, batch: Batch, processed: list[Processed]) -> list[Processed]:
        """Repeats of a URL of an earlier batch share its outcome (that batch committed)."""
        out = list(processed)
        for pos, (it, p) in enumerate(zip(batch.items, processed, strict=True)):
            if p.outcome_hint != PENDING:
                continue
            w: UrlWork = it.state
            assert w.dup_of is not None
            aid, stage, reason = self._settled.get(w.dup_of, (None, "fetch", "not settled"))
            if aid is not None:
                out[pos] = Processed(self.kind, w.source_ref, w.parent, outcome_hint=Outcome.DUPLICATE,
                                     known_article_id=aid)  # fmt: skip
            else:
                out[pos] = Processed(
                    self.kind, w.source_ref, w.parent, stage=stage or "fetch",
                    reason=f"same URL as an earlier input of this run, which was rejected: {reason}"[:1000],
                )  # fmt: skip
        return out

    # -- loading ---------------------------------------------------------------------------

    def write(self, conn: duckdb.DuckDBPyConnection, batch: Batch, written: Written) -> None:
        chunk: UrlChunk = batch.extra
        self.write_own(conn, batch, written)
        if chunk.log is None:  # nothing was prepared: the planning's requests (sitemaps)
            assert self.web is not None
            chunk.log = self.web.take_log()
        write_log(conn, written.run_id, chunk.log)

    def write_own(self, conn: duckdb.DuckDBPyConnection, batch: Batch, written: Written) -> None:
        """The subclass's own rows for this batch, in its transaction."""

    def committed(self, batch: Batch, written: Written) -> None:
        for it, p, (_, aid) in zip(batch.items, written.items, written.decisions, strict=True):
            if isinstance(it.state, UrlWork):
                self._settled[it.state.idx] = (aid, p.stage, p.reason)


def decisions_of(batch: Batch, written: Written) -> list[tuple[UrlWork, Processed, str, str | None]]:
    """(work, processed, outcome, article id) of the batch's URL items, in order."""
    return [
        (it.state, p, outcome, aid)
        for it, p, (outcome, aid) in zip(batch.items, written.items, written.decisions, strict=True)
        if isinstance(it.state, UrlWork)
    ]
