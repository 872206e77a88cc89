"""Sitemaps as a source: sites and sitemaps -> listed URLs -> their pages -> articles.

Incremental: a document that answers ``304`` (or repeats its last bytes) lists nothing new;
a URL listed before is fetched again only when its ``<lastmod>`` is newer than the one it
had when it was last fetched (then equal page bytes are settled without extraction); a
URL whose page failed for a transient reason is retried when listed again (3 attempts).

Ledger: every URL fetched (or settled) is one ``inputs`` row (source_kind 'sitemap',
source_ref = the normalised URL, parent_ref = the sitemap document that listed it). URLs
listed before and not changed add no row (counted as ``known_urls``). A document that
cannot be read (HTTP error, not a sitemap, a loop, a limit) is one rejected row with the
document's URL as source_ref and the index (or robots.txt) that listed it as parent_ref.

Crash safety: a document's new validators are committed in the same transaction as the
last of its URLs, and the site's health with its last batch; killed before, the next run
reads the document again and finds the URLs that did commit already known.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import httpx
import polars as pl

from newsetl.models import Outcome
from newsetl.pipeline.outcomes import Written
from newsetl.pipeline.process import Hints, Known
from newsetl.pipeline.source import Batch, Item, Run
from newsetl.settings import Settings
from newsetl.sources.sitemaps.crawl import (
    KIND,
    Read,
    SiteCrawl,
    SitemapStats,
    load_documents,
    rejected,
    write_documents,
)
from newsetl.sources.sitemaps.parse import SitemapEntry
from newsetl.sources.sitemaps.registry import (
    SitemapRow,
    add_sitemaps,
    checked,
    due_sitemaps,
    read_sitemaps,
    sitemap_url,
    update_sitemaps,
)
from newsetl.sources.urls.fetch import UrlChunk, UrlFetchSource, UrlWork, decisions_of
from newsetl.storage import writes
from newsetl.storage.sqllists import text_list
from newsetl.web.pages import load_robots
from newsetl.web.politeness import GlobalSlot
from newsetl.web.robots import RobotsFile, origin_of
from newsetl.web.ssrf import Resolver

SITEMAPS_FLOW = "ingest-sitemaps"
MAX_ATTEMPTS = 3

URL_SCHEMA: writes.Schema = {
    "sitemap": pl.Utf8,
    "root": pl.Utf8,
    "url": pl.Utf8,
    "lastmod": pl.Datetime("us", "UTC"),
    "news_title": pl.Utf8,
    "news_publication": pl.Utf8,
    "news_language": pl.Utf8,
    "news_published": pl.Datetime("us", "UTC"),
    "keywords": pl.List(pl.Utf8),
    "article_id": pl.Utf8,
    "outcome": pl.Utf8,
    "sha256": pl.Utf8,
    "page_status": pl.Int32,
    "page_error": pl.Utf8,
    "attempts": pl.Int32,
    "retryable": pl.Boolean,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "first_run_id": pl.Utf8,
    "run_id": pl.Utf8,
}


@dataclass(slots=True)
class Listed:
    """A URL a document listed, and what it carries into the sitemap_urls row."""

    root: str
    sitemap: str
    entry: SitemapEntry
    attempts: int = 1
    first_seen_at: datetime | None = None
    first_run_id: str | None = None


@dataclass(slots=True)
class Own:
    """Rows riding with a batch: documents and sites whose last URLs it holds."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    sites: list[SitemapRow] = field(default_factory=list)


@dataclass(slots=True)
class _Seen:
    lastmod: datetime | None
    article_id: str | None
    sha256: str | None
    retryable: bool
    attempts: int
    first_seen_at: datetime
    first_run_id: str
    listed_by: set[str] = field(default_factory=set)  # documents that listed the URL before


def _newer(lastmod: datetime | None, k: _Seen) -> bool:
    """A listed lastmod newer than the page we have: than the lastmod it was fetched under,
    or, when it had none, than when it was first fetched."""
    if lastmod is None:
        return False
    return lastmod > (k.lastmod if k.lastmod is not None else k.first_seen_at)


def _robots(run: Run, url: str) -> list[RobotsFile]:
    with run.store.session(read_only=True) as conn:
        return load_robots(conn, [origin_of(url)])


def hints_of(e: SitemapEntry) -> Hints | None:
    if not (e.news_title or e.news_published or e.keywords or e.news_language):
        return None
    return Hints(origin="sitemap", title=e.news_title, published=e.news_published, tags=e.keywords,
                 language=e.news_language, label="sitemap")  # fmt: skip


