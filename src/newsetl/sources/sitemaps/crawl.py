"""Reading one site's sitemap documents: discovery, conditional GETs, limits, loops.

A site is discovered through its robots.txt ``Sitemap:`` lines, then ``/sitemap.xml``.
Each document is fetched with the validators of its last answer (``If-None-Match`` /
``If-Modified-Since``); a ``304`` costs one request, and a ``200`` whose bytes equal the
last ones is not parsed again. An index that did not change is followed through the
children it listed last time, so a child that changed is still found. Limits per site and
run: depth of nested indexes, number of documents, bytes read; a document listed twice
(an index that includes itself, two indexes naming the same child) is read once. Every
document that cannot be read is one rejected input with the reason.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from newsetl.errors import Rejection
from newsetl.models import Processed
from newsetl.settings import Settings
from newsetl.sources.sitemaps.parse import INDEX, ChildSitemap, SitemapEntry, parse_sitemap
from newsetl.storage import writes
from newsetl.web.client import FetchResult
from newsetl.web.pages import PageFetcher
from newsetl.web.robots import origin_of
from newsetl.web.urls import normalize_url

KIND = "sitemap"  # inputs.source_kind of sitemap URLs and of documents that failed
ACCEPT_SITEMAP = "application/xml, text/xml;q=0.9, application/gzip;q=0.8, text/plain;q=0.5, */*;q=0.3"

DOC_SCHEMA: writes.Schema = {
    "root": pl.Utf8,
    "url": pl.Utf8,
    "parent": pl.Utf8,
    "depth": pl.Int32,
    "doc_type": pl.Utf8,
    "listed_lastmod": pl.Datetime("us", "UTC"),
    "etag": pl.Utf8,
    "last_modified": pl.Utf8,
    "body_sha256": pl.Utf8,
    "last_status": pl.Int32,
    "last_outcome": pl.Utf8,
    "entries": pl.Int32,
    "children": pl.List(pl.Utf8),
    "over_limit": pl.Boolean,
    "last_error": pl.Utf8,
    "first_seen_at": pl.Datetime("us", "UTC"),
    "last_checked_at": pl.Datetime("us", "UTC"),
    "last_run_id": pl.Utf8,
}


@dataclass(slots=True)
class SitemapStats:
    """What a run did with sitemap documents, beyond the per-input outcomes."""

    sites: int = 0
    documents: int = 0  # documents requested
    not_modified: int = 0
    unchanged_body: int = 0
    parsed: int = 0
    failed: int = 0
    over_limit: int = 0  # documents with more entries than the cap, or skipped by a site limit
    loops: int = 0  # a document listed again in the same run
    urls_listed: int = 0
    new_urls: int = 0  # fetched: new, changed lastmod, or a retry
    known_urls: int = 0  # listed before, lastmod not newer: not fetched, no inputs row
    deferred_urls: int = 0  # over the per-document cap: taken by the next run
    bad_locs: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class Visit:
    """A document to read: where it was listed and how deep."""

    url: str
    parent: str | None
    depth: int
    listed_lastmod: datetime | None = None
    guessed: bool = False  # /sitemap.xml tried because robots.txt names none


@dataclass(slots=True)
class Read:
    """What reading one document gave."""

    row: dict[str, Any]  # its sitemap_documents row (new state)
    prior: dict[str, Any] | None  # its stored row
    entries: list[SitemapEntry] = field(default_factory=list)
    children: list[Visit] = field(default_factory=list)
    rejection: Processed | None = None
    error: str | None = None


def load_documents(conn: duckdb.DuckDBPyConnection, root: str) -> dict[str, dict[str, Any]]:
    cur = conn.execute(f"SELECT {', '.join(DOC_SCHEMA)} FROM sitemap_documents WHERE root = $r", {"r": root})
    names = [d[0] for d in cur.description]
    return {r[1]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def write_documents(conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    writes.upsert(conn, "sitemap_documents", rows, DOC_SCHEMA, ["root", "url"])


def rejected(url: str, parent: str | None, stage: str, reason: str, body: bytes | None = None) -> Processed:
    sha = hashlib.sha256(body).hexdigest() if body is not None else None
    return Processed(KIND, url, parent, sha256=sha, size_bytes=len(body) if body is not None else None,
                     stage=stage, reason=f"sitemap: {reason}"[:1000])  # fmt: skip


class SiteCrawl:
    """One site's documents in one run (breadth first, within the limits)."""

    def __init__(
        self, web: PageFetcher, settings: Settings, root: str, run_id: str, stats: SitemapStats, now: datetime
    ) -> None:
        self.web = web
        self.settings = settings
        self.root = root
        self.run_id = run_id
        self.stats = stats
        self.now = now
        self.visited: set[str] = set()
        self.requested = 0
        self.bytes_read = 0
        self._lock = threading.Lock()

    def seeds(self, kind: str) -> list[Visit]:
        """The site's sitemaps from robots.txt (else /sitemap.xml), or the sitemap itself."""
        if kind != "site":
            return [Visit(self.root, None, 0)]
        origin = origin_of(self.root)
        robots = origin + "/robots.txt"
        found: list[Visit] = []
        for line in self.web.robots.sitemaps(origin, self.root):
            url = normalize_url(_join(origin, line))
            if url is not None and url not in {v.url for v in found}:
                found.append(Visit(url, robots, 0))
        return found or [Visit(origin + "/sitemap.xml", None, 0, guessed=True)]

    def limit_problem(self, visit: Visit) -> str | None:
        """Why ``visit`` is not read (a loop, a limit), or None."""
        sm = self.settings.sitemaps
        if visit.url in self.visited:
            self.stats.loops += 1
            return "listed again in this run (a loop or a repeat): read once"
        if visit.depth > sm.max_sitemap_depth:
            self.stats.over_limit += 1
            return f"nested deeper than {sm.max_sitemap_depth} sitemap indexes: not followed"
        if self.requested >= sm.max_sitemap_documents:
            self.stats.over_limit += 1
            return f"more than {sm.max_sitemap_documents} sitemap documents for one site in one run: not read"
        if self.bytes_read >= sm.max_site_bytes:
            self.stats.over_limit += 1
            return f"the site's budget of {sm.max_site_bytes} bytes of sitemaps per run is used up: not read"
        return None

    def read(self, visit: Visit, prior: dict[str, Any] | None) -> Read:
        self.visited.add(visit.url)
        self.requested += 1
        self.stats.documents += 1
        sm = self.settings.sitemaps
        headers = {"Accept": ACCEPT_SITEMAP}
        if prior is not None and prior.get("etag"):
            headers["If-None-Match"] = prior["etag"]
        if prior is not None and prior.get("last_modified"):
            headers["If-Modified-Since"] = prior["last_modified"]
        res = self.web.fetcher.fetch(
            visit.url, kind="sitemap", max_bytes=sm.max_sitemap_bytes, feed=self.root, trusted=self.root,
            headers=headers,
        )  # fmt: skip
        row = self._row(visit, prior, res)
        out = Read(row, prior)
        if res.not_modified:
            self.stats.not_modified += 1
            row["last_outcome"] = "not_modified"
            row["etag"] = res.headers.get("etag") or row["etag"]
            row["last_modified"] = res.headers.get("last-modified") or row["last_modified"]
            out.children = self._stored_children(visit, prior)
            return out
        if not res.ok or res.body is None:
            reason = res.error or f"HTTP {res.status}"
            if visit.guessed:
                reason = f"no sitemap found: robots.txt names none, and /sitemap.xml: {reason}"
            return self._failed(out, visit, res.stage, reason)
        body = res.body
        self.bytes_read += len(body)
        digest = hashlib.sha256(body).hexdigest()
        if prior is not None and digest == prior.get("body_sha256") and prior.get("last_outcome") != "error":
            self.stats.unchanged_body += 1
            row.update(last_outcome="unchanged_body", etag=res.headers.get("etag"),
                       last_modified=res.headers.get("last-modified"))  # fmt: skip
            out.children = self._stored_children(visit, prior)
            return out
        try:
            parsed = parse_sitemap(body, max_urls=sm.max_sitemap_urls, max_bytes=sm.max_sitemap_bytes)
        except Rejection as rej:
            return self._failed(out, visit, rej.stage, rej.reason, body)
        self.stats.parsed += 1
        self.stats.bad_locs += parsed.bad_locs
        self.stats.over_limit += int(parsed.over_limit)
        row.update(
            doc_type=parsed.kind, etag=res.headers.get("etag"),
            last_modified=res.headers.get("last-modified"), body_sha256=digest, last_outcome="parsed",
            entries=parsed.size, over_limit=parsed.over_limit,
            last_error=(f"more than {sm.max_sitemap_urls} entries: the rest was not read"
                        if parsed.over_limit else None),
            children=[c.url for c in parsed.children] if parsed.kind == INDEX else None,
        )  # fmt: skip
        out.entries = parsed.entries
        out.children = [self._child(visit, c) for c in parsed.children]
        self.stats.urls_listed += len(parsed.entries)
        return out

    def _child(self, visit: Visit, c: ChildSitemap) -> Visit:
        return Visit(c.url, visit.url, visit.depth + 1, c.lastmod)

    def _stored_children(self, visit: Visit, prior: dict[str, Any] | None) -> list[Visit]:
        if prior is None or prior.get("doc_type") != INDEX:
            return []
        return [Visit(u, visit.url, visit.depth + 1) for u in prior.get("children") or []]

    def _failed(self, out: Read, visit: Visit, stage: str, reason: str, body: bytes | None = None) -> Read:
        self.stats.failed += 1
        out.row.update(last_outcome="error", last_error=reason[:1000])
        if out.prior is not None:  # keep the validators of the last good answer
            for k in ("etag", "last_modified", "body_sha256", "doc_type", "children", "entries"):
                out.row[k] = out.prior.get(k)
        out.rejection = rejected(visit.url, visit.parent, stage, reason, body)
        out.error = reason
        return out

    def _row(self, visit: Visit, prior: dict[str, Any] | None, res: FetchResult) -> dict[str, Any]:
        base: dict[str, Any] = dict(prior) if prior is not None else {"first_seen_at": self.now}
        base.update(
            root=self.root, url=visit.url, parent=visit.parent, depth=visit.depth,
            listed_lastmod=visit.listed_lastmod or base.get("listed_lastmod"), last_status=res.status,
            last_error=None, last_checked_at=self.now, last_run_id=self.run_id,
        )  # fmt: skip
        return base


def _join(origin: str, line: str) -> str:
    line = line.strip()
    if line.startswith("/"):
        return origin + line
    return line
