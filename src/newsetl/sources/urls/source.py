"""A list of URLs as a source: each line's page fetched politely and extracted.

Ledger: every line is one ``inputs`` row (source_kind 'url', source_ref = the normalised
URL, parent_ref = the list: its absolute path, or ``stdin``). A line that is not an
http(s) URL is a rejection (stage 'parse') named ``<list>#line=N``. A URL already ingested
(an earlier URL-list or sitemap input made an article of it, or an article has it as its
URL) is settled without a request -- 'unchanged' when a URL list brought it before, else
'duplicate' -- unless ``refresh``: then it is fetched again, and bytes equal to the last
ones are settled without extraction. The same URL twice in one list is fetched once; the
repeat (``<url>#line=N``) shares its outcome.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from newsetl.errors import TerminalError
from newsetl.models import Outcome, Processed, RunSummary
from newsetl.pipeline.process import Hints, Known
from newsetl.pipeline.source import Batch, Item, Run
from newsetl.settings import Settings
from newsetl.sources.urls.fetch import UrlChunk, UrlFetchSource, UrlWork, parse_when
from newsetl.sources.urls.listfile import ListLine, read_url_list
from newsetl.storage.sqllists import text_list
from newsetl.web.politeness import GlobalSlot
from newsetl.web.ssrf import Resolver

URLS_FLOW = "ingest-urls"
KIND = "url"  # inputs.source_kind
STDIN = "stdin"  # parent_ref of a list read from standard input
PARSE = "parse"
_LOOKUP_CHUNK = 2000
_MAX_SETTLED = 10_000  # settled lines ride along without counting towards batch_size


class UrlListError(TerminalError):
    """The list cannot be read at all (missing file, a directory)."""


@dataclass(frozen=True, slots=True)
class Ingested:
    article_id: str
    sha256: str | None
    same_kind: bool  # a URL-list input made or met it (else: a feed, a sitemap, a file)


def lookup_ingested(conn: Any, urls: list[str], kind: str = KIND) -> dict[str, Ingested]:
    """URLs that already have an article: by an earlier URL input, or as an article's URL."""
    if not urls:
        return {}
    rows = conn.execute(
        """SELECT source_ref, article_id, sha256, source_kind FROM inputs
           WHERE source_kind IN ('url', 'sitemap') AND source_ref IN (SELECT unnest($u::JSON::VARCHAR[]))
             AND article_id IS NOT NULL
           ORDER BY seen_at""",
        {"u": text_list(urls)},
    ).fetchall()
    out: dict[str, Ingested] = {}
    for ref, aid, sha, k in rows:  # the latest wins; a known hash is kept
        prev = out.get(ref)
        out[ref] = Ingested(
            aid, sha or (prev.sha256 if prev else None), k == kind or bool(prev and prev.same_kind)
        )
    for url, aid, sha in conn.execute(
        "SELECT url, article_id, raw_sha256 FROM articles WHERE url IN (SELECT unnest($u::JSON::VARCHAR[]))",
        {"u": text_list(urls)},
    ).fetchall():
        out.setdefault(url, Ingested(aid, sha, False))
    return out


def hints_of(fields: tuple[tuple[str, str], ...], origin: str) -> Hints | None:
    """Hints from a list line's other columns (title, date, language, keywords)."""
    if not fields:
        return None
    f = dict(fields)
    keywords = f.get("keywords") or f.get("tags") or ""
    return Hints(
        origin=origin,
        title=f.get("title"),
        published=parse_when(f.get("published") or f.get("date")),
        tags=tuple(k.strip() for k in keywords.split(",") if k.strip()),
        language=(f.get("language") or "").strip().lower()[:20] or None,
        label=origin,
    )


class UrlListSource(UrlFetchSource):
    """``path``: a list file, or ``-`` for standard input (``stream`` overrides it)."""

    flow = URLS_FLOW
    kind = KIND

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        refresh: bool = False,
        stream: IO[str] | None = None,
        client: httpx.Client | None = None,
        resolver: Resolver | None = None,
        global_slot: GlobalSlot | None = None,
    ) -> None:
        super().__init__(client=client, resolver=resolver, global_slot=global_slot)
        self.path = os.fspath(path)
        self.refresh = refresh
        self._stream = stream
        self.parent = STDIN if self.path == "-" else str(Path(self.path).resolve())
        self.rejected_lines = 0
        self.known = 0

    def check(self) -> None:
        if self._stream is None and self.path != "-":
            p = Path(self.path)
            if not p.exists():
                raise UrlListError(f"URL list not found: {self.path}")
            if p.is_dir():
                raise UrlListError(
                    f"not a file: {self.path} (a URL list is one URL a line, CSV or JSON Lines)"
                )

    def parameters(self) -> dict[str, Any]:
        return {"list": self.parent, "refresh": self.refresh}

    def stats(self) -> dict[str, int]:
        return {**super().stats(), "bad_lines": self.rejected_lines, "already_ingested": self.known}

    def _open(self) -> tuple[IO[str], bool]:
        if self._stream is not None:
            return self._stream, False
        if self.path == "-":
            return sys.stdin, False
        try:
            return open(self.path, encoding="utf-8-sig", errors="replace", newline=""), True
        except OSError as exc:
            raise UrlListError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def batches(self, run: Run) -> Iterator[Batch]:
        size = run.settings.batch_size
        stream, owned = self._open()
        try:
            lines = read_url_list(stream, None if self.path == "-" else self.path)
            batch, work = Batch(extra=UrlChunk()), 0
            while chunk := list(itertools.islice(lines, _LOOKUP_CHUNK)):
                urls = sorted({ln.url for ln in chunk if ln.url})
                with run.store.session(read_only=True) as conn:
                    known = lookup_ingested(conn, urls)
                for ln in chunk:
                    it = self._item(ln, known)
                    batch.items.append(it)
                    work += it.done is None and isinstance(it.state, UrlWork) and it.state.settled is None
                    if work >= size or len(batch) >= _MAX_SETTLED:
                        yield batch
                        batch, work = Batch(extra=UrlChunk()), 0
            if batch.items:
                yield batch
        finally:
            if owned:
                stream.close()

    def _item(self, ln: ListLine, known: dict[str, Ingested]) -> Item:
        if ln.url is None:
            self.rejected_lines += 1
            reason = f"line {ln.line}: {ln.reason}"
            return Item(done=Processed(KIND, f"{self.parent}#line={ln.line}", self.parent, stage=PARSE,
                                       reason=reason[:1000]))  # fmt: skip
        ref = f"{ln.url}#line={ln.line}" if self.seen(ln.url) else ln.url
        w = self.claim(UrlWork(0, ln.url, ref, self.parent, hints=hints_of(ln.fields, "list")))
        k = known.get(ln.url)
        if k is not None and w.dup_of is None:
            if self.refresh:
                if k.sha256:
                    w.known = Known(k.sha256, Outcome.LOADED, k.article_id, None, None, None)
            else:
                self.known += 1
                w.settled = (Outcome.UNCHANGED if k.same_kind else Outcome.DUPLICATE, k.article_id)
        return Item(state=w)


def ingest_urls(
    path: str | os.PathLike[str],
    settings: Settings | None = None,
    *,
    refresh: bool = False,
    stream: IO[str] | None = None,
    client: httpx.Client | None = None,
    resolver: Resolver | None = None,
    run_id: str | None = None,
) -> RunSummary:
    """Fetch and ingest a list of URLs, without Prefect."""
    from newsetl.pipeline.engine import run_source

    source = UrlListSource(path, refresh=refresh, stream=stream, client=client, resolver=resolver)
    return run_source(source, settings, run_id=run_id)
