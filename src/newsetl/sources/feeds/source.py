"""Feeds as a source: poll feeds -> new entries -> their pages (fetched politely) -> articles.

Crash safety: a feed's new validators (ETag/Last-Modified/body hash) and health are
committed in the *same* transaction as the last of its new entries. Killed before that,
the next poll gets the feed again (no 304) and finds the entries that did commit already
known, so nothing is lost and nothing is loaded twice.

Ledger: every new entry is one ``inputs`` row (source_kind 'feed', source_ref = its
normalised link, parent_ref = the feed URL). Two entries of one feed with the same link
(a live blog re-posted under new guids, tracking variants) are two inputs: the later one
is named ``<link>#entry=<its key>`` and is a duplicate of the first. Entries seen before
are not fetched again and add no row (they are counted in the run's feed statistics). A
feed that cannot be polled (HTTP error, not a feed, ...) is one rejected row with the feed
URL as source_ref and no parent_ref.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import duckdb
import httpx
import polars as pl

from newsetl.models import Outcome, Processed
from newsetl.pipeline.outcomes import Written
from newsetl.pipeline.process import Doc, Hints, Inline, archive_raw
from newsetl.pipeline.shards import WHOLE, Shard
from newsetl.pipeline.source import Batch, Item, Run, Source
from newsetl.sources.feeds.parse import FeedEntry, entry_extracted
from newsetl.sources.feeds.poll import KIND, FeedPoll, FeedStats, Poller
from newsetl.sources.feeds.registry import FeedRow, Subscription, add_feeds, due_feeds, feed_url, read_feeds
from newsetl.sources.feeds.tables import update_feeds, write_entries
from newsetl.storage.frames import temp_table
from newsetl.storage.sqllists import text_list
from newsetl.web.pages import FetchLog, Page, PageFetcher, PageRequest, write_log
from newsetl.web.politeness import GlobalSlot
from newsetl.web.ssrf import Resolver

FEEDS_FLOW = "ingest-feeds"
# Feeds without new entries whose state is committed in one transaction (an unchanged poll
# of 10,000 feeds: two transactions).
IDLE_FEEDS_PER_COMMIT = 5000
_PENDING = "pending"  # outcome placeholder of an entry settled at load time


@dataclass(slots=True)
class _Known:
    article_id: str | None
    retryable: bool
    attempts: int
    first_seen_at: datetime
    first_run_id: str


@dataclass(slots=True)
class EntryWork:
    """A new entry of one feed, and how it will be settled."""

    idx: int  # position in the run (earlier entries win same-link ties)
    feed: str  # the feed's registry URL (its host is trusted for private addresses)
    entry: FeedEntry
    source_ref: str  # its name in the ledger
    known_article_id: str | None = None  # link already stored (another feed, a file): no fetch
    dup_of: int | None = None  # an earlier entry of this run has the same link
    attempts: int = 1
    first_seen_at: datetime | None = None
    first_run_id: str | None = None

    @property
    def needs_page(self) -> bool:
        return self.known_article_id is None and self.dup_of is None


@dataclass(slots=True)
class Chunk:
    """What rides with a batch: the feeds whose last entries it holds, and the fetch log."""

    feeds: list[FeedRow] = field(default_factory=list)
    log: FetchLog | None = None


class FeedSource(Source):
    """``urls``: feeds to poll now (registered if new); empty: every registered feed that is
    due (all of them with ``all_feeds``); with ``shard``, only the feeds of that shard (by the
    hash of the feed URL's host, see :func:`feed_shard_key`). ``client`` and ``resolver``
    are injectable."""

    flow = FEEDS_FLOW
    kind = KIND

    def __init__(
        self,
        urls: Sequence[str] = (),
        *,
        all_feeds: bool = False,
        client: httpx.Client | None = None,
        resolver: Resolver | None = None,
        global_slot: GlobalSlot | None = None,
        shard: Shard = WHOLE,
    ) -> None:
        self.urls = list(urls)
        self.all_feeds = all_feeds
        self.shard = shard
        self._client = client
        self._resolver = resolver
        self._global_slot = global_slot
        self.explicit: list[str] = []
        self.feeds: list[FeedRow] = []
        self.stats_ = FeedStats()
        self.web: PageFetcher | None = None
        self._poller: Poller | None = None
        self._next_idx = 0
        self._run_links: dict[str, int] = {}  # normalised link -> first entry of this run
        self._names: set[tuple[str, str]] = set()  # (feed, source_ref) used in this run
        self._settled: dict[int, tuple[str, str | None, str | None, str | None]] = {}
        self._settings: Any = None
        self.idle_per_commit = IDLE_FEEDS_PER_COMMIT
        self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsetl-poll")

    def check(self) -> None:
        self.explicit = [feed_url(u) for u in self.urls]  # a bad URL fails the run before it starts

    def parameters(self) -> dict[str, Any]:
        shard = {} if self.shard.whole else {"shard": str(self.shard)}
        return {"urls": self.explicit, "all_feeds": self.all_feeds} | shard

    def open(self, run: Run) -> None:
        self._settings = s = run.settings
        now = datetime.now(UTC)

        def register(conn: duckdb.DuckDBPyConnection) -> list[FeedRow]:
            if self.explicit:
                add_feeds(conn, [Subscription(u) for u in self.explicit], now=now)
                return read_feeds(conn, list(dict.fromkeys(self.explicit)))
            return due_feeds(conn, now, everything=self.all_feeds)

        self.feeds = [f for f in run.store.write(register) if self.shard.owns(feed_shard_key(f.url))]
        self.web = PageFetcher(
            s.web, client=self._client, resolver=self._resolver, global_slot=self._global_slot
        )
        self._poller = Poller(
            self.web.fetcher, s, run.run_id, self.stats_, lambda body, sha: archive_raw(body, sha, s)
        )

    def abort(self) -> None:
        if self.web is not None:
            self.web.abort()

    def close(self) -> None:
        self._ahead.shutdown(wait=True, cancel_futures=True)
        if self.web is not None:
            self.web.close()

    def stats(self) -> dict[str, int]:
        st = self.stats_
        if self.web is not None:
            st.pages_fetched, st.pages_failed = self.web.stats.fetched, self.web.stats.failed
        st_dict = st.as_dict()
        st_dict["refused"] = st.refused + (self.web.stats.refused if self.web is not None else 0)
        return st_dict

    # -- planning: poll, find the new entries, cut them into batches -------------------

    def batches(self, run: Run) -> Iterator[Batch]:
        """Feeds are polled ``feeds_per_batch`` at a time, the next chunk while the current
        one's batches are loaded. New entries go in batches of at most ``batch_size``, each
        feed's state with its last entry; feeds without new entries (unchanged, failed) are
        committed together, up to :data:`IDLE_FEEDS_PER_COMMIT` per transaction, so an
        unchanged poll costs a few transactions, not one per chunk (each transaction's fixed
        cost grows with the warehouse)."""
        assert self.web is not None and self._poller is not None, "the source is not open"
        web, poller = self.web, self._poller
        n = run.settings.feeds.feeds_per_batch
        chunks = [self.feeds[i : i + n] for i in range(0, len(self.feeds), n)]
        idle = Batch(extra=Chunk())
        polling = self._ahead.submit(web.map, poller.poll, chunks[0]) if chunks else None
        for k in range(len(chunks)):
            assert polling is not None
            polls = polling.result()
            polling = self._ahead.submit(web.map, poller.poll, chunks[k + 1]) if k + 1 < len(chunks) else None
            works = self._new_entries(run, polls)
            yield from self._batches(polls, works, run.settings.batch_size, idle)
            if len(idle.extra.feeds) >= self.idle_per_commit:
                yield idle
                idle = Batch(extra=Chunk())
        if idle.items or idle.extra.feeds:
            yield idle

    def _new_entries(self, run: Run, polls: list[FeedPoll]) -> dict[str, list[EntryWork]]:
        """Which entries are new (one warehouse query per batch of feeds, not per feed)."""
        probe = [(p.row.url, e.key, e.link_norm) for p in polls for e in p.entries]
        out: dict[str, list[EntryWork]] = {p.row.url: [] for p in polls}
        if not probe:
            return out
        known, feed_links, stored = self._lookup(run, probe)
        fs = run.settings.feeds
        for p in polls:
            for e in p.entries:
                if len(out[p.row.url]) >= fs.max_new_entries_per_feed:
                    _defer_rest(p)
                    break
                work = EntryWork(self._next_idx, p.row.url, e, e.source_ref)
                k = known.get((p.row.url, e.key))
                if k is not None:
                    if k.article_id is None and k.retryable and k.attempts < fs.max_entry_attempts:
                        work.attempts, work.first_seen_at, work.first_run_id = (
                            k.attempts + 1, k.first_seen_at, k.first_run_id,
                        )  # fmt: skip
                        self.stats_.retried_entries += 1
                    else:
                        self.stats_.known_entries += 1
                        continue
                elif e.link_norm and (p.row.url, e.link_norm) in feed_links:
                    self.stats_.known_entries += 1  # same story under a new guid
                    continue
                self._next_idx += 1
                if (work.feed, work.source_ref) in self._names:
                    work.source_ref = f"{work.source_ref}#entry={quote(e.key, safe=':/')}"
                self._names.add((work.feed, work.source_ref))
                link = e.link_norm
                if link:
                    if link in self._run_links:
                        work.dup_of = self._run_links[link]
                    elif link in stored:
                        work.known_article_id = stored[link]
                    else:
                        self._run_links[link] = work.idx
                out[p.row.url].append(work)
                self.stats_.new_entries += 1
            p.row.last_new_entries = len(out[p.row.url])
            if p.row.last_outcome == "no_new_entries" and out[p.row.url]:  # (not when capped)
                p.row.last_outcome = "new_entries"
        return out

    def _lookup(
        self, run: Run, probe: list[tuple[str, str, str | None]]
    ) -> tuple[dict[tuple[str, str], _Known], set[tuple[str, str]], dict[str, str]]:
        links = sorted({link for _, _, link in probe if link})
        frame = pl.DataFrame(
            {"feed": [f for f, _, _ in probe], "entry_key": [k for _, k, _ in probe]},
            schema={"feed": pl.Utf8, "entry_key": pl.Utf8},
        )
        with run.store.session(read_only=True) as conn:
            with temp_table(conn, frame) as probe_table:
                rows = conn.execute(
                    f"""SELECT fe.feed, fe.entry_key, fe.article_id, fe.retryable, fe.attempts,
                              fe.first_seen_at, fe.first_run_id
                       FROM feed_entries fe JOIN {probe_table} p USING (feed, entry_key)"""
                ).fetchall()
            link_rows = conn.execute(
                """SELECT link, feed, article_id FROM feed_entries
                   WHERE link IN (SELECT unnest($l::JSON::VARCHAR[]))
                   UNION ALL
                   SELECT url, NULL, article_id FROM articles
                   WHERE url IN (SELECT unnest($l::JSON::VARCHAR[]))""",
                {"l": text_list(links)},
            ).fetchall()
        known = {(r[0], r[1]): _Known(*r[2:]) for r in rows}
        feed_links = {(feed, link) for link, feed, _ in link_rows if feed is not None}
        stored: dict[str, str] = {}
        for link, _, aid in sorted(link_rows, key=lambda r: (r[0], r[1] is not None, r[1] or "")):
            if aid is not None:
                stored.setdefault(link, aid)
        return known, feed_links, stored

    def _batches(
        self, polls: list[FeedPoll], works: dict[str, list[EntryWork]], size: int, idle: Batch
    ) -> list[Batch]:
        """At most ``size`` entries per batch; a feed's state rides with its last entry.
        Feeds without new entries (and failed polls) go to ``idle``."""
        out: list[Batch] = []
        for p in polls:
            entries = works[p.row.url]
            if not entries:
                idle.extra.feeds.append(p.row)
                if p.rejection is not None:
                    idle.items.append(Item(done=p.rejection))
                continue
            for w in entries:
                if not out or len(out[-1].items) >= size:
                    out.append(Batch(extra=Chunk()))
                out[-1].items.append(Item(state=w))
            out[-1].extra.feeds.append(p.row)
        return out

    # -- fetching pages (ahead of extraction) ----------------------------------------------

    def prepare(self, run: Run, batch: Batch) -> None:
        assert self.web is not None
        first_in_batch: dict[int, int] = {}
        todo: list[tuple[Item, EntryWork]] = []
        for pos, it in enumerate(batch.items):
            w = it.state
            if not isinstance(w, EntryWork) or it.done is not None:
                continue
            first_in_batch[w.idx] = pos
            if w.known_article_id is not None:
                it.done = self._settled_input(w, Outcome.DUPLICATE, w.known_article_id)
            elif w.dup_of is not None:
                same = first_in_batch.get(w.dup_of)
                it.done = Processed(KIND, w.source_ref, w.feed, same_as=same,
                                    outcome_hint=None if same is not None else _PENDING)  # fmt: skip
            else:
                todo.append((it, w))
        fetch = run.settings.feeds.fetch_pages
        if fetch:
            self.web.preload_robots(
                lambda: run.store.session(read_only=True), (w.entry.link_norm for _, w in todo)
            )
            pages = self.web.fetch_pages(
                [PageRequest(w.entry.link_norm, w.feed, w.entry.link, w.feed) for _, w in todo]
            )
        else:
            pages = [Page() for _ in todo]
        for (it, w), page in zip(todo, pages, strict=True):
            it.doc = _doc(w, page)
        batch.extra.log = self.web.take_log()

    def settle(self, batch: Batch, processed: list[Processed]) -> list[Processed]:
        """Entries repeating an entry of an earlier batch share its outcome (it committed)."""
        out = list(processed)
        for pos, (it, p) in enumerate(zip(batch.items, processed, strict=True)):
            if p.outcome_hint != _PENDING:
                continue
            w: EntryWork = it.state
            assert w.dup_of is not None
            _, aid, stage, reason = self._settled[w.dup_of]
            if aid is not None:
                out[pos] = self._settled_input(w, Outcome.DUPLICATE, aid)
            else:
                out[pos] = Processed(
                    KIND, w.source_ref, w.feed, stage=stage or "fetch",
                    reason=f"same link as an earlier entry of this run, which was rejected: {reason}"[:1000],
                )  # fmt: skip
        return out

    def _settled_input(self, w: EntryWork, outcome: str, article_id: str) -> Processed:
        return Processed(KIND, w.source_ref, w.feed, outcome_hint=outcome, known_article_id=article_id)

    # -- loading ---------------------------------------------------------------------------

    def write(self, conn: duckdb.DuckDBPyConnection, batch: Batch, written: Written) -> None:
        """Entries, feed state, fetch log and robots answers, with the batch's articles."""
        chunk: Chunk = batch.extra
        rows = []
        for it, p, (outcome, aid) in zip(batch.items, written.items, written.decisions, strict=True):
            if isinstance(it.state, EntryWork):
                rows.append(_entry_row(it.state, p, outcome, aid, written))
        write_entries(conn, rows)
        update_feeds(conn, chunk.feeds)
        if chunk.log is None:  # nothing was prepared (no entries): the polls' requests
            assert self.web is not None
            chunk.log = self.web.take_log()
        write_log(conn, written.run_id, chunk.log)

    def committed(self, batch: Batch, written: Written) -> None:
        for it, p, (outcome, aid) in zip(batch.items, written.items, written.decisions, strict=True):
            if isinstance(it.state, EntryWork):
                self._settled[it.state.idx] = (outcome, aid, p.stage, p.reason)
                if it.doc is not None and p.article is not None and p.article.text_source == "feed":
                    self.stats_.from_feed += 1


def feed_shard_key(url: str) -> str:
    """What a feed's shard is decided by: its URL's host (lower case, port kept). All feeds
    of one host fall into one shard, so the per-host politeness limits (requests at a time,
    delay between them) hold across the shards' runs, on any number of machines."""
    parts = urlsplit(url)
    return (parts.netloc or url).lower()


def _entry_row(
    w: EntryWork, p: Processed, outcome: str, article_id: str | None, written: Written
) -> dict[str, Any]:
    e = w.entry
    return {
        "feed": w.feed,
        "entry_key": e.key,
        "guid": e.guid,
        "link": e.link_norm or e.link,
        "title": e.title,
        "published": e.published,
        "article_id": article_id,
        "outcome": outcome,
        "text_source": p.article.text_source if p.article is not None else None,
        "page_status": p.http_status,
        "page_error": p.page_error,
        "attempts": w.attempts,
        "retryable": bool(p.retryable and article_id is None),
        "first_seen_at": w.first_seen_at or written.now,
        "first_run_id": w.first_run_id or written.run_id,
        "run_id": written.run_id,
    }


def _doc(w: EntryWork, page: Page) -> Doc:
    e = w.entry
    raw = (e.content_html or e.summary_html or "").encode("utf-8")
    hints = Hints(
        title=e.title,
        published=e.published,
        authors=e.authors,
        tags=e.tags,
        fallback=entry_extracted(e),
        fallback_raw=raw or None,
        no_fallback="the entry has no content of its own",
    )
    problem = (page.stage, page.reason) if page.stage and page.reason else None
    if page.stage is None and page.body is None:
        problem = None  # pages not fetched (--no-pages): the entry's content is the article
    return Doc(
        KIND,
        w.source_ref,
        w.feed,
        payload=Inline(page.body) if page.body is not None else None,
        kind=page.kind,
        url=page.final_url if page.body is not None else e.link_norm,
        http_charset=page.charset,
        hints=hints,
        problem=problem,
        transient=page.transient,
        http_status=page.status,
    )


def _defer_rest(p: FeedPoll) -> None:
    """More new entries than one poll takes: keep the old validators, so the next run reads
    the feed again (due at once) and takes the next ones; nothing is skipped."""
    if p.prior is not None:
        p.row.etag, p.row.last_modified = p.prior.etag, p.prior.last_modified
        p.row.body_sha256 = p.prior.body_sha256
    p.row.next_check_at = p.row.last_checked_at
    p.row.last_outcome = "new_entries_capped"


def ingest_feeds(
    urls: Sequence[str] = (),
    settings: Any = None,
    *,
    all_feeds: bool = False,
    client: httpx.Client | None = None,
    resolver: Resolver | None = None,
    run_id: str | None = None,
    shard: Shard = WHOLE,
) -> tuple[Any, dict[str, int]]:
    """Poll feeds into the warehouse, without Prefect: (run summary, feed statistics)."""
    from newsetl.pipeline.engine import run_source

    source = FeedSource(urls, all_feeds=all_feeds, client=client, resolver=resolver, shard=shard)
    summary = run_source(source, settings, run_id=run_id)
    return summary, summary.extra
