"""Real-data builders for the analyst-layer tests: a warehouse from the whole corpus, with
one real page revised (so history has something to show) and one article republished by
"another outlet" as a wire copy (so there is a story cluster whatever the corpus holds)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import duckdb

from newsetl.analysis import search_index
from newsetl.errors import Rejection
from newsetl.models import DocKind
from newsetl.pipeline.process import article_from_bytes
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files

from .helpers import store

ADDED_PARAGRAPH = (
    "Aktualisierung: Die Redaktion hat diesen Beitrag am Abend um neue Angaben der Beteiligten "
    "ergänzt und einen Abschnitt gestrichen, der sich als missverständlich erwiesen hatte."
)


def read_html(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8")


def _paragraph_bounds(html: str, paragraph: str) -> tuple[int, int] | None:
    """Where the <p> element holding the start of this extracted paragraph is in the HTML."""
    words = paragraph.split()
    for take in (6, 5, 4):
        probe = r"\s+".join(re.escape(w) for w in words[:take])
        m = re.search(probe, html)
        if m:
            starts = [s.start() for s in re.finditer(r"<p[\s>]", html[: m.start()])]
            end = html.find("</p>", m.end())
            if starts and end >= 0:
                return starts[-1], end + len("</p>")
    return None


def revise_page(html: str, *, drop: int = 3, after: int = 1, added: str = ADDED_PARAGRAPH) -> str:
    """The page as its publisher might update it: one paragraph removed, one added."""
    article = article_from_bytes(html.encode("utf-8"), DocKind.HTML, max_bytes=50 * 2**20)
    paras = [p for p in article.text.split("\n") if len(p) > 60]
    gone = _paragraph_bounds(html, paras[drop])
    anchor = _paragraph_bounds(html, paras[after])
    assert gone is not None and anchor is not None, "could not locate paragraphs in the page"
    assert gone[0] > anchor[1], "the dropped paragraph must come after the anchor"
    html = html[: gone[0]] + html[gone[1] :]
    insert_at = anchor[1]
    return html[:insert_at] + f"<p>{added}</p>" + html[insert_at:]


def revisable_page(corpus: Path) -> Path:
    """The first German news page with a canonical URL and enough paragraphs to revise."""
    for page in sorted(corpus.joinpath("fundus", "de").glob("*.html.gz")):
        try:
            html = read_html(page)
            article = article_from_bytes(html.encode("utf-8"), DocKind.HTML, max_bytes=50 * 2**20)
            if article.url and len([p for p in article.text.split("\n") if len(p) > 60]) >= 8:
                revise_page(revise_page(html), drop=5, after=2, added="Korrektur.")
                return page
        except (AssertionError, IndexError, UnicodeDecodeError, Rejection):
            continue
    raise LookupError(f"no revisable German page under {corpus}")


def wire_copy(title: str | None, text: str) -> str:
    """Another outlet's copy of an article: agency dateline, last paragraph cut, own credit."""
    paras = [p for p in text.split("\n") if p.strip()]
    body = ["WASHINGTON (AP) — " + paras[0], *paras[1:-1], "Copyright 2024 The Associated Press."]
    return f"{title or 'Wire copy'}\n\n" + "\n\n".join(body) + "\n"


def build_corpus_warehouse(db: Path, corpus: Path, scratch: Path) -> None:
    """Ingest the whole corpus (two workers, like the target machine); then a revised copy of
    one page (same canonical URL: an update) and a wire copy of one English article (a
    near-duplicate from another source); then refresh the search indexes."""
    settings = Settings.make(db=db, workers=2, batch_size=100, lock_timeout_s=60)
    ingest_files([corpus], settings)
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "revised.html").write_text(revise_page(read_html(revisable_page(corpus))), encoding="utf-8")
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute(
            """SELECT title, text FROM articles WHERE language = 'en' AND word_count >= 300
               AND len(string_split(text, chr(10))) >= 5 ORDER BY article_id LIMIT 1"""
        ).fetchone()
    assert row is not None, "corpus has no long English article"
    (scratch / "wire-copy.txt").write_text(wire_copy(row[0], row[1]), encoding="utf-8")
    ingest_files([scratch], Settings.make(db=db, workers=0, lock_timeout_s=60))
    ingest_corpus_feeds(db)
    search_index.refresh(store(db))


def ingest_corpus_feeds(db: Path) -> None:
    """Two real news feeds served on loopback (entry links on real corpus pages), polled
    twice (the second poll is answered 304), plus a feed that has gone (404): so the feed
    tables and views have real rows for the cookbook."""
    from newsetl.sources.feeds import ingest_feeds

    from .feeds.conftest import fast_feed_settings, serve_news_feed
    from .feeds.server import FeedServer

    server = FeedServer()
    try:
        heise, _ = serve_news_feed(server, "miniflux/heise.de_rdf_UTF8.xml", "/heise.rdf", limit=12)
        guardian, _ = serve_news_feed(
            server, "rss-parser/guardian.rss", "/guardian.rss", page_offset=40, limit=10
        )
        gone = server.url("/gone.xml")  # nothing served there: 404
        settings = fast_feed_settings().with_(db=db, workers=0, batch_size=50, lock_timeout_s=60)
        for _ in range(2):
            ingest_feeds([heise, guardian, gone], settings)
    finally:
        server.close()