class SitemapSource(UrlFetchSource):
    """``urls``: sites or sitemaps to check now (registered if new); empty: every registered
    one that is due (all of them with ``all_sitemaps``)."""

    flow = SITEMAPS_FLOW
    kind = KIND

    def __init__(
        self,
        urls: Sequence[str] = (),
        *,
        all_sitemaps: bool = False,
        client: httpx.Client | None = None,
        resolver: Resolver | None = None,
        global_slot: GlobalSlot | None = None,
    ) -> None:
        super().__init__(client=client, resolver=resolver, global_slot=global_slot)
        self.urls = list(urls)
        self.all_sitemaps = all_sitemaps
        self.explicit: list[str] = []
        self.roots: list[SitemapRow] = []
        self.sm_stats = SitemapStats()
        self._settings: Settings | None = None

    def check(self) -> None:
        self.explicit = list(dict.fromkeys(sitemap_url(u)[0] for u in self.urls))

    def parameters(self) -> dict[str, Any]:
        return {"urls": self.explicit, "all_sitemaps": self.all_sitemaps}

    def open(self, run: Run) -> None:
        now = datetime.now(UTC)

        def register(conn: duckdb.DuckDBPyConnection) -> list[SitemapRow]:
            if self.explicit:
                add_sitemaps(conn, self.explicit, now=now)
                return read_sitemaps(conn, self.explicit)
            return due_sitemaps(conn, now, everything=self.all_sitemaps)

        self.roots = run.store.write(register)
        self._settings = run.settings
        super().open(run)

    def stats(self) -> dict[str, int]:
        return {**self.sm_stats.as_dict(), **super().stats()}

    # -- planning ------------------------------------------------------------------------

    def batches(self, run: Run) -> Iterator[Batch]:
        self._current = Batch(extra=UrlChunk(own=Own()))
        for root in self.roots:
            yield from self._site(run, root)
        yield self._current

    def _add(self, item: Item) -> Iterator[Batch]:
        """Cut a batch before it overflows, so rows attached later land in an open batch."""
        assert self._settings is not None
        if len(self._current.items) >= self._settings.batch_size:
            yield self._current
            self._current = Batch(extra=UrlChunk(own=Own()))
        self._current.items.append(item)

    def _site(self, run: Run, root: SitemapRow) -> Iterator[Batch]:
        assert self.web is not None and self._settings is not None
        self.sm_stats.sites += 1
        now = datetime.now(UTC)
        with run.store.session(read_only=True) as conn:
            stored = load_documents(conn, root.url)
        crawl = SiteCrawl(self.web, self._settings, root.url, run.run_id, self.sm_stats, now)
        if root.kind == "site":  # robots.txt answers kept in the warehouse (24 h) are reused
            self.web.robots.preload(_robots(run, root.url))
        queue = deque(crawl.seeds(root.kind))
        top_errors: list[str] = []
        top_total, new_urls, capped = 0, 0, False
        while queue:
            visit = queue.popleft()
            problem = crawl.limit_problem(visit)
            if problem is not None:
                yield from self._add(Item(done=rejected(visit.url, visit.parent, "policy", problem)))
                if visit.depth == 0:
                    top_total += 1
                    top_errors.append(problem)
                continue
            read = crawl.read(visit, stored.get(visit.url))
            if visit.depth == 0:
                top_total += 1
                if read.error is not None:
                    top_errors.append(f"{visit.url}: {read.error}")
            queue.extend(read.children)
            if read.rejection is not None:
                yield from self._add(Item(done=read.rejection))
            n, doc_capped = yield from self._urls(run, root.url, read)
            new_urls += n
            capped |= doc_capped
            self._current.extra.own.documents.append(read.row)
        error = "; ".join(top_errors)[:1000] if top_errors and len(top_errors) == top_total else None
        new_root = checked(root, self._settings, now, run.run_id, error)
        new_root.last_documents, new_root.last_new_urls = crawl.requested, new_urls
        if error is None:
            new_root.last_outcome = "new_urls_capped" if capped else "new_urls" if new_urls else "no_new_urls"
            if capped:
                new_root.next_check_at = now  # the rest of the URLs with the next run
        self._current.extra.own.sites.append(new_root)

    def _urls(self, run: Run, root: str, read: Read) -> Generator[Batch, None, tuple[int, bool]]:
        """The document's URLs that need work, within the per-document cap; returns
        (URLs taken, whether some were left for the next run)."""
        if not read.entries:
            return 0, False
        sm = run.settings.sitemaps
        seen, articles = self._lookup(run, [e.url for e in read.entries])
        taken = deferred = 0
        for e in read.entries:
            work = self._plan(root, read.row["url"], e, seen.get(e.url), articles.get(e.url))
            if work is None:
                continue
            if taken >= sm.max_new_urls_per_sitemap:
                deferred += 1
                continue
            taken += 1
            yield from self._add(Item(state=self.claim(work)))
        capped = deferred > 0
        self.sm_stats.deferred_urls += deferred
        if capped and read.prior is not None:  # read the document again next run: nothing skipped
            for k in ("etag", "last_modified", "body_sha256"):
                read.row[k] = read.prior.get(k)
            read.row["last_outcome"] = "parsed_capped"
        elif capped:
            read.row.update(etag=None, last_modified=None, body_sha256=None, last_outcome="parsed_capped")
        self.sm_stats.new_urls += taken
        return taken, capped

    def _plan(
        self, root: str, sitemap: str, e: SitemapEntry, k: _Seen | None, article_id: str | None
    ) -> UrlWork | None:
        """What to do with one listed URL: fetch it, settle it without a request, or nothing
        (None: listed by this document before and not changed)."""
        listed = Listed(root, sitemap, e)
        work = UrlWork(0, e.url, e.url, sitemap, trusted=root, hints=hints_of(e), own=listed)
        if self.seen(e.url):
            return work  # a repeat in this run: shares the first one's outcome
        if k is None:
            if article_id is not None:  # stored already (a feed, a file, a URL list): not fetched
                work.settled = (Outcome.DUPLICATE, article_id)
            return work
        if sitemap in k.listed_by:
            listed.first_seen_at, listed.first_run_id = k.first_seen_at, k.first_run_id
        if _newer(e.lastmod, k):
            if k.sha256 and k.article_id:
                work.known = Known(k.sha256, Outcome.LOADED, k.article_id, None, None, None)
            return work
        if k.article_id is None and k.retryable and k.attempts < MAX_ATTEMPTS:
            listed.attempts = k.attempts + 1
            return work
        if sitemap not in k.listed_by and k.article_id is not None:
            work.settled = (Outcome.DUPLICATE, k.article_id)  # another document listed it first
            return work
        self.sm_stats.known_urls += 1
        return None

    def _lookup(self, run: Run, urls: list[str]) -> tuple[dict[str, _Seen], dict[str, str]]:
        with run.store.session(read_only=True) as conn:
            rows = conn.execute(
                """SELECT url, lastmod, article_id, sha256, retryable, attempts, first_seen_at, first_run_id,
                          sitemap
                   FROM sitemap_urls WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))
                   ORDER BY article_id IS NOT NULL, lastmod NULLS FIRST, first_seen_at""",
                {"u": text_list(urls)},
            ).fetchall()
            stored = conn.execute(
                "SELECT url, article_id FROM articles WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))",
                {"u": text_list(urls)},
            ).fetchall()
        listed_by: dict[str, set[str]] = {}
        for r in rows:
            listed_by.setdefault(r[0], set()).add(r[8])
        seen = {  # the best row per URL comes last
            r[0]: _Seen(r[1], r[2], r[3], r[4], r[5], r[6], r[7], listed_by[r[0]]) for r in rows
        }
        return seen, {u: a for u, a in stored}

    # -- loading ---------------------------------------------------------------------------

    def write_own(self, conn: duckdb.DuckDBPyConnection, batch: Batch, written: Written) -> None:
        own: Own = batch.extra.own
        rows = []
        for w, p, outcome, aid in decisions_of(batch, written):
            listed: Listed = w.own
            e = listed.entry
            rows.append({
                "sitemap": listed.sitemap, "root": listed.root, "url": e.url, "lastmod": e.lastmod,
                "news_title": e.news_title, "news_publication": e.news_publication,
                "news_language": e.news_language, "news_published": e.news_published,
                "keywords": list(e.keywords), "article_id": aid, "outcome": outcome,
                "sha256": p.sha256, "page_status": p.http_status, "page_error": p.page_error,
                "attempts": listed.attempts, "retryable": bool(p.retryable and aid is None),
                "first_seen_at": listed.first_seen_at or written.now,
                "first_run_id": listed.first_run_id or written.run_id, "run_id": written.run_id,
            })  # fmt: skip
        writes.upsert(conn, "sitemap_urls", rows, URL_SCHEMA, ["sitemap", "url"])
        write_documents(conn, own.documents)
        update_sitemaps(conn, own.sites)


def ingest_sitemaps(
    urls: Sequence[str] = (),
    settings: Settings | None = None,
    *,
    all_sitemaps: bool = False,
    client: httpx.Client | None = None,
    resolver: Resolver | None = None,
    run_id: str | None = None,
) -> tuple[Any, dict[str, int]]:
    """Check sites and sitemaps into the warehouse, without Prefect: (summary, statistics)."""
    from newsetl.pipeline.engine import run_source

    source = SitemapSource(urls, all_sitemaps=all_sitemaps, client=client, resolver=resolver)
    summary = run_source(source, settings, run_id=run_id)
    return summary, summary.extra
