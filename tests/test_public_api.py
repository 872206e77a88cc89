"""The names ``newsetl`` promises in its docstring and README resolve (imported lazily)."""

from __future__ import annotations

import inspect
from pathlib import Path

import newsetl


def test_every_public_name_resolves() -> None:
    for name in newsetl.__all__:
        assert getattr(newsetl, name) is not None, name
    for name in ("ingest_files", "ingest_feeds", "ingest_sitemaps", "ingest_urls", "ingest_warc"):
        fn = getattr(newsetl, name)
        assert callable(fn) and "settings" in inspect.signature(fn).parameters, name


def test_ingest_files_through_the_public_name(tmp_path: Path) -> None:
    page = tmp_path / "in" / "a.txt"
    page.parent.mkdir()
    page.write_text(
        "A harbour ferry\n\nThe new harbour ferry will cost twice the original estimate, the city "
        "council said on Tuesday, after a review of the contracts and the delays at the yard.\n",
        encoding="utf-8",
    )
    settings = newsetl.Settings.make(db=str(tmp_path / "w.duckdb"), workers=0)
    summary = newsetl.ingest_files([str(page.parent)], settings)
    assert summary.status == "completed" and summary.report.counts["loaded"] == 1
    con = newsetl.connect(str(tmp_path / "w.duckdb"))
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (1,)
    finally:
        con.close()
