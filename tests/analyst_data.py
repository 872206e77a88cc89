"""Real-data builders for the analyst-layer tests: a warehouse from the whole corpus (with
one article revised, so history has something to show) and edits of real pages."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from newsetl import search
from newsetl.config import Settings
from newsetl.models import DocKind
from newsetl.pipeline import ingest_files
from newsetl.process import article_from_bytes

REVISED_PAGE = ("fundus", "de", "BR_2024_04_22.html.gz")
ADDED_PARAGRAPH = (
    "Aktualisierung: Die Landeskirche kündigte am Abend an, die Ergebnisse der Aufarbeitung "
    "in einem öffentlichen Bericht vorzustellen und Betroffene daran zu beteiligen."
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


def build_corpus_warehouse(db: Path, corpus: Path, scratch: Path) -> None:
    """Ingest the whole corpus (two workers, like the target machine), then a revised copy
    of one page (same canonical URL: an update), then refresh the search indexes."""
    settings = Settings(db_path=db, workers=2, batch_size=100, lock_timeout_s=60)
    ingest_files([corpus], settings)
    scratch.mkdir(parents=True, exist_ok=True)
    page = corpus.joinpath(*REVISED_PAGE)
    (scratch / "revised.html").write_text(revise_page(read_html(page)), encoding="utf-8")
    ingest_files([scratch], Settings(db_path=db, workers=0, lock_timeout_s=60))
    search.refresh(db)
